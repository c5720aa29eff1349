"""Cumulative ops along one axis: cumsum, cumprod (differentiable), argcummax, argcummin.

PyTorch's cumsum/cumprod(dim); its cummax/cummin(dim) return (values, indices): here the
indices are argcummax/argcummin (ties and NaN take the later index, as PyTorch), and
Tensor.cummax reads the values with values_at, whose gradient adds each output's
gradient to the element it came from. cumprod's gradient is exact with zeros. cumsum and
cumprod also take integer and bool tensors and return int64, as PyTorch (exact, wrapping
on overflow; no gradient).
Kernels: ops/scan.cu (a block-wide Hillis-Steele scan per row).
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Domain, Meta, Op, normalize_axes, register

from .reduce import launch_config, rows_view

SOURCE = "scan.cu"


class ScanOp(Op):
    test_attrs = (dict(axis=-1), dict(axis=0), dict(axis=1))
    takes_integers = False        # cumsum, cumprod: kernels <name>_int_forward too (int64 out)

    def __init__(self):
        self.kernels = (f"{self.name}_forward",) + ((f"{self.name}_backward",) if self.differentiable else ()) + \
            ((f"{self.name}_int_forward",) if self.takes_integers else ())

    def integer_rows(self, dtype):
        return self.takes_integers and np.dtype(dtype).kind in "iub"

    def out_dtype(self, dtype):
        return dtypes.int64 if self.integer_rows(dtype) else dtype

    def infer(self, x, axis=-1):
        if not self.integer_rows(x.dtype):
            self.check_float(x)
        if not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{self.name}: axis must be an int, got {axis!r}")
        normalize_axes(self.name, axis, len(x.shape))
        return Meta(x.shape, self.out_dtype(x.dtype))

    def gpu_forward(self, gpu, ctx, x, axis=-1):
        integer = self.integer_rows(x.dtype)
        if not integer:
            gpu.require_dtype(self.name, x)
        y = gpu.empty(x.shape, self.out_dtype(x.dtype))
        if y.size:
            outer, R, inner = rows_view(x.shape, axis)
            grid, block = launch_config(gpu, outer * inner, R)
            if integer:
                gpu.launch(SOURCE, f"{self.name}_int_forward", grid, block, x, y, np.int64(outer), np.int64(R),
                           np.int64(inner), np.int32(x.dtype.itemsize))
            else:
                gpu.launch(SOURCE, self.kernels[0], grid, block, x, y, np.int64(outer), np.int64(R), np.int64(inner))
        return y


def along(a, axis):
    """a with `axis` moved last (a 0-d array as one element)."""
    return np.moveaxis(a.reshape(1) if a.ndim == 0 else a, axis, -1)


@register
class Cumsum(ScanOp):
    name = "cumsum"
    saves = ()
    takes_integers = True

    def forward(self, ctx, x, axis=-1):
        out = self.out_dtype(x.dtype)
        return np.cumsum(x.reshape(1) if x.ndim == 0 else x, axis=axis, dtype=out).reshape(x.shape)

    def backward(self, ctx, grad, axis=-1):
        g = along(grad, axis)
        out = np.moveaxis(np.cumsum(g[..., ::-1], axis=-1)[..., ::-1], -1, axis if grad.ndim else 0)
        return (np.array(out.reshape(grad.shape), order="C"),)

    def gpu_backward(self, gpu, ctx, grad, axis=-1):
        if not ctx.needs_input_grad[0]:
            return (None,)
        dx = gpu.empty(grad.shape, grad.dtype)
        if dx.size:
            outer, R, inner = rows_view(grad.shape, axis)
            grid, block = launch_config(gpu, outer * inner, R)
            gpu.launch(SOURCE, "cumsum_backward", grid, block, grad, dx, np.int64(outer), np.int64(R),
                       np.int64(inner))
        return (dx,)


@register
class Cumprod(ScanOp):
    name = "cumprod"
    saves = ("inputs", "output")
    takes_integers = True
    domain = Domain(-1.5, 1.5)

    def forward(self, ctx, x, axis=-1):
        out = self.out_dtype(x.dtype)
        return np.cumprod(x.reshape(1) if x.ndim == 0 else x, axis=axis, dtype=out).reshape(x.shape)

    def backward(self, ctx, grad, axis=-1):
        # dx_r = sum_{k >= r} g_k prod_{j <= k, j != r} x_j, written out with the products
        # of the elements before r and of those between r and k: no division, zeros are fine
        x, g = along(ctx.inputs[0], axis), along(grad, axis)
        R = x.shape[-1]
        dx = np.zeros_like(x)
        before = np.cumprod(np.concatenate([np.ones_like(x[..., :1]), x[..., :-1]], axis=-1), axis=-1)
        for r in range(R):
            between = np.cumprod(np.concatenate([np.ones_like(x[..., :1]), x[..., r + 1:]], axis=-1), axis=-1)
            dx[..., r] = before[..., r] * (g[..., r:] * between).sum(axis=-1)
        out = np.moveaxis(dx, -1, axis if grad.ndim else 0)
        return (np.array(out.reshape(grad.shape), order="C"),)

    def gpu_backward(self, gpu, ctx, grad, axis=-1):
        if not ctx.needs_input_grad[0]:
            return (None,)
        dx = gpu.empty(grad.shape, grad.dtype)
        if dx.size:
            outer, R, inner = rows_view(grad.shape, axis)
            grid, block = gpu.grid_1d(outer * inner, block=64)
            gpu.launch(SOURCE, "cumprod_backward", grid, block, ctx.inputs[0], ctx.output, grad, dx,
                       np.int64(outer), np.int64(R), np.int64(inner))
        return (dx,)


INT_SUFFIX = {dtypes.int32: "_i32", dtypes.int64: "_i64"}


class ArgScanOp(ScanOp):
    """Index of the running max/min along the axis: ties and NaN take the later index.
    int32 / int64 x too, compared exactly (kernels argcum{max,min}_i32/_i64_forward)."""
    differentiable = False
    saves = ()
    sign = 1.0

    def __init__(self):
        super().__init__()
        self.kernels += tuple(f"{self.name}{s}_forward" for s in INT_SUFFIX.values())

    def out_dtype(self, dtype):
        return dtypes.int64

    def infer(self, x, axis=-1):
        if x.dtype in INT_SUFFIX:              # ScanOp.infer checks for a float
            return super().infer(Meta(x.shape, dtypes.float32), axis)
        return super().infer(x, axis)

    def gpu_forward(self, gpu, ctx, x, axis=-1):
        if x.dtype not in INT_SUFFIX:
            return super().gpu_forward(gpu, ctx, x, axis)
        y = gpu.empty(x.shape, dtypes.int64)
        if y.size:
            outer, R, inner = rows_view(x.shape, axis)
            grid, block = launch_config(gpu, outer * inner, R)
            gpu.launch(SOURCE, f"{self.name}{INT_SUFFIX[x.dtype]}_forward", grid, block, x, y, np.int64(outer),
                       np.int64(R), np.int64(inner))
        return y

    def forward(self, ctx, x, axis=-1):
        v = along(x, axis)
        idx = np.zeros(v.shape, np.int64)
        if v.shape[-1] == 0:
            return idx.reshape(x.shape)
        best = v[..., 0].copy()
        for r in range(1, v.shape[-1]):
            cur = v[..., r]
            later = cur >= best if self.sign > 0 else cur <= best      # no sign * v: exact for int64
            wins = np.isnan(cur) | (~np.isnan(best) & later)
            best = np.where(wins, cur, best)
            idx[..., r] = np.where(wins, r, idx[..., r - 1])
        return np.array(np.moveaxis(idx, -1, axis if x.ndim else 0).reshape(x.shape), order="C")


@register
class Argcummax(ArgScanOp):
    name = "argcummax"
    sign = 1.0


@register
class Argcummin(ArgScanOp):
    name = "argcummin"
    sign = -1.0
