"""RMSprop and Adagrad: per-parameter step sizes from accumulated squared gradients."""
import numpy as np

from ..tensor import Tensor
from . import checks
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """torch.optim.RMSprop: divide the gradient by a running root-mean-square of its
    recent magnitudes (alpha the smoothing), optionally centred (minus the running mean
    gradient squared) and with momentum. Formulas in ops/optim.py RMSpropStep."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def check_group(self, group):
        checks.learning_rate("RMSprop", group["lr"])
        checks.in_range("RMSprop", "epsilon value", "eps", group["eps"])
        checks.in_range("RMSprop", "momentum value", "momentum", group["momentum"])
        checks.in_range("RMSprop", "weight_decay value", "weight_decay", group["weight_decay"])
        checks.in_range("RMSprop", "alpha value", "alpha", group["alpha"])
        if not isinstance(group["centered"], (bool, np.bool_)):
            raise TypeError(f"RMSprop: centered must be a bool, got {group['centered']!r}")

    def update_args(self, param, group):
        state = self.state.setdefault(param, {})
        state["step"] = state.get("step", 0) + 1
        momentum, centered = float(group["momentum"]), bool(group["centered"])
        square_avg = self.state_tensor(param, "square_avg")
        # state that this configuration never reads: the gradient stands in, nothing is allocated
        grad_avg = self.state_tensor(param, "grad_avg") if centered else param.grad
        buf = self.state_tensor(param, "momentum_buffer") if momentum else param.grad
        return "rmsprop_step", (square_avg, grad_avg, buf), dict(
            lr=float(group["lr"]), alpha=float(group["alpha"]), eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]), momentum=momentum, centered=centered)


class Adagrad(Optimizer):
    """torch.optim.Adagrad: each weight's step shrinks with the sum of its squared
    gradients so far (frequent features learn slowly, rare ones fast); lr_decay divides
    the rate by 1 + (t - 1) lr_decay. Formulas in ops/optim.py AdagradStep."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def check_group(self, group):
        checks.learning_rate("Adagrad", group["lr"])
        checks.in_range("Adagrad", "lr_decay value", "lr_decay", group["lr_decay"])
        checks.in_range("Adagrad", "weight_decay value", "weight_decay", group["weight_decay"])
        checks.in_range("Adagrad", "initial_accumulator_value value", "initial_accumulator_value",
                        group["initial_accumulator_value"])
        checks.in_range("Adagrad", "epsilon value", "eps", group["eps"])

    def update_args(self, param, group):
        state = self.state.setdefault(param, {})
        state["step"] = state.get("step", 0) + 1
        acc = state.get("sum")
        if acc is None or acc.shape != param.shape or acc.dtype != param.dtype:
            # filled once, on the parameter's device (PyTorch's initial_accumulator_value)
            acc = Tensor._from_buffer(param._dev.from_numpy(
                np.full(param.shape, group["initial_accumulator_value"], param.dtype)), param._dev)
        elif acc._dev is not param._dev:
            acc = acc.to(param.device)
        state["sum"] = acc
        return "adagrad_step", (acc,), dict(lr=float(group["lr"]), eps=float(group["eps"]),
                                            weight_decay=float(group["weight_decay"]),
                                            lr_decay=float(group["lr_decay"]), step=int(state["step"]))
