"""Ops that move data without arithmetic: reshape, permute, expand, getitem, cat, pad, cast.

On the GPU devices these are copy kernels (ops/movement.cu): each thread computes
one output element's source index from the shapes and strides. `reshape` of a
contiguous buffer is free: it shares the buffer. permute, expand, the slices of cat's
backward and pad's backward are all one kernel, `strided_copy` (a view is shape +
strides + offset); getitem gathers through flat indices computed on the host by
`flat_indices`. The copies move elements by size, so they serve every GPU dtype.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, contiguous_strides, register, sum_to_shape

from .indexing import add_at, index_array

SOURCE = "movement.cu"
GPU_DTYPES = (dtypes.float32, dtypes.int32, dtypes.int64, dtypes.uint8, dtypes.bool_)
CAST_CODES = {dtypes.float32: 0, dtypes.int32: 1, dtypes.int64: 2, dtypes.uint8: 3, dtypes.bool_: 4}


class MovementOp(Op):
    saves = ()
    float_only = False

    def check_gpu_dtype(self, gpu, *dts):
        """Copies move any GPU dtype (by element size); float64 does not exist on a GPU."""
        for dt in dts:
            if np.dtype(dt) not in GPU_DTYPES:
                raise TypeError(f"{self.name}: dtype {np.dtype(dt)} is not supported on device "
                                f"{gpu.name} (use float32, int32, int64, uint8 or bool)")


# --- CUDA launch helpers (kernels in ops/movement.cu) -------------------------------
def launch_config(gpu, n):
    """The one place movement kernels get their launch configuration: one thread per
    output element in a grid-stride loop, 256 threads a block, no shared memory."""
    return gpu.grid_1d(n, block=256)


def collapse(shape, strides):
    """The same walk over memory with fewer dims: drop size-1 dims and merge a dim into
    the one before it when they are contiguous with each other (less index arithmetic)."""
    dims = []
    for n, st in zip(shape, strides):
        if n == 1:
            continue
        if dims and dims[-1][1] == st * n:
            dims[-1] = (dims[-1][0] * n, st)
        else:
            dims.append((int(n), int(st)))
    return [d[0] for d in dims], [d[1] for d in dims]


def _strided(gpu, kernel, src, dst, shape, strides, base):
    n = int(np.prod(shape, dtype=np.int64))
    if n == 0:
        return dst
    dims, st = collapse(shape, strides)
    geom = gpu.table(np.array(dims + st, np.int64))
    grid, block = launch_config(gpu, n)
    gpu.launch(SOURCE, kernel, grid, block, src, dst, geom, np.int32(len(dims)), np.int64(base),
               np.int64(n), np.int32(src.dtype.itemsize))
    return dst


def gpu_strided_copy(gpu, src, shape, strides, base=0):
    """A new contiguous buffer of `shape`: element at coords c is src[base + c . strides]."""
    return _strided(gpu, "strided_copy", src, gpu.empty(shape, src.dtype), shape, strides, base)


def gpu_strided_store(gpu, src, dst, strides, base=0):
    """dst[base + c . strides] = src[c] for every coordinate c of src (in place)."""
    return _strided(gpu, "strided_store", src, dst, src.shape, strides, base)


def gpu_permute(gpu, x, dims):
    strides = contiguous_strides(x.shape)
    return gpu_strided_copy(gpu, x, tuple(x.shape[d] for d in dims), tuple(strides[d] for d in dims))


def gpu_cast(gpu, x, dtype):
    dtype = np.dtype(dtype)
    if dtype == x.dtype:
        return gpu.copy(x)
    out = gpu.empty(x.shape, dtype)
    if x.size:
        grid, block = launch_config(gpu, x.size)
        gpu.launch(SOURCE, "cast_forward", grid, block, x, out, np.int64(x.size),
                   np.int32(CAST_CODES[x.dtype]), np.int32(CAST_CODES[dtype]))
    return out


@register
class Reshape(MovementOp):
    name = "reshape"
    kernels = ()          # a view: no data moves
    shares_input_storage = True
    test_attrs = (dict(shape=(-1,)),)

    def infer(self, x, shape):
        numel = int(np.prod(x.shape, dtype=np.int64))
        shape = tuple(shape)
        if shape.count(-1) > 1 or any(s < -1 for s in shape):
            raise ValueError(f"reshape: invalid shape {shape}")
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if -1 in shape:
            if known == 0 or numel % known:
                raise ValueError(f"reshape: cannot reshape {x.shape} ({numel} elements) into {shape}")
            shape = tuple(numel // known if s == -1 else s for s in shape)
        elif known != numel:
            raise ValueError(f"reshape: cannot reshape {x.shape} ({numel} elements) into {shape}")
        return Meta(shape, x.dtype)

    def forward(self, ctx, x, shape):
        return x.reshape(shape)

    def backward(self, ctx, grad, shape):
        return (grad.reshape(ctx.input_metas[0].shape),)

    def gpu_forward(self, gpu, ctx, x, shape):
        return x.reshape(self.infer(Meta(x.shape, x.dtype), shape).shape)

    def gpu_backward(self, gpu, ctx, grad, shape):
        return (grad.reshape(ctx.input_metas[0].shape),)


@register
class Permute(MovementOp):
    name = "permute"
    kernels = ("strided_copy",)          # the backward is the inverse permutation
    test_attrs = (dict(dims=(1, 0)),)

    def infer(self, x, dims):
        if sorted(dims) != list(range(len(x.shape))):
            raise ValueError(f"permute: dims {dims} are not a permutation of the {len(x.shape)} "
                             f"dims of shape {x.shape}")
        return Meta(tuple(x.shape[d] for d in dims), x.dtype)

    # numpy reference: a strided view, no copy (as reshape's), so `x @ w.T` hands BLAS
    # the transposed operand in place; numpy handles any strides downstream
    def forward(self, ctx, x, dims):
        return x.transpose(dims)

    def backward(self, ctx, grad, dims):
        return (grad.transpose(sorted(range(len(dims)), key=dims.__getitem__)),)   # inverse permutation

    def gpu_forward(self, gpu, ctx, x, dims):
        self.check_gpu_dtype(gpu, x.dtype)
        return gpu_permute(gpu, x, dims)

    def gpu_backward(self, gpu, ctx, grad, dims):
        return (gpu_permute(gpu, grad, tuple(int(d) for d in np.argsort(dims))),)


@register
class Expand(MovementOp):
    """Broadcast to a larger shape; the backward sums over the expanded axes."""
    name = "expand"
    kernels = ("strided_copy",)          # backward: ops/binary.py gpu_sum_to_shape

    def infer(self, x, shape):
        try:
            out = np.broadcast_shapes(x.shape, shape)
        except ValueError:
            out = None
        if out != tuple(shape):
            raise ValueError(f"expand: cannot expand shape {x.shape} to {tuple(shape)}")
        return Meta(tuple(shape), x.dtype)

    def forward(self, ctx, x, shape):
        return np.asarray(np.broadcast_to(x, shape), order="C")

    def backward(self, ctx, grad, shape):
        return (sum_to_shape(grad, ctx.input_metas[0].shape),)

    def gpu_forward(self, gpu, ctx, x, shape):
        self.check_gpu_dtype(gpu, x.dtype)
        shape = tuple(shape)
        lead = len(shape) - len(x.shape)
        # stride 0 along broadcast dims: every output element there reads the same input
        strides = (0,) * lead + tuple(0 if n == 1 else st for n, st in
                                      zip(x.shape, contiguous_strides(x.shape)))
        return gpu_strided_copy(gpu, x, shape, strides)

    def gpu_backward(self, gpu, ctx, grad, shape):
        from .binary import gpu_sum_to_shape
        return (gpu_sum_to_shape(gpu, grad, ctx.input_metas[0].shape),)


def _probe(shape):
    """A zero-strided stand-in of `shape`: indexing it tells the result's shape."""
    return np.broadcast_to(np.zeros((), np.int8), shape)


def flat_indices(shape, index):
    """For each element of x[index], its position in the flattened x (int64)."""
    return index_array(np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape), index)


def basic_view(shape, index):
    """(shape, strides, offset), in elements, of the view x[index] when `index` is basic
    (ints, slices, None, ...): numpy computes the view of a stand-in array that is never
    read. None for advanced indices (arrays, bools), which need flat_indices."""
    if not all(i is None or i is Ellipsis or isinstance(i, slice) or
               (isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))) for i in index):
        return None
    anchor = np.zeros(1, np.int64)
    stand_in = np.lib.stride_tricks.as_strided(anchor, shape=shape,
                                               strides=tuple(8 * s for s in contiguous_strides(shape)))
    # Integers down to no dims at all would give a numpy scalar (a copy, at a new address,
    # so the offset below would be garbage); a trailing Ellipsis keeps a 0-d view instead.
    if not any(i is Ellipsis for i in index):
        index = tuple(index) + (Ellipsis,)
    view = stand_in[index]
    offset = (view.__array_interface__["data"][0] - anchor.__array_interface__["data"][0]) // 8
    return view.shape, tuple(s // 8 for s in view.strides), offset


@register
class Getitem(MovementOp):
    """x[index] with PyTorch's rules (numpy's, except where an integer and an index array
    meet: ops/indexing.py); the backward scatters (and adds, for repeated
    indices) the gradient into zeros of x's shape."""
    name = "getitem"
    kernels = ("gather_forward", "scatter_add_backward")
    test_attrs = (dict(index=(0,)), dict(index=(slice(None, None, -1),)),
                  dict(index=(np.array([0, 0, -1]),)), dict(index=(None, Ellipsis)))

    def infer(self, x, index):
        for it in index:
            if isinstance(it, np.ndarray) and it.dtype.kind not in "iub":
                raise IndexError(f"getitem: tensors used as indices must be integer or bool, got {it.dtype} "
                                 "(as PyTorch, an IndexError)")
            if isinstance(it, float):
                raise IndexError(f"getitem: float index {it} for shape {x.shape} (indices must be integers)")
        try:
            shape = index_array(_probe(x.shape), index).shape
        except IndexError as e:
            raise IndexError(f"getitem: index {index!r} is invalid for shape {x.shape}: {e}") from None
        return Meta(shape, x.dtype)

    def forward(self, ctx, x, index):
        return np.array(index_array(x, index), copy=True)

    def backward(self, ctx, grad, index):
        meta = ctx.input_metas[0]
        out = np.zeros(meta.shape, grad.dtype)
        add_at(out, index, grad)
        return (out,)

    # Basic indices (ints, slices, None) are a strided view: one strided copy, and its
    # backward one strided store into zeros (a view never repeats an element). Advanced
    # indices: the host turns the index into the flat source position of every output
    # element (exactly numpy's rules); the kernels gather and scatter-add.
    def gpu_forward(self, gpu, ctx, x, index):
        self.check_gpu_dtype(gpu, x.dtype)
        view = basic_view(x.shape, index)
        if view is not None:
            ctx.save(view=view)
            shape, strides, offset = view
            return gpu_strided_copy(gpu, x, shape, strides, base=offset)
        positions = gpu.from_numpy(flat_indices(x.shape, index))
        if any(ctx.needs_input_grad):
            ctx.save(positions=positions)
        out = gpu.empty(positions.shape, x.dtype)
        if out.size:
            grid, block = launch_config(gpu, out.size)
            gpu.launch(SOURCE, "gather_forward", grid, block, x, out, positions, np.int64(out.size),
                       np.int32(x.dtype.itemsize))
        return out

    def gpu_backward(self, gpu, ctx, grad, index):
        dx = gpu.zeros(ctx.input_metas[0].shape, grad.dtype)
        if "view" in ctx.saved:
            _, strides, offset = ctx.saved["view"]
            return (gpu_strided_store(gpu, grad, dx, strides, base=offset),)
        if grad.size:
            grid, block = launch_config(gpu, grad.size)
            gpu.launch(SOURCE, "scatter_add_backward", grid, block, grad, dx, ctx.saved["positions"],
                       np.int64(grad.size))
        return (dx,)


@register
class Cat(MovementOp):
    name = "cat"
    n_inputs = None
    kernels = ("strided_store", "strided_copy")

    def infer(self, *xs, axis=0):
        first = xs[0]
        nd = len(first.shape)
        if nd == 0:
            raise ValueError("cat: zero-dimensional tensors cannot be concatenated")
        if not -nd <= axis < nd:
            raise ValueError(f"cat: axis {axis} out of range for {nd} dims")
        ax = axis % nd
        for m in xs[1:]:
            if len(m.shape) != nd or any(a != b for i, (a, b) in enumerate(zip(m.shape, first.shape))
                                         if i != ax):
                raise ValueError(f"cat: shapes {', '.join(str(x.shape) for x in xs)} differ "
                                 f"outside axis {axis}")
        self.check_same_dtype(*xs)
        shape = list(first.shape)
        shape[ax] = sum(m.shape[ax] for m in xs)
        return Meta(tuple(shape), first.dtype)

    def forward(self, ctx, *xs, axis=0):
        return np.concatenate(xs, axis=axis)

    def backward(self, ctx, grad, axis=0):
        ax = axis % grad.ndim
        bounds = np.cumsum([m.shape[ax] for m in ctx.input_metas])[:-1]
        return tuple(np.asarray(g, order="C") for g in np.split(grad, bounds, axis=ax))

    @staticmethod
    def slabs(shapes, out_shape, ax):
        """Each input is a slab of the output: seen as (outer, its length * inner) it
        starts at offset `start * inner` of rows of length `total * inner`."""
        outer = int(np.prod(out_shape[:ax], dtype=np.int64))
        inner = int(np.prod(out_shape[ax + 1:], dtype=np.int64))
        start = 0
        for shape in shapes:
            yield (outer, shape[ax] * inner), (out_shape[ax] * inner, 1), start * inner
            start += shape[ax]

    def gpu_forward(self, gpu, ctx, *xs, axis=0):
        self.check_gpu_dtype(gpu, xs[0].dtype)
        out_shape = self.infer(*(Meta(x.shape, x.dtype) for x in xs), axis=axis).shape
        out = gpu.empty(out_shape, xs[0].dtype)
        ax = axis % len(out_shape)
        for x, (shape, strides, base) in zip(xs, self.slabs([x.shape for x in xs], out_shape, ax)):
            gpu_strided_store(gpu, x.reshape(shape), out, strides, base)
        return out

    def gpu_backward(self, gpu, ctx, grad, axis=0):
        ax = axis % grad.ndim
        metas = ctx.input_metas
        return tuple(gpu_strided_copy(gpu, grad, shape, strides, base).reshape(m.shape) if need else None
                     for m, need, (shape, strides, base) in
                     zip(metas, ctx.needs_input_grad, self.slabs([m.shape for m in metas], grad.shape, ax)))


@register
class Pad(MovementOp):
    """Constant padding, one (before, after) pair per dim; backward slices the middle."""
    name = "pad"
    kernels = ("pad_forward", "strided_copy")
    test_attrs = (dict(pad_width=None, value=0.0),)   # None: tests pick (1, 2) per dim

    def infer(self, x, pad_width, value=0.0):
        if len(pad_width) != len(x.shape) or any(a < 0 or b < 0 for a, b in pad_width):
            raise ValueError(f"pad: need one non-negative (before, after) pair per dim of "
                             f"{x.shape}, got {pad_width}")
        return Meta(tuple(n + a + b for n, (a, b) in zip(x.shape, pad_width)), x.dtype)

    def forward(self, ctx, x, pad_width, value=0.0):
        if x.ndim == 0:                        # nothing to pad (np.pad refuses an empty pad_width)
            return x.copy()
        return np.pad(x, pad_width, constant_values=value)

    def backward(self, ctx, grad, pad_width, value=0.0):
        inner = tuple(slice(a, n - b) for (a, b), n in zip(pad_width, grad.shape))
        return (np.asarray(grad[inner], order="C"),)

    def gpu_forward(self, gpu, ctx, x, pad_width, value=0.0):
        self.check_gpu_dtype(gpu, x.dtype)
        out = gpu.empty(tuple(n + a + b for n, (a, b) in zip(x.shape, pad_width)), x.dtype)
        if out.size:
            before = [int(a) for a, _ in pad_width]
            geom = gpu.table(np.array(list(out.shape) + list(x.shape) + before, np.int64))
            # the constant's bit pattern in x's dtype, as a 64-bit integer (low bytes used)
            bits = np.asarray(value).astype(x.dtype).reshape(1).view(f"u{x.dtype.itemsize}")[0]
            grid, block = launch_config(gpu, out.size)
            gpu.launch(SOURCE, "pad_forward", grid, block, x, out, geom, np.int32(x.ndim),
                       np.int64(out.size), np.int32(x.dtype.itemsize), np.uint64(bits))
        return out

    def gpu_backward(self, gpu, ctx, grad, pad_width, value=0.0):
        strides = contiguous_strides(grad.shape)
        base = sum(int(a) * st for (a, _), st in zip(pad_width, strides))
        return (gpu_strided_copy(gpu, grad, ctx.input_metas[0].shape, strides, base),)


@register
class Cast(MovementOp):
    """Convert the dtype; between floats the gradient is cast back."""
    name = "cast"
    kernels = ("cast_forward",)
    test_attrs = (dict(dtype=np.dtype(np.float32)),)

    def infer(self, x, dtype):
        return Meta(x.shape, dtypes.as_dtype(dtype))

    def forward(self, ctx, x, dtype):
        return x.astype(dtype)

    def backward(self, ctx, grad, dtype):
        return (grad.astype(ctx.input_metas[0].dtype),)

    def gpu_forward(self, gpu, ctx, x, dtype):
        self.check_gpu_dtype(gpu, x.dtype, dtype)
        return gpu_cast(gpu, x, dtypes.as_dtype(dtype))

    def gpu_backward(self, gpu, ctx, grad, dtype):
        self.check_gpu_dtype(gpu, ctx.input_metas[0].dtype)
        return (gpu_cast(gpu, grad, ctx.input_metas[0].dtype),)
