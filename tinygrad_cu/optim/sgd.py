"""Stochastic gradient descent, with optional momentum, Nesterov momentum and weight decay."""
from .optimizer import Optimizer


class SGD(Optimizer):
    """p -= lr * grad (the lecture's gradient descent); see ops/optim.py SGDStep for
    momentum, Nesterov and weight decay, which follow torch.optim.SGD (dampening 0)."""

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr {lr}, momentum {momentum} and weight_decay {weight_decay} "
                             "must be >= 0")
        if nesterov and momentum <= 0:
            raise ValueError("SGD: Nesterov momentum needs momentum > 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay))

    def update_args(self, param, group):
        momentum = float(group["momentum"])
        # without momentum the op never touches its buffer: pass the gradient in its place
        buf = self.state_tensor(param, "momentum_buffer") if momentum else param.grad
        return "sgd_step", (buf,), dict(lr=float(group["lr"]), momentum=momentum,
                                        weight_decay=float(group["weight_decay"]),
                                        nesterov=bool(group["nesterov"]))
