"""The elementwise Tensor methods of issue 11, with PyTorch's names and arguments:
activations (leaky_relu ... mish), math (sin ... trunc), tests with bool results
(isnan ..., logical_*), and the ops of two or three tensors (maximum, minimum,
copysign, div with rounding_mode, where, lerp); and the tail of task t1: asin ... erfc,
celu, selu, logsigmoid, softplus(beta, threshold), quick_gelu, logaddexp(2), atan2,
remainder / fmod / `%`, true division and `**` with PyTorch's integer rules, isclose,
allclose, isposinf, isneginf, and the conversions bool(), byte().

A mixin of `Tensor` (tensor.py), so that this group stays in one file: each method is
a thin front that turns Python arguments into an op call (ops/activation.py,
unary_math.py, binary_math.py, logical.py, ternary.py) and does PyTorch's dtype
promotion first: integer inputs of float functions compute in float32, roundings of
integers return a copy, mixed dtypes of logical ops become bool; integer division,
remainders and powers keep integers (int32 and uint8 compute in int64, the kernels'
integer type, and are cast back), true division of integers gives float32.
"""
import numpy as np

from . import dtypes
from .autograd import apply
from .errors import OpError

ROUNDING_MODES = (None, "trunc", "floor")


class ElementwiseMixin:
    __slots__ = ()            # Tensor has __slots__: a mixin must not add a __dict__

    # --- helpers ---------------------------------------------------------------------
    def _as_float(self):
        """Integer and bool tensors compute float functions in float32, as PyTorch."""
        return self if dtypes.is_float(self.dtype) else self.float()

    def _float_op(self, name, **attrs):
        return apply(name, self._as_float(), **attrs)

    def _rounding_op(self, name):
        if dtypes.is_float(self.dtype):
            return apply(name, self)
        return apply("cast", self, dtype=self.dtype)     # an integer is its own rounding: a copy

    # --- activations (also in tinygrad_cu.nn.functional) ----------------------------------
    def leaky_relu(self, negative_slope=0.01):
        return self._float_op("leaky_relu", negative_slope=float(negative_slope))

    def elu(self, alpha=1.0):
        return self._float_op("elu", alpha=float(alpha))

    def gelu(self, approximate="none"):
        return self._float_op("gelu", approximate=approximate)

    def silu(self):
        return self._float_op("silu")

    def hardtanh(self, min_val=-1.0, max_val=1.0):
        return self._float_op("hardtanh", min_val=float(min_val), max_val=float(max_val))

    def relu6(self):
        return self.hardtanh(0.0, 6.0)

    def hardsigmoid(self):
        return self._float_op("hardsigmoid")

    def hardswish(self):
        return self._float_op("hardswish")

    def softsign(self):
        return self._float_op("softsign")

    def mish(self):
        return self._float_op("mish")

    # --- math of one tensor ----------------------------------------------------------------
    def sin(self): return self._float_op("sin")
    def cos(self): return self._float_op("cos")
    def tan(self): return self._float_op("tan")
    def exp2(self): return self._float_op("exp2")
    def log2(self): return self._float_op("log2")
    def log1p(self): return self._float_op("log1p")
    def expm1(self): return self._float_op("expm1")
    def rsqrt(self): return self._float_op("rsqrt")
    def reciprocal(self): return self._float_op("reciprocal")

    def square(self):
        """x * x; integer tensors stay integer (PyTorch), by mul."""
        return apply("square", self) if dtypes.is_float(self.dtype) else self * self

    def floor(self): return self._rounding_op("floor")
    def ceil(self): return self._rounding_op("ceil")
    def trunc(self): return self._rounding_op("trunc")

    def round(self, decimals=0):
        """Halves to even (torch.round); with decimals, round(x 10^d) / 10^d as PyTorch."""
        if not decimals:
            return self._rounding_op("round")
        if not dtypes.is_float(self.dtype):
            raise TypeError(f"round: decimals is only supported for floating point tensors, got {self.dtype}")
        scale = 10.0 ** int(decimals)
        return apply("round", self * scale) / scale

    def __round__(self, ndigits=None):          # Python's round(t), as for torch tensors
        return self.round(decimals=ndigits or 0)

    fix = trunc

    # --- tests with bool results --------------------------------------------------------
    def _float_test(self, name, integer_answer):
        if dtypes.is_float(self.dtype):
            return apply(name, self)
        # integers are never NaN or infinite: the answer is known without a kernel
        return type(self)._from_buffer(self._dev.full(self.shape, integer_answer, dtypes.bool_), self._dev)

    def isnan(self): return self._float_test("isnan", False)
    def isinf(self): return self._float_test("isinf", False)
    def isfinite(self): return self._float_test("isfinite", True)

    def _logical_operand(self):
        return self if self.dtype in (dtypes.float32, dtypes.int64, dtypes.bool_) else self.to(dtypes.bool_)

    def logical_not(self):
        return apply("logical_not", self._logical_operand())

    def _logical(self, name, other):
        a, b = self, self._operand(other, name)
        if a.dtype != b.dtype:                      # any pair of dtypes, as PyTorch: compare as bool
            a, b = a.to(dtypes.bool_), b.to(dtypes.bool_)
        return apply(name, a._logical_operand(), b._logical_operand())

    def logical_and(self, other): return self._logical("logical_and", other)
    def logical_or(self, other): return self._logical("logical_or", other)
    def logical_xor(self, other): return self._logical("logical_xor", other)

    # --- two and three tensors -----------------------------------------------------------
    def _float_binary(self, name, other):
        out_float = dtypes.is_float(self.dtype) or (getattr(other, "dtype", None) is not None
                                                    and dtypes.is_float(other.dtype))
        a = self if out_float else self.float()
        return a._binary(name, other)

    def maximum(self, other): return self._binary("maximum", other)
    def minimum(self, other): return self._binary("minimum", other)

    def copysign(self, other):
        return self._float_binary("copysign", other)

    def div(self, other, *, rounding_mode=None):
        """a / b; rounding_mode 'trunc' rounds toward zero, 'floor' down (Python's //).
        Rounded quotients have gradient 0, as PyTorch's."""
        if rounding_mode not in ROUNDING_MODES:
            raise OpError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
        if rounding_mode is None:
            return self.__truediv__(other)
        return self._int64_binary(f"div_{rounding_mode}", other)

    divide = div

    def floor_divide(self, other):
        return self.div(other, rounding_mode="floor")

    def __floordiv__(self, other):
        return self.div(other, rounding_mode="floor")

    def __rfloordiv__(self, other):
        return self._int64_binary("div_floor", other, reverse=True)

    def where(self, condition, other):
        """torch.where(condition, self, other): self where condition holds, else other.
        condition must be bool; a number `other` takes self's dtype (float32 for a float
        number with an integer self), and an integer tensor meets a float one as float."""
        if not hasattr(condition, "_dev"):
            condition = type(self)(condition, device=self.device)
        x, y = self, self._operand(other, "where")
        if x.dtype != y.dtype and dtypes.is_float(x.dtype) != dtypes.is_float(y.dtype):
            x, y = (x, y.to(x.dtype)) if dtypes.is_float(x.dtype) else (x.to(y.dtype), y)
        return apply("where", condition, x, y)

    def lerp(self, end, weight):
        """self + weight (end - self); weight a number or a tensor (broadcast)."""
        end = self._operand(end, "lerp")
        weight = self._operand(float(weight) if isinstance(weight, (int, float)) else weight, "lerp")
        return apply("lerp", self, end, weight)

    # --- the first unary ops (ops/unary.py), with PyTorch's integer rules ---------------------
    def exp(self): return self._float_op("exp")
    def log(self): return self._float_op("log")
    def sqrt(self): return self._float_op("sqrt")
    def sigmoid(self): return self._float_op("sigmoid")
    def tanh(self): return self._float_op("tanh")

    def _integer_operand(self, name):
        if self.dtype == dtypes.bool_:       # PyTorch refuses these on bool too
            raise TypeError(f"{name}: not supported for bool tensors")
        return self

    # integer tensors stay integer (PyTorch): composites of the integer kernels of sub,
    # maximum, minimum and the comparisons, as the float ops have no integer kernels
    def neg(self):
        return apply("neg", self) if dtypes.is_float(self.dtype) else 0 - self._integer_operand("neg")

    def abs(self):
        if dtypes.is_float(self.dtype):
            return apply("abs", self)
        x = self._integer_operand("abs")
        return x.to(x.dtype) if x.dtype == dtypes.uint8 else x.maximum(-x)   # a copy for unsigned

    def relu(self):
        return apply("relu", self) if dtypes.is_float(self.dtype) else self._integer_operand("relu").maximum(0)

    def sign(self):
        if dtypes.is_float(self.dtype):
            return apply("sign", self)
        x = self._integer_operand("sign")
        return (x > 0).to(x.dtype) - (x < 0).to(x.dtype)

    __neg__, __abs__ = neg, abs

    def _integer_clip(self, min=None, max=None):
        """clamp of an integer tensor: integer bounds keep the dtype (PyTorch), a float
        bound makes the result float32; max is applied last, so it wins where min > max."""
        if any(isinstance(b, float) for b in (min, max)):
            return self.float().clip(min, max)
        x = self._integer_operand("clip")
        x = x if min is None else x.maximum(int(min))
        return x if max is None else x.minimum(int(max))

    # --- task t1: the elementwise tail ---------------------------------------------------
    def asin(self): return self._float_op("asin")
    def acos(self): return self._float_op("acos")
    def atan(self): return self._float_op("atan")
    def sinh(self): return self._float_op("sinh")
    def cosh(self): return self._float_op("cosh")
    def asinh(self): return self._float_op("asinh")
    def acosh(self): return self._float_op("acosh")
    def atanh(self): return self._float_op("atanh")
    def erf(self): return self._float_op("erf")
    def erfc(self): return self._float_op("erfc")
    arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh

    def celu(self, alpha=1.0):
        return self._float_op("celu", alpha=float(alpha))

    def selu(self): return self._float_op("selu")
    def logsigmoid(self): return self._float_op("logsigmoid")

    def softplus(self, beta=1.0, threshold=20.0):
        """log(1 + e^(beta x)) / beta; x itself where beta x > threshold (PyTorch's)."""
        return self._float_op("softplus", beta=float(beta), threshold=float(threshold))

    def quick_gelu(self):
        """x sigmoid(1.702 x): the sigmoid approximation of gelu (tinygrad's, CLIP's); a composite."""
        x = self._as_float()
        return x * (x * 1.702).sigmoid()

    def logaddexp(self, other): return self._float_binary("logaddexp", other)
    def logaddexp2(self, other): return self._float_binary("logaddexp2", other)
    def atan2(self, other): return self._float_binary("atan2", other)
    arctan2 = atan2

    def _int64_binary(self, name, other, reverse=False):
        """An op that keeps integers integer (ops/binary_math.py: float or int64 kernels):
        two integer operands compute in int64 and the result takes their promoted dtype
        (int32 % int32 is int32, as PyTorch); with a float operand, the float path."""
        a, b = self, self._operand(other, name)
        if reverse:
            a, b = b, a
        if dtypes.is_float(a.dtype) or dtypes.is_float(b.dtype):
            return a._binary(name, b)
        out_dtype = np.promote_types(a.dtype, b.dtype)
        out = apply(name, a.to(dtypes.int64), b.to(dtypes.int64))
        return out if out_dtype == dtypes.int64 else out.to(out_dtype)

    def remainder(self, other):
        """Python's and PyTorch's a % b: the result has b's sign (-7 % 3 = 2)."""
        return self._int64_binary("remainder", other)

    def fmod(self, other):
        """C's fmod (torch.fmod): the result has a's sign (-7 fmod 3 = -1)."""
        return self._int64_binary("fmod", other)

    def __mod__(self, other): return self._int64_binary("remainder", other)
    def __rmod__(self, other): return self._int64_binary("remainder", other, reverse=True)

    def _true_divide(self, other, reverse=False):
        """a / b; two integer (or bool) operands are divided as float32, as PyTorch."""
        if not dtypes.is_float(self.dtype):
            other = self._operand(other, "div")
            if not dtypes.is_float(other.dtype):
                return self.float()._binary("div", other.float(), reverse)
        return self._binary("div", other, reverse)

    def __truediv__(self, other): return self._true_divide(other)
    def __rtruediv__(self, other): return self._true_divide(other, reverse=True)

    def _power(self, exponent, reverse=False):
        """self ** exponent (reverse: exponent ** self). An integer base and an integer
        exponent stay integer (op pow_int, exact), and a negative integer NUMBER as the
        exponent is a RuntimeError, as PyTorch; anything with a float is op pow."""
        base, exp = (self._operand(exponent, "pow"), self) if reverse else (self, exponent)
        exp_is_int = (isinstance(exp, (int, np.integer)) or
                      (getattr(exp, "dtype", None) is not None and not dtypes.is_float(exp.dtype)))
        if dtypes.is_float(base.dtype) or not exp_is_int:
            return base._binary("pow", exp)
        if isinstance(exp, (int, np.integer)) and exp < 0:
            raise RuntimeError(f"pow: integers to negative integer powers are not allowed "
                               f"(base dtype {base.dtype}, exponent {exp})")
        return base._int64_binary("pow_int", exp)

    def __pow__(self, exponent): return self._power(exponent)
    def __rpow__(self, base): return self._power(base, reverse=True)
    pow = __pow__

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """|self - other| <= atol + rtol |other|, or equal (also infinities of one sign), or
        both NaN with equal_nan: PyTorch's rule, a composite of eq, sub, abs, mul, add, le,
        isfinite, isnan and the logical ops. Integers compare exactly, tolerances in float32."""
        if rtol < 0 or atol < 0:
            raise ValueError(f"isclose: rtol {rtol} and atol {atol} must be >= 0")
        other = self._operand(other, "isclose")
        if self.dtype != other.dtype:
            raise TypeError(f"isclose: expected both inputs to have the same dtype, got {self.dtype} "
                            f"and {other.dtype}")
        a, b = self, other
        if not dtypes.is_float(a.dtype):     # exact equality in int64, the kernels' integer type
            close = a.to(dtypes.int64) == b.to(dtypes.int64)
            a, b = a.float(), b.float()
        else:
            close = a == b
            if equal_nan:
                close = close.logical_or(a.isnan().logical_and(b.isnan()))
        error = (a - b).abs()
        return close.logical_or(error.isfinite().logical_and(error <= b.abs() * float(rtol) + float(atol)))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """Whether every element isclose: a Python bool, as torch.allclose."""
        return bool(self.isclose(other, rtol=rtol, atol=atol, equal_nan=equal_nan).all())

    def isposinf(self):
        return self.isinf().logical_and(self > 0) if dtypes.is_float(self.dtype) else self.isinf()

    def isneginf(self):
        return self.isinf().logical_and(self < 0) if dtypes.is_float(self.dtype) else self.isinf()

    def bool(self):
        return self.to(dtypes.bool_)

    def byte(self):
        return self.to(dtypes.uint8)
