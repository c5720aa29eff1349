"""Dropout: active in training mode only (`model.train()` / `model.eval()`)."""
from . import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability p during training and scale the others by
    1/(1-p); the identity in eval mode. Masks come from the global seed."""
    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
