"""Padding by the input's own values: PyTorch's F.pad modes 'reflect', 'replicate',
'circular' (one op, `pad_mode`, the mode an attribute). Constant padding is the `pad` op
of ops/movement.py; F.pad (tinygrad_cu/nn/functional.py) turns PyTorch's flat,
last-dim-first pad list into one (before, after) pair per dim, pads by the positive
parts with one of these ops and crops the negative parts with a slice (PyTorch pads
first and crops after: a negative pad removes padded or original elements alike).

Per dim, output coordinate j (c = j - before) copies input coordinate
  reflect    |c| folded at the edges without repeating them (pad < n, as PyTorch)
  replicate  c clamped to [0, n - 1]                        (any pad, n >= 1)
  circular   c mod n                                        (pad <= n, as PyTorch)
The gradient of an input element is the sum of the output gradients copied from it.
Kernels: ops/pad_mode.cu (a gather forward, an atomic scatter-add backward).
"""
import numpy as np

from tinygrad_cu.op import Meta, Op, register

from .movement import GPU_DTYPES, launch_config

SOURCE = "pad_mode.cu"
MODES = {"reflect": 0, "replicate": 1, "circular": 2}


def source_indices(n, before, after, mode):
    """numpy reference: the input coordinate each of the n + before + after outputs copies."""
    c = np.arange(-before, n + after)
    if mode == "replicate":
        return np.clip(c, 0, n - 1)
    if mode == "circular":
        return np.mod(c, n)
    c = np.abs(c)                                           # reflect
    return np.where(c >= n, 2 * (n - 1) - c, c)


@register
class PadMode(Op):
    name = "pad_mode"
    kernels = ("pad_mode_forward", "pad_mode_backward")
    float_only = False

    def infer(self, x, pad_width, mode="reflect"):
        if mode not in MODES:
            raise NotImplementedError(f"pad_mode: unknown padding mode {mode!r} (reflect, replicate, circular)")
        if len(pad_width) != len(x.shape) or any(a < 0 or b < 0 for a, b in pad_width):
            raise ValueError(f"pad_mode: need one non-negative (before, after) pair per dim of {x.shape}, "
                             f"got {pad_width}")
        for d, (n, (a, b)) in enumerate(zip(x.shape, pad_width)):
            if (a or b) and n == 0:
                raise ValueError(f"pad_mode: {mode} padding ({a}, {b}) of dim {d}, which is empty "
                                 f"(input shape {x.shape}): there is nothing to repeat")
            if (mode == "reflect" and max(a, b) >= n) or (mode == "circular" and max(a, b) > n):
                bound = "smaller than" if mode == "reflect" else "at most"
                raise ValueError(f"pad_mode: {mode} padding ({a}, {b}) of dim {d} must be {bound} its size {n} "
                                 f"(input shape {x.shape})")
        return Meta(tuple(n + a + b for n, (a, b) in zip(x.shape, pad_width)), x.dtype)

    def forward(self, ctx, x, pad_width, mode="reflect"):
        index = np.ix_(*[source_indices(n, a, b, mode) for n, (a, b) in zip(x.shape, pad_width)])
        return np.array(x[index] if x.ndim else x, order="C")

    def backward(self, ctx, grad, pad_width, mode="reflect"):
        shape = ctx.input_metas[0].shape
        dx = np.zeros(shape, grad.dtype)
        if grad.ndim:
            index = np.ix_(*[source_indices(n, a, b, mode) for n, (a, b) in zip(shape, pad_width)])
            np.add.at(dx, index, grad)
        else:
            dx += grad
        return (dx,)

    def _geometry(self, gpu, out_shape, in_shape, pad_width):
        before = [int(a) for a, _ in pad_width]
        return gpu.table(np.array(list(out_shape) + list(in_shape) + before, np.int64))

    def gpu_forward(self, gpu, ctx, x, pad_width, mode="reflect"):
        if x.dtype not in GPU_DTYPES:
            raise TypeError(f"pad_mode: dtype {x.dtype} is not supported on device {gpu.name}")
        out = gpu.empty(tuple(n + a + b for n, (a, b) in zip(x.shape, pad_width)), x.dtype)
        if out.size:
            grid, block = launch_config(gpu, out.size)
            gpu.launch(SOURCE, "pad_mode_forward", grid, block, x, out,
                       self._geometry(gpu, out.shape, x.shape, pad_width), np.int32(x.ndim),
                       np.int64(out.size), np.int32(x.dtype.itemsize), np.int32(MODES[mode]))
        return out

    def gpu_backward(self, gpu, ctx, grad, pad_width, mode="reflect"):
        if not ctx.needs_input_grad[0]:
            return (None,)
        gpu.require_dtype(self.name, grad)
        shape = ctx.input_metas[0].shape
        dx = gpu.zeros(shape, grad.dtype)
        if grad.size:
            grid, block = launch_config(gpu, grad.size)
            gpu.launch(SOURCE, "pad_mode_backward", grid, block, grad, dx,
                       self._geometry(gpu, grad.shape, shape, pad_width), np.int32(len(shape)),
                       np.int64(grad.size), np.int32(MODES[mode]))
        return (dx,)
