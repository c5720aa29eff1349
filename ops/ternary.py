"""Elementwise functions of three broadcast tensors: where(cond, x, y) and
lerp(start, end, weight), as PyTorch's torch.where and torch.lerp.

As the binary family (ops/binary.py): the output has the broadcast shape, kernels
(ops/ternary.cu) broadcast by strides (never a broadcast copy), and each gradient is
computed at the output shape and summed back to its input's shape. where's gradient
goes to x where cond holds and to y elsewhere (cond has none: it is bool); lerp's is
(1 - w) to start, w to end and (end - start) to the weight.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, broadcast_shapes, register, sum_to_shape

from .binary import broadcast_strides, dims_args, gpu_sum_to_shape, merge_dims
from .unary import launch_config

SOURCE = "ternary.cu"


def ternary_geometry(what, out_shape, *shapes):
    """The kernels' scalar geometry arguments: merged shape, then the strides of each
    of the three inputs (see ops/ternary.cu)."""
    dims = merge_dims(out_shape, *(broadcast_strides(s, out_shape) for s in shapes))
    return dims_args(what, dims or [(1, 0, 0, 0)])


class TernaryOp(Op):
    n_inputs = 3
    saves = ("inputs",)
    differentiable_inputs = (0, 1, 2)

    def local_grads(self, grad, a, b, c, needs):
        """The three inputs' gradients at the output shape (None where not needed)."""
        raise NotImplementedError

    def backward(self, ctx, grad):
        needs = ctx.needs_input_grad
        out = []
        for g, need, meta in zip(self.local_grads(grad, *ctx.inputs, needs), needs, ctx.input_metas):
            if g is None or not need:
                out.append(None)
                continue
            g = sum_to_shape(np.broadcast_to(g, grad.shape), meta.shape)
            out.append(np.array(g, dtype=grad.dtype))
        return out

    # CUDA: <name>_forward(A, B, C, out, int n, geometry) and, per differentiable input
    # k, <name>_backward_<k>(grad, A, B, C, d, int n, geometry) at the output shape.
    def gpu_forward(self, gpu, ctx, a, b, c):
        out = gpu.empty(broadcast_shapes(self.name, a.shape, b.shape, c.shape), self.gpu_out_dtype(gpu, a, b, c))
        if out.size:
            grid, block = launch_config(gpu, out.size, family="ternary")
            gpu.launch(SOURCE, self.forward_kernel(out.dtype), grid, block, a, b, c, out, np.int32(out.size),
                       *ternary_geometry(self.name, out.shape, a.shape, b.shape, c.shape))
        return out

    def gpu_backward(self, gpu, ctx, grad):
        a, b, c = ctx.inputs
        geometry = ternary_geometry(self.name, grad.shape, a.shape, b.shape, c.shape)
        grads = []
        for k, (need, meta) in enumerate(zip(ctx.needs_input_grad, ctx.input_metas)):
            if not need:
                grads.append(None)
                continue
            d = gpu.empty(grad.shape, grad.dtype)
            if d.size:
                grid, block = launch_config(gpu, d.size, family="ternary")
                gpu.launch(SOURCE, f"{self.name}_backward_{k}", grid, block, grad, a, b, c, d,
                           np.int32(d.size), *geometry)
            grads.append(gpu_sum_to_shape(gpu, d, meta.shape))
        return tuple(grads)


@register
class Where(TernaryOp):
    """cond ? x : y, with cond a bool tensor."""
    name = "where"
    float_only = False
    # the GPU kernel per dtype of x and y (a selection moves elements of any GPU dtype)
    FORWARD_KERNELS = {dtypes.float32: "where_forward", dtypes.int64: "where_i64_forward",
                       dtypes.int32: "where_i32_forward", dtypes.uint8: "where_u8_forward",
                       dtypes.bool_: "where_b8_forward"}
    kernels = tuple(FORWARD_KERNELS.values()) + ("where_backward_1", "where_backward_2")

    def infer(self, cond, x, y):
        if cond.dtype != dtypes.bool_:
            raise TypeError(f"where: the condition must be a bool tensor, got dtype {cond.dtype}")
        if x.dtype != y.dtype:
            raise TypeError(f"where: x and y must have the same dtype, got {x.dtype} and {y.dtype}")
        return Meta(broadcast_shapes(self.name, cond.shape, x.shape, y.shape), x.dtype)

    def forward(self, ctx, cond, x, y):
        return np.where(cond, x, y)

    def local_grads(self, grad, cond, x, y, needs):
        zero = np.zeros((), grad.dtype)
        return (None, np.where(cond, grad, zero) if needs[1] else None,
                np.where(cond, zero, grad) if needs[2] else None)

    def gpu_out_dtype(self, gpu, cond, x, y):
        if x.dtype not in self.FORWARD_KERNELS:
            gpu.require_dtype(self.name, x, y)          # the TypeError naming op, device and dtype
        return x.dtype

    def forward_kernel(self, dtype):
        return self.FORWARD_KERNELS[dtype]


@register
class Lerp(TernaryOp):
    """start + weight (end - start), computed as PyTorch does: from end for weight >= 0.5
    (end - (end - start)(1 - weight)), so lerp(a, b, 1) is exactly b."""
    name = "lerp"
    kernels = ("lerp_forward", "lerp_backward_0", "lerp_backward_1", "lerp_backward_2")

    def infer(self, start, end, weight):
        self.check_float(start, end, weight)
        self.check_same_dtype(start, end, weight)
        return Meta(broadcast_shapes(self.name, start.shape, end.shape, weight.shape), start.dtype)

    def forward(self, ctx, start, end, weight):
        diff = end - start
        return np.where(weight < 0.5, start + weight * diff, end - diff * (1 - weight))

    def local_grads(self, grad, start, end, weight, needs):
        return (grad * (1 - weight) if needs[0] else None, grad * weight if needs[1] else None,
                grad * (end - start) if needs[2] else None)

    def gpu_out_dtype(self, gpu, start, end, weight):
        gpu.require_dtype(self.name, start, end, weight)
        return start.dtype

    def forward_kernel(self, dtype):
        return "lerp_forward"
