"""Independent float64 references of the movement/reduction tail (issue t2; used by
tests/reference64.py): element by element from PyTorch's definitions, sharing no code
with ops/."""
import numpy as np

import math

OPS = ("pad_mode", "logcumsumexp", "diagonal", "unfold")


def _fold(c, n, mode):
    """Input coordinate copied by padded coordinate c (c relative to the input's start)."""
    if mode == "replicate":
        return min(max(c, 0), n - 1)
    if mode == "circular":
        while c < 0:
            c += n
        while c >= n:
            c -= n
        return c
    if c < 0:                                 # reflect: mirror at 0 without repeating it
        return -c
    if c >= n:                                # mirror at n - 1
        return (n - 1) - (c - (n - 1))
    return c


def pad_mode(x, pad_width, mode):
    out_shape = tuple(n + a + b for n, (a, b) in zip(x.shape, pad_width))
    out = np.zeros(out_shape, x.dtype)
    for c in np.ndindex(*out_shape):
        out[c] = x[tuple(_fold(j - a, n, mode) for j, n, (a, _) in zip(c, x.shape, pad_width))]
    return out


def logcumsumexp(x, axis):
    """Each row: out[k] = m + log(sum_{j <= k} exp(x[j] - m)), m the max of x[:k + 1]."""
    rows = np.moveaxis(x.reshape(1) if x.ndim == 0 else x, axis, -1)
    out = np.zeros(rows.shape)
    for pos in np.ndindex(*rows.shape[:-1]):
        row = [float(e) for e in rows[pos]]
        for k in range(len(row)):
            m = max(row[:k + 1])
            out[pos + (k,)] = m + math.log(sum(math.exp(e - m) for e in row[:k + 1]))
    return np.moveaxis(out, -1, axis if x.ndim else 0).reshape(x.shape)


def diagonal(x, offset, dim1, dim2):
    """out[rest..., i] = x[.. i - min(offset, 0) at dim1 .., i + max(offset, 0) at dim2 ..]"""
    d1, d2 = dim1 % x.ndim, dim2 % x.ndim
    rest = [d for d in range(x.ndim) if d not in (d1, d2)]
    pairs = []
    r, c = max(-offset, 0), max(offset, 0)
    while r < x.shape[d1] and c < x.shape[d2]:
        pairs.append((r, c))
        r, c = r + 1, c + 1
    out = np.zeros(tuple(x.shape[d] for d in rest) + (len(pairs),))
    for outer in np.ndindex(*[x.shape[d] for d in rest]):
        for i, (r, c) in enumerate(pairs):
            at = [0] * x.ndim
            for d, v in zip(rest, outer):
                at[d] = v
            at[d1], at[d2] = r, c
            out[outer + (i,)] = x[tuple(at)]
    return out


def unfold(x, dimension, size, step):
    """out[..., w, ..., s] = x[..., w * step + s, ...]; a 0-d x is one window of itself."""
    if x.ndim == 0:
        return np.full((size,), float(x))
    d = dimension % x.ndim
    count = (x.shape[d] - size) // step + 1
    out = np.zeros(x.shape[:d] + (count,) + x.shape[d + 1:] + (size,))
    for c in np.ndindex(*out.shape):
        src = list(c[:-1])
        src[d] = c[d] * step + c[-1]
        out[c] = x[tuple(src)]
    return out


def forward(name, arrays, attrs):
    return {"pad_mode": pad_mode, "logcumsumexp": logcumsumexp, "diagonal": diagonal,
            "unfold": unfold}[name](*arrays, **attrs)
