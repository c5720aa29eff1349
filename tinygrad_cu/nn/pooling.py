"""2-D max and average pooling over (N, C, H, W), and Flatten.

Arguments as PyTorch; the options the pool ops do not implement (max pooling's
dilation and return_indices) are accepted only at PyTorch's defaults.
"""
from . import functional as F
from .module import Module


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _require_defaults(layer, **given_vs_default):
    for name, (given, default) in given_vs_default.items():
        if given != default:
            raise NotImplementedError(f"{layer}: {name}={given!r} is not implemented "
                                      f"(only {default!r})")


class MaxPool2d(_Pool2d):
    """The largest value of each window; stride defaults to the kernel size; ceil_mode
    rounds the output size up (the last windows may overhang the input)."""
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        _require_defaults("MaxPool2d", dilation=(dilation, 1), return_indices=(return_indices, False))
        super().__init__(kernel_size, stride, padding)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, ceil_mode=self.ceil_mode)


class AvgPool2d(_Pool2d):
    """The mean of each window: padding counted (count_include_pad=True, as PyTorch) or
    not, or the sum divided by divisor_override; ceil_mode as MaxPool2d."""
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding)
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                            self.divisor_override)


class Flatten(Module):
    """(N, C, H, W) -> (N, C*H*W) by default: between conv layers and Linear ones."""
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
