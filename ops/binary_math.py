"""Elementwise math of two broadcast float tensors, as PyTorch's: maximum, minimum,
copysign, and division with a rounding mode (div_floor, div_trunc: PyTorch's
`torch.div(a, b, rounding_mode='floor' | 'trunc')`, `floor_divide`, `a // b`).

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
    float_only = False           # integers too (no gradient); kernels <name>_i64_forward*

    def __init__(self):
        super().__init__()
        self.kernels += tuple(f"{self.name}_i64_forward{v}" for v in ("", "_sa", "_sb"))

    def gpu_kernel_prefix(self, gpu, a, b):
        if a.dtype == b.dtype == dtypes.int64:
            return f"{self.name}_i64"
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
    """The error a GPU device raises from the int64 rounded divisions' record (binary_math.cu)."""
    return ZeroDivisionError("div: integer division by zero (div_floor / div_trunc, a // b)")


class RoundedDivOp(BinaryMathOp):
    """Piecewise constant in a and b: both gradients are 0, as PyTorch's. int64 inputs
    give int64 quotients (a // b of indices); dividing an integer by 0 raises
    ZeroDivisionError, as PyTorch, on the GPU devices at the next synchronisation
    (the kernel writes the device's error record: no copy to the host here)."""
    backward_inputs = ()
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
