"""Elementwise tests with bool results and no gradient, as PyTorch's: isnan, isinf,
isfinite of a float tensor; logical_not of one tensor and logical_and / logical_or /
logical_xor of two broadcast tensors, where any nonzero value (NaN too) is True.

Kernels in ops/logical.cu. On the GPU devices the logical ops take float32, int64 or
bool inputs (one kernel per dtype, suffix _f32 / _i64 / _b8); the Tensor methods
(tinygrad_cu/tensor_elementwise.py) turn any other dtype, and mixed dtypes, into bool
first, as PyTorch accepts any pair.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Domain, Meta, Op, register

from .binary import BinaryOp
from .unary import launch_config

SOURCE = "logical.cu"
GPU_SUFFIXES = {dtypes.float32: "f32", dtypes.int64: "i64", dtypes.bool_: "b8"}


def gpu_suffix(gpu, op_name, dtype):
    """The kernel suffix for an input dtype on a GPU device, or a TypeError naming it."""
    try:
        return GPU_SUFFIXES[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"{op_name}: device {gpu.name} runs {op_name} on float32, int64 or bool, "
                        f"got dtype {dtype}") from None


class PredicateOp(Op):
    """bool out = test(x), elementwise: <name>_<suffix>_forward(const T* x, bool* out, int n)."""
    differentiable = False
    saves = ()
    suffixes = ("f32",)

    def __init__(self):
        self.kernels = tuple(f"{self.name}_{s}_forward" for s in self.suffixes)

    def infer(self, x):
        if self.float_only:
            self.check_float(x)
        return Meta(x.shape, dtypes.bool_)

    def gpu_forward(self, gpu, ctx, x):
        suffix = gpu_suffix(gpu, self.name, x.dtype)
        if suffix not in self.suffixes:
            gpu.require_dtype(self.name, x)            # the float tests: float32 only
        out = gpu.empty(x.shape, dtypes.bool_)
        if out.size:
            grid, block = launch_config(gpu, out.size, family="logical")
            gpu.launch(SOURCE, f"{self.name}_{suffix}_forward", grid, block, x, out, np.int32(out.size))
        return out


@register
class Isnan(PredicateOp):
    name = "isnan"
    def forward(self, ctx, x): return np.isnan(x)


@register
class Isinf(PredicateOp):
    name = "isinf"
    def forward(self, ctx, x): return np.isinf(x)


@register
class Isfinite(PredicateOp):
    name = "isfinite"
    def forward(self, ctx, x): return np.isfinite(x)


@register
class LogicalNot(PredicateOp):
    name = "logical_not"
    float_only = False
    suffixes = ("f32", "i64", "b8")
    domain = Domain(-1, 1)
    def forward(self, ctx, x): return np.logical_not(x)


class LogicalBinaryOp(BinaryOp):
    source = SOURCE
    differentiable = False
    float_only = False
    saves = ()
    backward_inputs = ()
    domain = Domain(-1, 1)

    def __init__(self):
        self.kernels = tuple(f"{self.name}_{s}_forward{v}" for s in GPU_SUFFIXES.values()
                             for v in ("", "_sa", "_sb"))

    def out_dtype(self, dtype):
        return dtypes.bool_

    def gpu_kernel_prefix(self, gpu, a, b):
        return f"{self.name}_{gpu_suffix(gpu, self.name, a.dtype)}"


@register
class LogicalAnd(LogicalBinaryOp):
    name = "logical_and"
    def forward(self, ctx, a, b): return np.logical_and(a, b)


@register
class LogicalOr(LogicalBinaryOp):
    name = "logical_or"
    def forward(self, ctx, a, b): return np.logical_or(a, b)


@register
class LogicalXor(LogicalBinaryOp):
    name = "logical_xor"
    def forward(self, ctx, a, b): return np.logical_xor(a, b)
