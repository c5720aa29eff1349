"""Ops that read a tensor through a strided window: diagonal and unfold (PyTorch's
Tensor.diagonal(offset, dim1, dim2) and Tensor.unfold(dimension, size, step)). Views in
PyTorch, copies here: each op works out the window (shape, strides in elements of the
contiguous input, offset of its first element) on the host from the shape alone, and
one kernel copies it. The gradient adds every output's gradient back to its source
element: unfold's windows overlap when step < size, and those adds add up.
Kernels: ops/strided_view.cu.
"""
import numpy as np

from tinygrad_cu.op import Meta, Op, contiguous_strides, register

from .movement import GPU_DTYPES, launch_config

SOURCE = "strided_view.cu"


def dim_index(op, dim, ndim):
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dims "
                         f"(expected to be in [{-max(ndim, 1)}, {max(ndim, 1) - 1}])")
    return int(dim) % max(ndim, 1)


def source_positions(shape, window):
    """numpy reference: the flat input position each output element reads."""
    out_shape, strides, offset = window
    pos = np.full(out_shape, offset, np.int64)
    for d, (n, st) in enumerate(zip(out_shape, strides)):
        pos += (np.arange(n, dtype=np.int64) * st).reshape((n,) + (1,) * (len(out_shape) - d - 1))
    return pos


class StridedViewOp(Op):
    kernels = ("strided_view_forward", "strided_view_backward")
    float_only = False

    def window(self, shape, **attrs):
        """(out_shape, strides, offset) of the view; checks the arguments."""
        raise NotImplementedError

    def infer(self, x, **attrs):
        return Meta(self.window(x.shape, **attrs)[0], x.dtype)

    def forward(self, ctx, x, **attrs):
        return x.reshape(-1)[source_positions(x.shape, self.window(x.shape, **attrs))]

    def backward(self, ctx, grad, **attrs):
        shape = ctx.input_metas[0].shape
        dx = np.zeros(int(np.prod(shape, dtype=np.int64)), grad.dtype)
        np.add.at(dx, source_positions(shape, self.window(shape, **attrs)), grad)
        return (dx.reshape(shape),)

    def _launch_geometry(self, gpu, window):
        out_shape, strides, offset = window
        return gpu.table(np.array(list(out_shape) + list(strides), np.int64)), np.int32(len(out_shape)), \
            np.int64(offset)

    def gpu_forward(self, gpu, ctx, x, **attrs):
        if x.dtype not in GPU_DTYPES:
            raise TypeError(f"{self.name}: dtype {x.dtype} is not supported on device {gpu.name}")
        window = self.window(x.shape, **attrs)
        out = gpu.empty(window[0], x.dtype)
        if out.size:
            geom, ndim, offset = self._launch_geometry(gpu, window)
            grid, block = launch_config(gpu, out.size)
            gpu.launch(SOURCE, "strided_view_forward", grid, block, x, out, geom, ndim, np.int64(out.size),
                       offset, np.int32(x.dtype.itemsize))
        return out

    def gpu_backward(self, gpu, ctx, grad, **attrs):
        if not ctx.needs_input_grad[0]:
            return (None,)
        gpu.require_dtype(self.name, grad)
        shape = ctx.input_metas[0].shape
        dx = gpu.zeros(shape, grad.dtype)
        if grad.size:
            geom, ndim, offset = self._launch_geometry(gpu, self.window(shape, **attrs))
            grid, block = launch_config(gpu, grad.size)
            gpu.launch(SOURCE, "strided_view_backward", grid, block, grad, dx, geom, ndim, np.int64(grad.size),
                       offset)
        return (dx,)


@register
class Diagonal(StridedViewOp):
    """x[..., i, i + offset] over the plane (dim1, dim2), that diagonal as the last dim."""
    name = "diagonal"
    test_attrs = (dict(offset=0, dim1=0, dim2=1),)

    def window(self, shape, offset=0, dim1=0, dim2=1):
        if len(shape) < 2:
            raise ValueError(f"diagonal: needs at least 2 dims, got shape {shape}")
        d1, d2 = dim_index("diagonal", dim1, len(shape)), dim_index("diagonal", dim2, len(shape))
        if d1 == d2:
            raise ValueError(f"diagonal: dim1 and dim2 are the same dim {d1} of shape {shape}")
        k = int(offset)
        st = contiguous_strides(shape)
        rest = [d for d in range(len(shape)) if d not in (d1, d2)]
        length = max(0, min(shape[d1] + min(k, 0), shape[d2] - max(k, 0)))
        start = (-min(k, 0) * st[d1] + max(k, 0) * st[d2]) if length else 0
        return (tuple(shape[d] for d in rest) + (length,), tuple(st[d] for d in rest) + (st[d1] + st[d2],), start)


@register
class Unfold(StridedViewOp):
    """Windows of `size` elements, `step` apart, along `dimension`: that dim becomes the
    windows' count and a new last dim of `size` is the window."""
    name = "unfold"
    test_attrs = (dict(dimension=-1, size=2, step=1),)

    def window(self, shape, dimension=0, size=1, step=1):
        full = tuple(shape) if shape else (1,)
        d = dim_index("unfold", dimension, len(shape))
        if not isinstance(size, (int, np.integer)) or not 0 <= size <= full[d]:
            raise ValueError(f"unfold: size {size} must be in [0, {full[d]}], the size of dim {dimension} "
                             f"of shape {tuple(shape)}")
        if not isinstance(step, (int, np.integer)) or step <= 0:
            raise ValueError(f"unfold: step must be a positive int, got {step!r}")
        st = contiguous_strides(full)
        count = (full[d] - size) // step + 1
        if not shape:                    # a 0-d tensor: one window of its element (PyTorch: shape (size,))
            return (int(size),), (1,), 0
        out_shape = full[:d] + (count,) + full[d + 1:] + (int(size),)
        strides = st[:d] + (st[d] * step,) + st[d + 1:] + (st[d],)
        return out_shape, strides, 0
