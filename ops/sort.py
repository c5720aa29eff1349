"""Sorting along one axis: argsort and argtopk (int64 indices, no gradient).

Tensor.sort / argsort / topk (tinygrad_cu/tensor_reductions.py) call these and read the
values with values_at, which carries the gradient back to the sorted elements.
Order (PyTorch's): ascending or descending, NaN as the largest value, equal values
in their original order (every sort here is stable). Kernels: ops/sort.cu, a bitonic
network per row, in shared memory for rows of up to SHARED_MAX elements, in global
memory (one launch per step, an int64 scratch of rows x P) for longer ones. int32 and
int64 inputs are sorted exactly by their own kernels (suffix _i32 / _i64).
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, normalize_axes, register

from .reduce import rows_view

SOURCE = "sort.cu"
SHARED_MAX = 1024        # = SORT_SHARED_MAX in ops/sort.cu (P keys and indices in shared memory)
MAX_THREADS = 512        # a thread per compare-exchange of a 1024-row: P / 2
KEY_SUFFIX = {dtypes.float32: "", dtypes.int32: "_i32", dtypes.int64: "_i64"}   # the kernels' key types


def sorted_order(x, axis, descending):
    """numpy reference: the stable order along `axis`, NaN largest."""
    v = np.moveaxis(x.reshape(1) if x.ndim == 0 else x, axis, -1)
    if v.dtype.kind in "iu":             # exact; ~v reverses the order without -v's overflow at the minimum
        return np.lexsort((~v if descending else v,), axis=-1)
    nan = np.isnan(v)
    filled = np.where(nan, 0, v)
    # lexsort: the last key is the primary one; it is stable, so ties keep their order
    keys = (-filled, ~nan) if descending else (filled, nan)
    order = np.lexsort(keys, axis=-1)
    return order


def require_key_dtype(op, gpu, x):
    if x.dtype not in KEY_SUFFIX:
        gpu.require_dtype(op, x)


def gpu_sort_indices(gpu, x, out, axis, descending):
    """Write into `out` (rows of K) the first K indices of each row's sorted order."""
    suffix = KEY_SUFFIX[x.dtype]
    outer, R, inner = rows_view(x.shape, axis)
    K = rows_view(out.shape, axis)[1]
    n_rows = outer * inner
    if out.size == 0:
        return out
    P = 1
    while P < R:
        P *= 2
    if P <= SHARED_MAX:
        threads = min(MAX_THREADS, max(32, P // 2))
        grid = (max(1, min(gpu.MAX_BLOCKS, n_rows)), 1, 1)
        gpu.launch(SOURCE, "argsort_rows_shared" + suffix, grid, (threads, 1, 1), x, out, np.int64(outer), np.int64(R),
                   np.int64(inner), np.int64(K), np.int64(P), np.int32(descending))
        return out
    scratch = gpu.empty((n_rows, P), dtypes.int64)
    grid, block = gpu.grid_1d(n_rows * P)
    gpu.launch(SOURCE, "argsort_init", grid, block, scratch, np.int64(n_rows), np.int64(P))
    grid, block = gpu.grid_1d(n_rows * P // 2)
    k = 2
    while k <= P:
        j = k // 2
        while j > 0:
            gpu.launch(SOURCE, "argsort_step" + suffix, grid, block, x, scratch, np.int64(outer), np.int64(R),
                       np.int64(inner), np.int64(P), np.int64(k), np.int64(j), np.int32(descending))
            j //= 2
        k *= 2
    grid, block = gpu.grid_1d(out.size)
    gpu.launch(SOURCE, "argsort_take", grid, block, scratch, out, np.int64(outer), np.int64(inner),
               np.int64(K), np.int64(P))
    return out


class SortIndexOp(Op):
    differentiable = False
    saves = ()
    kernels = ("argsort_rows_shared", "argsort_init", "argsort_step", "argsort_take") + tuple(
        f"argsort_{k}{s}" for s in ("_i32", "_i64") for k in ("rows_shared", "step"))

    def check_axis(self, x, axis):
        if x.dtype not in (dtypes.int32, dtypes.int64):     # integers: sorted exactly
            self.check_float(x)
        if not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{self.name}: axis must be an int, got {axis!r}")
        normalize_axes(self.name, axis, len(x.shape))
        return rows_view(x.shape, axis)[1]


@register
class Argsort(SortIndexOp):
    """Indices that sort x along `axis` (stable; `stable` is accepted for PyTorch's sake)."""
    name = "argsort"
    test_attrs = (dict(axis=-1, descending=False, stable=False), dict(axis=0, descending=True, stable=True))

    def infer(self, x, axis=-1, descending=False, stable=False):
        self.check_axis(x, axis)
        return Meta(x.shape, dtypes.int64)

    def forward(self, ctx, x, axis=-1, descending=False, stable=False):
        order = sorted_order(x, axis, descending)
        return np.array(np.moveaxis(order, -1, axis if x.ndim else 0).reshape(x.shape), order="C")

    def gpu_forward(self, gpu, ctx, x, axis=-1, descending=False, stable=False):
        require_key_dtype(self.name, gpu, x)
        return gpu_sort_indices(gpu, x, gpu.empty(x.shape, dtypes.int64), axis, bool(descending))


@register
class Argtopk(SortIndexOp):
    """Indices of the k largest (or smallest) along `axis`, in sorted order."""
    name = "argtopk"
    test_attrs = (dict(k=2, axis=-1, largest=True, sorted=True), dict(k=1, axis=0, largest=False, sorted=True))

    def infer(self, x, k=1, axis=-1, largest=True, sorted=True):
        R = self.check_axis(x, axis)
        if not isinstance(k, (int, np.integer)) or not 0 <= k <= R:
            raise ValueError(f"argtopk: k = {k!r} is out of range for a dim of size {R} (shape {x.shape})")
        shape = list(x.shape)
        if shape:
            shape[normalize_axes(self.name, axis, len(shape))[0]] = int(k)
        return Meta(tuple(shape), dtypes.int64)

    def forward(self, ctx, x, k=1, axis=-1, largest=True, sorted=True):
        order = sorted_order(x, axis, largest)[..., :k]
        shape = self.infer(Meta(x.shape, x.dtype), k, axis).shape
        return np.array(np.moveaxis(order, -1, axis if x.ndim else 0).reshape(shape), order="C")

    def gpu_forward(self, gpu, ctx, x, k=1, axis=-1, largest=True, sorted=True):
        require_key_dtype(self.name, gpu, x)
        out = gpu.empty(self.infer(Meta(x.shape, x.dtype), k, axis).shape, dtypes.int64)
        return gpu_sort_indices(gpu, x, out, axis, bool(largest))
