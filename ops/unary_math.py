"""Elementwise math of one float tensor, as PyTorch's torch.sin ... torch.trunc: the
trigonometric sin, cos, tan and their inverses asin, acos, atan; the hyperbolic sinh,
cosh and their inverses asinh, acosh, atanh; the error function erf and erfc = 1 - erf;
exp2, log2, log1p, expm1; rsqrt, reciprocal, square; and the roundings floor, ceil,
round (half to even, as torch.round) and trunc, whose gradient is 0 everywhere
(PyTorch's choice at the jumps too). Outside their domains the inverses give NaN
(asin(2), acosh(0.5)) and +-inf at its ends (atanh(1)), as PyTorch.

Same pattern as ops/unary.py (y = f(x), dx = grad * f'(x) from the saved x or y), with
kernels in ops/unary_math.cu. Integer inputs are handled by the Tensor methods
(tinygrad_cu/tensor_elementwise.py): roundings return them unchanged, the others
compute in float32, as PyTorch promotes.
"""
import math

import numpy as np

from tinygrad_cu.op import Domain, register

from .unary import UnaryOp

LN2 = np.log(2.0)
TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)       # erf'(x) = 2 / sqrt(pi) e^(-x^2)
# numpy has no erf/erfc, and scipy is not a dependency: the C library's, element by element
_erf_each, _erfc_each = np.frompyfunc(math.erf, 1, 1), np.frompyfunc(math.erfc, 1, 1)


class MathOp(UnaryOp):
    source = "unary_math.cu"

    def backward(self, ctx, grad, **attrs):
        dx = super().backward(ctx, grad, **attrs)[0]
        return (np.asarray(dx, dtype=grad.dtype),)


@register
class Sin(MathOp):
    name = "sin"
    domain = Domain(-3, 3)
    def forward(self, ctx, x): return np.sin(x)
    def derivative(self, x, y): return np.cos(x)


@register
class Cos(MathOp):
    name = "cos"
    domain = Domain(-3, 3)
    def forward(self, ctx, x): return np.cos(x)
    def derivative(self, x, y): return -np.sin(x)


@register
class Tan(MathOp):
    name = "tan"
    saves = ("output",)
    domain = Domain(-1.2, 1.2)
    def forward(self, ctx, x): return np.tan(x)
    def derivative(self, x, y): return 1 + y * y


@register
class Exp2(MathOp):
    name = "exp2"
    saves = ("output",)
    domain = Domain(-3, 3)
    def forward(self, ctx, x): return np.exp2(x)
    def derivative(self, x, y): return y * LN2


@register
class Log2(MathOp):
    name = "log2"
    domain = Domain(0.1, 4)

    def forward(self, ctx, x):
        with np.errstate(divide="ignore", invalid="ignore"):   # log2(0) = -inf, log2(-1) = nan
            return np.log2(x)

    def derivative(self, x, y):
        with np.errstate(divide="ignore"):
            return 1 / (x * LN2)


@register
class Log1p(MathOp):
    name = "log1p"
    domain = Domain(-0.5, 3)

    def forward(self, ctx, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(x)

    def derivative(self, x, y):
        with np.errstate(divide="ignore"):
            return 1 / (1 + x)


@register
class Expm1(MathOp):
    name = "expm1"
    saves = ("output",)
    domain = Domain(-3, 3)
    def forward(self, ctx, x): return np.expm1(x)
    def derivative(self, x, y): return y + 1


@register
class Rsqrt(MathOp):
    """1 / sqrt(x); d/dx = -y^3 / 2."""
    name = "rsqrt"
    saves = ("output",)
    domain = Domain(0.1, 4)

    def forward(self, ctx, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1 / np.sqrt(x)

    def derivative(self, x, y): return -0.5 * y * y * y


@register
class Reciprocal(MathOp):
    """1 / x; d/dx = -y^2."""
    name = "reciprocal"
    saves = ("output",)
    domain = Domain(0.5, 2)

    def forward(self, ctx, x):
        with np.errstate(divide="ignore"):
            return np.reciprocal(x)

    def derivative(self, x, y): return -y * y


@register
class Square(MathOp):
    """x * x in one pass (one read, not the two of mul(x, x)); d/dx = 2x."""
    name = "square"
    def forward(self, ctx, x): return x * x
    def derivative(self, x, y): return 2 * x


class OutsideDomainIsNan(MathOp):
    """Inverse functions: NaN outside the domain, +-inf at its ends, without numpy's warnings."""

    def forward(self, ctx, x):
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.function(x)

    def backward(self, ctx, grad):
        with np.errstate(divide="ignore", invalid="ignore"):
            return super().backward(ctx, grad)


@register
class Asin(OutsideDomainIsNan):
    name = "asin"
    domain = Domain(-0.9, 0.9)
    function = staticmethod(np.arcsin)
    def derivative(self, x, y): return 1 / np.sqrt(1 - x * x)


@register
class Acos(OutsideDomainIsNan):
    name = "acos"
    domain = Domain(-0.9, 0.9)
    function = staticmethod(np.arccos)
    def derivative(self, x, y): return -1 / np.sqrt(1 - x * x)


@register
class Atan(MathOp):
    name = "atan"
    domain = Domain(-3, 3)
    def forward(self, ctx, x): return np.arctan(x)
    def derivative(self, x, y): return 1 / (1 + x * x)


@register
class Sinh(MathOp):
    name = "sinh"
    domain = Domain(-3, 3)

    def forward(self, ctx, x):
        with np.errstate(over="ignore"):      # +-inf beyond about |x| = 89 in float32, as PyTorch
            return np.sinh(x)

    def derivative(self, x, y):
        with np.errstate(over="ignore"):
            return np.cosh(x)


@register
class Cosh(MathOp):
    name = "cosh"
    domain = Domain(-3, 3)

    def forward(self, ctx, x):
        with np.errstate(over="ignore"):
            return np.cosh(x)

    def derivative(self, x, y):
        with np.errstate(over="ignore"):
            return np.sinh(x)


@register
class Asinh(MathOp):
    name = "asinh"
    domain = Domain(-3, 3)
    def forward(self, ctx, x): return np.arcsinh(x)
    def derivative(self, x, y): return 1 / np.sqrt(x * x + 1)


@register
class Acosh(OutsideDomainIsNan):
    """Defined for x >= 1; its derivative 1 / sqrt(x^2 - 1) is +inf at 1."""
    name = "acosh"
    domain = Domain(1.1, 4)
    function = staticmethod(np.arccosh)
    def derivative(self, x, y): return 1 / np.sqrt(x * x - 1)


@register
class Atanh(OutsideDomainIsNan):
    name = "atanh"
    domain = Domain(-0.9, 0.9)
    function = staticmethod(np.arctanh)
    def derivative(self, x, y): return 1 / (1 - x * x)


@register
class Erf(MathOp):
    name = "erf"
    domain = Domain(-3, 3)
    def forward(self, ctx, x): return np.asarray(_erf_each(x), dtype=x.dtype)
    def derivative(self, x, y): return TWO_OVER_SQRT_PI * np.exp(-x * x)


@register
class Erfc(MathOp):
    """1 - erf(x), computed directly: exact where erf(x) rounds to 1 (erfc(5) = 1.5e-12)."""
    name = "erfc"
    domain = Domain(-3, 3)
    def forward(self, ctx, x): return np.asarray(_erfc_each(x), dtype=x.dtype)
    def derivative(self, x, y): return -TWO_OVER_SQRT_PI * np.exp(-x * x)


class RoundingOp(MathOp):
    """Piecewise constant: the gradient is 0 everywhere, as PyTorch's."""
    saves = ()
    domain = Domain(-3, 3)
    def derivative(self, x, y): return 0.0

    def backward(self, ctx, grad):
        return (np.zeros_like(grad),)


@register
class Floor(RoundingOp):
    name = "floor"
    def forward(self, ctx, x): return np.floor(x)


@register
class Ceil(RoundingOp):
    name = "ceil"
    def forward(self, ctx, x): return np.ceil(x)


@register
class Round(RoundingOp):
    """To the nearest integer, halves to even (0.5 -> 0, 1.5 -> 2), as torch.round."""
    name = "round"
    def forward(self, ctx, x): return np.round(x)


@register
class Trunc(RoundingOp):
    name = "trunc"
    def forward(self, ctx, x): return np.trunc(x)
