"""Ops that move data without arithmetic: reshape, permute, expand, getitem, cat, pad, cast.

On the GPU devices these are copy kernels (ops/movement.cu): each thread computes
one output element's source index from the shapes and strides. `reshape` of a
contiguous buffer is free: it shares the buffer.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, register, sum_to_shape

SOURCE = "movement.cu"


class MovementOp(Op):
    saves = ()
    float_only = False


@register
class Reshape(MovementOp):
    name = "reshape"
    kernels = ()          # a view: no data moves
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
    kernels = ("permute_forward",)       # the backward is the inverse permutation
    test_attrs = (dict(dims=(1, 0)),)

    def infer(self, x, dims):
        if sorted(dims) != list(range(len(x.shape))):
            raise ValueError(f"permute: dims {dims} are not a permutation of the {len(x.shape)} "
                             f"dims of shape {x.shape}")
        return Meta(tuple(x.shape[d] for d in dims), x.dtype)

    def forward(self, ctx, x, dims):
        return np.asarray(x.transpose(dims), order="C")

    def backward(self, ctx, grad, dims):
        return (np.asarray(grad.transpose(np.argsort(dims)), order="C"),)


@register
class Expand(MovementOp):
    """Broadcast to a larger shape; the backward sums over the expanded axes."""
    name = "expand"
    kernels = ("expand_forward", "sum_backward")

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


def _probe(shape):
    """A zero-strided stand-in of `shape`: indexing it tells the result's shape."""
    return np.broadcast_to(np.zeros((), np.int8), shape)


def flat_indices(shape, index):
    """For each element of x[index], its position in the flattened x (int64)."""
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)[index]


@register
class Getitem(MovementOp):
    """x[index] with numpy's rules; the backward scatters (and adds, for repeated
    indices) the gradient into zeros of x's shape."""
    name = "getitem"
    kernels = ("gather_forward", "scatter_add_backward")
    test_attrs = (dict(index=(0,)), dict(index=(slice(None, None, -1),)),
                  dict(index=(np.array([0, 0, -1]),)), dict(index=(None, Ellipsis)))

    def infer(self, x, index):
        for it in index:
            if isinstance(it, np.ndarray) and it.dtype.kind not in "iub":
                raise TypeError(f"getitem: index arrays must be integer or bool, got {it.dtype}")
            if isinstance(it, float):
                raise TypeError(f"getitem: float index {it} for shape {x.shape}")
        try:
            shape = _probe(x.shape)[index].shape
        except IndexError as e:
            raise IndexError(f"getitem: index {index!r} is invalid for shape {x.shape}: {e}") from None
        return Meta(shape, x.dtype)

    def forward(self, ctx, x, index):
        return np.array(x[index], copy=True)

    def backward(self, ctx, grad, index):
        meta = ctx.input_metas[0]
        out = np.zeros(meta.shape, grad.dtype)
        np.add.at(out, index, grad)
        return (out,)


@register
class Cat(MovementOp):
    name = "cat"
    n_inputs = None
    kernels = ("cat_forward", "slice_backward")

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


@register
class Pad(MovementOp):
    """Constant padding, one (before, after) pair per dim; backward slices the middle."""
    name = "pad"
    kernels = ("pad_forward", "pad_backward")
    test_attrs = (dict(pad_width=None, value=0.0),)   # None: tests pick (1, 2) per dim

    def infer(self, x, pad_width, value=0.0):
        if len(pad_width) != len(x.shape) or any(a < 0 or b < 0 for a, b in pad_width):
            raise ValueError(f"pad: need one non-negative (before, after) pair per dim of "
                             f"{x.shape}, got {pad_width}")
        return Meta(tuple(n + a + b for n, (a, b) in zip(x.shape, pad_width)), x.dtype)

    def forward(self, ctx, x, pad_width, value=0.0):
        return np.pad(x, pad_width, constant_values=value)

    def backward(self, ctx, grad, pad_width, value=0.0):
        inner = tuple(slice(a, n - b) for (a, b), n in zip(pad_width, grad.shape))
        return (np.asarray(grad[inner], order="C"),)


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
