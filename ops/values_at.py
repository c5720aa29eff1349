"""values_at(x, indices, axis): the elements of x at `indices` along one axis, with a
gradient that flows back to those elements (PyTorch's take_along_dim, used here with
indices from argmax/argmin, argsort, argtopk and argcummax/argcummin: how max/min(dim),
sort, topk, cummax and cummin return values that carry a gradient).

x and indices have the same number of dims and the same sizes except along `axis`.
`unique=True` promises that the indices of each row are distinct (sort, topk, max), so
the backward stores instead of adding. x may also be int32 or int64 (max/min(dim) and
friends of integer tensors): copied exactly, forward only (an integer output has no
gradient). Kernels: ops/values_at.cu.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, normalize_axes, register

from .reduce import rows_view

SOURCE = "values_at.cu"
INT_KERNELS = {dtypes.int32: "values_at_i32_forward", dtypes.int64: "values_at_i64_forward"}


def index_error(details):
    """The error a GPU device raises from values_at_forward's record (ops/values_at.cu)."""
    bad, n, _ = details
    bad = int(np.array([bad], np.uint64).view(np.int64)[0])
    return IndexError(f"values_at: index {bad} is out of range for an axis of size {n}")


@register
class ValuesAt(Op):
    name = "values_at"
    n_inputs = 2
    saves = ("inputs",)
    kernels = ("values_at_forward", "values_at_backward_unique", "values_at_backward") + tuple(INT_KERNELS.values())

    def infer(self, x, indices, axis=-1, unique=False):
        if x.dtype not in INT_KERNELS:
            self.check_float(x)
        if indices.dtype != dtypes.int64:
            raise TypeError(f"values_at: indices must be int64, got {indices.dtype}")
        if len(x.shape) != len(indices.shape):
            raise ValueError(f"values_at: x {x.shape} and indices {indices.shape} must have the same "
                             "number of dims")
        a = normalize_axes(self.name, axis, len(x.shape))
        if any(m != n for d, (m, n) in enumerate(zip(x.shape, indices.shape)) if d not in a):
            raise ValueError(f"values_at: x {x.shape} and indices {indices.shape} differ outside axis {axis}")
        if indices.shape and x.shape[a[0]] == 0 and indices.shape[a[0]]:
            raise IndexError(f"values_at: cannot take indices {indices.shape} from an empty axis of {x.shape}")
        return Meta(indices.shape, x.dtype)

    def forward(self, ctx, x, indices, axis=-1, unique=False):
        if x.ndim == 0:                      # a 0-d x is a row of one element
            return np.asarray(np.take(x.reshape(1), indices))
        return np.take_along_axis(x, indices, axis=axis)

    def backward(self, ctx, grad, axis=-1, unique=False):
        x, indices = ctx.inputs
        if not ctx.needs_input_grad[0]:
            return None, None
        dx = np.zeros(x.shape, grad.dtype)
        if x.ndim == 0:
            return (grad * (indices == 0)).astype(grad.dtype), None
        where = list(np.indices(indices.shape, sparse=True))
        where[normalize_axes(self.name, axis, x.ndim)[0]] = indices
        np.add.at(dx, tuple(where), grad)
        return dx, None

    def gpu_forward(self, gpu, ctx, x, indices, axis=-1, unique=False):
        kernel = INT_KERNELS.get(x.dtype)
        if kernel is None:
            gpu.require_dtype(self.name, x)
            kernel = "values_at_forward"
        out = gpu.empty(indices.shape, x.dtype)
        if out.size:
            outer, R, inner = rows_view(x.shape, axis)
            K = rows_view(indices.shape, axis)[1]
            record, code = gpu.error_record(index_error)
            grid, block = gpu.grid_1d(out.size)
            gpu.launch(SOURCE, kernel, grid, block, x, indices, out, np.int64(outer),
                       np.int64(R), np.int64(K), np.int64(inner), record, code)
        return out

    def gpu_backward(self, gpu, ctx, grad, axis=-1, unique=False):
        if not ctx.needs_input_grad[0]:
            return None, None
        x, indices = ctx.inputs
        dx = gpu.zeros(x.shape, grad.dtype)
        if grad.size:
            outer, R, inner = rows_view(x.shape, axis)
            K = rows_view(indices.shape, axis)[1]
            kernel = "values_at_backward_unique" if unique else "values_at_backward"
            grid, block = gpu.grid_1d(grad.size if unique else outer * inner)
            gpu.launch(SOURCE, kernel, grid, block, grad, indices, dx, np.int64(outer), np.int64(R),
                       np.int64(K), np.int64(inner))
        return dx, None
