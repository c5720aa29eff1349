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

from tinygrad_cu.op import Domain, register

from .binary import BinaryOp


class BinaryMathOp(BinaryOp):
    source = "binary_math.cu"

    def __init__(self):
        super().__init__()
        # sum_to_shape is binary.cu's (gpu_sum_to_shape launches it from there)
        self.kernels = tuple(k for k in self.kernels if k != "sum_to_shape")


class ExtremumOp(BinaryMathOp):

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

    def gpu_local_grad(self, gpu, ctx, grad, which):
        if which == "b":                     # d/db = 0: no kernel, a zero fill
            return gpu.zeros(grad.shape, grad.dtype)
        return super().gpu_local_grad(gpu, ctx, grad, which)


class RoundedDivOp(BinaryMathOp):
    """Piecewise constant in a and b: both gradients are 0, as PyTorch's."""
    backward_inputs = ()
    domain = Domain(-3, 3)

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

    def forward(self, ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.floor_divide(a, b)


@register
class DivTrunc(RoundedDivOp):
    """a / b rounded toward zero."""
    name = "div_trunc"

    def forward(self, ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.trunc(a / b)
