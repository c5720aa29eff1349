"""Elementwise functions of two tensors with numpy broadcasting.

The output has the broadcast shape; the backward computes each input's gradient at
that shape and sums it over the broadcast axes back to the input's shape
(`sum_to_shape`). Kernels (ops/binary.cu) broadcast by index arithmetic: each output
index is turned into an index of a and of b with per-input strides that are 0 along
broadcast axes, so no broadcast copy is ever made.
Comparisons return bool tensors and have no gradient.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Domain, Meta, Op, broadcast_shapes, register, sum_to_shape

SOURCE = "binary.cu"


class BinaryOp(Op):
    n_inputs = 2
    saves = ("inputs",)

    def __init__(self):
        self.kernels = (f"{self.name}_forward", f"{self.name}_backward")

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
        ga, gb = self.local_grads(grad, a, b, ctx.output, ctx.needs_input_grad)
        shapes = [m.shape for m in ctx.input_metas]
        return tuple(None if (g is None or not need) else
                     sum_to_shape(np.broadcast_to(g, grad.shape), s).astype(grad.dtype)
                     for g, need, s in zip((ga, gb), ctx.needs_input_grad, shapes))


class ArithmeticOp(BinaryOp):
    float_only = False         # ints add and multiply too (labels, indices); no gradient


@register
class Add(ArithmeticOp):
    name = "add"
    saves = ()
    def forward(self, ctx, a, b): return a + b
    def local_grads(self, g, a, b, out, needs): return g, g


@register
class Sub(ArithmeticOp):
    name = "sub"
    saves = ()
    def forward(self, ctx, a, b): return a - b
    def local_grads(self, g, a, b, out, needs): return g, -g


@register
class Mul(ArithmeticOp):
    name = "mul"
    def forward(self, ctx, a, b): return a * b
    def local_grads(self, g, a, b, out, needs): return g * b, g * a


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


@register
class Pow(BinaryOp):
    """a ** b. d/db = a^b log a is taken as 0 where a == 0 (the limit for b > 0)."""
    name = "pow"
    domain = Domain(0.5, 2)

    def forward(self, ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.power(a, b)

    def local_grads(self, g, a, b, out, needs):
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = g * b * np.power(a, b - 1) if needs[0] else None
            gb = g * np.power(a, b) * np.log(np.where(a == 0, 1, a)) if needs[1] else None
        return ga, gb


class CompareOp(BinaryOp):
    differentiable = False
    float_only = False
    domain = Domain(-2, 2)
    def out_dtype(self, dtype): return dtypes.bool_


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
