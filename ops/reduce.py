"""Reductions over any set of axes: sum, max, min, prod (differentiable), argmax, argmin.

`axis` is None (all), an int or a tuple; `keepdims` keeps reduced axes as size 1.
Tie rule for max/min (as PyTorch's amax/amin): the gradient is split evenly among
all elements equal to the extreme value. Kernels: ops/reduce.cu.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, normalize_axes, register

SOURCE = "reduce.cu"
MAX_THREADS = 256   # = REDUCE_MAX_THREADS in ops/block_reduce.cuh (shared-memory arrays)


# max, min, argmax and argmin also take integer and bool tensors, exactly (no float
# round trip): kernels <op>_<suffix>_forward in ops/reduce.cu; bool runs as uint8 (0 / 1)
INT_SUFFIX = {dtypes.int32: "i32", dtypes.int64: "i64", dtypes.uint8: "u8", dtypes.bool_: "u8"}


def int_kernels(name):
    return tuple(f"{name}_{s}_forward" for s in ("i32", "i64", "u8"))


def check_input_dtype(op, x):
    """Floats everywhere; integers and bool too where the op has integer kernels."""
    if not (op.takes_integers and x.dtype in INT_SUFFIX):
        op.check_float(x)


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


# --- launching the kernels (shared with ops/softmax.py) ------------------------------
def launch_config(gpu, n_outputs, n_reduced):
    """Grid and block of a one-block-per-output reduction over n_reduced elements each:
    as many blocks as outputs (capped; the kernels loop over outputs), and threads the
    smallest power of two >= n_reduced, from one warp (32) to MAX_THREADS: the tree in
    shared memory needs a power of two, and idle threads still cost barrier time."""
    threads = 32
    while threads < min(n_reduced, MAX_THREADS):
        threads *= 2
    return (max(1, min(gpu.MAX_BLOCKS, n_outputs)), 1, 1), (threads, 1, 1)


def merged_groups(shape, axes):
    """[size, reduced?] of each run of neighbouring dims of the same kind, size-1 dims
    dropped: (3, 4, 5) over axes (1, 2) -> [[3, False], [20, True]]."""
    groups = []
    for d, n in enumerate(shape):
        if n == 1:
            continue
        if groups and groups[-1][1] == (d in axes):
            groups[-1][0] *= n
        else:
            groups.append([n, d in axes])
    return groups


def gpu_reduce(gpu, kernel, x, axes, out_shape, scale=None):
    """Reduce x over `axes` with `kernel` (sum_forward / max_forward / min_forward): one
    (outer, R, inner) pass per merged group of reduced dims, the last group first. sum_forward
    multiplies by `scale` (1/N: cross_entropy's mean); when only size-1 dims are reduced
    there is no pass and the result is a copy, so `scale` must then be 1."""
    if int(np.prod(out_shape, dtype=np.int64)) == 0:
        return gpu.empty(out_shape, x.dtype)
    if x.size == 0:                       # a sum over a zero-sized axis
        return gpu.zeros(out_shape, x.dtype)
    groups = merged_groups(x.shape, axes)
    sizes = [n for n, _ in groups]
    cur = None
    for k in reversed(range(len(groups))):
        if not groups[k][1]:
            continue
        outer, R, inner = int(np.prod(sizes[:k])), sizes[k], int(np.prod(sizes[k + 1:]))
        out = gpu.empty((outer * inner,), x.dtype)
        grid, block = launch_config(gpu, outer * inner, R)
        extra = () if scale is None else (np.float32(scale),)
        gpu.launch(SOURCE, kernel, grid, block, x if cur is None else cur, out,
                   np.int64(outer), np.int64(R), np.int64(inner), *extra)
        sizes[k], cur = 1, out
    return (gpu.copy(x) if cur is None else cur).reshape(out_shape)


def output_geometry(gpu, shape, axes):
    """`geom` of the backward kernels: merged group sizes of the input, then each group's
    stride in the (contiguous) output, 0 for reduced groups. Returns (buffer, ndim)."""
    groups = merged_groups(shape, axes)
    strides, stride = [], 1
    for n, reduced in reversed(groups):
        strides.append(0 if reduced else stride)
        stride *= 1 if reduced else n
    geom = np.array([n for n, _ in groups] + strides[::-1], dtype=np.int64)
    return gpu.table(geom), np.int32(len(groups))


class ReduceOp(Op):
    takes_integers = False
    test_attrs = (dict(axis=None, keepdims=False), dict(axis=0, keepdims=True),
                  dict(axis=-1, keepdims=False), dict(axis=(0, -1), keepdims=False))

    def infer(self, x, axis=None, keepdims=False):
        check_input_dtype(self, x)
        axes = normalize_axes(self.name, axis, len(x.shape))
        if self.name != "sum" and any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"{self.name}: cannot reduce over a zero-sized axis of shape {x.shape}")
        return Meta(reduced_shape(x.shape, axes, keepdims), x.dtype)

    def keepdims_shape(self, ctx, axis):
        shape = ctx.input_metas[0].shape
        return reduced_shape(shape, normalize_axes(self.name, axis, len(shape)), True)

    # CUDA: <name>_forward(x, y, outer, R, inner) per merged group of reduced axes
    def gpu_forward(self, gpu, ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(self.name, axis, x.ndim)
        if self.takes_integers and x.dtype in INT_SUFFIX:       # max / min of integers
            kernel, scale = f"{self.name}_{INT_SUFFIX[x.dtype]}_forward", None
        else:
            gpu.require_dtype(self.name, x)
            kernel, scale = self.kernels[0], (1.0 if self.name == "sum" else None)
        return gpu_reduce(gpu, kernel, x, axes, reduced_shape(x.shape, axes, keepdims), scale)


@register
class Sum(ReduceOp):
    name = "sum"
    saves = ()
    kernels = ("sum_forward", "sum_backward")

    def forward(self, ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(self.name, axis, x.ndim)
        return np.asarray(x.sum(axis=axes, keepdims=keepdims), dtype=x.dtype)

    def backward(self, ctx, grad, axis=None, keepdims=False):
        shape = ctx.input_metas[0].shape
        g = grad.reshape(self.keepdims_shape(ctx, axis))
        return (np.asarray(np.broadcast_to(g, shape), order="C"),)

    def gpu_backward(self, gpu, ctx, grad, axis=None, keepdims=False):
        if not ctx.needs_input_grad[0]:
            return (None,)
        shape = ctx.input_metas[0].shape
        dx = gpu.empty(shape, grad.dtype)
        if dx.size:
            geom, ndim = output_geometry(gpu, shape, normalize_axes(self.name, axis, len(shape)))
            grid, block = gpu.grid_1d(dx.size)
            gpu.launch(SOURCE, "sum_backward", grid, block, grad, dx, geom, ndim, np.int64(dx.size))
        return (dx,)


class ExtremumOp(ReduceOp):
    saves = ("inputs", "output")
    takes_integers = True            # no gradient then: the output is not float
    pick = None   # np.max or np.min

    def forward(self, ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(self.name, axis, x.ndim)
        return np.asarray(type(self).pick(x, axis=axes, keepdims=keepdims), dtype=x.dtype)

    def backward(self, ctx, grad, axis=None, keepdims=False):
        x = ctx.inputs[0]
        axes = normalize_axes(self.name, axis, x.ndim)
        kd = self.keepdims_shape(ctx, axis)
        winners = (x == ctx.output.reshape(kd)).astype(x.dtype)
        share = winners / winners.sum(axis=axes, keepdims=True)   # ties split the gradient
        return (share * grad.reshape(kd),)

    # winners w = (x == out), count = sum of w over the axes, dx = w * grad / count
    def gpu_backward(self, gpu, ctx, grad, axis=None, keepdims=False):
        if not ctx.needs_input_grad[0]:
            return (None,)
        x = ctx.inputs[0]
        dx = gpu.empty(x.shape, grad.dtype)
        if dx.size == 0:
            return (dx,)
        axes = normalize_axes(self.name, axis, x.ndim)
        geom, ndim = output_geometry(gpu, x.shape, axes)
        grid, block = gpu.grid_1d(x.size)
        winners = gpu.empty(x.shape, x.dtype)
        gpu.launch(SOURCE, "extremum_winners", grid, block, x, ctx.output, winners, geom, ndim,
                   np.int64(x.size))
        count = gpu_reduce(gpu, "sum_forward", winners, axes, grad.shape, scale=1.0)
        gpu.launch(SOURCE, "extremum_backward", grid, block, winners, grad, count, dx, geom, ndim,
                   np.int64(x.size))
        return (dx,)


@register
class Max(ExtremumOp):
    name = "max"
    kernels = ("max_forward", "extremum_winners", "extremum_backward") + int_kernels("max")
    pick = staticmethod(np.max)


@register
class Min(ExtremumOp):
    name = "min"
    kernels = ("min_forward", "extremum_winners", "extremum_backward") + int_kernels("min")
    pick = staticmethod(np.min)


def rows_view(shape, axis):
    """(outer, R, inner): x as rows x[o, :, i] along one axis (a 0-d x, or axis None, is
    one row of every element). The view of prod, and of the one-dim ops of scan, sort
    and values_at."""
    if axis is None or not shape:
        return 1, int(np.prod(shape, dtype=np.int64)), 1
    a = normalize_axes("rows_view", axis, len(shape))[0]
    return int(np.prod(shape[:a], dtype=np.int64)), shape[a], int(np.prod(shape[a + 1:], dtype=np.int64))


@register
class Prod(ReduceOp):
    """Product over one axis or all (PyTorch's prod takes one dim). The empty product is 1.
    Gradient: the product of the other elements of the row, right when the row has
    zeros (computed without dividing by them), as PyTorch."""
    name = "prod"
    saves = ("inputs", "output")
    kernels = ("prod_forward", "prod_backward")
    test_attrs = (dict(axis=None, keepdims=False), dict(axis=0, keepdims=True),
                  dict(axis=-1, keepdims=False))

    def infer(self, x, axis=None, keepdims=False):
        self.check_float(x)
        if axis is not None and not isinstance(axis, (int, np.integer)):
            raise TypeError(f"prod: axis must be None or an int, got {axis!r}")
        axes = normalize_axes(self.name, axis, len(x.shape))
        return Meta(reduced_shape(x.shape, axes, keepdims), x.dtype)

    def forward(self, ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(self.name, axis, x.ndim)
        return np.asarray(x.prod(axis=axes, keepdims=keepdims), dtype=x.dtype)

    def backward(self, ctx, grad, axis=None, keepdims=False):
        x = ctx.inputs[0]
        outer, R, inner = rows_view(x.shape, axis)
        if x.size == 0:
            return (np.zeros(x.shape, grad.dtype),)
        rows = x.reshape(outer, R, inner)
        ones = np.ones((outer, 1, inner), x.dtype)
        # product of the elements before and after each one: no division, zeros are fine
        before = np.concatenate([ones, np.cumprod(rows, axis=1)[:, :-1]], axis=1)
        after = np.concatenate([np.cumprod(rows[:, ::-1], axis=1)[:, ::-1][:, 1:], ones], axis=1)
        g = grad.reshape(outer, 1, inner)
        return ((before * after * g).reshape(x.shape),)

    def gpu_forward(self, gpu, ctx, x, axis=None, keepdims=False):
        gpu.require_dtype(self.name, x)
        axes = normalize_axes(self.name, axis, x.ndim)
        out_shape = reduced_shape(x.shape, axes, keepdims)
        n_out = int(np.prod(out_shape, dtype=np.int64))
        if x.size == 0 and n_out:           # rows of no element: the kernel writes 1, the empty product
            out = gpu.empty(out_shape, x.dtype)
            grid, block = launch_config(gpu, n_out, 0)
            gpu.launch(SOURCE, "prod_forward", grid, block, x, out, np.int64(n_out), np.int64(0), np.int64(1))
            return out
        return gpu_reduce(gpu, "prod_forward", x, axes, out_shape)

    def gpu_backward(self, gpu, ctx, grad, axis=None, keepdims=False):
        if not ctx.needs_input_grad[0]:
            return (None,)
        x = ctx.inputs[0]
        dx = gpu.empty(x.shape, grad.dtype)
        if dx.size:
            outer, R, inner = rows_view(x.shape, axis)
            grid, block = gpu.grid_1d(dx.size)
            gpu.launch(SOURCE, "prod_backward", grid, block, x, ctx.output, grad, dx,
                       np.int64(outer), np.int64(R), np.int64(inner))
        return (dx,)


class ArgOp(Op):
    """Index of the first extreme element along one axis (flattened if axis is None).
    Floats, integers and bool, on every device (integers are compared exactly)."""
    differentiable = False
    takes_integers = True
    saves = ()
    test_attrs = (dict(axis=None, keepdims=False), dict(axis=-1, keepdims=False),
                  dict(axis=0, keepdims=True))

    def infer(self, x, axis=None, keepdims=False):
        check_input_dtype(self, x)
        if axis is not None and not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{self.name}: axis must be None or an int, got {axis!r}")
        if 0 in x.shape:
            raise ValueError(f"{self.name}: cannot take {self.name} of an empty tensor {x.shape}")
        if axis is None:
            return Meta((1,) * len(x.shape) if keepdims else (), dtypes.int64)
        axes = normalize_axes(self.name, axis, len(x.shape))
        return Meta(reduced_shape(x.shape, axes, keepdims), dtypes.int64)

    def forward(self, ctx, x, axis=None, keepdims=False):
        if axis is None:
            out = np.asarray(type(self).pick(x.reshape(-1)))
            return out.reshape((1,) * x.ndim if keepdims else ()).astype(np.int64)
        return np.asarray(type(self).pick(x, axis=axis, keepdims=keepdims)).astype(np.int64)

    # CUDA: <name>_forward(x, out, outer, R, inner): x viewed as (outer, R, inner)
    def gpu_forward(self, gpu, ctx, x, axis=None, keepdims=False):
        if x.dtype in INT_SUFFIX:
            kernel = f"{self.name}_{INT_SUFFIX[x.dtype]}_forward"
        else:
            gpu.require_dtype(self.name, x)
            kernel = self.kernels[0]
        out = gpu.empty(self.infer(Meta(x.shape, x.dtype), axis, keepdims).shape, dtypes.int64)
        if axis is None or x.ndim == 0:
            outer, R, inner = 1, x.size, 1
        else:
            a = normalize_axes(self.name, axis, x.ndim)[0]
            outer, R, inner = int(np.prod(x.shape[:a])), x.shape[a], int(np.prod(x.shape[a + 1:]))
        grid, block = launch_config(gpu, outer * inner, R)
        gpu.launch(SOURCE, kernel, grid, block, x, out, np.int64(outer), np.int64(R), np.int64(inner))
        return out


@register
class Argmax(ArgOp):
    name = "argmax"
    kernels = ("argmax_forward",) + int_kernels("argmax")
    pick = staticmethod(np.argmax)


@register
class Argmin(ArgOp):
    name = "argmin"
    kernels = ("argmin_forward",) + int_kernels("argmin")
    pick = staticmethod(np.argmin)
