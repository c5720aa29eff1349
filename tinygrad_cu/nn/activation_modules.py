"""Module forms of issue 11's activations, with PyTorch's class names and arguments
(nn.GELU(approximate='tanh'), nn.LeakyReLU(0.2), ...). Each calls its functional form
(nn/functional.py), which runs the op's own kernels (ops/activation.cu)."""
from . import functional as F
from .module import Module


class _Activation(Module):
    """An activation without parameters; `args` are its PyTorch arguments, shown by repr."""
    args = ()

    def __init__(self, inplace=False):
        super().__init__()
        if inplace:
            raise NotImplementedError(f"{type(self).__name__}: inplace=True is not supported")

    def extra_repr(self):
        return ", ".join(f"{a}={getattr(self, a)!r}" for a in self.args)


class LeakyReLU(_Activation):
    args = ("negative_slope",)

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__(inplace)
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)


class ELU(_Activation):
    args = ("alpha",)

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = float(alpha)

    def forward(self, x):
        return F.elu(x, self.alpha)


class GELU(_Activation):
    args = ("approximate",)

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, approximate=self.approximate)


class Hardtanh(_Activation):
    args = ("min_val", "max_val")

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__(inplace)
        self.min_val, self.max_val = float(min_val), float(max_val)

    def forward(self, x):
        return F.hardtanh(x, self.min_val, self.max_val)


class ReLU6(Hardtanh):
    args = ()

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)


class SiLU(_Activation):
    def forward(self, x):
        return F.silu(x)


class Hardsigmoid(_Activation):
    def forward(self, x):
        return F.hardsigmoid(x)


class Hardswish(_Activation):
    def forward(self, x):
        return F.hardswish(x)


class Mish(_Activation):
    def forward(self, x):
        return F.mish(x)


class Softsign(_Activation):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return F.softsign(x)


class CELU(_Activation):
    args = ("alpha",)

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = float(alpha)

    def forward(self, x):
        return F.celu(x, self.alpha)


class SELU(_Activation):
    def forward(self, x):
        return F.selu(x)


class LogSigmoid(_Activation):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return F.logsigmoid(x)
