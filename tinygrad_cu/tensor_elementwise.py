"""The elementwise Tensor methods of issue 11, with PyTorch's names and arguments:
activations (leaky_relu ... mish), math (sin ... trunc), tests with bool results
(isnan ..., logical_*), and the ops of two or three tensors (maximum, minimum,
copysign, div with rounding_mode, where, lerp).

A mixin of `Tensor` (tensor.py), so that this group stays in one file: each method is
a thin front that turns Python arguments into an op call (ops/activation.py,
unary_math.py, binary_math.py, logical.py, ternary.py) and does PyTorch's dtype
promotion first: integer inputs of float functions compute in float32, roundings of
integers return a copy, mixed dtypes of logical ops become bool.
"""
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
        return self._binary(f"div_{rounding_mode}", other)

    divide = div

    def floor_divide(self, other):
        return self.div(other, rounding_mode="floor")

    def __floordiv__(self, other):
        return self.div(other, rounding_mode="floor")

    def __rfloordiv__(self, other):
        return self._operand(other, "div_floor").div(self, rounding_mode="floor")

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
