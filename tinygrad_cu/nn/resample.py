"""Resampling: adaptive average pooling, interpolate (nearest, linear, bilinear) and the
AdaptiveAvgPool2d / Upsample modules, with PyTorch's arguments and index rules.

Documented composites, no kernels of their own:
  - linear / bilinear interpolation and adaptive average pooling are separable linear
    maps, y = A_h x A_w^T along the last two dims (one dim for 3-D input): two matmul
    ops with small constant matrices (each row holds a window's 1/len weights, or the
    two linear weights 1 - l and l), whose backward is the matmul's. The matrices are
    built once per (sizes, options, device, dtype) and kept (`_matrix`), so a training
    step uploads nothing after the first.
  - nearest is a gather, x[..., rows[:, None], cols], the getitem op (exact for any
    value, inf and NaN included); its backward adds each output's gradient to its source.
PyTorch's source index for output position d (scale = in / out, or 1 / scale_factor when
a scale_factor is given): nearest floor(d * scale); linear with align_corners
d * (in - 1) / (out - 1), without max((d + 0.5) * scale - 0.5, 0). Adaptive pooling's
window for output i: [floor(i * in / out), ceil((i + 1) * in / out)).
"""
import functools
import math

import numpy as np

from ..tensor import Tensor
from .module import Module


@functools.lru_cache(maxsize=128)
def _matrix(kind, n_in, n_out, option, device, dtype):
    """The constant (n_out, n_in) matrix of one resampling along one dim, as a Tensor
    on `device` (kept: uploaded once)."""
    m = np.zeros((n_out, n_in))
    for d in range(n_out):
        if kind == "adaptive":
            start, end = (d * n_in) // n_out, -((-(d + 1) * n_in) // n_out)
            m[d, start:end] = 1.0 / (end - start)
            continue
        align_corners, scale = option
        if align_corners:
            src = d * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        else:
            src = max((d + 0.5) * scale - 0.5, 0.0)
        i0 = min(int(math.floor(src)), n_in - 1)
        i1, frac = min(i0 + 1, n_in - 1), src - i0
        m[d, i0] += 1.0 - frac
        m[d, i1] += frac
    return Tensor(m, dtype=dtype, device=device)


def _separable(x, mats):
    """Apply (out, in) matrices along the last len(mats) dims of x (one or two)."""
    if len(mats) == 1:
        return x @ mats[0].permute(1, 0)
    rows, cols = mats
    return rows @ (x @ cols.permute(1, 0))


def _sizes(name, x, size, scale_factor, spatial):
    """Output sizes and the scale (in / out) of each spatial dim, as PyTorch computes them."""
    shape = x.shape[2:]
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: give exactly one of size and scale_factor")
    if size is not None:
        out = (size,) * spatial if isinstance(size, (int, np.integer)) else tuple(size)
        if len(out) != spatial or min(out) < 1:
            raise ValueError(f"{name}: size {size} must be {spatial} positive ints for input {x.shape}")
        return tuple(int(o) for o in out), tuple(i / o for i, o in zip(shape, out))
    factors = (scale_factor,) * spatial if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(factors) != spatial or min(factors) <= 0:
        raise ValueError(f"{name}: scale_factor {scale_factor} must be {spatial} positive numbers")
    out = tuple(int(math.floor(i * f)) for i, f in zip(shape, factors))
    if min(out) < 1:
        raise ValueError(f"{name}: scale_factor {scale_factor} gives an empty output for input {x.shape}")
    return out, tuple(1.0 / f for f in factors)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    """Resize (N, C, L) with mode 'nearest' or 'linear', (N, C, H, W) with 'nearest' or 'bilinear'."""
    spatial = input.ndim - 2
    allowed = {1: ("nearest", "linear"), 2: ("nearest", "bilinear")}.get(spatial, ())
    if mode not in allowed:
        raise NotImplementedError(f"interpolate: mode {mode!r} on a {input.ndim}-D input is not implemented "
                                  f"(3-D: nearest, linear; 4-D: nearest, bilinear)")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners can only be set with the interpolating modes "
                         "(linear, bilinear)")
    out, scales = _sizes("interpolate", input, size, scale_factor, spatial)
    if recompute_scale_factor:
        scales = tuple(i / o for i, o in zip(input.shape[2:], out))
    if mode == "nearest":
        idx = [np.minimum(np.floor(np.arange(o) * sc).astype(np.int64), i - 1)
               for i, o, sc in zip(input.shape[2:], out, scales)]
        index = (slice(None), slice(None)) + ((idx[0],) if spatial == 1 else (idx[0][:, None], idx[1][None, :]))
        return input[index]
    mats = [_matrix("linear", i, o, (bool(align_corners), sc), input.device, input.dtype)
            for i, o, sc in zip(input.shape[2:], out, scales)]
    return _separable(input, mats)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size (oh, ow) (None keeps that dim), windows as PyTorch."""
    if input.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected (C, H, W) or (N, C, H, W), got {input.shape}")
    sizes = (output_size,) * 2 if isinstance(output_size, (int, np.integer)) or output_size is None \
        else tuple(output_size)
    if len(sizes) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size {output_size} must be one int or two")
    h, w = input.shape[-2:]
    oh, ow = (h if sizes[0] is None else int(sizes[0])), (w if sizes[1] is None else int(sizes[1]))
    if min(oh, ow) < 1:
        raise ValueError(f"adaptive_avg_pool2d: output_size {output_size} must be positive")
    if (oh, ow) == (1, 1):
        return input.mean(axis=(-2, -1), keepdims=True)       # global average pooling: one reduce op
    rows, cols = (_matrix("adaptive", n, o, None, input.device, input.dtype) for n, o in ((h, oh), (w, ow)))
    return _separable(input, (rows, cols))


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, whatever the input size (e.g. (1, 1) before
    a classifier)."""
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x):
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self):
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"
