"""Independent float64 references for every op, written plainly (loops where that is
clearer), NOT sharing code with the ops' own numpy references in ops/.

Each function takes the op's inputs as float64/int arrays and its attrs.
"""
import itertools
import math

import numpy as np

import reference64_movement
import reference64_tail


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
    # issue t1: inverse trigonometric and hyperbolic functions from their log/sqrt formulas
    "asin": lambda x: np.arctan(x / np.sqrt(1.0 - x * x)),
    "acos": lambda x: np.pi / 2 - np.arctan(x / np.sqrt(1.0 - x * x)),
    "atan": lambda x: np.array([math.atan(v) for v in x.ravel()]).reshape(x.shape),
    "sinh": lambda x: (np.exp(x) - np.exp(-x)) / 2, "cosh": lambda x: (np.exp(x) + np.exp(-x)) / 2,
    "asinh": lambda x: np.sign(x) * np.log(np.abs(x) + np.sqrt(x * x + 1.0)),
    "acosh": lambda x: np.log(x + np.sqrt(x * x - 1.0)),
    "atanh": lambda x: 0.5 * np.log((1.0 + x) / (1.0 - x)),
    "erf": lambda x: erf_series(x), "erfc": lambda x: 1.0 - erf_series(x),
    "selu": lambda x: 1.0507009873554804934 * np.where(x > 0, x, 1.6732632423543772848 * (np.exp(x) - 1.0)),
    "logsigmoid": lambda x: -np.log(1.0 + np.exp(-x)),
})


def activation(name, x, **attrs):
    """The activations with arguments, from their definitions."""
    if name == "leaky_relu":
        return np.where(x > 0, x, attrs["negative_slope"] * x)
    if name == "elu":
        return np.where(x > 0, x, attrs["alpha"] * (np.exp(x) - 1.0))
    if name == "celu":
        return np.where(x > 0, x, attrs["alpha"] * (np.exp(x / attrs["alpha"]) - 1.0))
    if name == "softplus":
        bx = attrs["beta"] * x
        return np.where(bx > attrs["threshold"], x, np.log(1.0 + np.exp(bx)) / attrs["beta"])
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
    if name == "remainder":                  # a - floor(a / b) b: of b's sign
        return a - np.floor(a / b) * b
    if name == "fmod":                       # a - trunc(a / b) b: of a's sign
        q = a / b
        return a - np.where(q < 0, np.ceil(q), np.floor(q)) * b
    if name == "atan2":
        a, b = np.broadcast_arrays(a, b)
        return np.array([math.atan2(y, x) for y, x in zip(a.ravel(), b.ravel())]).reshape(a.shape)
    if name == "logaddexp":
        return np.log(np.exp(a) + np.exp(b))
    if name == "logaddexp2":
        return np.log2(2.0 ** a + 2.0 ** b)
    if name == "pow_int":                    # Python's exact integer power, one element at a time
        a, b = np.broadcast_arrays(a, b)
        out = [int(x) ** int(y) if y >= 0 else (1 if x == 1 else (-1) ** int(y) if x == -1 else 0)
               for x, y in zip(a.ravel(), b.ravel())]
        return np.array([(v + 2**63) % 2**64 - 2**63 for v in out], np.int64).reshape(a.shape)  # int64 wrap
    if name in ("logical_and", "logical_or", "logical_xor"):
        ta, tb = a != 0, b != 0
        return {"logical_and": ta & tb, "logical_or": ta | tb, "logical_xor": ta != tb}[name]
    if name == "where":
        return np.where(a, b, arrays[2])
    if name == "lerp":
        return a + arrays[2] * (b - a)
    raise KeyError(name)


ACTIVATIONS_WITH_ARGS = ("leaky_relu", "elu", "hardtanh", "gelu", "celu", "softplus")
ELEMENTWISE = ("maximum", "minimum", "copysign", "div_floor", "div_trunc", "logical_and", "logical_or",
               "logical_xor", "where", "lerp", "remainder", "fmod", "atan2", "logaddexp", "logaddexp2", "pow_int")

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
    if x.size == 0:                   # PyTorch: an empty result, nothing to normalise
        return x.copy()
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    return np.log(softmax(x, axis))


def cross_entropy(logits, labels, reduction="mean"):
    losses = np.array([np.log(np.sum(np.exp(row - row.max()))) + row.max() - row[t]
                       for row, t in zip(logits, labels)])
    with np.errstate(invalid="ignore", divide="ignore"):     # no labels: a NaN mean, as PyTorch
        mean = losses.sum() / len(losses) if len(losses) else np.float64("nan")
    return {"mean": mean, "sum": losses.sum(), "none": losses}[reduction]


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


def pool(kind, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, count_include_pad=True,
         divisor_override=None):
    """Every window by hand, element by element, in 1-3 dims; ceil_mode as PyTorch documents
    it (the last window must start inside the input or the near padding), the average's
    divisor per window. padding: per dim, or tinygrad's (before, after) per dim, last dim
    first. kind "idx": max pooling's flat index of the first maximum (the last NaN)."""
    d = x.ndim - 2
    each = lambda v: (v,) * d if isinstance(v, int) else tuple(v)
    k, dil = each(kernel_size), each(dilation)
    s = k if stride is None else each(stride)
    p = each(padding)
    pads = [(p[i], p[i]) for i in range(d)] if len(p) == d else [(p[2 * (d - 1 - i)], p[2 * (d - 1 - i) + 1])
                                                                  for i in range(d)]
    n_out = []
    for i in range(d):
        size = x.shape[2 + i] + pads[i][0] + pads[i][1] - dil[i] * (k[i] - 1) - 1
        o = (-(-size // s[i]) if ceil_mode else size // s[i]) + 1
        if ceil_mode and (o - 1) * s[i] >= x.shape[2 + i] + pads[i][0]:
            o -= 1
        n_out.append(o)
    y = np.zeros(x.shape[:2] + tuple(n_out))
    for nc in itertools.product(range(x.shape[0]), range(x.shape[1])):
        for out in itertools.product(*(range(o) for o in n_out)):
            values, flat, counted = [], [], 1
            for tap in itertools.product(*(range(kk) for kk in k)):
                at = [o * ss - pb + t * dl for o, ss, (pb, _), t, dl in zip(out, s, pads, tap, dil)]
                if all(0 <= a < n for a, n in zip(at, x.shape[2:])):
                    values.append(x[nc + tuple(at)])
                    flat.append(int(np.ravel_multi_index(at, x.shape[2:])))
            if kind == "avg":
                for i in range(d):
                    lo = out[i] * s[i] - pads[i][0]
                    hi = min(lo + k[i], x.shape[2 + i] + pads[i][1])
                    if not count_include_pad:
                        lo, hi = max(lo, 0), min(hi, x.shape[2 + i])
                    counted *= hi - lo
                y[nc + out] = sum(values) / (divisor_override or counted)
                continue
            best = 0
            for j, v in enumerate(values):
                if v != v or v > values[best]:
                    best = j
            y[nc + out] = flat[best] if kind == "idx" else values[best]
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
        kept_shape = [x.shape[d] for d in kept]
        reduced = int(np.prod([x.shape[d] for d in axes]))   # explicit: -1 is ambiguous once a dim is 0
        rows = np.transpose(x, kept + list(axes)).reshape(int(np.prod(kept_shape)), reduced)
        fn = any if name == "any" else all                   # an empty row: any() False, all() True
        out = np.array([fn(bool(e != 0) for e in row) for row in rows], dtype=bool).reshape(kept_shape)
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
        m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)   # an empty row: m = -inf, log(0) = -inf
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
        return out if attrs["keepdims"] else np.squeeze(out, axis=axis)
    if name in ("argmax", "argmin"):
        return arg(name, arrays[0], **attrs)
    if name == "matmul":
        return matmul(*arrays)
    if name == "matmul_int":                  # exact in Python ints, then the low bits of the dtype
        a, b = arrays
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a, b = np.broadcast_to(a, batch + a.shape[-2:]), np.broadcast_to(b, batch + b.shape[-2:])
        out = np.zeros(batch + (a.shape[-2], b.shape[-1]), a.dtype)
        bits = 8 * a.dtype.itemsize
        for pos in itertools.product(*(range(n) for n in out.shape)):
            *bt, i, j = pos
            total = sum(int(a[(*bt, i, k)]) * int(b[(*bt, k, j)]) for k in range(a.shape[-1])) % 2 ** bits
            if a.dtype.kind == "i" and total >= 2 ** (bits - 1):
                total -= 2 ** bits
            out[pos] = total
        return out
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
    if name.startswith(("max_pool", "avg_pool")):    # max_pool1d ... avg_pool3d, max_pool_indices
        return pool("idx" if name.endswith("indices") else name[:3], arrays[0], **attrs)
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
    if name in reference64_movement.OPS:       # issue 11: tests/reference64_movement.py
        return reference64_movement.forward(name, arrays, attrs)
    if name in reference64_tail.OPS:           # issue t2: tests/reference64_tail.py
        return reference64_tail.forward(name, arrays, attrs)
    raise KeyError(f"no float64 reference for op {name!r}: add one to tests/reference64.py")
