"""Activation functions with PyTorch's names, arguments and edge gradients:
leaky_relu, elu, celu, selu, gelu (exact and tanh), silu, hardtanh, hardsigmoid,
hardswish, softsign, mish, logsigmoid. Each is y = f(x), dx = grad * f'(x) from the saved input x, as the
unary family (ops/unary.py), with kernels in ops/activation.cu. Scalar arguments
(negative_slope, alpha, min_val/max_val) travel to the kernels as float arguments.

The value of f' at a kink is PyTorch's: leaky_relu'(0) = negative_slope, elu'(0) =
alpha, celu'(0) = 1, selu'(0) = scale * alpha, hardtanh' = 0 at min_val and max_val, hardsigmoid' = 0 at +-3, hardswish'(-3) =
0 and hardswish'(3) = 1.
"""
import math

import numpy as np

from tinygrad_cu.op import Domain, Meta, register

from .unary import UnaryOp


def _sigmoid(x):
    # 1 / (1 + e^-x): for x below about -88 (float32) e^-x overflows to inf and the
    # result is 0, the right limit, so the warning is silenced (logaddexp costs 5x)
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


_erf_each = np.frompyfunc(math.erf, 1, 1)


def _erf(x):
    """numpy has no erf, and scipy is not a dependency: the C library's, element by element."""
    return np.asarray(_erf_each(x), dtype=x.dtype)


class Activation(UnaryOp):
    source = "activation.cu"
    domain = Domain(-3, 3)

    def backward(self, ctx, grad, **attrs):
        dx = super().backward(ctx, grad, **attrs)[0]
        return (np.asarray(dx, dtype=grad.dtype),)


@register
class LeakyRelu(Activation):
    name = "leaky_relu"
    domain = Domain(-2, 2, avoid_zero=True)
    test_attrs = (dict(negative_slope=0.01), dict(negative_slope=-0.5))
    def infer(self, x, negative_slope=0.01): return super().infer(x)
    def forward(self, ctx, x, negative_slope=0.01): return np.where(x > 0, x, x * x.dtype.type(negative_slope))
    def derivative(self, x, y, negative_slope=0.01): return np.where(x > 0, 1.0, negative_slope)
    def scalar_args(self, negative_slope=0.01): return (np.float32(negative_slope),)


@register
class Elu(Activation):
    name = "elu"
    domain = Domain(-3, 2, avoid_zero=True)
    test_attrs = (dict(alpha=1.0), dict(alpha=0.3))
    def infer(self, x, alpha=1.0): return super().infer(x)

    def forward(self, ctx, x, alpha=1.0):
        return np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0)))

    def derivative(self, x, y, alpha=1.0):
        return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))     # alpha at 0, as PyTorch

    def scalar_args(self, alpha=1.0): return (np.float32(alpha),)


@register
class Celu(Activation):
    """max(0, x) + min(0, alpha (e^(x / alpha) - 1)): elu with its negative side scaled so
    that the derivative is continuous at 0 for every alpha (Barron 2017)."""
    name = "celu"
    domain = Domain(-3, 2, avoid_zero=True)
    test_attrs = (dict(alpha=1.0), dict(alpha=2.5))

    def infer(self, x, alpha=1.0):
        if alpha == 0:
            raise ValueError("celu: alpha must not be 0 (it divides x)")
        return super().infer(x)

    def forward(self, ctx, x, alpha=1.0):
        a = x.dtype.type(alpha)
        return np.where(x > 0, x, a * np.expm1(np.minimum(x, 0) / a))

    def derivative(self, x, y, alpha=1.0):
        return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0) / alpha))   # 1 at 0, as PyTorch

    def scalar_args(self, alpha=1.0): return (np.float32(alpha),)


@register
class Selu(Activation):
    """scale (max(0, x) + min(0, alpha (e^x - 1))), the self-normalising constants of
    Klambauer et al. 2017 (PyTorch's, to float64 precision)."""
    name = "selu"
    domain = Domain(-3, 2, avoid_zero=True)
    ALPHA, SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946

    def forward(self, ctx, x):
        neg = self.ALPHA * np.expm1(np.minimum(x, 0))
        return (self.SCALE * np.where(x > 0, x, neg)).astype(x.dtype)

    def derivative(self, x, y):
        return self.SCALE * np.where(x > 0, 1.0, self.ALPHA * np.exp(np.minimum(x, 0)))


@register
class Logsigmoid(Activation):
    """log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|): stable for large |x| (log of a
    sigmoid that rounded to 0 would be -inf); d/dx = 1 - sigmoid(x) = sigmoid(-x)."""
    name = "logsigmoid"
    domain = Domain(-6, 6)
    def forward(self, ctx, x): return (np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))).astype(x.dtype)
    def derivative(self, x, y): return _sigmoid(-x)


@register
class Gelu(Activation):
    """x Phi(x), Phi the standard normal CDF; approximate='tanh' is the tanh formula of
    Hendrycks & Gimpel, as PyTorch's."""
    name = "gelu"
    test_attrs = (dict(approximate="none"), dict(approximate="tanh"))
    K = math.sqrt(2 / math.pi)

    def __init__(self):
        self.kernels = ("gelu_forward", "gelu_backward", "gelu_tanh_forward", "gelu_tanh_backward")

    def infer(self, x, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return super().infer(x)

    def forward(self, ctx, x, approximate="none"):
        if approximate == "tanh":
            return (0.5 * x * (1 + np.tanh(self.K * (x + 0.044715 * x ** 3)))).astype(x.dtype)
        return (0.5 * x * (1 + _erf(x / math.sqrt(2)))).astype(x.dtype)

    def derivative(self, x, y, approximate="none"):
        if approximate == "tanh":
            t = np.tanh(self.K * (x + 0.044715 * x ** 3))
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * self.K * (1 + 3 * 0.044715 * x * x)
        cdf = 0.5 * (1 + _erf(x / math.sqrt(2)))
        return cdf + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)

    def kernel_pair(self, approximate="none"):
        return self.kernels[2:] if approximate == "tanh" else self.kernels[:2]


@register
class Silu(Activation):
    """x sigmoid(x) (swish)."""
    name = "silu"
    def forward(self, ctx, x): return (x * _sigmoid(x)).astype(x.dtype)

    def derivative(self, x, y):
        s = _sigmoid(x)
        return s * (1 + x * (1 - s))


@register
class Hardtanh(Activation):
    """min(max(x, min_val), max_val); unlike clamp, the gradient is 0 AT the bounds (PyTorch)."""
    name = "hardtanh"
    domain = Domain(-2, 2)
    test_attrs = (dict(min_val=-1.0, max_val=1.0), dict(min_val=-0.5, max_val=1.5))

    def infer(self, x, min_val=-1.0, max_val=1.0):
        if min_val > max_val:
            raise ValueError(f"hardtanh: min_val {min_val} is larger than max_val {max_val}")
        return super().infer(x)

    def forward(self, ctx, x, min_val=-1.0, max_val=1.0):
        return np.where(x < min_val, x.dtype.type(min_val), np.where(x > max_val, x.dtype.type(max_val), x))

    def derivative(self, x, y, min_val=-1.0, max_val=1.0):
        return np.where((x <= min_val) | (x >= max_val), 0.0, 1.0)

    def scalar_args(self, min_val=-1.0, max_val=1.0): return (np.float32(min_val), np.float32(max_val))


@register
class Hardsigmoid(Activation):
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between."""
    name = "hardsigmoid"
    domain = Domain(-4, 4)
    def forward(self, ctx, x): return (np.clip(x + 3, 0, 6) / 6).astype(x.dtype)
    def derivative(self, x, y): return np.where((x > -3) & (x < 3), 1 / 6, 0.0)


@register
class Hardswish(Activation):
    """x relu6(x + 3) / 6 (MobileNetV3)."""
    name = "hardswish"
    domain = Domain(-4, 4)
    def forward(self, ctx, x): return (x * np.clip(x + 3, 0, 6) / 6).astype(x.dtype)
    def derivative(self, x, y): return np.where(x <= -3, 0.0, np.where(x < 3, x / 3 + 0.5, 1.0))


@register
class Softsign(Activation):
    """x / (1 + |x|)."""
    name = "softsign"
    def forward(self, ctx, x): return x / (1 + np.abs(x))
    def derivative(self, x, y): return 1 / (1 + np.abs(x)) ** 2


@register
class Mish(Activation):
    """x tanh(softplus(x))."""
    name = "mish"
    def forward(self, ctx, x): return (x * np.tanh(np.logaddexp(0, x))).astype(x.dtype)

    def derivative(self, x, y):
        t = np.tanh(np.logaddexp(0, x))
        return t + x * _sigmoid(x) * (1 - t * t)
