"""Independent float64 references of the movement ops of ops/gather.py, ops/scatter.py and
ops/rearrange.py (used by tests/reference64.py): one loop over the elements each, from
PyTorch's definitions, sharing no code with ops/."""
import numpy as np

OPS = ("gather", "index_select", "one_hot", "scatter", "scatter_add", "scatter_reduce",
       "flip", "roll", "repeat", "tril", "triu")


def _with(coords, dim, value):
    c = list(coords)
    c[dim] = value
    return tuple(c)


def gather(x, index, dim):
    if x.ndim == 0:                                    # a 0-d input has one element, index 0
        return x.copy()
    out = np.zeros(index.shape, x.dtype)
    for c in np.ndindex(*index.shape):
        out[c] = x[_with(c, dim % x.ndim, index[c])]
    return out


def index_select(x, index, dim):
    if x.ndim == 0:
        return x.copy()
    d = dim % x.ndim
    picks = index.reshape(-1)
    out = np.zeros(x.shape[:d] + (len(picks),) + x.shape[d + 1:], x.dtype)
    for c in np.ndindex(*out.shape):
        out[c] = x[_with(c, d, picks[c[d]])]
    return out


def one_hot(index, num_classes):
    out = np.zeros(index.shape + (num_classes,), np.int64)
    for c in np.ndindex(*index.shape):
        out[c + (index[c],)] = 1
    return out


def scatter_reduce(x, index, src, dim, reduce, include_self=True):
    """Each target element's values (x[p] if include_self, and every src[c] sent to p)
    gathered in a list, then reduced: PyTorch's definition, spelled out."""
    if x.ndim == 0:
        x, index, src = x.reshape(1), index.reshape(1), src.reshape(1)
        return scatter_reduce(x, index, src, 0, reduce, include_self).reshape(())
    d = dim % x.ndim
    sent = {}
    for c in np.ndindex(*index.shape):
        sent.setdefault(_with(c, d, index[c]), []).append(src[c])
    out = x.copy()
    for p, values in sent.items():
        values = ([x[p]] if include_self else []) + values
        if reduce == "sum":
            out[p] = sum(values)
        elif reduce == "prod":
            out[p] = np.prod(values)
        elif reduce == "mean":
            out[p] = sum(values) / len(values)
        elif reduce == "amax":
            out[p] = max(values)
        elif reduce == "amin":
            out[p] = min(values)
        elif reduce == "replace":                    # scatter: the (one) value sent
            out[p] = values[-1]
    return out


def flip(x, dims):
    out = np.zeros_like(x)
    axes = {d % x.ndim for d in dims} if x.ndim else set()
    for c in np.ndindex(*x.shape):
        out[c] = x[tuple(x.shape[d] - 1 - k if d in axes else k for d, k in enumerate(c))]
    return out


def roll(x, shifts, dims=None):
    if dims is None:
        return roll(x.reshape(-1), shifts, (0,)).reshape(x.shape)
    if x.ndim == 0:              # PyTorch wraps a 0-d tensor's dims (0, -1) as those of one element
        return roll(x.reshape(1), shifts, dims).reshape(())
    total = [0] * x.ndim
    for s, d in zip(shifts, dims):
        total[d % x.ndim] += s
    out = np.zeros_like(x)
    for c in np.ndindex(*x.shape):
        out[c] = x[tuple((k - total[d]) % x.shape[d] for d, k in enumerate(c))]
    return out


def repeat(x, repeats):
    xs = x.reshape((1,) * (len(repeats) - x.ndim) + x.shape)
    out = np.zeros(tuple(r * n for r, n in zip(repeats, xs.shape)), x.dtype)
    for c in np.ndindex(*out.shape):
        out[c] = xs[tuple(k % n for k, n in zip(c, xs.shape))]
    return out


def triangle(x, diagonal, upper):
    out = np.zeros_like(x)
    for c in np.ndindex(*x.shape):
        r, k = c[-2], c[-1]
        if (k - r >= diagonal) if upper else (k - r <= diagonal):
            out[c] = x[c]
    return out


def forward(name, arrays, attrs):
    if name == "gather":
        return gather(*arrays, **attrs)
    if name == "index_select":
        return index_select(*arrays, **attrs)
    if name == "one_hot":
        return one_hot(*arrays, **attrs)
    if name == "scatter":
        return scatter_reduce(*arrays, reduce="replace", include_self=False, **attrs)
    if name == "scatter_add":
        return scatter_reduce(*arrays, reduce="sum", **attrs)
    if name == "scatter_reduce":
        return scatter_reduce(*arrays, **attrs)
    if name == "flip":
        return flip(arrays[0], **attrs)
    if name == "roll":
        return roll(arrays[0], **attrs)
    if name == "repeat":
        return repeat(arrays[0], **attrs)
    return triangle(arrays[0], attrs["diagonal"], name == "triu")
