"""Independent float64 references for every op, written plainly (loops where that is
clearer), NOT sharing code with the ops' own numpy references in ops/.

Each function takes the op's inputs as float64/int arrays and its attrs.
"""
import itertools
import math

import numpy as np


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
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    return np.log(softmax(x, axis))


def cross_entropy(logits, labels, reduction="mean"):
    losses = np.array([np.log(np.sum(np.exp(row - row.max()))) + row.max() - row[t]
                       for row, t in zip(logits, labels)])
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


def _per_dim(v, d):
    return (v,) * d if isinstance(v, int) else tuple(v)


def conv(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Direct convolution: one dot product per output position and group (slow, obvious)."""
    d = x.ndim - 2
    st, pd, dl = _per_dim(stride, d), _per_dim(padding, d), _per_dim(dilation, d)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in pd])
    k = w.shape[2:]
    span = [dl[i] * (k[i] - 1) + 1 for i in range(d)]
    out = [(xp.shape[2 + i] - span[i]) // st[i] + 1 for i in range(d)]
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    y = np.zeros((x.shape[0], w.shape[0], *out))
    for g in range(groups):
        for pos in itertools.product(*(range(o) for o in out)):
            window = xp[(slice(None), slice(g * cg, (g + 1) * cg)) +
                        tuple(slice(p * s, p * s + sp, dd) for p, s, sp, dd in zip(pos, st, span, dl))]
            y[(slice(None), slice(g * og, (g + 1) * og)) + pos] = np.tensordot(
                window, w[g * og:(g + 1) * og], axes=(list(range(1, 2 + d)), list(range(1, 2 + d))))
    if b is not None:
        y += b.reshape((1, -1) + (1,) * d)
    return y


def conv_transpose(x, w, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """Transposed convolution as a scatter: every input element adds x * w[tap] at
    i * stride + tap * dilation of an uncropped output, which then loses `padding` at
    each end (output_padding extends the far end only)."""
    d = x.ndim - 2
    st, pd, dl, op = (_per_dim(v, d) for v in (stride, padding, dilation, output_padding))
    k = w.shape[2:]
    cg, og = x.shape[1] // groups, w.shape[1]
    full = [(x.shape[2 + i] - 1) * st[i] + dl[i] * (k[i] - 1) + 1 + op[i] for i in range(d)]
    y = np.zeros((x.shape[0], og * groups, *full))
    for g in range(groups):
        for pos in itertools.product(*(range(n) for n in x.shape[2:])):
            for tap in itertools.product(*(range(kk) for kk in k)):
                at = tuple(p * s + t * dd for p, s, t, dd in zip(pos, st, tap, dl))
                inputs = x[(slice(None), slice(g * cg, (g + 1) * cg)) + pos]          # (N, cg)
                taps = w[(slice(g * cg, (g + 1) * cg), slice(None)) + tap]            # (cg, og)
                y[(slice(None), slice(g * og, (g + 1) * og)) + at] += inputs @ taps
    return y[(slice(None), slice(None)) + tuple(slice(p, f - p) for p, f in zip(pd, full))]


def norm(x, *params, layout, eps, affine=False, affine_stride=1, update_running=False, momentum=0.1):
    """For each statistics group q, its elements listed one by one (element i = p*Q*R + q*R + r),
    normalised with their mean and biased variance; then weight/bias of index (i // stride) % A."""
    P, Q, R = layout
    flat = x.reshape(-1)
    y = np.zeros(flat.shape)
    for q in range(Q):
        members = [p * Q * R + q * R + r for p in range(P) for r in range(R)]
        vals = flat[members]
        mu = sum(vals) / len(vals)
        var = sum((v - mu) ** 2 for v in vals) / len(vals)
        y[members] = (vals - mu) / np.sqrt(var + eps)
    if affine:
        w, b = params[0].reshape(-1), params[1].reshape(-1)
        a = [(i // affine_stride) % w.size for i in range(flat.size)]
        y = y * w[a] + b[a]
    return y.reshape(x.shape)


def _pointwise(fn, x, t):
    """fn applied element by element, in Python floats."""
    out = np.array([fn(float(a), float(b)) for a, b in zip(x.ravel(), t.ravel())])
    return out.reshape(x.shape)


def _huber(d, delta):
    return 0.5 * d * d if abs(d) < delta else delta * (abs(d) - 0.5 * delta)


POINTWISE_LOSSES = {
    "binary_cross_entropy": lambda x, t: -(t * max(math.log(x), -100) + (1 - t) * max(math.log(1 - x), -100)),
    "binary_cross_entropy_with_logits": lambda z, t: -(t * math.log(1 / (1 + math.exp(-z))) +
                                                       (1 - t) * math.log(1 - 1 / (1 + math.exp(-z)))),
    "l1_loss": lambda x, t: abs(x - t),
    "smooth_l1_loss": lambda x, t, beta=1.0: abs(x - t) if beta == 0 else _huber(x - t, beta) / beta,
    "huber_loss": lambda x, t, delta=1.0: _huber(x - t, delta),
    "kl_div": lambda x, t, log_target=False: (math.exp(t) * (t - x) if log_target else
                                              (t * (math.log(t) - x) if t > 0 else 0.0)),
}


def pool(kind, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
         divisor_override=None):
    """Every window by hand; ceil_mode as PyTorch documents it (the last window must start
    inside the input or the left padding), the average's divisor per window."""
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
    k = pair(kernel_size)
    s = k if stride is None else pair(stride)
    p = pair(padding)
    n_out = []
    for i in range(2):
        size = x.shape[2 + i] + 2 * p[i] - k[i]
        o = (-(-size // s[i]) if ceil_mode else size // s[i]) + 1
        if ceil_mode and (o - 1) * s[i] >= x.shape[2 + i] + p[i]:
            o -= 1
        n_out.append(o)
    y = np.zeros(x.shape[:2] + tuple(n_out))
    for i in range(n_out[0]):
        for j in range(n_out[1]):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            h1, w1 = min(h0 + k[0], x.shape[2] + p[0]), min(w0 + k[1], x.shape[3] + p[1])   # inside the padding
            win = x[:, :, max(h0, 0):min(h1, x.shape[2]), max(w0, 0):min(w1, x.shape[3])]
            if kind == "max":            # padding is -inf: never the maximum of a non-empty window
                y[:, :, i, j] = win.max(axis=(2, 3))
            else:
                divisor = divisor_override or ((h1 - h0) * (w1 - w0) if count_include_pad
                                               else win.shape[2] * win.shape[3])
                y[:, :, i, j] = win.sum(axis=(2, 3)) / divisor
    return y


def forward(name, arrays, attrs):
    """The float64 reference for op `name`."""
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
    if name == "norm":
        return norm(*arrays, **attrs)
    if name in POINTWISE_LOSSES:
        return _pointwise(lambda a, b: POINTWISE_LOSSES[name](a, b, **attrs), *arrays)
    if name == "conv_transpose":
        return conv_transpose(*arrays, **attrs)
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
    raise KeyError(f"no float64 reference for op {name!r}: add one to tests/reference64.py")
