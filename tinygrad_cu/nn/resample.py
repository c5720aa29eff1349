"""Resampling: adaptive average pooling, interpolate (nearest, nearest-exact, linear,
bilinear, bicubic, trilinear) and the AdaptiveAvgPool2d / Upsample modules, with
PyTorch's arguments and index rules.

Documented composites, no kernels of their own:
  - linear / bilinear / trilinear / bicubic interpolation and adaptive average pooling
    are separable linear maps: one constant (out, in) matrix per spatial dim, applied
    by one matmul op each (the dim's axis made a matrix axis by a free reshape), whose
    backward is the matmul's. Each row holds a window's 1/len weights, the two linear
    weights 1 - l and l, or bicubic's four cubic-convolution weights (A = -0.75, the
    taps clamped to the border, as PyTorch). The matrices are built once per (sizes,
    options, device, dtype) and kept (`_matrix`), so a training step uploads nothing
    after the first.
  - nearest and nearest-exact are gathers, one getitem op per resized dim (exact for
    any value and dtype, inf and NaN included); the backward adds each output's
    gradient to its source.
  - uint8 bilinear / bicubic (PyTorch computes these on uint8 directly, in fixed point):
    one pass per dim, last dim first, each a float32 matmul with the weights rounded to
    integers of `precision` fraction bits (exact: the sums stay below 2^24), then
    floor((sum + 2^(precision-1)) / 2^precision) clamped to [0, 255] and stored as uint8,
    PyTorch's (Pillow's) rounding. Forward only, as PyTorch (integers have no gradient).
PyTorch's source index for output position d (scale = in / out, or 1 / scale_factor when
a scale_factor is given), in float32 as PyTorch: nearest floor(d * scale), nearest-exact
floor((d + 0.5) * scale), both at most in - 1; linear with align_corners
d * (in - 1) / (out - 1), without max((d + 0.5) * scale - 0.5, 0); bicubic the same
without the max (taps may fall outside and are clamped). Adaptive pooling's window for
output i: [floor(i * in / out), ceil((i + 1) * in / out)).
"""
import functools
import math

import numpy as np

from .. import dtypes
from ..tensor import Tensor
from .module import Module


CUBIC_A = -0.75          # PyTorch's (and OpenCV's) bicubic coefficient


def _cubic_weights(t):
    """Cubic convolution weights of the taps at floor(src) - 1 ... floor(src) + 2, t = src - floor(src)."""
    near = lambda x: ((CUBIC_A + 2) * x - (CUBIC_A + 3)) * x * x + 1               # |x| <= 1
    far = lambda x: ((CUBIC_A * x - 5 * CUBIC_A) * x + 8 * CUBIC_A) * x - 4 * CUBIC_A  # 1 < |x| < 2
    return far(t + 1), near(t), near(1 - t), far(2 - t)


def _weights(kind, n_in, n_out, option):
    """The (n_out, n_in) float64 matrix of one resampling along one dim."""
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
            src = (d + 0.5) * scale - 0.5
        if kind == "cubic":                      # taps outside the input read its border
            i0 = int(math.floor(src))
            for tap, w in zip(range(i0 - 1, i0 + 3), _cubic_weights(src - i0)):
                m[d, min(max(tap, 0), n_in - 1)] += w
            continue
        src = max(src, 0.0)
        i0 = min(int(math.floor(src)), n_in - 1)
        i1, frac = min(i0 + 1, n_in - 1), src - i0
        m[d, i0] += 1.0 - frac
        m[d, i1] += frac
    return m


@functools.lru_cache(maxsize=128)
def _matrix(kind, n_in, n_out, option, device, dtype):
    """_weights as a Tensor on `device` (kept: uploaded once)."""
    return Tensor(_weights(kind, n_in, n_out, option), dtype=dtype, device=device)


@functools.lru_cache(maxsize=64)
def _fixed_point_matrix(kind, n_in, n_out, option, device):
    """(weights as integers of `precision` fraction bits in a float32 Tensor, precision):
    the most bits that keep 2 * max|w| below 2^15, rounded half away from zero (PyTorch's
    uint8 resampling, after Pillow)."""
    m = _weights(kind, n_in, n_out, option)
    biggest = np.abs(m).max()
    precision = 0
    while precision < 22 and int(0.5 + biggest * (1 << (precision + 1))) < (1 << 15):
        precision += 1
    scaled = m * (1 << precision)
    fixed = np.where(scaled < 0, np.trunc(scaled - 0.5), np.trunc(scaled + 0.5))
    return Tensor(fixed, dtype=dtypes.float32, device=device), precision


def _along(x, dim, m):
    """Apply the (out, in) matrix m along axis `dim` of x: one matmul op (the axis made
    the matmul's row axis by a reshape, free for a contiguous x)."""
    shape = x.shape
    if dim == x.ndim - 1:
        return x @ m.permute(1, 0)
    before, after = math.prod(shape[:dim]), math.prod(shape[dim + 1:])
    y = m @ x.reshape(before, shape[dim], after)
    return y.reshape(shape[:dim] + (m.shape[0],) + shape[dim + 1:])


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


def _nearest_index(n_in, n_out, scale, exact):
    """PyTorch's source index of each output position, in its float32 arithmetic."""
    if n_in == n_out and not exact:                 # PyTorch's shortcut, whatever the scale
        return np.arange(n_out)
    d, scale = np.arange(n_out), np.float32(scale)
    src = np.float32((d + 0.5) * np.float64(scale)) if exact else d.astype(np.float32) * scale
    return np.minimum(np.floor(src).astype(np.int64), n_in - 1)


# mode -> (the spatial dims it takes, the separable kind: None for a gather)
MODES = {"nearest": ((1, 2, 3), None), "nearest-exact": ((1, 2, 3), None), "area": ((1, 2, 3), "adaptive"),
         "linear": ((1,), "linear"), "bilinear": ((2,), "linear"), "trilinear": ((3,), "linear"),
         "bicubic": ((2,), "cubic")}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None):
    """Resize (N, C, *spatial): nearest / nearest-exact / area on 1-3 spatial dims,
    linear on (N, C, L), bilinear / bicubic on (N, C, H, W), trilinear on (N, C, D, H, W)."""
    spatial = input.ndim - 2
    if mode not in MODES:
        raise ValueError(f"interpolate: mode {mode!r} is not one of {', '.join(MODES)}")
    dims, kind = MODES[mode]
    if spatial not in dims:
        raise NotImplementedError(f"interpolate: mode {mode!r} takes {' or '.join(f'{d + 2}-D' for d in dims)} "
                                  f"input, got {input.ndim}-D {input.shape}")
    if kind in (None, "adaptive") and align_corners is not None:
        raise ValueError("interpolate: align_corners can only be set with the interpolating modes "
                         "(linear, bilinear, bicubic, trilinear)")
    out, scales = _sizes("interpolate", input, size, scale_factor, spatial)
    if recompute_scale_factor or kind == "adaptive":
        scales = tuple(i / o for i, o in zip(input.shape[2:], out))
    if kind is None:
        for k, (i, o, sc) in enumerate(zip(input.shape[2:], out, scales)):
            if i != o or (mode == "nearest-exact" and sc != 1.0):
                index = (slice(None),) * (2 + k) + (_nearest_index(i, o, sc, mode == "nearest-exact"),)
                input = input[index]
        return input
    if input.dtype.kind != "f":
        if not (input.dtype == dtypes.uint8 and mode in ("bilinear", "bicubic")):     # PyTorch's (CPU) rule
            raise TypeError(f"interpolate: mode {mode!r} takes floating point input (bilinear and bicubic "
                            f"also uint8), got dtype {input.dtype}")
        return _uint8_resample(input, kind, out, scales, bool(align_corners))
    for k, (i, o, sc) in enumerate(zip(input.shape[2:], out, scales)):
        if i == o and (kind == "adaptive" or align_corners or sc == 1.0):
            continue                               # the identity
        option = None if kind == "adaptive" else (bool(align_corners), sc)
        input = _along(input, 2 + k, _matrix(kind, i, o, option, input.device, input.dtype))
    return input


def _uint8_resample(x, kind, out, scales, align_corners):
    """uint8 bilinear / bicubic in PyTorch's fixed point: one pass per resized dim, the
    last first, each rounded and clamped to [0, 255] (exact in float32: see the header)."""
    y = x.to(dtypes.float32)
    for k in reversed(range(len(out))):
        n_in = y.shape[2 + k]
        if n_in == out[k]:
            continue
        m, precision = _fixed_point_matrix(kind, n_in, out[k], (align_corners, scales[k]), x.device)
        y = _along(y, 2 + k, m)
        y = ((y + float(1 << (precision - 1))) * (1.0 / (1 << precision))).floor().clamp(0, 255)
    return y.to(dtypes.uint8)


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
    for dim, (n, o) in ((input.ndim - 2, (h, oh)), (input.ndim - 1, (w, ow))):
        input = _along(input, dim, _matrix("adaptive", n, o, None, input.device, input.dtype))
    return input


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
