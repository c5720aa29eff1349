"""Convolution layers over 1, 2 or 3 spatial dims: weight (out_channels, in_channels, *kernel).

The same constructor as PyTorch; dilation, groups and padding modes other than
zeros are accepted only at their defaults, since the conv op does not implement them.
"""
import numpy as np

from . import functional as F
from .linear import default_init_
from .module import Module
from .parameter import Parameter


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _tuple(layer, value, n, what, minimum):
    """`value` (one int, or n ints) as n ints, each >= minimum; else an error naming the
    layer and the argument (a kernel of 0 would otherwise reach the initialiser's
    1/sqrt(fan_in) as a ZeroDivisionError)."""
    values = (value,) * n if _is_int(value) else tuple(value) if isinstance(value, (tuple, list)) else None
    if values is None or not all(_is_int(v) for v in values):
        raise TypeError(f"{layer}: {what} must be an int or a tuple of {n} ints, got {value!r}")
    if len(values) != n:
        raise ValueError(f"{layer}: {what} {value!r} must be one int or {n} ints")
    if min(values) < minimum:
        raise ValueError(f"{layer}: {what} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


def _channels(layer, value, what):
    if not _is_int(value):
        raise TypeError(f"{layer}: {what} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{layer}: {what} must be >= 1, got {value}")
    return int(value)


class _ConvNd(Module):
    spatial_dims = 0
    conv = None        # the functional form, F.conv1d / conv2d / conv3d

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        d, layer = self.spatial_dims, type(self).__name__
        if isinstance(padding, str):
            raise NotImplementedError(f"{layer}: string padding ({padding!r}) is not "
                                      "implemented; give the padding in pixels")
        self.in_channels = _channels(layer, in_channels, "in_channels")
        self.out_channels = _channels(layer, out_channels, "out_channels")
        self.kernel_size = _tuple(layer, kernel_size, d, "kernel_size", 1)
        self.stride = _tuple(layer, stride, d, "stride", 1)
        self.padding = _tuple(layer, padding, d, "padding", 0)
        dilation = _tuple(layer, dilation, d, "dilation", 1)
        if not _is_int(groups) or groups < 1:
            raise ValueError(f"{layer}: groups must be a positive integer, got {groups!r}")
        if dilation != (1,) * d or groups != 1 or padding_mode != "zeros":
            raise NotImplementedError(f"{layer}: only dilation=1, groups=1 and "
                                      "padding_mode='zeros' are implemented")
        dtype = np.float32 if dtype is None else dtype
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.weight = Parameter(np.zeros(shape), device=device, dtype=dtype)
        self.register_parameter("bias", Parameter(np.zeros(self.out_channels), device=device,
                                                  dtype=dtype) if bias else None)
        default_init_(self.weight, self.bias)

    def forward(self, x):
        return self.conv(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class Conv1d(_ConvNd):
    """Input (N, C, L): signals, e.g. audio."""
    spatial_dims = 1
    conv = staticmethod(F.conv1d)


class Conv2d(_ConvNd):
    """Input (N, C, H, W): images."""
    spatial_dims = 2
    conv = staticmethod(F.conv2d)


class Conv3d(_ConvNd):
    """Input (N, C, D, H, W): volumes or video."""
    spatial_dims = 3
    conv = staticmethod(F.conv3d)
