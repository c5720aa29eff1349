"""Elementwise activations and softmax as modules (no parameters)."""
from . import functional as F
from .module import Module


class ReLU(Module):
    """max(0, x)."""
    def forward(self, x):
        return F.relu(x)


class Sigmoid(Module):
    """1 / (1 + e^-x): the lecture's logistic unit."""
    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Softplus(Module):
    """log(1 + e^(beta x)) / beta: a smooth ReLU; x itself where beta x > threshold."""
    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta:g}, threshold={self.threshold:g}"


class Sign(Module):
    """The perceptron's threshold unit: -1, 0 or +1. Its gradient is zero almost
    everywhere, which is why the perceptron is trained by its own rule, not backprop."""
    def forward(self, x):
        return F.sign(x)


class Softmax(Module):
    """exp(x_i) / sum_j exp(x_j) along `dim` (default: the last, the class axis)."""
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, dim=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, x):
        return F.log_softmax(x, dim=self.dim)


class Identity(Module):
    def forward(self, x):
        return x
