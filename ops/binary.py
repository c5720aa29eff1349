"""Elementwise functions of two tensors with numpy broadcasting.

The output has the broadcast shape; the backward computes each input's gradient at
that shape and sums it over the broadcast axes back to the input's shape
(`sum_to_shape`). Kernels (ops/binary.cu) broadcast by index arithmetic: each output
index is turned into an index of a and of b with per-input strides that are 0 along
broadcast axes, so no broadcast copy is ever made.
Comparisons return bool tensors and have no gradient.

GPU launch code: `broadcast_geometry` simplifies the shapes into the kernels' scalar
arguments (see the header of binary.cu); `gpu_sum_to_shape` is the device version of
`sum_to_shape` (also used by expand's backward).
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import (Domain, Meta, Op, broadcast_shapes, contiguous_strides, factors_read_by_backward,
                            register, sum_to_shape)

from .unary import MAX_ELEMENTS, launch_config as unary_launch_config

SOURCE = "binary.cu"
MAX_DIMS = 6                   # slots per shape/stride list; must match binary.cu


# --- launch geometry (all of binary.cu's launch configuration is computed here) -------
def launch_config(gpu, n):
    """Grid and block of every kernel in binary.cu: one thread per element, grid-stride,
    int-indexed, exactly as unary.cu's."""
    return unary_launch_config(gpu, n, family="binary")


def broadcast_strides(shape, out_shape):
    """Strides (in elements) that walk a contiguous `shape` as if broadcast to
    `out_shape`: 0 along dims where `shape` has size 1 or no dim at all."""
    lead = len(out_shape) - len(shape)
    strides = contiguous_strides(shape)
    return tuple(0 if d < lead or shape[d - lead] == 1 else strides[d - lead]
                 for d in range(len(out_shape)))


def merge_dims(shape, *strides):
    """Drop size-1 dims and merge each dim into its outer neighbour where every
    stride list walks the two as one: [(size, stride_1, stride_2, ...), ...]."""
    dims = []
    for d, size in enumerate(shape):
        if size == 1:
            continue
        st = [s[d] for s in strides]
        if dims and all(outer == size * inner for outer, inner in zip(dims[-1][1:], st)):
            dims[-1] = (dims[-1][0] * size, *st)
        else:
            dims.append((size, *st))
    return dims


def dims_args(what, dims):
    """The kernels' scalar arguments for merged dims: MAX_DIMS sizes, then MAX_DIMS
    strides per operand; slot 0 is the outermost dim, unused slots have size 1."""
    if len(dims) > MAX_DIMS:
        raise ValueError(f"{what}: {len(dims)} dims after merging; the kernels take at most {MAX_DIMS}")
    width = len(dims[0]) if dims else 1
    padded = list(dims) + [(1,) + (0,) * (width - 1)] * (MAX_DIMS - len(dims))
    return [np.int32(dim[k]) for k in range(width) for dim in padded]


def broadcast_geometry(what, out_shape, a_shape, b_shape):
    """(shape, a strides, b strides) of an output and its two broadcast inputs."""
    dims = merge_dims(out_shape, broadcast_strides(a_shape, out_shape), broadcast_strides(b_shape, out_shape))
    return dims_args(what, dims or [(1, 0, 0)])


def gpu_sum_to_shape(gpu, grad, shape):
    """Device version of `sum_to_shape`: sum a contiguous float32 gradient over the
    axes along which `shape` was broadcast to grad.shape. Like the numpy version it
    returns grad itself (as a reshaped view when only size-1 dims differ) when there
    is nothing to sum; copy it if you need a buffer of your own."""
    shape = tuple(int(n) for n in shape)
    gpu.require_dtype("sum_to_shape", grad)
    if broadcast_shapes("sum_to_shape", shape, grad.shape) != tuple(grad.shape):
        raise ValueError(f"sum_to_shape: shape {shape} does not broadcast to the gradient's {tuple(grad.shape)}")
    if tuple(grad.shape) == shape:
        return grad
    n_out = int(np.prod(shape, dtype=np.int64))
    if n_out == grad.size:
        return grad.reshape(shape)
    out = gpu.empty(shape, grad.dtype)
    if n_out == 0:
        return out
    # grad's dims, minus size-1 ones, split into kept (in `shape`) and reduced ones;
    # neighbours of the same kind merge (grad is contiguous, so they always can)
    small = (1,) * (grad.ndim - len(shape)) + shape
    kept, reduced, last = [], [], None
    for size, s, stride in zip(grad.shape, small, contiguous_strides(grad.shape)):
        if size == 1:
            continue
        kind = kept if s == size else reduced
        if kind is last:
            kind[-1] = (kind[-1][0] * size, stride)
        else:
            kind.append((size, stride))
        last = kind
    n_reduced = int(np.prod([d[0] for d in reduced], dtype=np.int64))
    if grad.size > MAX_ELEMENTS:
        raise ValueError(f"sum_to_shape on {gpu.name}: {grad.size} elements exceed the int-indexed "
                         f"kernels' limit of {MAX_ELEMENTS}")
    grid, block = launch_config(gpu, n_out)
    gpu.launch(SOURCE, "sum_to_shape", grid, block, grad, out, np.int32(n_out), np.int32(n_reduced),
               *dims_args("sum_to_shape", kept or [(1, 0)]), *dims_args("sum_to_shape", reduced))
    return out


class BinaryOp(Op):
    n_inputs = 2
    saves = ("inputs",)
    source = SOURCE            # families built on this pattern (binary_math, logical) set theirs

    def __init__(self):
        forward = tuple(f"{self.name}_forward{v}" for v in ("", "_sa", "_sb"))
        backward = tuple(f"{self.name}_backward_{x}" for x in self.backward_inputs)
        self.kernels = forward + backward + (("sum_to_shape",) if self.differentiable else ())

    # inputs whose gradient needs a kernel (add's gradients, and sub's for a, are the
    # incoming gradient itself: only sum_to_shape runs, where an input was broadcast)
    backward_inputs = ("a", "b")

    def infer(self, a, b):
        if self.float_only:
            self.check_float(a, b)
        self.check_same_dtype(a, b)
        return Meta(broadcast_shapes(self.name, a.shape, b.shape), self.out_dtype(a.dtype))

    def out_dtype(self, dtype):
        return dtype

    def local_grads(self, grad, a, b, out, needs):
        """(d out/d a * grad, d out/d b * grad) at the broadcast shape."""
        raise NotImplementedError

    def backward(self, ctx, grad):
        a, b = ctx.inputs if ctx.inputs else (None, None)
        needs = ctx.needs_input_grad
        grads = []
        for g, need, meta in zip(self.local_grads(grad, a, b, ctx.output, needs), needs, ctx.input_metas):
            if g is None or not need:
                grads.append(None)
                continue
            if g.__class__ is not np.ndarray or g.shape != grad.shape:   # a scalar local gradient
                g = np.broadcast_to(g, grad.shape)
            if g.shape != meta.shape:
                g = sum_to_shape(g, meta.shape)
            grads.append(g if g.dtype == grad.dtype else g.astype(grad.dtype))
        return grads

    # CUDA: <name>_forward(A, B, out, int n, geometry) with broadcasting, or
    #       <name>_forward_sa / _sb(A, B, out, int n) when A / B has one element;
    #       <name>_backward_a / _b(grad, A, B, d, int n, geometry) at the output shape.
    def gpu_forward(self, gpu, ctx, a, b):
        kernel = self.gpu_kernel_prefix(gpu, a, b)
        out = gpu.empty(broadcast_shapes(self.name, a.shape, b.shape), self.out_dtype(a.dtype))
        n = out.size
        if n == 0:
            return out
        grid, block = launch_config(gpu, n)
        if b.size == 1:      # then a has the output's layout (a scalar cannot enlarge it)
            gpu.launch(self.source, f"{kernel}_forward_sb", grid, block, a, b, out, np.int32(n))
        elif a.size == 1:
            gpu.launch(self.source, f"{kernel}_forward_sa", grid, block, a, b, out, np.int32(n))
        else:
            gpu.launch(self.source, f"{kernel}_forward", grid, block, a, b, out, np.int32(n),
                       *broadcast_geometry(self.name, out.shape, a.shape, b.shape))
        return out

    def gpu_kernel_prefix(self, gpu, a, b):
        """The kernels' name prefix for these dtypes (float32 only, except comparisons)."""
        gpu.require_dtype(self.name, a, b)
        return self.name

    def gpu_backward(self, gpu, ctx, grad):
        grads = []
        for which, need, meta in zip("ab", ctx.needs_input_grad, ctx.input_metas):
            if not need:
                grads.append(None)
                continue
            g = gpu_sum_to_shape(gpu, self.gpu_local_grad(gpu, ctx, grad, which), meta.shape)
            grads.append(gpu.copy(g) if g.alloc is grad.alloc else g)   # never alias grad
        return tuple(grads)

    def gpu_local_grad(self, gpu, ctx, grad, which):
        """d out/d <which> * grad at the output shape, by kernel <name>_backward_<which>."""
        a, b = ctx.inputs
        d = gpu.empty(grad.shape, grad.dtype)
        if d.size:
            grid, block = launch_config(gpu, d.size)
            gpu.launch(self.source, f"{self.name}_backward_{which}", grid, block, grad, a, b, d,
                       np.int32(d.size), *broadcast_geometry(self.name, grad.shape, a.shape, b.shape))
        return d


class ArithmeticOp(BinaryOp):
    float_only = False         # ints add and multiply too (labels, indices); no gradient

    def gpu_kernel_prefix(self, gpu, a, b):
        if a.dtype == b.dtype == dtypes.int64:      # e.g. labels + 1, counts * 2
            return f"{self.name}_i64"
        return super().gpu_kernel_prefix(gpu, a, b)


@register
class Add(ArithmeticOp):
    name = "add"
    backward_inputs = ()
    saves = ()
    def forward(self, ctx, a, b): return a + b
    def local_grads(self, g, a, b, out, needs): return g, g
    def gpu_local_grad(self, gpu, ctx, grad, which): return grad


@register
class Sub(ArithmeticOp):
    name = "sub"
    backward_inputs = ("b",)
    saves = ()
    def forward(self, ctx, a, b): return a - b
    def local_grads(self, g, a, b, out, needs): return g, -g

    def gpu_local_grad(self, gpu, ctx, grad, which):
        if which == "a":
            return grad
        d = gpu.empty(grad.shape, grad.dtype)
        if d.size:
            grid, block = launch_config(gpu, d.size)
            gpu.launch(SOURCE, "sub_backward_b", grid, block, grad, d, np.int32(d.size))
        return d


@register
class Mul(ArithmeticOp):
    name = "mul"
    def forward(self, ctx, a, b): return a * b
    def local_grads(self, g, a, b, out, needs): return (g * b if needs[0] else None), (g * a if needs[1] else None)
    def inputs_read_by_backward(self, needs): return factors_read_by_backward(needs)


@register
class Div(BinaryOp):
    name = "div"
    domain = Domain(0.5, 2)

    def forward(self, ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return a / b

    def local_grads(self, g, a, b, out, needs):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / b, (-g * a / (b * b) if needs[1] else None)

    def inputs_read_by_backward(self, needs):      # d/da reads b, d/db reads a and b
        return [0, 1] if needs[1] else [1]


@register
class Pow(BinaryOp):
    """a ** b. d/db = a^b log a, as PyTorch: 0 where a == 0 and b >= 0 (the limit),
    -inf where a == 0 and b < 0 (inf * log 0), NaN for a negative base (log a)."""
    name = "pow"
    domain = Domain(0.5, 2)

    def forward(self, ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.power(a, b)

    def local_grads(self, g, a, b, out, needs):
        with np.errstate(divide="ignore", invalid="ignore"):
            # b a^(b-1) is taken as 0 where b == 0 (0 ** 0 would give 0 * inf), as PyTorch
            ga = np.where(b == 0, 0, g * b * np.power(a, b - 1)) if needs[0] else None
            gb = np.where((a == 0) & (b >= 0), 0, g * np.power(a, b) * np.log(a)) if needs[1] else None
        return ga, gb


class CompareOp(BinaryOp):
    differentiable = False
    backward_inputs = ()
    float_only = False
    domain = Domain(-2, 2)
    def out_dtype(self, dtype): return dtypes.bool_

    # integer and bool kernels (bool compares as its 0 / 1 byte, so it runs the uint8 ones)
    INT_SUFFIX = {dtypes.int64: "i64", dtypes.int32: "i32", dtypes.uint8: "u8", dtypes.bool_: "u8"}

    def __init__(self):
        super().__init__()
        self.kernels += tuple(f"{self.name}_{s}_forward{v}" for s in ("i64", "i32", "u8") for v in ("", "_sa", "_sb"))

    def gpu_kernel_prefix(self, gpu, a, b):
        if a.dtype == b.dtype and a.dtype in self.INT_SUFFIX:     # e.g. predicted classes == labels
            return f"{self.name}_{self.INT_SUFFIX[a.dtype]}"
        return super().gpu_kernel_prefix(gpu, a, b)


@register
class Eq(CompareOp):
    name = "eq"
    def forward(self, ctx, a, b): return a == b


@register
class Ne(CompareOp):
    name = "ne"
    def forward(self, ctx, a, b): return a != b


@register
class Lt(CompareOp):
    name = "lt"
    def forward(self, ctx, a, b): return a < b


@register
class Le(CompareOp):
    name = "le"
    def forward(self, ctx, a, b): return a <= b


@register
class Gt(CompareOp):
    name = "gt"
    def forward(self, ctx, a, b): return a > b


@register
class Ge(CompareOp):
    name = "ge"
    def forward(self, ctx, a, b): return a >= b
