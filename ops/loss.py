"""Pointwise losses of an input and a target of the same shape, unreduced (PyTorch's
reduction='none'); nn.functional applies mean / sum (and weights) with the reduce ops.

    binary_cross_entropy              -(t log x + (1 - t) log(1 - x)), each log clamped at -100 (as PyTorch)
                                      (x and t must lie in [0, 1], else an OpError, as PyTorch's RuntimeError)
    binary_cross_entropy_with_logits  (1 - t) z + log(1 + e^-z) = max(z, 0) - t z + log1p(e^-|z|): never
                                      exp of a positive number, exact at any |z|
    l1_loss                           |x - t|
    smooth_l1_loss (beta)             0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta   (d = x - t; beta 0: l1)
    huber_loss (delta)                0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta)
    kl_div (log_target)               t (log t - x), 0 where t = 0; with log_target: e^t (t - x)

Both inputs get gradients (PyTorch differentiates the target too). The kinks (d = 0,
|d| = beta) take PyTorch's one-sided choices: sign(0) = 0, the quadratic branch for
|d| < beta. Kernels: ops/loss.cu, one `<name>_forward` / `<name>_backward` pair per op.
"""
import numpy as np

from tinygrad_cu.errors import OpError
from tinygrad_cu.op import Domain, Meta, Op, register

from .unary import launch_config

SOURCE = "loss.cu"


class PointwiseLoss(Op):
    n_inputs = 2
    saves = ("inputs",)
    target_domain = Domain(-2, 2)       # where tests sample targets (the input: `domain`)

    def __init__(self):
        self.kernels = (f"{self.name}_forward", f"{self.name}_backward")

    def infer(self, x, t, **attrs):
        self.check_float(x, t)
        self.check_same_dtype(x, t)
        if x.shape != t.shape:
            raise ValueError(f"{self.name}: input {x.shape} and target {t.shape} must have the same shape")
        return Meta(x.shape, x.dtype)

    def grads(self, x, t, **attrs):
        """(d loss / d x, d loss / d t), elementwise."""
        raise NotImplementedError

    def backward(self, ctx, grad, **attrs):
        x, t = ctx.inputs
        dx, dt = self.grads(x, t, **attrs)
        needs = ctx.needs_input_grad
        return (grad * dx).astype(x.dtype) if needs[0] else None, (grad * dt).astype(x.dtype) if needs[1] else None

    def scalar_args(self, **attrs):
        """The kernels' one float parameter p (beta, delta, log_target; 0 where unused)."""
        return (np.float32(0),)

    # CUDA: <name>_forward(x, t, loss, n, p), <name>_backward(grad, x, t, dx, dt, n, need_x, need_t, p)
    def gpu_forward(self, gpu, ctx, x, t, **attrs):
        gpu.require_dtype(self.name, x, t)
        y = gpu.empty(x.shape, x.dtype)
        if y.size:
            grid, block = launch_config(gpu, y.size, "loss")
            gpu.launch(SOURCE, self.kernels[0], grid, block, x, t, y, np.int32(y.size), *self.scalar_args(**attrs))
        return y

    def gpu_backward(self, gpu, ctx, grad, **attrs):
        x, t = ctx.inputs
        needs = ctx.needs_input_grad
        dx = gpu.empty(x.shape, x.dtype) if needs[0] else None
        dt = gpu.empty(t.shape, t.dtype) if needs[1] else None
        if grad.size:
            grid, block = launch_config(gpu, grad.size, "loss")
            # a never-written stand-in where a gradient is not wanted
            gpu.launch(SOURCE, self.kernels[1], grid, block, grad, x, t, dx if dx is not None else grad,
                       dt if dt is not None else grad, np.int32(grad.size), np.int32(needs[0]), np.int32(needs[1]),
                       *self.scalar_args(**attrs))
        return dx, dt


def _clamped_log(v):
    with np.errstate(divide="ignore"):
        return np.maximum(np.log(v), -100.0)


def bce_range_error(details):
    """binary_cross_entropy's refusal of a value outside [0, 1] (PyTorch's RuntimeError;
    an OpError is also a ValueError), on every device. details[0]: 2 input, 1 target
    (the record's word 1, from binary_cross_entropy_forward in ops/loss.cu)."""
    which = "input" if details[0] == 2 else "target"
    return OpError(f"binary_cross_entropy: all elements of {which} should be between 0 and 1")


@register
class BinaryCrossEntropy(PointwiseLoss):
    name = "binary_cross_entropy"
    domain = Domain(0.05, 0.95)         # probabilities
    target_domain = Domain(0.0, 1.0)

    def forward(self, ctx, x, t):
        # as PyTorch: input and target must be probabilities (NaN is not one); input first
        for which, v in ((2, x), (1, t)):
            if v.size and not ((v >= 0) & (v <= 1)).all():
                raise bce_range_error((which, 0, 0))
        return (-(t * _clamped_log(x) + (1 - t) * _clamped_log(1 - x))).astype(x.dtype)

    # values checked on the device (no copy to the host): the kernel writes the device's
    # error record, raised as bce_range_error at the next synchronisation
    def gpu_forward(self, gpu, ctx, x, t):
        gpu.require_dtype(self.name, x, t)
        y = gpu.empty(x.shape, x.dtype)
        if y.size:
            record, code = gpu.error_record(bce_range_error)
            grid, block = launch_config(gpu, y.size, "loss")
            gpu.launch(SOURCE, self.kernels[0], grid, block, x, t, y, np.int32(y.size), np.float32(0), record, code)
        return y

    def grads(self, x, t):
        # PyTorch's derivative, with the product clamped so x = 0 or 1 gives a large finite value
        return (x - t) / np.maximum(x * (1 - x), 1e-12), _clamped_log(1 - x) - _clamped_log(x)


@register
class BinaryCrossEntropyWithLogits(PointwiseLoss):
    name = "binary_cross_entropy_with_logits"
    domain = Domain(-4, 4)
    target_domain = Domain(0.0, 1.0)

    def forward(self, ctx, z, t):
        return (np.maximum(z, 0) - t * z + np.log1p(np.exp(-np.abs(z)))).astype(z.dtype)

    def grads(self, z, t):
        e = np.exp(-np.abs(z))
        sigmoid = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
        return sigmoid - t, -z


@register
class L1Loss(PointwiseLoss):
    name = "l1_loss"

    def forward(self, ctx, x, t):
        return np.abs(x - t)

    def grads(self, x, t):
        s = np.sign(x - t)
        return s, -s


@register
class SmoothL1Loss(PointwiseLoss):
    name = "smooth_l1_loss"
    test_attrs = (dict(beta=1.0), dict(beta=0.3), dict(beta=0.0))

    def infer(self, x, t, beta=1.0):
        if beta < 0:
            raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
        return super().infer(x, t)

    def forward(self, ctx, x, t, beta=1.0):
        d = np.abs(x - t)
        if beta == 0:
            return d
        return np.where(d < beta, 0.5 * d * d / max(beta, 1e-300), d - 0.5 * beta).astype(x.dtype)

    def grads(self, x, t, beta=1.0):
        d = x - t
        g = np.sign(d) if beta == 0 else np.where(np.abs(d) < beta, d / max(beta, 1e-300), np.sign(d))
        return g, -g

    def scalar_args(self, beta=1.0):
        return (np.float32(beta),)


@register
class HuberLoss(PointwiseLoss):
    name = "huber_loss"
    test_attrs = (dict(delta=1.0), dict(delta=0.4))

    def infer(self, x, t, delta=1.0):
        if not delta > 0:
            raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
        return super().infer(x, t)

    def forward(self, ctx, x, t, delta=1.0):
        d = np.abs(x - t)
        return np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)).astype(x.dtype)

    def grads(self, x, t, delta=1.0):
        d = x - t
        g = np.where(np.abs(d) < delta, d, delta * np.sign(d))
        return g, -g

    def scalar_args(self, delta=1.0):
        return (np.float32(delta),)


@register
class KLDiv(PointwiseLoss):
    name = "kl_div"
    domain = Domain(-3, 0)              # log-probabilities
    target_domain = Domain(0.05, 1.0)
    test_attrs = (dict(log_target=False), dict(log_target=True))

    def forward(self, ctx, x, t, log_target=False):
        if log_target:
            return (np.exp(t) * (t - x)).astype(x.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t > 0, t * (np.log(np.where(t > 0, t, 1)) - x), 0.0).astype(x.dtype)

    def grads(self, x, t, log_target=False):
        if log_target:
            e = np.exp(t)
            return -e, e * (t - x + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            dt = np.where(t > 0, np.log(np.where(t > 0, t, 1)) + 1 - x, 0.0)
        return -t, dt

    def scalar_args(self, log_target=False):
        return (np.float32(bool(log_target)),)
