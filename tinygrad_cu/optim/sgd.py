"""Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay."""
import numpy as np

from . import checks
from .optimizer import Optimizer


class SGD(Optimizer):
    """p -= lr * grad (the lecture's gradient descent); see ops/optim.py SGDStep for
    momentum, dampening, Nesterov and weight decay, which follow torch.optim.SGD."""

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0):
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay, dampening=dampening))

    def check_group(self, group):
        checks.learning_rate("SGD", group["lr"])
        checks.in_range("SGD", "momentum value", "momentum", group["momentum"])
        checks.in_range("SGD", "weight_decay value", "weight_decay", group["weight_decay"])
        if not isinstance(group["nesterov"], (bool, np.bool_)):
            raise TypeError(f"SGD: nesterov must be a bool, got {group['nesterov']!r}")
        checks.in_range("SGD", "dampening value", "dampening", group["dampening"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")

    def update_args(self, param, group):
        momentum = float(group["momentum"])
        # the buffer is new on its first use (PyTorch starts it at g, undampened)
        first = momentum != 0 and "momentum_buffer" not in self.state.get(param, {})
        # without momentum the op never touches its buffer: pass the gradient in its place
        buf = self.state_tensor(param, "momentum_buffer") if momentum else param.grad
        return "sgd_step", (buf,), dict(lr=float(group["lr"]), momentum=momentum,
                                        weight_decay=float(group["weight_decay"]),
                                        nesterov=bool(group["nesterov"]), dampening=float(group["dampening"]),
                                        first=first)
