"""Weight initialisation, with PyTorch's names (torch.nn.init).

Every function fills a tensor in place and returns it: it draws numbers on the host
from the global generator (`tg.manual_seed`), then replaces the tensor's buffer with
a copy on the tensor's own device. The Parameter object stays the same, so modules
and optimisers that hold it see the new values.

Fan-in / fan-out of a weight (O, C, *kernel): fan_in = C * prod(kernel),
fan_out = O * prod(kernel); for Linear (out, in): fan_in = in, fan_out = out.

    LeCun   std = 1 / sqrt(fan_in)                 (for tanh / SELU-like units)
    Xavier  std = gain * sqrt(2 / (fan_in + fan_out))   (Glorot & Bengio 2010)
    Kaiming std = gain / sqrt(fan)                 (He et al. 2015, for ReLU: gain = sqrt(2))
A uniform distribution U(-b, b) has std b / sqrt(3), so each uniform variant uses
bound = sqrt(3) * std.
"""
import math
import warnings

import numpy as np

from ..autograd import no_grad
from ..creation import rng


def _fill(tensor, array):
    with no_grad():
        tensor.buf = tensor._dev.from_numpy(np.asarray(array, dtype=tensor.dtype))
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps the activations' variance constant through a layer."""
    linear = ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dims, got {tensor.shape}")
    receptive_field = int(np.prod(tensor.shape[2:], dtype=np.int64))
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _fan(tensor, mode):
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


# --- plain distributions and constants ------------------------------------------------
def uniform_(tensor, a=0.0, b=1.0):
    return _fill(tensor, rng().uniform(a, b, tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    return _fill(tensor, rng().normal(mean, std, tensor.shape))


def constant_(tensor, value):
    return _fill(tensor, np.full(tensor.shape, value))


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


# --- variance-scaling schemes ---------------------------------------------------------------
def _empty(tensor):
    """A weight with no elements has a fan of 0 (1/sqrt(0)): nothing to fill. As
    PyTorch, warn and leave it, rather than fail on the division."""
    if 0 in tensor.shape:
        warnings.warn(f"initialising a zero-element tensor {tensor.shape} is a no-op", stacklevel=3)
        return True
    return False


def lecun_uniform_(tensor):
    if _empty(tensor):
        return tensor
    bound = math.sqrt(3.0 / fan_in_and_fan_out(tensor)[0])
    return uniform_(tensor, -bound, bound)


def lecun_normal_(tensor):
    """Plain (not truncated) normal with std 1/sqrt(fan_in)."""
    if _empty(tensor):
        return tensor
    return normal_(tensor, 0.0, 1.0 / math.sqrt(fan_in_and_fan_out(tensor)[0]))


def xavier_uniform_(tensor, gain=1.0):
    if _empty(tensor):
        return tensor
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    if _empty(tensor):
        return tensor
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    """`a`: the negative slope of leaky_relu. PyTorch's Linear and Conv defaults use
    a = sqrt(5), which gives bound = 1/sqrt(fan_in)."""
    if _empty(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    if _empty(tensor):
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)


# the other names these schemes go by
glorot_uniform_, glorot_normal_ = xavier_uniform_, xavier_normal_
he_uniform_, he_normal_ = kaiming_uniform_, kaiming_normal_
