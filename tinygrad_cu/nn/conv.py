"""Convolution layers over 1, 2 or 3 spatial dims: weight (out_channels, in_channels, *kernel).

The same constructor as PyTorch; dilation, groups and padding modes other than
zeros are accepted only at their defaults, since the conv op does not implement them.
"""
import numpy as np

from . import functional as F
from .linear import default_init_
from .module import Module
from .parameter import Parameter


def _tuple(value, n, what):
    t = (int(value),) * n if np.isscalar(value) else tuple(int(v) for v in value)
    if len(t) != n:
        raise ValueError(f"conv{n}d: {what} {value} must be one int or {n} ints")
    return t


class _ConvNd(Module):
    spatial_dims = 0
    conv = None        # the functional form, F.conv1d / conv2d / conv3d

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        d = self.spatial_dims
        if _tuple(dilation, d, "dilation") != (1,) * d or groups != 1 or padding_mode != "zeros":
            raise NotImplementedError(f"{type(self).__name__}: only dilation=1, groups=1 and "
                                      "padding_mode='zeros' are implemented")
        if isinstance(padding, str):
            raise NotImplementedError(f"{type(self).__name__}: string padding ({padding!r}) is not "
                                      "implemented; give the padding in pixels")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _tuple(kernel_size, d, "kernel_size")
        self.stride, self.padding = _tuple(stride, d, "stride"), _tuple(padding, d, "padding")
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
