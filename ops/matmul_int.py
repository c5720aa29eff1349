"""Exact matrix product of integer tensors, C = A B for (..., M, K) x (..., K, N) of int64,
int32 or uint8 (batch dims broadcast), in the inputs' dtype, as PyTorch's CPU matmul of
integer tensors (overflow wraps as two's complement). No gradient (integers).

Tensor.matmul runs this op for integer operands and `matmul` (ops/matmul.py) for floats.
The reference computes in int64 (exact; the low bits of the exact sum are the wrapped
result) and casts; the kernels (ops/matmul_int.cu) are one thread per output.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, broadcast_shapes, register

from .matmul import batch_index

SOURCE = "matmul_int.cu"
SUFFIX = {dtypes.int64: "i64", dtypes.int32: "i32", dtypes.uint8: "u8"}


@register
class MatmulInt(Op):
    name = "matmul_int"
    n_inputs = 2
    differentiable = False
    float_only = False
    saves = ()
    kernels = tuple(f"matmul_int_{s}_forward" for s in SUFFIX.values())

    def infer(self, a, b):
        if a.dtype != b.dtype or a.dtype not in SUFFIX:
            raise TypeError(f"matmul_int: expected two int64, int32 or uint8 operands of one dtype, got dtype "
                            f"{a.dtype}, {b.dtype}")
        if len(a.shape) < 2 or len(b.shape) < 2:
            raise ValueError(f"matmul_int: operands must have at least 2 dims, got {a.shape} and {b.shape}")
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul_int: shapes {a.shape} and {b.shape} do not match: "
                             f"inner dimensions {a.shape[-1]} != {b.shape[-2]}")
        batch = broadcast_shapes(self.name, a.shape[:-2], b.shape[:-2])
        return Meta(batch + (a.shape[-2], b.shape[-1]), a.dtype)

    def forward(self, ctx, a, b):
        with np.errstate(over="ignore"):
            return np.matmul(a.astype(np.int64), b.astype(np.int64)).astype(a.dtype)

    def gpu_forward(self, gpu, ctx, a, b):
        (m, k), n = a.shape[-2:], b.shape[-1]
        batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        if k == 0:
            return gpu.zeros(batch + (m, n), a.dtype)
        c = gpu.empty(batch + (m, n), a.dtype)
        if c.size == 0:
            return c
        ia, ib = batch_index(a.shape[:-2], batch), batch_index(b.shape[:-2], batch)
        offsets = gpu.table(np.stack([ia * (m * k), ib * (k * n)], axis=-1).astype(np.int64))
        grid, block = gpu.grid_1d(c.size)
        gpu.launch(SOURCE, f"matmul_int_{SUFFIX[a.dtype]}_forward", grid, block, a, b, c, offsets,
                   np.int32(len(ia)), np.int32(m), np.int32(n), np.int32(k))
        return c
