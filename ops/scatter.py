"""Writing through an int64 index tensor: scatter, scatter_add, scatter_reduce (PyTorch's
names, arguments and gradients). Kernels: ops/scatter.cu.

Each returns out = a copy of x in which, for every element c of `index`, src[c] is
combined into out[p(c)], p(c) being c with its coordinate along `dim` replaced by
index[c] (torch.Tensor.scatter_ and friends, out of place). As in PyTorch, index has as
many dims as x and src, index.shape[d] <= src.shape[d] for every d and <= x.shape[d] for
d != dim; src elements outside index's shape are not used.

  scatter         out[p(c)] = src[c]      (a repeated index keeps one of its values)
                  d x = grad, 0 where overwritten;  d src[c] = grad[p(c)]
  scatter_add     out[p(c)] += src[c]     d x = grad;  d src[c] = grad[p(c)]
  scatter_reduce  reduce 'sum' | 'prod' | 'mean' | 'amax' | 'amin' over x[p] (when
                  include_self) and the src values sent to p; elements no index reaches
                  keep x. Gradients as PyTorch's: mean divides by the count, amax/amin
                  split evenly among the values equal to the result, prod multiplies the
                  other values (exact with zeros: no division by a zero value). On the
                  GPU the backward first counts, per element of x, the values combined
                  into it, the ties and zeros among them and the product of the non-zero
                  ones (a temporary of 4 x.size floats; not needed for 'sum' with self).

Index values are checked as in ops/gather.py (cpu here, emu/cuda on the device).
scatter moves any dtype; on emu/cuda scatter_add adds float32, int32 and int64, and
scatter_reduce is float32.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, contiguous_strides, register

from .index_tensor import (check_countable, check_dim, check_gpu_dtype, check_index_dtype, check_index_values,
                           detail_word, kernel_shape, launch_config, out_of_bounds, record_details)

SOURCE = "scatter.cu"
REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")     # codes: KIND_* in ops/scatter.cu
UFUNCS = {"sum": np.add, "prod": np.multiply, "mean": np.add, "amax": np.maximum, "amin": np.minimum}
IDENTITY = {"sum": 0, "prod": 1, "mean": 0, "amax": -np.inf, "amin": np.inf}


def scatter_error(details):
    return out_of_bounds("scatter", *record_details(details))


# --- numpy reference helpers ------------------------------------------------------------
def targets(shape, index, dim):
    """Flat position in an array of `shape` of p(c), for every element c of index (flat)."""
    shape, index = kernel_shape(shape), index.reshape(kernel_shape(index.shape))
    coords = list(np.indices(index.shape))
    coords[dim] = index
    return np.ravel_multi_index(tuple(coords), shape).reshape(-1)


def src_part(src, index_shape):
    """The src elements that index addresses (its leading corner of index's shape), flat."""
    src = src.reshape(kernel_shape(src.shape))
    return src[tuple(slice(0, n) for n in kernel_shape(index_shape))].reshape(-1)


def src_grad(src_shape, index_shape, values):
    """A src-shaped gradient: `values` (one per index element) in the corner, 0 elsewhere."""
    out = np.zeros(kernel_shape(src_shape), values.dtype)
    out[tuple(slice(0, n) for n in kernel_shape(index_shape))] = values.reshape(kernel_shape(index_shape))
    return out.reshape(src_shape)


class ScatterOp(Op):
    n_inputs = 3
    float_only = False
    saves = ("inputs",)

    def infer(self, x, index, src, dim, **attrs):
        check_index_dtype(self.name, index)
        d = check_dim(self.name, dim, len(x.shape))
        if not len(x.shape) == len(index.shape) == len(src.shape):
            raise ValueError(f"{self.name}: index {index.shape} and src {src.shape} must have as many dims "
                             f"as the input {x.shape}")
        if any(i > s for i, s in zip(index.shape, src.shape)) or \
                any(i > n for k, (i, n) in enumerate(zip(index.shape, x.shape)) if k != d):
            raise ValueError(f"{self.name}: index {index.shape} must be no larger than src {src.shape}, "
                             f"and than the input {x.shape} outside dim {dim}")
        self.check_same_dtype(x, src)
        return Meta(x.shape, x.dtype)

    def reference_parts(self, x, index, src, dim):
        d = check_dim(self.name, dim, x.ndim)
        check_index_values("scatter", index, d, kernel_shape(x.shape)[d])
        return targets(x.shape, index, d), src_part(src, index.shape)

    # --- CUDA: the walk over index, geom = [index shape, out strides, src strides] --------
    def geometry(self, gpu, x_shape, index_shape, src_shape, dim):
        d = check_dim(self.name, dim, len(x_shape))
        walked = kernel_shape(index_shape)
        table = list(walked) + list(contiguous_strides(kernel_shape(x_shape))) + \
            list(contiguous_strides(kernel_shape(src_shape)))
        size = kernel_shape(x_shape)[d]
        n = int(np.prod(index_shape, dtype=np.int64))
        return (gpu.table(np.array(table, np.int64)), np.int32(len(walked)), np.int32(d), np.int64(n),
                np.int64(size)), detail_word(d, size)

    def launch_walk(self, gpu, kernel, n, *args):
        grid, block = launch_config(gpu, int(n))
        gpu.launch(SOURCE, kernel, grid, block, *args)

    def src_gradient(self, gpu, ctx, grad, dim):
        """d src[c] = grad[p(c)] (scatter, scatter_add)."""
        x, index, src = ctx.inputs
        dsrc = gpu.zeros(src.shape, grad.dtype)
        if index.size:
            geom, _ = self.geometry(gpu, x.shape, index.shape, src.shape, dim)
            self.launch_walk(gpu, "scatter_src_backward", geom[3], grad, dsrc, index, *geom)
        return dsrc


@register
class Scatter(ScatterOp):
    name = "scatter"
    kernels = ("scatter_forward", "scatter_mask_backward", "scatter_src_backward")

    def forward(self, ctx, x, index, src, dim):
        where, values = self.reference_parts(x, index, src, dim)
        out = x.copy().reshape(-1)
        out[where] = values
        return out.reshape(x.shape)

    def backward(self, ctx, grad, dim):
        x, index, src = ctx.inputs
        where = targets(x.shape, index, check_dim(self.name, dim, x.ndim))
        dx = grad.copy().reshape(-1)
        dx[where] = 0
        dsrc = src_grad(src.shape, index.shape, grad.reshape(-1)[where])
        return (dx.reshape(x.shape) if ctx.needs_input_grad[0] else None, None,
                dsrc if ctx.needs_input_grad[2] else None)

    def gpu_forward(self, gpu, ctx, x, index, src, dim):
        check_gpu_dtype(self.name, gpu, x.dtype)
        out = gpu.copy(x)
        if index.size:
            check_countable(self.name, gpu, index.size)
            geom, detail = self.geometry(gpu, x.shape, index.shape, src.shape, dim)
            record, code = gpu.error_record(scatter_error)
            self.launch_walk(gpu, "scatter_forward", index.size, src, out, index, *geom,
                             np.int32(x.dtype.itemsize), record, code, detail)
        return out

    def gpu_backward(self, gpu, ctx, grad, dim):
        x, index, src = ctx.inputs
        gpu.require_dtype(self.name, grad)
        dx = None
        if ctx.needs_input_grad[0]:
            dx = gpu.copy(grad)
            if index.size:
                geom, _ = self.geometry(gpu, x.shape, index.shape, src.shape, dim)
                self.launch_walk(gpu, "scatter_mask_backward", index.size, dx, index, *geom)
        return dx, None, self.src_gradient(gpu, ctx, grad, dim) if ctx.needs_input_grad[2] else None


@register
class ScatterAdd(ScatterOp):
    name = "scatter_add"
    kernels = ("scatter_add_forward", "scatter_add_i32_forward", "scatter_add_i64_forward", "scatter_src_backward")
    gpu_kernels = {dtypes.float32: "scatter_add_forward", dtypes.int32: "scatter_add_i32_forward",
                   dtypes.int64: "scatter_add_i64_forward"}

    def forward(self, ctx, x, index, src, dim):
        where, values = self.reference_parts(x, index, src, dim)
        out = x.copy().reshape(-1)
        np.add.at(out, where, values)
        return out.reshape(x.shape)

    def backward(self, ctx, grad, dim):
        x, index, src = ctx.inputs
        where = targets(x.shape, index, check_dim(self.name, dim, x.ndim))
        return (grad if ctx.needs_input_grad[0] else None, None,
                src_grad(src.shape, index.shape, grad.reshape(-1)[where]) if ctx.needs_input_grad[2] else None)

    def gpu_forward(self, gpu, ctx, x, index, src, dim):
        kernel = self.gpu_kernels.get(x.dtype)
        if kernel is None:
            raise TypeError(f"scatter_add: device {gpu.name} adds float32, int32 or int64, got dtype {x.dtype}")
        out = gpu.copy(x)
        if index.size:
            check_countable(self.name, gpu, index.size)
            geom, detail = self.geometry(gpu, x.shape, index.shape, src.shape, dim)
            record, code = gpu.error_record(scatter_error)
            self.launch_walk(gpu, kernel, index.size, src, out, index, *geom, record, code, detail)
        return out

    def gpu_backward(self, gpu, ctx, grad, dim):
        return (grad if ctx.needs_input_grad[0] else None, None,
                self.src_gradient(gpu, ctx, grad, dim) if ctx.needs_input_grad[2] else None)


@register
class ScatterReduce(ScatterOp):
    name = "scatter_reduce"
    saves = ("inputs", "output")
    kernels = ("scatter_reduce_reset", "scatter_reduce_forward", "scatter_mean_finish", "scatter_stats_init",
               "scatter_reduce_stats", "scatter_reduce_self_backward", "scatter_reduce_src_backward",
               "scatter_src_backward")

    def infer(self, x, index, src, dim, reduce, include_self=True):
        if reduce not in REDUCTIONS:
            raise ValueError(f"scatter_reduce: reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
        return super().infer(x, index, src, dim)

    def forward(self, ctx, x, index, src, dim, reduce, include_self=True):
        where, values = self.reference_parts(x, index, src, dim)
        out = x.copy().reshape(-1)
        if not include_self:
            out[where] = IDENTITY[reduce]
        UFUNCS[reduce].at(out, where, values)
        if reduce == "mean":
            count = np.bincount(where, minlength=out.size) + int(include_self)
            touched = np.bincount(where, minlength=out.size) > 0
            divide = np.true_divide if dtypes.is_float(x.dtype) else np.floor_divide
            out[touched] = divide(out[touched], count[touched]).astype(x.dtype)
        return out.reshape(x.shape)

    def backward(self, ctx, grad, dim, reduce, include_self=True):
        x, index, src = ctx.inputs
        where = targets(x.shape, index, check_dim(self.name, dim, x.ndim))
        xf, out, g, v = x.reshape(-1), ctx.output.reshape(-1), grad.reshape(-1), src_part(src, index.shape)
        count = np.bincount(where, minlength=xf.size).astype(grad.dtype)
        self_in = include_self | (count == 0)            # x[i] is one of the values out[i] combines
        if reduce in ("sum", "mean"):
            n = count + self_in
            d_self, d_src = 1 / n, (1 / n)[where]
            if reduce == "sum":
                d_self, d_src = np.ones_like(xf), np.ones_like(v)
        elif reduce in ("amax", "amin"):
            ties = np.zeros_like(xf)
            np.add.at(ties, where, (v == out[where]).astype(grad.dtype))
            ties += self_in & (xf == out)
            d_self, d_src = (xf == out) / np.maximum(ties, 1), (v == out[where]) / np.maximum(ties[where], 1)
        else:
            d_self, d_src = self.prod_derivatives(xf, v, where, bool(include_self))
        dx = np.where(self_in, g * d_self, 0).astype(grad.dtype).reshape(x.shape)
        dsrc = src_grad(src.shape, index.shape, (g[where] * d_src).astype(grad.dtype))
        return (dx if ctx.needs_input_grad[0] else None, None, dsrc if ctx.needs_input_grad[2] else None)

    @staticmethod
    def prod_derivatives(xf, v, where, include_self):
        """d out / d value for a product: the product of the other values of its element,
        from the count of zeros and the product of the non-zero values (0 / 0 never
        arises). Returns (for each x element, for each src value)."""
        zeros, others = np.zeros_like(xf), np.ones_like(xf)
        np.add.at(zeros, where, v == 0)
        np.multiply.at(others, where, np.where(v == 0, 1, v))
        d_self = np.where(zeros == 0, others, 0)
        if include_self:
            zeros, others = zeros + (xf == 0), others * np.where(xf == 0, 1, xf)
        z, o = zeros[where], others[where]
        with np.errstate(divide="ignore", invalid="ignore"):
            d_src = np.where(v == 0, np.where(z == 1, o, 0), np.where(z == 0, o / np.where(v == 0, 1, v), 0))
        return d_self, d_src

    def gpu_forward(self, gpu, ctx, x, index, src, dim, reduce, include_self=True):
        gpu.require_dtype(self.name, x, src)
        out = gpu.copy(x)
        if not index.size:
            return out
        check_countable(self.name, gpu, index.size)
        kind = np.int32(REDUCTIONS.index(reduce))
        geom, detail = self.geometry(gpu, x.shape, index.shape, src.shape, dim)
        if not include_self:
            self.launch_walk(gpu, "scatter_reduce_reset", index.size, out, index, *geom, kind)
        count = gpu.zeros(x.shape, np.float32) if reduce == "mean" else out   # only mean counts (else a stand-in)
        record, code = gpu.error_record(scatter_error)
        self.launch_walk(gpu, "scatter_reduce_forward", index.size, src, out, count, index, *geom, kind,
                         record, code, detail)
        if reduce == "mean" and out.size:
            self.launch_walk(gpu, "scatter_mean_finish", out.size, out, count, np.int64(out.size),
                             np.int32(bool(include_self)))
        return out

    def gpu_backward(self, gpu, ctx, grad, dim, reduce, include_self=True):
        if reduce == "sum" and include_self:             # scatter_add's gradients: no statistics needed
            return (grad if ctx.needs_input_grad[0] else None, None,
                    self.src_gradient(gpu, ctx, grad, dim) if ctx.needs_input_grad[2] else None)
        x, index, src = ctx.inputs
        out, kind = ctx.output, np.int32(REDUCTIONS.index(reduce))
        stats = gpu.empty((4,) + kernel_shape(x.shape), np.float32)    # count, ties, zeros, product
        n = np.int64(x.size)
        if x.size:
            self.launch_walk(gpu, "scatter_stats_init", x.size, stats, n)
        geom, _ = self.geometry(gpu, x.shape, index.shape, src.shape, dim)
        if index.size:
            self.launch_walk(gpu, "scatter_reduce_stats", index.size, src, out, stats, index, *geom, n, kind)
        dx = dsrc = None
        if ctx.needs_input_grad[0]:
            dx = gpu.empty(x.shape, grad.dtype)
            if x.size:
                self.launch_walk(gpu, "scatter_reduce_self_backward", x.size, grad, x, out, stats, dx, n, kind,
                                 np.int32(bool(include_self)))
        if ctx.needs_input_grad[2]:
            dsrc = gpu.zeros(src.shape, grad.dtype)
            if index.size:
                self.launch_walk(gpu, "scatter_reduce_src_backward", index.size, grad, src, x, out, stats, dsrc,
                                 index, *geom, n, kind, np.int32(bool(include_self)))
        return dx, None, dsrc
