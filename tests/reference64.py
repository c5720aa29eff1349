"""Independent float64 references for every op, written plainly (loops where that is
clearer), NOT sharing code with the ops' own numpy references in ops/.

Each function takes the op's inputs as float64/int arrays and its attrs.
"""
import itertools

import numpy as np

import reference64_movement
import reference64_tail


def _axes(axis, ndim):
    if axis is None:
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



def erf_series(x):
    """erf by its Taylor series, 2/sqrt(pi) sum (-1)^n x^(2n+1) / (n! (2n+1)): accurate to
    ~1e-13 for |x| <= 3.5 in float64 (the tests sample gelu on [-3, 3])."""
    total, term = np.zeros_like(x), x.copy()          # term = (-1)^n x^(2n+1) / n!
    for n in range(120):
        total += term / (2 * n + 1)
        term = -term * x * x / (n + 1)
    return 2 / np.sqrt(np.pi) * total


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


UNARY.update({
    "silu": lambda x: x / (1.0 + np.exp(-x)),
    "hardsigmoid": lambda x: np.array([0.0 if v <= -3 else 1.0 if v >= 3 else v / 6 + 0.5 for v in x.ravel()]).reshape(x.shape),
    "hardswish": lambda x: np.array([0.0 if v <= -3 else v if v >= 3 else v * (v + 3) / 6 for v in x.ravel()]).reshape(x.shape),
    "softsign": lambda x: x / (1.0 + np.abs(x)),
    "mish": lambda x: x * np.tanh(np.log(1.0 + np.exp(x))),
    "sin": np.sin, "cos": np.cos, "tan": lambda x: np.sin(x) / np.cos(x),
    "exp2": lambda x: 2.0 ** x, "log2": lambda x: np.log(x) / np.log(2.0),
    "log1p": lambda x: np.log(1.0 + x),
    "expm1": lambda x: np.exp(x) - 1.0,
    "rsqrt": lambda x: 1.0 / np.sqrt(x), "reciprocal": lambda x: 1.0 / x, "square": lambda x: x * x,
    "floor": np.floor, "ceil": np.ceil, "trunc": lambda x: np.sign(x) * np.floor(np.abs(x)),
    "round": lambda x: np.array([float(round(v)) for v in x.ravel()]).reshape(x.shape),   # Python: halves to even
    "isnan": lambda x: x != x, "isinf": lambda x: np.abs(x) == np.inf,
    "isfinite": lambda x: (x == x) & (np.abs(x) != np.inf),
    "logical_not": lambda x: x == 0,
})


def activation(name, x, **attrs):
    """The activations with arguments, from their definitions."""
    if name == "leaky_relu":
        return np.where(x > 0, x, attrs["negative_slope"] * x)
    if name == "elu":
        return np.where(x > 0, x, attrs["alpha"] * (np.exp(x) - 1.0))
    if name == "hardtanh":
        return np.minimum(np.maximum(x, attrs["min_val"]), attrs["max_val"])
    if name == "gelu" and attrs["approximate"] == "tanh":
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))
    if name == "gelu":
        return x * 0.5 * (1.0 + erf_series(x / np.sqrt(2.0)))
    raise KeyError(name)


def elementwise(name, arrays):
    """maximum ... lerp: issue 11's ops of two and three tensors."""
    a, b = arrays[:2]
    if name == "maximum":
        return np.where(a >= b, a, b)
    if name == "minimum":
        return np.where(a <= b, a, b)
    if name == "copysign":
        return np.abs(a) * np.where(np.signbit(b), -1.0, 1.0)
    if name == "div_floor":
        return np.floor(a / b)
    if name == "div_trunc":
        q = a / b
        return np.where(q < 0, np.ceil(q), np.floor(q))
    if name in ("logical_and", "logical_or", "logical_xor"):
        ta, tb = a != 0, b != 0
        return {"logical_and": ta & tb, "logical_or": ta | tb, "logical_xor": ta != tb}[name]
    if name == "where":
        return np.where(a, b, arrays[2])
    if name == "lerp":
        return a + arrays[2] * (b - a)
    raise KeyError(name)


ACTIVATIONS_WITH_ARGS = ("leaky_relu", "elu", "hardtanh", "gelu")
ELEMENTWISE = ("maximum", "minimum", "copysign", "div_floor", "div_trunc", "logical_and", "logical_or",
               "logical_xor", "where", "lerp")

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
    fn = {"sum": np.sum, "max": np.max, "min": np.min, "prod": np.prod}[name]
    return fn(x, axis=_axes(axis, x.ndim), keepdims=keepdims)


def arg(name, x, axis=None, keepdims=False):
    fn = np.argmax if name == "argmax" else np.argmin
    if axis is None:
        out = np.asarray(fn(x.ravel()))
        return out.reshape((1,) * x.ndim) if keepdims else out
    return fn(x, axis=axis, keepdims=keepdims)


def scan(name, x, axis):
    """Running sum / product / index of the max or min, one row at a time in Python."""
    shape = x.shape
    rows = np.moveaxis(x.reshape(1) if x.ndim == 0 else x, axis, -1)
    out = np.zeros(rows.shape, np.int64 if name.startswith("arg") else np.float64)
    for pos in itertools.product(*(range(n) for n in rows.shape[:-1])):
        acc, best = None, None
        for r, e in enumerate(rows[pos]):
            if name == "cumsum":
                acc = e if acc is None else acc + e
            elif name == "cumprod":
                acc = e if acc is None else acc * e
            else:                            # ties and NaN: the later index wins (PyTorch)
                later = best is None or np.isnan(e) or (not np.isnan(best[0]) and
                                                        (e >= best[0] if name == "argcummax" else e <= best[0]))
                if later:
                    best = (e, r)
                acc = best[1]
            out[pos + (r,)] = acc
    return np.moveaxis(out, -1, axis if x.ndim else 0).reshape(shape)


def sort_order(x, axis, descending):
    """Python's stable sorted() on each row: NaN the largest value, ties by position."""
    shape = x.shape
    rows = np.moveaxis(x.reshape(1) if x.ndim == 0 else x, axis, -1)
    out = np.zeros(rows.shape, np.int64)
    for pos in itertools.product(*(range(n) for n in rows.shape[:-1])):
        row = list(rows[pos])
        if descending:
            key = lambda r: (0 if np.isnan(row[r]) else 1, 0.0 if np.isnan(row[r]) else -row[r])
        else:
            key = lambda r: (1 if np.isnan(row[r]) else 0, 0.0 if np.isnan(row[r]) else row[r])
        out[pos] = sorted(range(len(row)), key=key)
    return np.moveaxis(out, -1, axis if x.ndim else 0).reshape(shape)


def matmul(a, b):
    return np.einsum("...ik,...kj->...ij", a, b)


def softmax(x, axis=-1):
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


def forward(name, arrays, attrs):
    """The float64 reference for op `name`."""
    if name in UNARY:
        return UNARY[name](arrays[0])
    if name in BINARY:
        return BINARY[name](*arrays)
    if name in ACTIVATIONS_WITH_ARGS:
        return activation(name, arrays[0], **attrs)
    if name in ELEMENTWISE:
        return elementwise(name, arrays)
    if name == "clip":
        return clip(arrays[0], **attrs)
    if name in ("sum", "max", "min", "prod"):
        return reduce(name, arrays[0], **attrs)
    if name in ("any", "all"):               # nonzero-ness, reduced by Python's any/all per output
        x, axes = arrays[0], _axes(attrs["axis"], arrays[0].ndim)
        kept = [d for d in range(x.ndim) if d not in axes]
        moved = np.transpose(x, kept + list(axes)).reshape([x.shape[d] for d in kept] + [-1])
        fn = any if name == "any" else all
        out = np.array([fn(bool(e != 0) for e in row) for row in
                        moved.reshape(int(np.prod(moved.shape[:-1])), moved.shape[-1])],
                       dtype=bool).reshape(moved.shape[:-1])
        if attrs["keepdims"]:
            out = out.reshape([1 if d in axes else x.shape[d] for d in range(x.ndim)])
        return out
    if name in ("cumsum", "cumprod", "argcummax", "argcummin"):
        return scan(name, arrays[0], attrs["axis"])
    if name in ("argsort", "argtopk"):
        descending = attrs.get("descending", attrs.get("largest"))
        order = sort_order(arrays[0], attrs["axis"], descending)
        if name == "argtopk":
            axis = attrs["axis"] % max(arrays[0].ndim, 1)
            order = np.take(order, range(attrs["k"]), axis=axis) if arrays[0].ndim else order
        return order
    if name == "values_at":                  # out[..., j, ...] = x[..., idx[..., j, ...], ...]
        x, idx = arrays
        if x.ndim == 0:
            return x.copy()
        axis = attrs["axis"] % x.ndim
        out = np.zeros(idx.shape)
        for pos in itertools.product(*(range(n) for n in idx.shape)):
            src = list(pos)
            src[axis] = idx[pos]
            out[pos] = x[tuple(src)]
        return out
    if name == "logsumexp":                  # plain: the row max taken out by hand
        x, axis = arrays[0], attrs["axis"]
        m = np.max(x, axis=axis, keepdims=True)
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
        return out if attrs["keepdims"] else np.squeeze(out, axis=axis)
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
        return x[attrs["index"]]
    if name == "cat":
        return np.concatenate(arrays, axis=attrs["axis"])
    if name == "pad":
        return np.pad(x, attrs["pad_width"], constant_values=attrs["value"])
    if name == "cast":
        return x.astype(attrs["dtype"])
    if name in reference64_movement.OPS:       # issue 11: tests/reference64_movement.py
        return reference64_movement.forward(name, arrays, attrs)
    if name in reference64_tail.OPS:           # issue t2: tests/reference64_tail.py
        return reference64_tail.forward(name, arrays, attrs)
    raise KeyError(f"no float64 reference for op {name!r}: add one to tests/reference64.py")
