"""Learning-rate schedules: call `scheduler.step()` once per epoch, after optimizer.step().

Each scheduler computes the rate in closed form from the epoch count, so it never
drifts: StepLR lr_0 * gamma^(epoch // step_size); CosineAnnealingLR
eta_min + (lr_0 - eta_min) (1 + cos(pi epoch / T_max)) / 2.
"""
import math

from . import checks


class LRScheduler:
    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._apply()

    def lr_at(self, base_lr, epoch):
        raise NotImplementedError

    def step(self):
        self.last_epoch += 1
        self._apply()

    def _apply(self):
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base, self.last_epoch)

    def get_last_lr(self):
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiply the rate by gamma every step_size epochs."""
    def __init__(self, optimizer, step_size, gamma=0.1):
        self.step_size = checks.positive_int("StepLR", "step_size", step_size)
        self.gamma = float(checks.in_range("StepLR", "gamma value", "gamma", gamma))
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the initial rate down to eta_min over T_max epochs (then back
    up, periodically, as PyTorch's closed form)."""
    def __init__(self, optimizer, T_max, eta_min=0.0):
        self.T_max = checks.positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = float(checks.in_range("CosineAnnealingLR", "eta_min value", "eta_min", eta_min))
        super().__init__(optimizer)

    def lr_at(self, base_lr, epoch):
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2
