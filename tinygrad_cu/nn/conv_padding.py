"""The padding forms of F.conv1d/2d/3d beyond the conv op's own (one int, or one per
spatial dim, the same on both sides):

* PyTorch's strings: 'valid' (no padding) and 'same' (the output as large as the input;
  stride 1 only; an odd total puts the extra row at the far side, as PyTorch);
* tinygrad's per-side form: 2 * dims ints, (before, after) for the LAST dim first, as F.pad;
* negative padding (tinygrad's, in either form): that many rows cropped.

A composite, as PyTorch does it for 'same' with even kernels: the part that is the same
on both sides and not negative goes to the conv op (its kernels skip it for free); the
rest is padded with zeros (the pad op) or cropped (a slice) first, and autograd
differentiates those ops as usual.
"""
from ..errors import OpError


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def per_side(name, kernel, stride, padding, dilation):
    """(before, after) per spatial dim, or None where the op takes `padding` as it is."""
    d = len(kernel)
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding != "same":
            raise OpError(f"{name}: invalid padding string {padding!r} (PyTorch's: 'valid' or 'same')")
        strides = (stride,) * d if _is_int(stride) else tuple(stride)
        if any(s != 1 for s in strides):
            raise OpError(f"{name}: padding='same' is not supported for strided convolutions (stride {stride})")
        dil = (dilation,) * d if _is_int(dilation) else tuple(dilation)
        totals = [dl * (k - 1) for dl, k in zip(dil, kernel)]
        return tuple((t // 2, t - t // 2) for t in totals)
    if _is_int(padding):
        return ((padding, padding),) * d if padding < 0 else None
    if isinstance(padding, (tuple, list)) and all(_is_int(p) for p in padding):
        if len(padding) == 2 * d:                   # tinygrad's per side, last dim first
            return tuple((padding[2 * i], padding[2 * i + 1]) for i in reversed(range(d)))
        if len(padding) == d and min(padding, default=0) < 0:
            return tuple((p, p) for p in padding)
    return None                                     # the op's own form (or its error)


def split(name, x, kernel, stride, padding, dilation):
    """(x padded or cropped by what the conv op cannot do, the op's symmetric padding)."""
    pairs = per_side(name, tuple(kernel), stride, padding, dilation)
    if pairs is None:
        return x, padding
    both = tuple(max(0, min(b, a)) for b, a in pairs)
    rest = [(b - s, a - s) for (b, a), s in zip(pairs, both)]
    if any(b < 0 or a < 0 for b, a in rest):
        spatial = x.shape[2:]
        if any(-min(b, 0) - min(a, 0) >= n for (b, a), n in zip(rest, spatial)):
            raise OpError(f"{name}: padding {padding} crops all of the input {x.shape}")
        x = x[(slice(None), slice(None)) + tuple(slice(-min(b, 0), n + min(a, 0)) for (b, a), n in zip(rest, spatial))]
    if any(b > 0 or a > 0 for b, a in rest):
        x = x.pad(((0, 0), (0, 0)) + tuple((max(b, 0), max(a, 0)) for b, a in rest))
    return x, both
