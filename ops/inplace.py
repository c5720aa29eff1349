"""masked_fill, and the in-place writers behind Tensor.add_, mul_, clamp_, fill_, ...

`masked_fill(x, mask, value)` is a registered op: out = value where mask else x, x and
the bool mask broadcast together (PyTorch's rule); the gradient passes to x where the
mask is false. Kernels: masked_fill_forward / masked_fill_backward in ops/inplace.cu.

The in-place writers are not registered ops: they have no autograd of their own (the
Tensor front, tinygrad_cu/tensor_inplace.py, records the matching out-of-place op as
the tensor's new grad_fn) and no output, they overwrite their first buffer. Each runs
through the device's `update` seam, as the optimiser steps do (ops/optim.py): `update`
on numpy arrays for `cpu`, `gpu_update` with kernels writing the existing device buffer
for `emu`/`cuda`, and a captured step (tg.jit) records and replays them like any other
update. The front has checked shapes and dtypes: operands broadcast to x's shape and
have x's dtype (copy_'s source may have another dtype: it is converted).
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, broadcast_shapes, register, sum_to_shape

from .binary import broadcast_geometry, gpu_sum_to_shape, launch_config
from .movement import CAST_CODES, collapse, gpu_cast

SOURCE = "inplace.cu"


def value_bits(value, dtype):
    """The bit pattern of `value` converted to `dtype` (as numpy converts), as uint64."""
    dtype = np.dtype(dtype)
    return np.uint64(int(np.asarray(value).astype(dtype).reshape(1).view(f"u{dtype.itemsize}")[0]))


@register
class MaskedFill(Op):
    """out = value where mask else x (PyTorch's masked_fill); mask is bool and broadcasts
    with x; value is a Python number converted to x's dtype. d out / d x = 1 where the
    mask is false, 0 where it is true; the mask has no gradient."""
    name = "masked_fill"
    n_inputs = 2
    float_only = False
    kernels = ("masked_fill_forward", "masked_fill_backward")   # and binary.cu's sum_to_shape
    saves = ("inputs",)
    reads_inputs = (1,)          # the backward reads the mask only: x may change in place
    test_attrs = (dict(value=-1.5),)

    def infer(self, x, mask, value=0.0):
        if mask.dtype != dtypes.bool_:
            raise TypeError(f"masked_fill: only bool masks are supported, got mask dtype {mask.dtype}")
        if not isinstance(value, (bool, int, float, np.number)):
            raise TypeError(f"masked_fill: value must be a Python number, got {type(value).__name__}")
        if isinstance(value, (float, np.floating)) and not dtypes.is_float(x.dtype) and value != int(value):
            raise TypeError(f"masked_fill: value {value} cannot be stored in a tensor of dtype {x.dtype}")
        return Meta(broadcast_shapes(self.name, x.shape, mask.shape), x.dtype)

    def forward(self, ctx, x, mask, value=0.0):
        return np.where(mask, np.asarray(value).astype(x.dtype), x).astype(x.dtype, copy=False)

    def backward(self, ctx, grad, value=0.0):
        mask = ctx.inputs[1]
        return (sum_to_shape(np.where(mask, 0, grad).astype(grad.dtype), ctx.input_metas[0].shape)
                if ctx.needs_input_grad[0] else None, None)

    # CUDA: masked_fill_forward(x, mask, out, int n, geometry, esize, value_bits);
    #       masked_fill_backward(grad, mask, d, int n, geometry), then sum_to_shape
    def gpu_forward(self, gpu, ctx, x, mask, value=0.0):
        out = gpu.empty(broadcast_shapes(self.name, x.shape, mask.shape), x.dtype)
        if out.size:
            grid, block = launch_config(gpu, out.size)
            gpu.launch(SOURCE, "masked_fill_forward", grid, block, x, mask, out, np.int32(out.size),
                       *broadcast_geometry(self.name, out.shape, x.shape, mask.shape),
                       np.int32(x.dtype.itemsize), value_bits(value, x.dtype))
        return out

    def gpu_backward(self, gpu, ctx, grad, value=0.0):
        if not ctx.needs_input_grad[0]:
            return (None, None)
        mask = ctx.inputs[1]
        d = gpu.empty(grad.shape, grad.dtype)
        if d.size:
            grid, block = launch_config(gpu, d.size)
            gpu.launch(SOURCE, "masked_fill_backward", grid, block, grad, mask, d, np.int32(d.size),
                       *broadcast_geometry(self.name, grad.shape, grad.shape, mask.shape))
        return (gpu_sum_to_shape(gpu, d, ctx.input_metas[0].shape), None)


# --- in-place writers (not registered: see the module docstring) ------------------------------
class InplaceWriter(Op):
    """x (the first buffer) is overwritten; the other buffers are only read."""
    differentiable = False
    saves = ()

    def update(self, x, *others, **attrs):
        raise NotImplementedError

    def gpu_update(self, gpu, x, *others, **attrs):
        raise NotImplementedError


def _not_aliasing(gpu, x, b):
    """b itself, or a copy of it where it shares x's memory (x.mul_(x), or a reshape of
    x broadcast): the kernels read b through a __restrict__ pointer, and with
    broadcasting one thread would read elements that others overwrite."""
    return gpu.copy(b) if b.alloc is x.alloc else b


class InplaceBinary(InplaceWriter):
    """x = x (+ - * /) b, b broadcast to x's shape; float32 and (but /) int64 and int32 kernels."""

    def __init__(self, name, ufunc):
        self.name, self.ufunc = name, ufunc
        suffixes = ("f32",) if name == "div" else ("f32", "i64", "i32")
        self.kernels = tuple(f"inplace_{name}_{s}{v}" for s in suffixes for v in ("", "_s"))

    def update(self, x, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            self.ufunc(x, b, out=x, casting="unsafe")

    # CUDA: inplace_<name>_<f32|i64>(x, b, int n, geometry), or _s(x, b, int n) for one-element b
    def gpu_update(self, gpu, x, b):
        if not x.size:
            return
        suffix = {dtypes.float32: "f32", dtypes.int64: "i64", dtypes.int32: "i32"}.get(x.dtype)
        if suffix is None or (suffix != "f32" and self.name == "div"):
            raise TypeError(f"{self.name}_: device {gpu.name} has no in-place kernel for dtype {x.dtype}")
        b = _not_aliasing(gpu, x, b)
        grid, block = launch_config(gpu, x.size)
        if b.size == 1:
            gpu.launch(SOURCE, f"inplace_{self.name}_{suffix}_s", grid, block, x, b, np.int32(x.size))
        else:
            gpu.launch(SOURCE, f"inplace_{self.name}_{suffix}", grid, block, x, b, np.int32(x.size),
                       *broadcast_geometry(self.name + "_", x.shape, x.shape, b.shape))


ADD, SUB, MUL, DIV = (InplaceBinary("add", np.add), InplaceBinary("sub", np.subtract),
                      InplaceBinary("mul", np.multiply), InplaceBinary("div", np.divide))


class InplaceClamp(InplaceWriter):
    name = "clamp"
    kernels = ("inplace_clamp_f32",)

    def update(self, x, min=None, max=None):
        np.clip(x, min, max, out=x)

    def gpu_update(self, gpu, x, min=None, max=None):
        gpu.require_dtype("clamp_", x)
        if x.size:
            grid, block = launch_config(gpu, x.size)
            gpu.launch(SOURCE, "inplace_clamp_f32", grid, block, x, np.int32(x.size),
                       np.float32(-np.inf if min is None else min), np.float32(np.inf if max is None else max))


class InplaceFill(InplaceWriter):
    """Every element = value: a driver memset for a zero bit pattern, else movement.cu's
    fill kernel (the value is a kernel argument: nothing is uploaded)."""
    name = "fill"

    def update(self, x, value):
        x[...] = value

    def gpu_update(self, gpu, x, value):
        if not x.size:
            return
        bits = value_bits(value, x.dtype)
        if int(bits) == 0:
            gpu.memset_d8(x.alloc, 0, x.nbytes)
        else:
            grid, block = gpu.grid_1d(x.size)
            gpu.launch("movement.cu", "fill", grid, block, x, np.int64(x.size), np.int32(x.dtype.itemsize), bits)


class InplaceCopy(InplaceWriter):
    """x = src broadcast to x's shape and converted to x's dtype: a device-to-device copy,
    movement.cu's cast_forward writing x, or its strided_copy (stride 0 along broadcast
    dims) writing x; only a broadcast conversion needs a temporary (the converted src)."""
    name = "copy"

    def update(self, x, src):
        np.copyto(x, src, casting="unsafe")

    def gpu_update(self, gpu, x, src):
        if not x.size:
            return
        if src.dtype != x.dtype:
            if src.shape == x.shape:
                grid, block = gpu.grid_1d(x.size)
                gpu.launch("movement.cu", "cast_forward", grid, block, src, x, np.int64(x.size),
                           np.int32(CAST_CODES[src.dtype]), np.int32(CAST_CODES[x.dtype]))
                return
            src = gpu_cast(gpu, src, x.dtype)
        if src.shape == x.shape:
            if src.alloc is not x.alloc:
                gpu.memcpy_dtod(x.alloc, src.alloc, x.nbytes)
            return
        src = _not_aliasing(gpu, x, src)
        lead = x.ndim - src.ndim
        full = (1,) * lead + tuple(src.shape)
        strides, step = [], 1
        for n in reversed(full):                   # src's strides, 0 along broadcast dims
            strides.append(0 if n == 1 else step)
            step *= n
        dims, st = collapse(x.shape, tuple(reversed(strides)))
        grid, block = gpu.grid_1d(x.size)
        gpu.launch("movement.cu", "strided_copy", grid, block, src, x, gpu.table(np.array(dims + st, np.int64)),
                   np.int32(len(dims)), np.int64(0), np.int64(x.size), np.int32(x.dtype.itemsize))


class InplaceMaskedFill(InplaceWriter):
    name = "masked_fill"
    kernels = ("inplace_masked_fill",)

    def update(self, x, mask, value):
        np.copyto(x, np.asarray(value).astype(x.dtype), where=mask)

    # CUDA: inplace_masked_fill(x, mask, int n, geometry, esize, value_bits)
    def gpu_update(self, gpu, x, mask, value):
        if x.size:
            grid, block = launch_config(gpu, x.size)
            gpu.launch(SOURCE, "inplace_masked_fill", grid, block, x, mask, np.int32(x.size),
                       *broadcast_geometry("masked_fill_", x.shape, x.shape, mask.shape),
                       np.int32(x.dtype.itemsize), value_bits(value, x.dtype))


CLAMP, FILL, COPY, MASKED_FILL = InplaceClamp(), InplaceFill(), InplaceCopy(), InplaceMaskedFill()
