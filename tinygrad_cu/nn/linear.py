"""Linear (fully connected) layer: y = x W^T + b, W of shape (out_features, in_features)."""
import math

import numpy as np

from . import functional as F, init
from .module import Module
from .parameter import Parameter


def default_init_(weight, bias):
    """PyTorch's default for Linear and Conv: kaiming_uniform(a=sqrt(5)) for the weight,
    i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same bound for the bias."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = init.fan_in_and_fan_out(weight)[0]
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0     # (PyTorch's guard for 0 inputs)
        init.uniform_(bias, -bound, bound)


def _features(what, n):
    """A count of features: an int >= 0 (0 is allowed, as in PyTorch: an empty weight)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, (bool, np.bool_)):
        raise TypeError(f"Linear: {what} must be an int, got {n!r}")
    if n < 0:
        raise ValueError(f"Linear: {what} must be >= 0, got {n}")
    return int(n)


class Linear(Module):
    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = _features("in_features", in_features)
        self.out_features = _features("out_features", out_features)
        dtype = np.float32 if dtype is None else dtype
        self.weight = Parameter(np.zeros((self.out_features, self.in_features)), device=device, dtype=dtype)
        # bias=False registers None, as PyTorch, so `layer.bias` reads None
        self.register_parameter("bias", Parameter(np.zeros(self.out_features), device=device,
                                                  dtype=dtype) if bias else None)
        default_init_(self.weight, self.bias)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
