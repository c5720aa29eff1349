"""Convolution layers over 1, 2 or 3 spatial dims: weight (out_channels, in_channels/groups,
*kernel); transposed ones: weight (in_channels, out_channels/groups, *kernel).

The same constructors as PyTorch, padding='same'/'valid' included (not transposed, as
PyTorch; F.conv*d's composite, tinygrad_cu/nn/conv_padding.py); padding modes other than
zeros are accepted only at their default, since the conv ops do not implement them.
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
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None, output_padding=0):
        super().__init__()
        d, layer = self.spatial_dims, type(self).__name__
        text_padding = isinstance(padding, str)
        if text_padding and self.transposed:
            raise NotImplementedError(f"{layer}: string padding ({padding!r}) is not supported by "
                                      "transposed convolutions (as PyTorch); give the padding in pixels")
        if text_padding and padding not in ("same", "valid"):
            raise ValueError(f"{layer}: invalid padding string {padding!r}, should be 'same' or 'valid'")
        self.in_channels = _channels(layer, in_channels, "in_channels")
        self.out_channels = _channels(layer, out_channels, "out_channels")
        self.kernel_size = _tuple(layer, kernel_size, d, "kernel_size", 1)
        self.stride = _tuple(layer, stride, d, "stride", 1)
        self.padding = padding if text_padding else _tuple(layer, padding, d, "padding", 0)
        if padding == "same" and set(self.stride) != {1}:
            raise ValueError(f"{layer}: padding='same' is not supported for strided convolutions")
        self.dilation = _tuple(layer, dilation, d, "dilation", 1)
        self.output_padding = _tuple(layer, output_padding, d, "output_padding", 0)
        if not _is_int(groups) or groups < 1:
            raise ValueError(f"{layer}: groups must be a positive integer, got {groups!r}")
        for what, n in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if n % groups:
                raise ValueError(f"{layer}: {what} ({n}) must be divisible by groups ({groups})")
        if any(p >= max(s, dl) for p, s, dl in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(f"{layer}: output_padding {self.output_padding} must be smaller than "
                             f"stride {self.stride} or dilation {self.dilation}")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{layer}: only padding_mode='zeros' is implemented")
        self.groups = int(groups)
        dtype = np.float32 if dtype is None else dtype
        if self.transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Parameter(np.zeros(shape), device=device, dtype=dtype)
        self.register_parameter("bias", Parameter(np.zeros(self.out_channels), device=device,
                                                  dtype=dtype) if bias else None)
        default_init_(self.weight, self.bias)    # fan_in from weight.shape[1:], as PyTorch

    def forward(self, x):
        return self.conv(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        extra = "".join(f", {k}={getattr(self, k)}" for k, default in
                        (("output_padding", 0), ("dilation", 1), ("groups", 1))
                        if getattr(self, k) not in (default, (default,) * self.spatial_dims))
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}{extra}, bias={self.bias is not None}")


class Conv1d(_ConvNd):
    """Input (N, C, L): signals, e.g. audio."""
    spatial_dims = 1
    conv = staticmethod(F.conv1d)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)


class Conv2d(Conv1d):
    """Input (N, C, H, W): images."""
    spatial_dims = 2
    conv = staticmethod(F.conv2d)


class Conv3d(Conv1d):
    """Input (N, C, D, H, W): volumes or video."""
    spatial_dims = 3
    conv = staticmethod(F.conv3d)


class _ConvTransposeNd(_ConvNd):
    """The adjoint of the convolution with the same arguments: maps the conv's output
    shape back to its input shape (output_padding picks among the input sizes that
    stride > 1 maps to one output size). PyTorch's argument order: output_padding,
    groups, bias, dilation."""
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding=output_padding)

    def forward(self, x):
        return self.conv(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                         self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Input (N, Cin, L) -> (N, Cout, (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1)."""
    spatial_dims = 1
    conv = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """Input (N, Cin, H, W) -> (N, Cout, H_out, W_out): learned upsampling."""
    spatial_dims = 2
    conv = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTransposeNd):
    """Input (N, Cin, D, H, W) -> (N, Cout, D_out, H_out, W_out)."""
    spatial_dims = 3
    conv = staticmethod(F.conv_transpose3d)
