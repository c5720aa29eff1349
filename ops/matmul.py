"""Matrix product C = A B for (..., M, K) x (..., K, N), batch dimensions broadcast.

Backward (the chain rule for a product): dA = dC B^T, dB = A^T dC, each summed over
the batch dimensions that were broadcast. The kernels (ops/matmul.cu) read the
transposed operands in place, without making transposed copies.
Tensor.matmul handles 1-D operands (numpy's rules) before calling this op.
"""
import numpy as np

from tinygrad_cu.op import Meta, Op, broadcast_shapes, register, sum_to_shape

SOURCE = "matmul.cu"


@register
class Matmul(Op):
    name = "matmul"
    n_inputs = 2
    kernels = ("matmul_forward", "matmul_backward_a", "matmul_backward_b")

    def infer(self, a, b):
        self.check_float(a, b)
        self.check_same_dtype(a, b)
        if len(a.shape) < 2 or len(b.shape) < 2:
            raise ValueError(f"matmul: operands must have at least 2 dims, got {a.shape} and {b.shape}")
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match: "
                             f"inner dimensions {a.shape[-1]} != {b.shape[-2]}")
        batch = broadcast_shapes(self.name, a.shape[:-2], b.shape[:-2])
        return Meta(batch + (a.shape[-2], b.shape[-1]), a.dtype)

    def forward(self, ctx, a, b):
        return np.matmul(a, b)

    def backward(self, ctx, grad):
        a, b = ctx.inputs
        need_a, need_b = ctx.needs_input_grad
        ga = sum_to_shape(np.matmul(grad, np.swapaxes(b, -1, -2)), a.shape) if need_a else None
        gb = sum_to_shape(np.matmul(np.swapaxes(a, -1, -2), grad), b.shape) if need_b else None
        return ga, gb
