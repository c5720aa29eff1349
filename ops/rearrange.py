"""Rearranging a tensor without an index tensor: flip, roll, repeat, tril, triu (PyTorch's
names, arguments and rules). Kernels: ops/rearrange.cu.

  flip(dims)            reverse the order along each of `dims`; its own backward
  roll(shifts, dims)    out[c] = x[c - shift] cyclically along each dim (dims None: the
                        flattened tensor); backward rolls back
  repeat(repeats)       torch.Tensor.repeat (= np.tile): x copied repeats[d] times along
                        each dim, x seen with leading size-1 dims when repeats is longer;
                        backward sums the gradient of every copy
  tril/triu(diagonal)   keep the lower / upper triangle of the last two dims (diagonal 0
                        the main one, > 0 above it), zero the rest; backward: same mask

The copies move any dtype; gradients are float32 on emu/cuda.
"""
import numpy as np

from tinygrad_cu.op import Meta, Op, register

from .index_tensor import check_dim, check_gpu_dtype, kernel_shape, launch_config

SOURCE = "rearrange.cu"


def check_ints(op, what, values):
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values):
        raise TypeError(f"{op}: {what} must be ints, got {values!r}")


class RearrangeOp(Op):
    float_only = False
    saves = ()

    def launch(self, gpu, kernel, n, *args):
        grid, block = launch_config(gpu, n)
        gpu.launch(SOURCE, kernel, grid, block, *args)


def gpu_reindex(gpu, x, shape, offsets, flipped):
    """reindex_copy of x seen as `shape` (flip: flipped dims; roll: offsets)."""
    out = gpu.empty(x.shape, x.dtype)
    if out.size:
        geom = gpu.table(np.array(list(shape) + list(offsets) + [int(f) for f in flipped], np.int64))
        grid, block = launch_config(gpu, out.size)
        gpu.launch(SOURCE, "reindex_copy", grid, block, x, out, geom, np.int32(len(shape)),
                   np.int64(out.size), np.int32(x.dtype.itemsize))
    return out


@register
class Flip(RearrangeOp):
    name = "flip"
    kernels = ("reindex_copy",)

    def infer(self, x, dims):
        check_ints(self.name, "dims", dims)
        axes = [check_dim(self.name, d, len(x.shape)) for d in dims]
        if len(set(axes)) != len(axes):
            raise ValueError(f"flip: dims {tuple(dims)} name a dim more than once (shape {x.shape})")
        return Meta(x.shape, x.dtype)

    def forward(self, ctx, x, dims):
        axes = tuple(check_dim(self.name, d, x.ndim) for d in dims) if x.ndim else ()
        return np.flip(x, axes).copy()

    def backward(self, ctx, grad, dims):
        return (self.forward(ctx, grad, dims),)

    def gpu_flip(self, gpu, x, dims):
        check_gpu_dtype(self.name, gpu, x.dtype)
        axes = {check_dim(self.name, d, x.ndim) for d in dims}
        shape = kernel_shape(x.shape)
        return gpu_reindex(gpu, x, shape, [0] * len(shape), [x.ndim > 0 and d in axes for d in range(len(shape))])

    def gpu_forward(self, gpu, ctx, x, dims):
        return self.gpu_flip(gpu, x, dims)

    def gpu_backward(self, gpu, ctx, grad, dims):
        return (self.gpu_flip(gpu, grad, dims),)


@register
class Roll(RearrangeOp):
    name = "roll"
    kernels = ("reindex_copy",)

    def infer(self, x, shifts, dims=None):
        check_ints(self.name, "shifts", shifts)
        if dims is None:
            if len(shifts) != 1:
                raise ValueError(f"roll: without dims, shifts must be one int, got {tuple(shifts)}")
        else:
            check_ints(self.name, "dims", dims)
            if len(shifts) != len(dims) or not dims:
                raise ValueError(f"roll: shifts {tuple(shifts)} and dims {tuple(dims)} must have the same "
                                 f"non-zero length")
            for d in dims:
                check_dim(self.name, d, len(x.shape))
        return Meta(x.shape, x.dtype)

    def forward(self, ctx, x, shifts, dims=None):
        if dims is None or x.ndim == 0:
            return np.roll(x.reshape(-1), shifts[0] if dims is None else 0).reshape(x.shape)
        return np.roll(x, shifts, axis=tuple(check_dim(self.name, d, x.ndim) for d in dims))

    def backward(self, ctx, grad, shifts, dims=None):
        return (self.forward(ctx, grad, tuple(-s for s in shifts), dims),)

    def gpu_roll(self, gpu, x, shifts, dims, sign):
        check_gpu_dtype(self.name, gpu, x.dtype)
        if dims is None or x.ndim == 0:
            shape, moves = (max(x.size, 1),), [(0, shifts[0] if dims is None else 0)]
        else:
            shape, moves = x.shape, [(check_dim(self.name, d, x.ndim), s) for d, s in zip(dims, shifts)]
        offsets = [0] * len(shape)
        for d, s in moves:                              # a dim named twice rolls by the sum
            offsets[d] -= sign * s
        offsets = [o % n if n else 0 for o, n in zip(offsets, shape)]
        return gpu_reindex(gpu, x, shape, offsets, [False] * len(shape))

    def gpu_forward(self, gpu, ctx, x, shifts, dims=None):
        return self.gpu_roll(gpu, x, shifts, dims, 1)

    def gpu_backward(self, gpu, ctx, grad, shifts, dims=None):
        return (self.gpu_roll(gpu, grad, shifts, dims, -1),)


@register
class Repeat(RearrangeOp):
    name = "repeat"
    kernels = ("repeat_forward", "repeat_backward")

    def infer(self, x, repeats):
        check_ints(self.name, "repeats", repeats)
        if len(repeats) < len(x.shape):
            raise ValueError(f"repeat: {len(repeats)} repeats {tuple(repeats)} for a tensor of "
                             f"{len(x.shape)} dims {x.shape}: need at least one per dim")
        if any(r < 0 for r in repeats):
            raise ValueError(f"repeat: repeats must be non-negative, got {tuple(repeats)}")
        return Meta(tuple(r * n for r, n in zip(repeats, self.padded(x.shape, repeats))), x.dtype)

    @staticmethod
    def padded(shape, repeats):
        return (1,) * (len(repeats) - len(shape)) + tuple(shape)

    def forward(self, ctx, x, repeats):
        return np.tile(x, repeats) if repeats else x.copy()

    def backward(self, ctx, grad, repeats):
        shape = ctx.input_metas[0].shape
        padded = self.padded(shape, repeats)
        interleaved = [n for pair in zip(repeats, padded) for n in pair]     # (r0, n0, r1, n1, ...)
        return (grad.reshape(interleaved).sum(axis=tuple(range(0, len(interleaved), 2))).reshape(shape),)

    def gpu_forward(self, gpu, ctx, x, repeats):
        check_gpu_dtype(self.name, gpu, x.dtype)
        out = gpu.empty(self.infer(Meta(x.shape, x.dtype), repeats).shape, x.dtype)
        if out.size:
            padded = self.padded(x.shape, repeats)
            geom = gpu.table(np.array(list(out.shape) + list(padded), np.int64))
            self.launch(gpu, "repeat_forward", out.size, x, out, geom, np.int32(len(padded)), np.int64(out.size),
                        np.int32(x.dtype.itemsize))
        return out

    def gpu_backward(self, gpu, ctx, grad, repeats):
        gpu.require_dtype(self.name, grad)
        shape = ctx.input_metas[0].shape
        copies = int(np.prod(repeats, dtype=np.int64))
        if copies == 0:                      # no copy was made: nothing flows back
            return (gpu.zeros(shape, grad.dtype),)
        dx = gpu.empty(shape, grad.dtype)
        if dx.size:
            padded = self.padded(shape, repeats)
            out_strides = [int(np.prod(grad.shape[d + 1:], dtype=np.int64)) for d in range(len(padded))]
            geom = gpu.table(np.array(list(padded) + list(repeats) + out_strides, np.int64))
            self.launch(gpu, "repeat_backward", dx.size, grad, dx, geom, np.int32(len(padded)), np.int64(dx.size),
                        np.int64(copies))
        return (dx,)


class TriangleOp(RearrangeOp):
    kernels = ("triangle_mask",)
    upper = False

    def infer(self, x, diagonal=0):
        check_ints(self.name, "diagonal", (diagonal,))
        if len(x.shape) < 2:
            raise ValueError(f"{self.name}: input must have at least 2 dims, got shape {x.shape}")
        return Meta(x.shape, x.dtype)

    def forward(self, ctx, x, diagonal=0):
        rows, cols = x.shape[-2:]
        above = np.arange(cols)[None, :] - np.arange(rows)[:, None]      # c - r
        keep = above >= diagonal if self.upper else above <= diagonal
        return np.where(keep, x, np.zeros((), x.dtype))

    def backward(self, ctx, grad, diagonal=0):
        return (self.forward(ctx, grad, diagonal),)

    def gpu_mask(self, gpu, x, diagonal):
        check_gpu_dtype(self.name, gpu, x.dtype)
        out = gpu.empty(x.shape, x.dtype)
        if out.size:
            rows, cols = x.shape[-2:]
            self.launch(gpu, "triangle_mask", out.size, x, out, np.int64(rows), np.int64(cols), np.int64(out.size),
                        np.int64(diagonal), np.int32(self.upper), np.int32(x.dtype.itemsize))
        return out

    def gpu_forward(self, gpu, ctx, x, diagonal=0):
        return self.gpu_mask(gpu, x, diagonal)

    def gpu_backward(self, gpu, ctx, grad, diagonal=0):
        return (self.gpu_mask(gpu, grad, diagonal),)


@register
class Tril(TriangleOp):
    name = "tril"


@register
class Triu(TriangleOp):
    name = "triu"
    upper = True
