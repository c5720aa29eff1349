"""Reading through an int64 index tensor: gather, index_select, one_hot (PyTorch's names,
arguments and rules). Kernels: ops/gather.cu.

  gather(x, index, dim)        out[c] = x[c with c_dim := index[c]]; out has index's shape,
                               index.shape[d] <= x.shape[d] for d != dim (as torch.gather)
  index_select(x, index, dim)  out[c] = x[c with c_dim := index[c_dim]]; index is 1-D or 0-d
  one_hot(index, num_classes)  out[..., k] = (index[...] == k), int64, not differentiable

The backward of a gather is a scatter-add of the gradient into zeros (indices may repeat).
Index values are checked: on `cpu` here, before anything is computed; on `emu`/`cuda` by
the kernels, which report the first bad index through the device's error record, raised
at the next synchronisation (.numpy(), .item()) as ops/softmax.py does for bad labels:
copying the index to the host would make the host wait for the device every step.
Out-of-range errors are PyTorch's types: RuntimeError (gather, one_hot), IndexError
(index_select). Shared helpers (dims, geometry, checks): ops/index_tensor.py.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, register

from .index_tensor import (along_dim, check_countable, check_dim, check_gpu_dtype, check_index_dtype,
                           check_index_values, detail_word, kernel_shape, launch_config, out_of_bounds,
                           record_details, walk_geometry)

SOURCE = "gather.cu"


def gather_error(details):
    return out_of_bounds("gather", *record_details(details))


def index_select_error_for(op, value, dim, size):
    return IndexError(f"{op}: index {value} is out of range for dimension {dim} with size {size}")


def index_select_error(details):
    return index_select_error_for("index_select", *record_details(details))


def one_hot_error_for(op, value, dim, size):
    return RuntimeError(f"{op}: class value {value} is out of range for {size} classes "
                        f"(class values must be in [0, {size}))")


def one_hot_error(details):
    return one_hot_error_for("one_hot", *record_details(details))


class IndexOp(Op):
    float_only = False
    saves = ()

    def save_index(self, ctx, index):
        if any(ctx.needs_input_grad):
            ctx.save(index=index)


@register
class Gather(IndexOp):
    name = "gather"
    n_inputs = 2
    kernels = ("gather_forward", "gather_backward")

    def infer(self, x, index, dim):
        check_index_dtype(self.name, index)
        d = check_dim(self.name, dim, len(x.shape))
        if len(index.shape) != len(x.shape):
            raise ValueError(f"gather: index {index.shape} must have as many dims as the input {x.shape}")
        if any(i > n for k, (i, n) in enumerate(zip(index.shape, x.shape)) if k != d):
            raise ValueError(f"gather: index {index.shape} is larger than the input {x.shape} "
                             f"outside dim {dim}")
        return Meta(index.shape, x.dtype)

    def forward(self, ctx, x, index, dim):
        d = check_dim(self.name, dim, x.ndim)
        check_index_values(self.name, index, d, kernel_shape(x.shape)[d])
        self.save_index(ctx, index)
        return np.asarray(x.reshape(kernel_shape(x.shape))[along_dim(index, d)]).reshape(index.shape)

    def backward(self, ctx, grad, dim):
        meta = ctx.input_metas[0]
        dx = np.zeros(kernel_shape(meta.shape), grad.dtype)
        d = check_dim(self.name, dim, len(meta.shape))
        np.add.at(dx, along_dim(ctx.saved["index"], d), grad.reshape(kernel_shape(grad.shape)))
        return (dx.reshape(meta.shape), None)

    def gpu_forward(self, gpu, ctx, x, index, dim):
        check_gpu_dtype(self.name, gpu, x.dtype)
        d = check_dim(self.name, dim, x.ndim)
        out = gpu.empty(index.shape, x.dtype)
        if out.size:
            check_countable(self.name, gpu, out.size)
            size = kernel_shape(x.shape)[d]
            geom, ndim = walk_geometry(gpu, index.shape, x.shape)
            record, code = gpu.error_record(gather_error)
            grid, block = launch_config(gpu, out.size)
            gpu.launch(SOURCE, "gather_forward", grid, block, x, out, index, geom, ndim, np.int32(d),
                       np.int64(out.size), np.int64(size), np.int32(x.dtype.itemsize), record, code,
                       detail_word(d, size))
        self.save_index(ctx, index)
        return out

    def gpu_backward(self, gpu, ctx, grad, dim):
        meta = ctx.input_metas[0]
        gpu.require_dtype(self.name, grad)
        dx = gpu.zeros(meta.shape, grad.dtype)
        if grad.size and dx.size:
            d = check_dim(self.name, dim, len(meta.shape))
            geom, ndim = walk_geometry(gpu, grad.shape, meta.shape)
            grid, block = launch_config(gpu, grad.size)
            gpu.launch(SOURCE, "gather_backward", grid, block, grad, dx, ctx.saved["index"], geom, ndim,
                       np.int32(d), np.int64(grad.size), np.int64(kernel_shape(meta.shape)[d]))
        return (dx, None)


@register
class IndexSelect(IndexOp):
    name = "index_select"
    n_inputs = 2
    kernels = ("index_select_forward", "index_select_backward")

    def infer(self, x, index, dim):
        check_index_dtype(self.name, index)
        d = check_dim(self.name, dim, len(x.shape))
        if len(index.shape) > 1:
            raise ValueError(f"index_select: index must be 1-D or 0-d, got shape {index.shape}")
        length = int(np.prod(index.shape, dtype=np.int64))
        if not x.shape:
            if length != 1:
                raise ValueError(f"index_select: a 0-d input takes one index, got shape {index.shape}")
            return Meta((), x.dtype)
        return Meta(x.shape[:d] + (length,) + x.shape[d + 1:], x.dtype)

    def forward(self, ctx, x, index, dim):
        d = check_dim(self.name, dim, x.ndim)
        xs = x.reshape(kernel_shape(x.shape))
        check_index_values(self.name, index, d, xs.shape[d], index_select_error_for)
        self.save_index(ctx, index)
        return np.take(xs, index.reshape(-1), axis=d).reshape(self.infer(x, index, dim).shape)

    def backward(self, ctx, grad, dim):
        meta = ctx.input_metas[0]
        d = check_dim(self.name, dim, len(meta.shape))
        dx = np.zeros(kernel_shape(meta.shape), grad.dtype)
        index = ctx.saved["index"].reshape(-1)       # its length spelled out: -1 is ambiguous when x has an empty dim
        g = grad.reshape(dx.shape[:d] + (index.size,) + dx.shape[d + 1:])
        np.add.at(dx, (slice(None),) * d + (index,), g)
        return (dx.reshape(meta.shape), None)

    def gpu_forward(self, gpu, ctx, x, index, dim):
        check_gpu_dtype(self.name, gpu, x.dtype)
        d = check_dim(self.name, dim, x.ndim)
        out = gpu.empty(self.infer(Meta(x.shape, x.dtype), Meta(index.shape, index.dtype), dim).shape, x.dtype)
        if out.size:
            check_countable(self.name, gpu, out.size)
            size = kernel_shape(x.shape)[d]
            walked = kernel_shape(x.shape)[:d] + (index.size,) + kernel_shape(x.shape)[d + 1:]
            geom, ndim = walk_geometry(gpu, walked, x.shape)
            record, code = gpu.error_record(index_select_error)
            grid, block = launch_config(gpu, out.size)
            gpu.launch(SOURCE, "index_select_forward", grid, block, x, out, index, geom, ndim, np.int32(d),
                       np.int64(out.size), np.int64(size), np.int64(index.size),
                       np.int32(x.dtype.itemsize), record, code, detail_word(d, size))
        self.save_index(ctx, index)
        return out

    def gpu_backward(self, gpu, ctx, grad, dim):
        meta = ctx.input_metas[0]
        gpu.require_dtype(self.name, grad)
        dx = gpu.zeros(meta.shape, grad.dtype)
        index = ctx.saved["index"]
        if grad.size and dx.size:
            d = check_dim(self.name, dim, len(meta.shape))
            walked = kernel_shape(meta.shape)[:d] + (index.size,) + kernel_shape(meta.shape)[d + 1:]
            geom, ndim = walk_geometry(gpu, walked, meta.shape)
            grid, block = launch_config(gpu, grad.size)
            gpu.launch(SOURCE, "index_select_backward", grid, block, grad, dx, index, geom, ndim,
                       np.int32(d), np.int64(grad.size), np.int64(kernel_shape(meta.shape)[d]))
        return (dx, None)


@register
class OneHot(IndexOp):
    """num_classes is resolved by the caller (F.one_hot's -1 reads the largest class)."""
    name = "one_hot"
    differentiable = False
    kernels = ("one_hot_forward",)

    def infer(self, index, num_classes):
        check_index_dtype(self.name, index, "input")
        if isinstance(num_classes, (bool, np.bool_)) or not isinstance(num_classes, (int, np.integer)) \
                or num_classes < 0:
            raise ValueError(f"one_hot: num_classes must be a non-negative int, got {num_classes!r}")
        return Meta(tuple(index.shape) + (int(num_classes),), dtypes.int64)

    def forward(self, ctx, index, num_classes):
        check_index_values(self.name, index, 0, num_classes, one_hot_error_for)
        return (index[..., None] == np.arange(num_classes)).astype(np.int64)

    def gpu_forward(self, gpu, ctx, index, num_classes):
        out = gpu.empty(tuple(index.shape) + (int(num_classes),), dtypes.int64)
        if out.size:
            check_countable(self.name, gpu, index.size)
            record, code = gpu.error_record(one_hot_error)
            grid, block = launch_config(gpu, out.size)
            gpu.launch(SOURCE, "one_hot_forward", grid, block, index, out, np.int64(out.size),
                       np.int64(num_classes), record, code, detail_word(0, num_classes))
        return out
