"""`tg.<name>` forms of the elementwise Tensor methods (tinygrad_cu/tensor_elementwise.py),
as PyTorch has them: `tg.where(cond, x, y)`, `tg.maximum(a, b)`, `tg.sin(x)`, ...
Each takes its tensor first and calls the method; numbers and arrays become tensors
where PyTorch accepts them (`tg.where(cond, 1.0, 0.0)`)."""
from .tensor import Tensor


def _tensor(x, like=None):
    if isinstance(x, Tensor):
        return x
    return Tensor(x, device=None if like is None else like.device)


def where(condition, input, other):
    """input where condition holds, else other; one of them may be a number."""
    if not isinstance(input, Tensor):
        ref = other if isinstance(other, Tensor) else condition
        input = _tensor(input, like=ref if isinstance(ref, Tensor) else None)
        if isinstance(other, Tensor) and other.dtype != input.dtype and other.dtype.kind == input.dtype.kind:
            input = input.to(other.dtype)      # where(c, 0.0, x64): the number takes x's dtype
    return input.where(condition, other)


def maximum(input, other): return _tensor(input).maximum(other)
def minimum(input, other): return _tensor(input).minimum(other)
def copysign(input, other): return _tensor(input).copysign(other)
def lerp(input, end, weight): return _tensor(input).lerp(end, weight)
def div(input, other, *, rounding_mode=None): return _tensor(input).div(other, rounding_mode=rounding_mode)
def floor_divide(input, other): return _tensor(input).floor_divide(other)
def logical_and(input, other): return _tensor(input).logical_and(other)
def logical_or(input, other): return _tensor(input).logical_or(other)
def logical_xor(input, other): return _tensor(input).logical_xor(other)
def logical_not(input): return _tensor(input).logical_not()
def isnan(input): return _tensor(input).isnan()
def isinf(input): return _tensor(input).isinf()
def isfinite(input): return _tensor(input).isfinite()
def sin(input): return _tensor(input).sin()
def cos(input): return _tensor(input).cos()
def tan(input): return _tensor(input).tan()
def exp2(input): return _tensor(input).exp2()
def log2(input): return _tensor(input).log2()
def log1p(input): return _tensor(input).log1p()
def expm1(input): return _tensor(input).expm1()
def rsqrt(input): return _tensor(input).rsqrt()
def reciprocal(input): return _tensor(input).reciprocal()
def square(input): return _tensor(input).square()
def floor(input): return _tensor(input).floor()
def ceil(input): return _tensor(input).ceil()
def round(input, *, decimals=0): return _tensor(input).round(decimals=decimals)
def trunc(input): return _tensor(input).trunc()

# task t1: the elementwise tail
def asin(input): return _tensor(input).asin()
def acos(input): return _tensor(input).acos()
def atan(input): return _tensor(input).atan()
def sinh(input): return _tensor(input).sinh()
def cosh(input): return _tensor(input).cosh()
def asinh(input): return _tensor(input).asinh()
def acosh(input): return _tensor(input).acosh()
def atanh(input): return _tensor(input).atanh()
def erf(input): return _tensor(input).erf()
def erfc(input): return _tensor(input).erfc()
def celu(input, alpha=1.0): return _tensor(input).celu(alpha)
def selu(input): return _tensor(input).selu()
def logaddexp(input, other): return _tensor(input).logaddexp(other)
def logaddexp2(input, other): return _tensor(input).logaddexp2(other)
def atan2(input, other): return _tensor(input).atan2(other)
def remainder(input, other): return _tensor(input).remainder(other)
def fmod(input, other): return _tensor(input).fmod(other)
def pow(input, exponent): return _tensor(input).pow(exponent)
def isposinf(input): return _tensor(input).isposinf()
def isneginf(input): return _tensor(input).isneginf()


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _tensor(input).isclose(other, rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _tensor(input).allclose(other, rtol=rtol, atol=atol, equal_nan=equal_nan)


arcsin, arccos, arctan, arcsinh, arccosh, arctanh, arctan2 = asin, acos, atan, asinh, acosh, atanh, atan2

__all__ = ["where", "maximum", "minimum", "copysign", "lerp", "div", "floor_divide", "logical_and",
           "logical_or", "logical_xor", "logical_not", "isnan", "isinf", "isfinite", "sin", "cos", "tan",
           "exp2", "log2", "log1p", "expm1", "rsqrt", "reciprocal", "square", "floor", "ceil", "round",
           "trunc",
           "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "erf", "erfc", "celu", "selu",
           "logaddexp", "logaddexp2", "atan2", "remainder", "fmod", "pow", "isposinf", "isneginf", "isclose",
           "allclose", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2"]
