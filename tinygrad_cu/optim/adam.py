"""Adam and AdamW: per-parameter step sizes from running moments of the gradient."""
from . import checks
from .optimizer import Optimizer


class Adam(Optimizer):
    """torch.optim.Adam: weight_decay adds weight_decay * p to the gradient (L2).
    Formulas in ops/optim.py AdamStep."""
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def check_group(self, group):
        name = type(self).__name__
        checks.learning_rate(name, group["lr"])
        checks.in_range(name, "epsilon value", "eps", group["eps"])
        group["betas"] = checks.betas(name, group["betas"])
        checks.in_range(name, "weight_decay value", "weight_decay", group["weight_decay"])

    def update_args(self, param, group):
        state = self.state.setdefault(param, {})
        state["step"] = state.get("step", 0) + 1
        m, v = self.state_tensor(param, "exp_avg"), self.state_tensor(param, "exp_avg_sq")
        beta1, beta2 = group["betas"]
        return "adam_step", (m, v), dict(lr=float(group["lr"]), beta1=float(beta1), beta2=float(beta2),
                                         eps=float(group["eps"]), weight_decay=float(group["weight_decay"]),
                                         step=int(state["step"]), decoupled=self.decoupled)


class AdamW(Adam):
    """torch.optim.AdamW (Loshchilov & Hutter): weight decay is decoupled from the
    gradient, p -= lr * weight_decay * p, so it is not rescaled by Adam's step size."""
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
