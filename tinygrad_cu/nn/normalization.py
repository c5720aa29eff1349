"""Normalisation layers, as torch.nn: BatchNorm1d/2d/3d, LayerNorm, GroupNorm.

Each runs one `norm` op (ops/norm.py, fused statistics + normalisation kernels) through
nn.functional. BatchNorm keeps running_mean, running_var and num_batches_tracked as
buffers (in state_dict; the statistics moved by to(), the counter kept on the host, which
alone reads it); in training it normalises with the batch's
statistics and updates the running ones (inside the statistics kernel), in eval it uses
the running ones. momentum=None gives the cumulative average (momentum 1/batches).
"""
import numpy as np

from ..tensor import Tensor
from . import functional as F
from .module import Module
from .parameter import Parameter


def _positive_int(layer, what, v):
    if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{layer}: {what} must be an int, got {v!r}")
    if v < 1:
        raise ValueError(f"{layer}: {what} must be >= 1, got {v}")
    return int(v)


class _BatchNorm(Module):
    input_dims = ()        # the input ranks the layer accepts

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None):
        super().__init__()
        layer = type(self).__name__
        self.num_features = _positive_int(layer, "num_features", num_features)
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{layer}: momentum must be in [0, 1] or None, got {momentum}")
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dtype = np.float32 if dtype is None else dtype
        c = self.num_features
        self.register_parameter("weight", Parameter(np.ones(c), device=device, dtype=dtype) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(c), device=device, dtype=dtype) if affine else None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(c), device=device, dtype=dtype))
            self.register_buffer("running_var", Tensor(np.ones(c), device=device, dtype=dtype))
            # a host-side counter (momentum=None needs it on the host): never moved to the
            # device, so counting a batch is an in-place numpy add, no upload per step
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64), dtype=np.int64))
            self._host_buffers = ("num_batches_tracked",)
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, x):
        if x.ndim not in self.input_dims:
            raise ValueError(f"{type(self).__name__}: expected a {' or '.join(f'{d}-D' for d in self.input_dims)} "
                             f"input, got {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: input {x.shape} has {x.shape[1]} channels, expected "
                             f"{self.num_features}")
        use_batch_stats = self.training or self.running_mean is None
        momentum = self.momentum
        if self.training and self.track_running_stats:
            counter = self.num_batches_tracked.buf          # a numpy array: the counter stays on the host
            counter += 1
            if momentum is None:
                momentum = 1.0 / int(counter)
        update = self.training and self.track_running_stats
        return F.batch_norm(x, self.running_mean if update or not use_batch_stats else None,
                            self.running_var if update or not use_batch_stats else None,
                            self.weight, self.bias, use_batch_stats, 0.0 if momentum is None else momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Input (N, C) or (N, C, L): each feature over the batch (and length)."""
    input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Input (N, C, H, W): each channel over the batch and the image."""
    input_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Input (N, C, D, H, W)."""
    input_dims = (5,)


class LayerNorm(Module):
    """Each sample over its last dims (normalized_shape), e.g. the features of a token."""
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        self.normalized_shape = tuple(_positive_int("LayerNorm", "normalized_shape", int(s)) for s in shape)
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        dtype = np.float32 if dtype is None else dtype
        self.register_parameter("weight", Parameter(np.ones(self.normalized_shape), device=device, dtype=dtype)
                                if elementwise_affine else None)
        self.register_parameter("bias", Parameter(np.zeros(self.normalized_shape), device=device, dtype=dtype)
                                if elementwise_affine and bias else None)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Each sample's channels in num_groups groups, each group over its channels and positions."""
    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None):
        super().__init__()
        self.num_groups = _positive_int("GroupNorm", "num_groups", num_groups)
        self.num_channels = _positive_int("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.eps, self.affine = float(eps), bool(affine)
        dtype = np.float32 if dtype is None else dtype
        self.register_parameter("weight", Parameter(np.ones(num_channels), device=device, dtype=dtype)
                                if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(num_channels), device=device, dtype=dtype)
                                if affine else None)

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
