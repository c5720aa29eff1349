"""Bitwise ops on integer and bool tensors (PyTorch's `& | ^ ~ << >>`).

bitwise_and / bitwise_or / bitwise_xor / bitwise_not take int32, int64, uint8 and bool
(on bool they are logical and / or / xor / not, as in PyTorch); bitwise_left_shift and
bitwise_right_shift take the integer dtypes. Binary ones broadcast like ops/binary.py
and need both inputs of one dtype. Shifts by a count outside [0, bits) give what
PyTorch gives, not C's undefined behaviour: 0 for <<, the sign (0 or -1) for >>.
No gradient (integer results). Kernels: ops/bitwise.cu, one per op and dtype.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, broadcast_shapes, register

from .binary import broadcast_geometry, launch_config

SOURCE = "bitwise.cu"
SUFFIX = {dtypes.int32: "i32", dtypes.int64: "i64", dtypes.uint8: "u8", dtypes.bool_: "b8"}
INTEGERS = (dtypes.int32, dtypes.int64, dtypes.uint8)


class BitwiseOp(Op):
    differentiable = False
    float_only = False
    saves = ()
    accepts = INTEGERS + (dtypes.bool_,)        # shifts: INTEGERS

    def __init__(self):
        variants = ("_forward",) if self.n_inputs == 1 else ("_forward", "_forward_sa", "_forward_sb")
        self.kernels = tuple(f"{self.name}_{SUFFIX[dt]}{v}" for dt in self.accepts for v in variants)

    def check_dtypes(self, *metas):
        for m in metas:
            if m.dtype not in self.accepts:
                raise TypeError(f"{self.name}: expected {', '.join(str(d) for d in self.accepts)} "
                                f"input(s), got dtype {', '.join(str(x.dtype) for x in metas)}")

    def kernel_prefix(self, gpu, dtype):
        return f"{self.name}_{SUFFIX[dtype]}"


class BitwiseBinaryOp(BitwiseOp):
    n_inputs = 2

    def infer(self, a, b):
        self.check_dtypes(a, b)
        if a.dtype != b.dtype:
            raise TypeError(f"{self.name}: inputs must have the same dtype, got {a.dtype}, {b.dtype} "
                            "(use .to(dtype))")
        return Meta(broadcast_shapes(self.name, a.shape, b.shape), a.dtype)

    # CUDA: <name>_<dtype>_forward(A, B, out, int n, geometry) with broadcasting, or
    #       _forward_sa / _sb(A, B, out, int n) when A / B has one element (as binary.cu)
    def gpu_forward(self, gpu, ctx, a, b):
        kernel = self.kernel_prefix(gpu, a.dtype)
        out = gpu.empty(broadcast_shapes(self.name, a.shape, b.shape), a.dtype)
        n = out.size
        if n == 0:
            return out
        grid, block = launch_config(gpu, n)
        if b.size == 1:      # then a has the output's layout
            gpu.launch(SOURCE, f"{kernel}_forward_sb", grid, block, a, b, out, np.int32(n))
        elif a.size == 1:
            gpu.launch(SOURCE, f"{kernel}_forward_sa", grid, block, a, b, out, np.int32(n))
        else:
            gpu.launch(SOURCE, f"{kernel}_forward", grid, block, a, b, out, np.int32(n),
                       *broadcast_geometry(self.name, out.shape, a.shape, b.shape))
        return out


@register
class BitwiseAnd(BitwiseBinaryOp):
    name = "bitwise_and"
    def forward(self, ctx, a, b): return np.bitwise_and(a, b)


@register
class BitwiseOr(BitwiseBinaryOp):
    name = "bitwise_or"
    def forward(self, ctx, a, b): return np.bitwise_or(a, b)


@register
class BitwiseXor(BitwiseBinaryOp):
    name = "bitwise_xor"
    def forward(self, ctx, a, b): return np.bitwise_xor(a, b)


def _out_of_range(a, s):
    """Where shift counts s fall outside [0, bits of a's dtype)."""
    return (s < 0) | (s >= 8 * a.dtype.itemsize)


@register
class BitwiseLeftShift(BitwiseBinaryOp):
    name = "bitwise_left_shift"
    accepts = INTEGERS

    def forward(self, ctx, a, b):
        bad = _out_of_range(a, b)
        with np.errstate(over="ignore"):
            shifted = np.left_shift(a, np.where(bad, 0, b).astype(a.dtype))
        return np.where(bad, 0, shifted).astype(a.dtype)


@register
class BitwiseRightShift(BitwiseBinaryOp):
    name = "bitwise_right_shift"
    accepts = INTEGERS

    def forward(self, ctx, a, b):
        bad = _out_of_range(a, b)
        shifted = np.right_shift(a, np.where(bad, 0, b).astype(a.dtype))
        return np.where(bad, np.where(a < 0, -1, 0), shifted).astype(a.dtype)


@register
class BitwiseNot(BitwiseOp):
    name = "bitwise_not"
    n_inputs = 1

    def infer(self, x):
        self.check_dtypes(x)
        return Meta(x.shape, x.dtype)

    def forward(self, ctx, x):
        return np.logical_not(x) if x.dtype == dtypes.bool_ else np.invert(x)

    # CUDA: bitwise_not_<dtype>_forward(x, out, int n)
    def gpu_forward(self, gpu, ctx, x):
        out = gpu.empty(x.shape, x.dtype)
        if out.size:
            grid, block = launch_config(gpu, out.size)
            gpu.launch(SOURCE, f"{self.kernel_prefix(gpu, x.dtype)}_forward", grid, block, x, out,
                       np.int32(out.size))
        return out
