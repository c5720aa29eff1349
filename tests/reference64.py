"""Independent float64 references for every op, written plainly (loops where that is
clearer), NOT sharing code with the ops' own numpy references in ops/.

Each function takes the op's inputs as float64/int arrays and its attrs.
"""
import itertools

import numpy as np


def _axes(axis, ndim):
    if axis is None or ndim == 0:        # a 0-d tensor's only axes are 0 and -1: nothing to reduce
        return tuple(range(ndim))
    return tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


UNARY = {
    "neg": lambda x: -x,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "relu": lambda x: np.where(x > 0, x, 0.0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": lambda x: (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x)),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "sign": lambda x: np.where(x > 0, 1.0, np.where(x < 0, -1.0, 0.0)),
}

BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power,
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
    "gt": np.greater, "ge": np.greater_equal,
}


def clip(x, min=None, max=None):
    out = x.copy()
    if min is not None:
        out[out < min] = min
    if max is not None:
        out[out > max] = max
    return out


def reduce(name, x, axis=None, keepdims=False):
    fn = {"sum": np.sum, "max": np.max, "min": np.min}[name]
    return fn(x, axis=_axes(axis, x.ndim), keepdims=keepdims)


def arg(name, x, axis=None, keepdims=False):
    fn = np.argmax if name == "argmax" else np.argmin
    if axis is None:
        out = np.asarray(fn(x.ravel()))
        return out.reshape((1,) * x.ndim) if keepdims else out
    return fn(x, axis=axis, keepdims=keepdims)


def matmul(a, b):
    return np.einsum("...ik,...kj->...ij", a, b)


def softmax(x, axis=-1):
    if x.size == 0:                   # PyTorch: an empty result, nothing to normalise
        return x.copy()
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    return np.log(softmax(x, axis))


def cross_entropy(logits, labels, reduction="mean"):
    losses = np.array([np.log(np.sum(np.exp(row - row.max()))) + row.max() - row[t]
                       for row, t in zip(logits, labels)])
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


def conv(x, w, b=None, stride=1, padding=0):
    """Direct convolution: one dot product per output position (slow, obvious)."""
    d = x.ndim - 2
    st = (stride,) * d if isinstance(stride, int) else tuple(stride)
    pd = (padding,) * d if isinstance(padding, int) else tuple(padding)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pd])
    k = w.shape[2:]
    out = [(xp.shape[2 + i] - k[i]) // st[i] + 1 for i in range(d)]
    y = np.zeros((x.shape[0], w.shape[0], *out))
    for pos in itertools.product(*(range(o) for o in out)):
        window = xp[(slice(None), slice(None)) + tuple(slice(p * s, p * s + kk) for p, s, kk in zip(pos, st, k))]
        y[(slice(None), slice(None)) + pos] = np.tensordot(window, w, axes=(list(range(1, 2 + d)),
                                                                            list(range(1, 2 + d))))
    if b is not None:
        y += b.reshape((1, -1) + (1,) * d)
    return y


def pool(kind, x, kernel_size, stride=None, padding=0):
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
    k = pair(kernel_size)
    s = k if stride is None else pair(stride)
    p = pair(padding)
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, [(0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])], constant_values=fill)
    oh = (xp.shape[2] - k[0]) // s[0] + 1
    ow = (xp.shape[3] - k[1]) // s[1] + 1
    y = np.zeros(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]]
            y[:, :, i, j] = win.max(axis=(2, 3)) if kind == "max" else win.sum(axis=(2, 3)) / (k[0] * k[1])
    return y


def getitem(x, index):
    """x[index] with PyTorch's placement of the index dims: numpy's result, with the
    broadcast index dims moved from the front (where numpy puts them when an integer
    separates the index arrays) to where PyTorch keeps them (integers are selects, so
    index arrays adjacent once the integers are gone stay in place)."""
    out = x[index]
    items = list(index)
    is_int = [isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)) for i in items]
    is_arr = [isinstance(i, np.ndarray) for i in items]
    if not (any(is_int) and any(is_arr)):
        return out
    advanced = [k for k in range(len(items)) if is_int[k] or is_arr[k]]
    if advanced == list(range(advanced[0], advanced[-1] + 1)):
        return out                       # numpy keeps them in place as well
    rest = [k for k in range(len(items)) if not is_int[k]]            # what a select leaves
    arr_at = [j for j, k in enumerate(rest) if is_arr[k]]
    if arr_at != list(range(arr_at[0], arr_at[-1] + 1)):
        return out                       # still separated: PyTorch puts them first too
    consumed = sum(i.ndim if isinstance(i, np.ndarray) and i.dtype == np.bool_ else 1
                   for i in items if i is not None and i is not Ellipsis)
    before = 0
    for k in range(len(items)):
        if is_arr[k]:
            break
        if items[k] is Ellipsis:
            before += x.ndim - consumed
        elif not is_int[k]:
            before += 1                  # a slice or None
    width = np.broadcast(*[np.nonzero(i)[0] if i.dtype == np.bool_ else i
                           for i in items if isinstance(i, np.ndarray)]).ndim
    return np.moveaxis(out, list(range(width)), list(range(before, before + width)))


def shift(name, a, s):
    """a << s or a >> s element by element in Python integers, wrapped to a's dtype; a
    count outside [0, bits) gives 0 (<<) or the sign (>>), as PyTorch."""
    a, s = np.broadcast_arrays(a, s)
    bits = 8 * a.dtype.itemsize
    out = np.empty(a.shape, a.dtype)
    for pos in np.ndindex(a.shape):
        x, k = int(a[pos]), int(s[pos])
        if 0 <= k < bits:
            v = x << k if name == "bitwise_left_shift" else x >> k
        else:
            v = 0 if name == "bitwise_left_shift" or x >= 0 else -1
        v %= 2 ** bits                                   # wrap, as a fixed-width register
        if np.issubdtype(a.dtype, np.signedinteger) and v >= 2 ** (bits - 1):
            v -= 2 ** bits
        out[pos] = v
    return out


BITWISE = {"bitwise_and": lambda a, b: a & b, "bitwise_or": lambda a, b: a | b,
           "bitwise_xor": lambda a, b: a ^ b,
           "bitwise_not": lambda x: ~x if x.dtype != np.bool_ else x == False}  # noqa: E712


def masked_fill(x, mask, value):
    """Element by element over the broadcast shape: value where the mask is set."""
    shape = np.broadcast_shapes(x.shape, mask.shape)
    xb, mb = np.broadcast_to(x, shape), np.broadcast_to(mask, shape)
    out = np.empty(shape, x.dtype)
    for pos in np.ndindex(shape):
        out[pos] = value if mb[pos] else xb[pos]
    return out


def forward(name, arrays, attrs):
    """The float64 reference for op `name`."""
    if name == "masked_fill":
        return masked_fill(*arrays, **attrs)
    if name in BITWISE:
        return BITWISE[name](*arrays)
    if name in ("bitwise_left_shift", "bitwise_right_shift"):
        return shift(name, *arrays)
    if name in UNARY:
        return UNARY[name](arrays[0])
    if name in BINARY:
        return BINARY[name](*arrays)
    if name == "clip":
        return clip(arrays[0], **attrs)
    if name in ("sum", "max", "min"):
        return reduce(name, arrays[0], **attrs)
    if name in ("argmax", "argmin"):
        return arg(name, arrays[0], **attrs)
    if name == "matmul":
        return matmul(*arrays)
    if name == "matmul_nt":
        a, b = arrays
        return np.einsum("ik,jk->ij", a, b)
    if name == "linear":                      # y[i, j] = sum_k x[i, k] w[j, k] + b[j]
        x, w = arrays[:2]
        y = np.einsum("ik,jk->ij", x, w)
        return y + arrays[2][None, :] if len(arrays) == 3 else y
    if name == "softmax":
        return softmax(arrays[0], **attrs)
    if name == "log_softmax":
        return log_softmax(arrays[0], **attrs)
    if name == "cross_entropy":
        return cross_entropy(*arrays, **attrs)
    if name == "conv":
        return conv(*arrays, **attrs)
    if name in ("max_pool2d", "avg_pool2d"):
        return pool(name[:3], arrays[0], **attrs)
    x = arrays[0]
    if name == "reshape":
        return x.reshape(attrs["shape"])
    if name == "permute":
        return x.transpose(attrs["dims"])
    if name == "expand":
        return np.broadcast_to(x, attrs["shape"])
    if name == "getitem":
        return getitem(x, attrs["index"])
    if name == "cat":
        return np.concatenate(arrays, axis=attrs["axis"])
    if name == "pad":
        return x.copy() if x.ndim == 0 else np.pad(x, attrs["pad_width"], constant_values=attrs["value"])
    if name == "cast":
        return x.astype(attrs["dtype"])
    raise KeyError(f"no float64 reference for op {name!r}: add one to tests/reference64.py")
