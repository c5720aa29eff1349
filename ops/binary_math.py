"""Elementwise math of two broadcast float tensors, as PyTorch's: maximum, minimum,
copysign, and division with a rounding mode (div_floor, div_trunc: PyTorch's
`torch.div(a, b, rounding_mode='floor' | 'trunc')`, `floor_divide`, `a // b`); the
remainders of those divisions (remainder: Python's and PyTorch's `a % b`, of b's sign;
fmod: of a's sign, C's); atan2; the stable logaddexp, logaddexp2; and pow_int, the
exact power of int64 tensors (PyTorch's `int_tensor ** int`).

The binary family's pattern (ops/binary.py: broadcasting by strides, gradients summed
back to each input's shape), with kernels in ops/binary_math.cu. Gradients follow
PyTorch: maximum/minimum split the gradient equally between a and b where they are
equal; copysign's is sign(a) sign(b)-like (0 where a == 0) for a and 0 for b; the
rounded divisions have gradient 0 for both inputs.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Domain, broadcast_shapes, register

from .binary import BinaryOp, broadcast_geometry, gpu_sum_to_shape, launch_config


class BinaryMathOp(BinaryOp):
    source = "binary_math.cu"

    def __init__(self):
        super().__init__()
        # sum_to_shape is binary.cu's (gpu_sum_to_shape launches it from there)
        self.kernels = tuple(k for k in self.kernels if k != "sum_to_shape")


class ExtremumOp(BinaryMathOp):
    """Floats with gradient; int64, int32, uint8 and bool exactly, without gradient
    (kernels <name>_<suffix>_forward*; bool compares as its 0 / 1 byte, the uint8 ones)."""
    float_only = False
    INT_SUFFIX = {dtypes.int64: "i64", dtypes.int32: "i32", dtypes.uint8: "u8", dtypes.bool_: "u8"}

    def __init__(self):
        super().__init__()
        self.kernels += tuple(f"{self.name}_{s}_forward{v}" for s in ("i64", "i32", "u8") for v in ("", "_sa", "_sb"))

    def gpu_kernel_prefix(self, gpu, a, b):
        if a.dtype == b.dtype and a.dtype in self.INT_SUFFIX:
            return f"{self.name}_{self.INT_SUFFIX[a.dtype]}"
        return super().gpu_kernel_prefix(gpu, a, b)

    def local_grads(self, g, a, b, out, needs):
        # PyTorch: grad / 2 to each where a == b, else all of it to the larger (smaller)
        # one; with a NaN both comparisons fail and both inputs get grad.
        wins_a, wins_b = self.beats(a, b), self.beats(b, a)
        tie = (a == b)
        ga = np.where(tie, g / 2, np.where(wins_b, 0, g)) if needs[0] else None
        gb = np.where(tie, g / 2, np.where(wins_a, 0, g)) if needs[1] else None
        return ga, gb


@register
class Maximum(ExtremumOp):
    name = "maximum"
    def beats(self, a, b): return a > b
    def forward(self, ctx, a, b): return np.maximum(a, b)     # NaN propagates, as torch.maximum


@register
class Minimum(ExtremumOp):
    name = "minimum"
    def beats(self, a, b): return a < b
    def forward(self, ctx, a, b): return np.minimum(a, b)


@register
class Copysign(BinaryMathOp):
    """|a| with the sign of b (also of -0.0 and of NaN's sign bit)."""
    name = "copysign"
    backward_inputs = ("a",)

    def forward(self, ctx, a, b): return np.copysign(a, b)

    def local_grads(self, g, a, b, out, needs):
        with np.errstate(invalid="ignore", divide="ignore"):
            ga = np.where(a == 0, 0, g * (np.copysign(a, b) / a)) if needs[0] else None   # PyTorch: grad * out / a
        return ga, (np.zeros_like(g) if needs[1] else None)

    def gpu_backward(self, gpu, ctx, grad):
        (need_a, need_b), (meta_a, meta_b) = ctx.needs_input_grad, ctx.input_metas
        # a: copysign_backward_a at the output shape (a new buffer), summed to a's shape;
        # b: d/db = 0, one fill at b's own shape (no kernel, nothing to sum)
        ga = gpu_sum_to_shape(gpu, self.gpu_local_grad(gpu, ctx, grad, "a"), meta_a.shape) if need_a else None
        return ga, (gpu.zeros(meta_b.shape, grad.dtype) if need_b else None)


def integer_division_by_zero(details):
    """The error a GPU device raises from the int64 divisions' record (binary_math.cu)."""
    return ZeroDivisionError("div: integer division by zero (div_floor / div_trunc / remainder / fmod: "
                             "a // b, a % b)")


class IntegerDivisionOp(BinaryMathOp):
    """Division-like ops of floats or int64: int64 inputs give int64 results (a // b,
    a % b of indices); dividing an integer by 0 raises ZeroDivisionError, as PyTorch,
    on the GPU devices at the next synchronisation (the kernel writes the device's
    error record: no copy to the host here)."""
    domain = Domain(-3, 3)
    float_only = False

    def __init__(self):
        super().__init__()
        self.kernels += (f"{self.name}_i64_forward",)

    def infer(self, a, b):
        if not all(m.dtype.kind == "f" or m.dtype == dtypes.int64 for m in (a, b)):
            raise TypeError(f"{self.name}: expected floating point or int64 inputs, got dtype "
                            f"{a.dtype}, {b.dtype}")
        return super().infer(a, b)

    def forward(self, ctx, a, b):
        if a.dtype.kind == "i" and not np.all(b):
            raise integer_division_by_zero(())
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # LLONG_MIN // -1 wraps
            return self.divide(a, b)

    def gpu_forward(self, gpu, ctx, a, b):
        if a.dtype != dtypes.int64:
            return super().gpu_forward(gpu, ctx, a, b)
        out = gpu.empty(broadcast_shapes(self.name, a.shape, b.shape), a.dtype)
        if out.size:
            record, code = gpu.error_record(integer_division_by_zero)
            grid, block = launch_config(gpu, out.size)
            gpu.launch(self.source, f"{self.name}_i64_forward", grid, block, a, b, out, np.int32(out.size),
                       *broadcast_geometry(self.name, out.shape, a.shape, b.shape), record, code)
        return out


class RoundedDivOp(IntegerDivisionOp):
    """Piecewise constant in a and b: both gradients are 0, as PyTorch's."""
    backward_inputs = ()

    def local_grads(self, g, a, b, out, needs):
        zero = np.zeros_like(g)
        return (zero if needs[0] else None), (zero if needs[1] else None)

    def gpu_backward(self, gpu, ctx, grad):
        return tuple(gpu.zeros(meta.shape, grad.dtype) if need else None
                     for need, meta in zip(ctx.needs_input_grad, ctx.input_metas))


@register
class DivFloor(RoundedDivOp):
    """floor(a / b) as Python's //: the quotient q with a = q b + r, r of b's sign
    (b == 0 gives a / b: inf, -inf or nan, as PyTorch for floats)."""
    name = "div_floor"

    def divide(self, a, b):
        return np.floor_divide(a, b)


@register
class DivTrunc(RoundedDivOp):
    """a / b rounded toward zero."""
    name = "div_trunc"

    def divide(self, a, b):
        if a.dtype.kind == "i":              # |a| // |b| with the quotient's sign: exact, no float
            return np.sign(a) * np.sign(b) * (np.abs(a) // np.abs(b))
        return np.trunc(a / b)


class RemainderOp(IntegerDivisionOp):
    """a - q b for the rounded quotient q; d/da = 1, d/db = -q (PyTorch's, also at the
    jumps). b == 0 gives NaN for floats (fmod's rule)."""
    backward_inputs = ("b",)

    def local_grads(self, g, a, b, out, needs):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g, (-g * self.quotient(a, b) if needs[1] else None)

    def gpu_local_grad(self, gpu, ctx, grad, which):
        return grad if which == "a" else super().gpu_local_grad(gpu, ctx, grad, which)


@register
class Remainder(RemainderOp):
    """Python's and PyTorch's a % b: the result has b's sign (-7 % 3 = 2, 7 % -3 = -2)."""
    name = "remainder"
    def divide(self, a, b): return np.remainder(a, b)
    def quotient(self, a, b): return np.floor_divide(a, b)


@register
class Fmod(RemainderOp):
    """C's fmod, torch.fmod: the result has a's sign (-7 fmod 3 = -1)."""
    name = "fmod"
    def divide(self, a, b): return np.fmod(a, b)
    def quotient(self, a, b): return np.trunc(a / b)


@register
class Atan2(BinaryMathOp):
    """The angle of the point (b, a): torch.atan2(input=a, other=b), in [-pi, pi]."""
    name = "atan2"

    def forward(self, ctx, a, b): return np.arctan2(a, b)

    def local_grads(self, g, a, b, out, needs):
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = a * a + b * b
            return (g * b / r2 if needs[0] else None), (-g * a / r2 if needs[1] else None)


class LogAddExpOp(BinaryMathOp):
    """log_base(base^a + base^b) without overflow: max(a, b) + log_base(1 + base^-|a - b|);
    d/da = 1 / (1 + base^(b - a)), d/db likewise (PyTorch's formulas)."""

    def forward(self, ctx, a, b): return self.function(a, b)

    def local_grads(self, g, a, b, out, needs):
        with np.errstate(over="ignore", invalid="ignore"):
            return ((g / (1 + self.power(b - a)) if needs[0] else None),
                    (g / (1 + self.power(a - b)) if needs[1] else None))


@register
class Logaddexp(LogAddExpOp):
    name = "logaddexp"
    function, power = staticmethod(np.logaddexp), staticmethod(np.exp)


@register
class Logaddexp2(LogAddExpOp):
    name = "logaddexp2"
    function, power = staticmethod(np.logaddexp2), staticmethod(np.exp2)


@register
class PowInt(BinaryMathOp):
    """a ** b of int64 tensors, exact, by repeated squaring (wrapping as two's complement
    on overflow, as PyTorch's). A negative exponent gives 1 for a == 1, +-1 for a == -1
    and 0 otherwise (0 ** -1 too), PyTorch's integer rule; a negative NUMBER exponent is
    refused by the Tensor method (RuntimeError, as PyTorch). No gradient (integers)."""
    name = "pow_int"
    differentiable = False
    backward_inputs = ()
    float_only = False
    domain = Domain(-4, 4)

    def __init__(self):
        super().__init__()
        self.kernels = tuple(k.replace("pow_int", "pow_i64") for k in self.kernels)

    def infer(self, a, b):
        if not a.dtype == b.dtype == dtypes.int64:
            raise TypeError(f"pow_int: expected int64 inputs, got dtype {a.dtype}, {b.dtype}")
        return super().infer(a, b)

    def forward(self, ctx, a, b):
        a, b = np.broadcast_arrays(a, b)
        out = np.ones(a.shape, np.int64)
        base, exp = a.copy(), np.maximum(b, 0)
        with np.errstate(over="ignore"):
            while np.any(exp):                            # square-and-multiply, all at once
                out = np.where(exp & 1, out * base, out)
                base, exp = base * base, exp >> 1
        negative = b < 0
        return np.where(negative, np.where(a == 1, 1, np.where(a == -1, 1 - 2 * (b & 1), 0)), out)

    def gpu_kernel_prefix(self, gpu, a, b):
        return "pow_i64"
