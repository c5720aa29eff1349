"""Max and average pooling in 1, 2 or 3 spatial dims, max unpooling, and Flatten.

Arguments as PyTorch's nn.MaxPool1d ... nn.AvgPool3d and nn.MaxUnpool1d/2d/3d
(tinygrad_cu/nn/functional_pool.py).
"""
from . import functional as F
from .module import Module


class _MaxPool(Module):
    """The largest value of each window; stride defaults to the kernel size; ceil_mode
    rounds the output size up (the last windows may overhang the input); return_indices
    also returns each maximum's flat index in its input plane (for MaxUnpool)."""
    d = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, x):
        return getattr(F, f"max_pool{self.d}d")(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                                 ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPool):
    d = 1


class MaxPool2d(_MaxPool):
    d = 2


class MaxPool3d(_MaxPool):
    d = 3


class _AvgPool(Module):
    """The mean of each window: padding counted (count_include_pad=True, as PyTorch) or
    not, or the sum divided by divisor_override (2-D and 3-D); ceil_mode as MaxPool."""
    d = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x):
        extra = () if self.d == 1 else (self.divisor_override,)
        return getattr(F, f"avg_pool{self.d}d")(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                                 self.count_include_pad, *extra)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPool):
    d = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPool):
    d = 2


class AvgPool3d(_AvgPool):
    d = 3


class _MaxUnpool(Module):
    """Each value back at the index MaxPool(return_indices=True) gave it, zeros elsewhere."""
    d = 2

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x, indices, output_size=None):
        return getattr(F, f"max_unpool{self.d}d")(x, indices, self.kernel_size, self.stride, self.padding,
                                                   output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    d = 1


class MaxUnpool2d(_MaxUnpool):
    d = 2


class MaxUnpool3d(_MaxUnpool):
    d = 3


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W) by default: between conv layers and Linear ones."""
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
