"""Max and average pooling in 1, 2 or 3 spatial dims over (N, C, *spatial): kernel,
stride (default: kernel), padding, ceil_mode; max pooling also dilation, average pooling
count_include_pad and divisor_override, as PyTorch's F.max_pool*d / F.avg_pool*d.

padding: one int or one per spatial dim (PyTorch: both sides, at most half the kernel),
or tinygrad's per-side form of 2 * dims ints (before, after) for the LAST dim first, as
F.pad (no half-kernel limit). Max pooling keeps, per window, the flat index of its first
maximum in the input plane (PyTorch's return_indices; a NaN replaces anything, as
PyTorch) and sends the window's gradient there; padding is never chosen (a window of
padding only has the value -inf (the dtype's lowest for ints) and index -1). ceil_mode
rounds the output size up, so the last window may hang over the padded input (never
starting in the far padding): that overhang is ignored. Average pooling divides by the
window's part inside the padded input (count_include_pad=True, the default: the kernel
size except for ceil_mode's last windows), by its part inside the input itself (False),
or by divisor_override.
numpy reference: one strided view per window offset (tap_views), no loops over pixels.
Kernels: ops/pool.cu, one thread per output element (forward) or per input element
(backward, which gathers from the windows that cover it, so no atomics are needed).
"""
import itertools
from typing import NamedTuple

import numpy as np

from tinygrad_cu.op import Meta, Op, register

from . import cpu_parallel

SOURCE = "pool.cu"
INT_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))      # max pooling's too, as PyTorch
KERNEL_SUFFIX = {np.dtype(np.int32): "_i32", np.dtype(np.int64): "_i64"}   # float32: no suffix


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def per_dim(op, value, d, what, per_side=False):
    """One int, or a tuple/list of d ints (or, with per_side, of 2 * d) -> a tuple; anything
    else is an error naming the op (a 3-element padding once reached the kernel as an
    extra argument)."""
    t = (value,) * d if _is_int(value) else tuple(value) if isinstance(value, (tuple, list)) else None
    forms = f"an int or a tuple of {d} ints" + (f" (or {2 * d}, per side)" if per_side else "")
    if t is None or not all(_is_int(i) for i in t):
        raise TypeError(f"{op}: {what} must be {forms}, got {value!r}")
    if len(t) != d and not (per_side and len(t) == 2 * d):
        raise ValueError(f"{op}: {what} must be {forms}, got {value!r}")
    return tuple(int(i) for i in t)


class Geometry(NamedTuple):
    """One pool's shape: per spatial dim the kernel, stride, (before, after) padding,
    dilation and output size."""
    k: tuple
    s: tuple
    pads: tuple
    dil: tuple
    out: tuple


def pooled_size(n, k, s, before, after, dil, ceil_mode):
    """PyTorch's output size: floor or ceil of (n + padding - extent) / s, plus 1; in ceil
    mode the last window must start inside the input or the near padding."""
    out = (n + before + after - dil * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + before:
        out -= 1
    return out


def pool_geometry(op, shape, d, kernel_size, stride, padding, dilation=1, ceil_mode=False):
    k = per_dim(op, kernel_size, d, "kernel_size")
    s = k if stride is None else per_dim(op, stride, d, "stride")
    p = per_dim(op, padding, d, "padding", per_side=True)
    dil = per_dim(op, dilation, d, "dilation")
    if len(shape) != d + 2:
        raise ValueError(f"{op}: expected input (N, C, *spatial) with {d} spatial dims, got {shape}")
    if 0 in shape[1:]:            # PyTorch's pool shape check: only the batch may be empty
        raise ValueError(f"{op}: expected input (N, C, *spatial) with an optional 0 batch size but C and "
                         f"the spatial dims non-zero, got {shape}")
    if min(k) < 1 or min(s) < 1 or min(dil) < 1 or min(p) < 0:
        raise ValueError(f"{op}: kernel_size {k}, stride {s} and dilation {dil} must be >= 1 and "
                         f"padding {p} >= 0")
    if len(p) == d:
        if any(pp > kk // 2 for pp, kk in zip(p, k)):     # PyTorch's rule (RuntimeError there)
            raise ValueError(f"{op}: pad should be at most half of kernel size, got padding {p} "
                             f"and kernel_size {k}")
        pads = tuple((pp, pp) for pp in p)
    else:                                                  # tinygrad's per side, last dim first
        pads = tuple((p[2 * i], p[2 * i + 1]) for i in reversed(range(d)))
    out = tuple(pooled_size(n, kk, ss, b, a, dl, ceil_mode)
                for n, kk, ss, (b, a), dl in zip(shape[2:], k, s, pads, dil))
    if min(out) < 1:
        raise ValueError(f"{op}: kernel {k} (dilation {dil}) is larger than the padded input {shape}")
    return Geometry(k, s, pads, dil, out)


def padded(x, g, fill):
    """x (N, C, *S) with each dim's padding of `fill`, and at the far side the rows
    ceil_mode's last windows reach past it, so every tap view fits."""
    ends = [max(a, (o - 1) * s + dl * (k - 1) + 1 - n - b)
            for n, k, s, (b, a), dl, o in zip(x.shape[2:], g.k, g.s, g.pads, g.dil, g.out)]
    if not any(b for b, _ in g.pads) and not any(ends):
        return x
    xp = np.full(x.shape[:2] + tuple(n + b + e for n, (b, _), e in zip(x.shape[2:], g.pads, ends)), fill, x.dtype)
    xp[(slice(None),) * 2 + tuple(slice(b, b + n) for n, (b, _) in zip(x.shape[2:], g.pads))] = x
    return xp


def tap_views(a, g):
    """For each window offset (in row-major order over the kernel), the strided view of
    the padded array `a` that holds that offset of every window: shape (N, C, *out).
    Pooling then loops over the kernel's taps, never over pixels."""
    for tap in itertools.product(*(range(k) for k in g.k)):
        yield a[(slice(None),) * 2 + tuple(slice(t * dl, t * dl + s * (o - 1) + 1, s)
                                           for t, dl, s, o in zip(tap, g.dil, g.s, g.out))]


def flat_indices(x_shape, g, arg):
    """The window offsets `arg` (N, C, *out) -> flat indices into the input plane, PyTorch's
    return_indices; -1 where the offset is padding (a window of padding only)."""
    flat = np.zeros(arg.shape, np.int64)
    inside = np.ones(arg.shape, bool)
    rest, step = arg.astype(np.int64), 1
    for i in reversed(range(len(g.k))):
        tap, rest = rest % g.k[i], rest // g.k[i]
        base = (np.arange(g.out[i]) * g.s[i] - g.pads[i][0]).reshape((-1,) + (1,) * (len(g.k) - 1 - i))
        pos = base + tap * g.dil[i]
        inside &= (pos >= 0) & (pos < x_shape[2 + i])
        flat += pos * step
        step *= x_shape[2 + i]
    return np.where(inside, flat, -1)


def scatter_taps(x_shape, g, grad_at_tap, dtype):
    """The adjoint of tap_views: put each offset's gradient (N, C, *out) back into x.
    grad_at_tap(tap, start, stop, dest) writes (or, with dest=None, returns) images
    start:stop of that offset's gradient; the cpu threads each do their own images.
    Where windows cannot overlap (stride >= the dilated kernel's extent) each input is
    in at most one window, so gradients are written straight into dx instead of added
    (LeNet's 2x2 pools); where they also tile the input exactly, dx needs no zeroing."""
    n, c = x_shape[:2]
    spatial = tuple(x_shape[2:])
    disjoint = all(s >= dl * (k - 1) + 1 for s, k, dl in zip(g.s, g.k, g.dil))
    tiled = disjoint and g.s == g.k and set(g.dil) == {1} and not any(b or a for b, a in g.pads) and \
        tuple(o * s for o, s in zip(g.out, g.s)) == spatial
    dx = np.empty(x_shape, dtype)
    interior = (slice(None),) * 2 + tuple(slice(b, b + m) for m, (b, _) in zip(spatial, g.pads))

    def work(start, stop):
        dxp = dx[start:stop] if tiled else padded(np.zeros((stop - start, c) + spatial, dtype), g, 0)
        for tap, view in enumerate(tap_views(dxp, g)):
            if disjoint:
                grad_at_tap(tap, start, stop, dest=view)
            else:
                view += grad_at_tap(tap, start, stop, dest=None)
        if not tiled:
            np.copyto(dx[start:stop], dxp[interior])
    cpu_parallel.for_batch(n, work, int(np.prod(x_shape[1:])))
    return dx


def window_divisors(shape, g, count_include_pad, divisor_override):
    """(*out) divisors of average pooling, PyTorch's rule: each window clipped to the
    padded input (count_include_pad) or to the input itself."""
    if divisor_override:
        return np.full(g.out, float(divisor_override))
    total = np.ones(g.out)
    for i, (n, k, s, (b, a), o) in enumerate(zip(shape[2:], g.k, g.s, g.pads, g.out)):
        start = np.arange(o) * s - b
        end = np.minimum(start + k, n + a)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        total = total * (end - start).reshape((-1,) + (1,) * (len(g.k) - 1 - i))
    return total


def lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def window_argmax(x, g):
    """(y, arg): each window's first maximum (a NaN replaces anything, as PyTorch: the
    last NaN) and its offset in the window; padding never wins over an input element."""
    y = np.empty(x.shape[:2] + g.out, x.dtype)
    arg = np.empty(y.shape, np.int16 if np.prod(g.k) < 2 ** 15 else np.int32)   # small: backward reads it per tap

    def work(start, stop):
        ys, args = y[start:stop], arg[start:stop]
        low = lowest(x.dtype)
        views = list(tap_views(padded(x[start:stop], g, low), g))
        np.copyto(ys, views[0])
        args[...] = 0
        larger, candidate = np.empty(ys.shape, bool), np.empty(ys.shape, arg.dtype)
        for tap, v in enumerate(views[1:], 1):
            # strictly larger: on ties the earlier offset stays. args = max(args, larger * tap)
            # keeps the latest larger offset (offsets only grow) without a masked copy,
            # whose branches cost 30x more on random data
            np.greater(v, ys, out=larger)
            np.multiply(larger, arg.dtype.type(tap), out=candidate)
            np.maximum(args, candidate, out=args)
            np.maximum(ys, v, out=ys)                   # NaN wins, as numpy's max
        if x.dtype.kind == "f" and np.isnan(ys).any():  # then the last NaN is the argmax
            for tap, v in enumerate(views):
                np.copyto(args, tap, where=np.isnan(v))
        floor = ys == low      # the window's maximum may be padding: take its first input instead
        if floor.any():
            inside = list(tap_views(padded(np.ones(ys.shape[:2] + x.shape[2:], bool), g, False), g))
            for tap, v in reversed(list(enumerate(inside))):
                np.copyto(args, tap, where=floor & v)
    cpu_parallel.for_batch(x.shape[0], work, int(np.prod(x.shape[1:])))
    return y, arg


def launch_config(gpu, n):
    """The one place pooling kernels get their launch configuration: one thread per
    element (output for forward, input for backward) in a grid-stride loop."""
    return gpu.grid_1d(n, block=256)


def geometry_table(gpu, shape, g):
    """The kernels' geometry (ops/pool.cu PoolGeometry): planes, then per dim (D, H, W;
    leading size-1 dims for 1-D and 2-D) size, out, kernel, stride, pad, pad_end, dilation."""
    lead = 3 - len(g.k)
    rows = [tuple(shape[2:]), g.out, g.k, g.s, tuple(b for b, _ in g.pads), tuple(a for _, a in g.pads), g.dil]
    fills = [1, 1, 1, 1, 0, 0, 1]
    table = [shape[0] * shape[1]] + [v for row, f in zip(rows, fills) for v in (f,) * lead + tuple(row)]
    return gpu.table(np.array(table, np.int64))


class Pool(Op):
    d = 2                   # spatial dims (MaxPool1d ... AvgPool3d set it)
    saves = ()

    def check_dtype(self, x):
        self.check_float(x)

    def infer(self, x, kernel_size, stride=None, padding=0, ceil_mode=False, **options):
        self.check_dtype(x)
        self.check_options(**options)
        g = pool_geometry(self.name, x.shape, self.d, kernel_size, stride, padding, options.get("dilation", 1),
                          ceil_mode)
        return Meta(x.shape[:2] + g.out, x.dtype)

    def check_options(self):
        pass

    def geometry(self, shape, kernel_size, stride, padding, ceil_mode, dilation=1):
        return pool_geometry(self.name, shape, self.d, kernel_size, stride, padding, dilation, ceil_mode)


class MaxPool(Pool):
    """CUDA: max_pool_forward(x, y, index, table) and max_pool_backward(grad, index, dx, table)."""
    kernels = ("max_pool_forward", "max_pool_backward", "max_pool_forward_i32", "max_pool_forward_i64")
    float_only = False

    def check_dtype(self, x):
        if x.dtype not in INT_DTYPES:
            self.check_float(x)

    def check_options(self, dilation=1):
        pass                    # checked with the geometry

    def forward(self, ctx, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        g = self.geometry(x.shape, kernel_size, stride, padding, ceil_mode, dilation)
        y, arg = window_argmax(x, g)
        ctx.save(argmax=arg)
        return y

    def backward(self, ctx, grad, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        shape = ctx.input_metas[0].shape
        g = self.geometry(shape, kernel_size, stride, padding, ceil_mode, dilation)
        arg = ctx.saved["argmax"]
        # gradient * (argmax == tap): no branches; np.where only where an inf or NaN
        # gradient must not leak into the other offsets of its window (inf * 0 = NaN)
        finite = bool(np.isfinite(grad).all())
        zero = grad.dtype.type(0)

        def at_tap(tap, start, stop, dest):
            g_, chosen = grad[start:stop], arg[start:stop] == tap
            if finite:
                return np.multiply(g_, chosen, out=dest)
            picked = np.where(chosen, g_, zero)
            return picked if dest is None else np.copyto(dest, picked)
        return (scatter_taps(shape, g, at_tap, grad.dtype),)

    def gpu_forward(self, gpu, ctx, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        kernel = "max_pool_forward" + KERNEL_SUFFIX.get(x.dtype, "")
        gpu.require_dtype(self.name, x, dtype=x.dtype if x.dtype in KERNEL_SUFFIX else np.float32)
        g = self.geometry(x.shape, kernel_size, stride, padding, ceil_mode, dilation)
        y = gpu.empty(x.shape[:2] + g.out, x.dtype)
        index = gpu.empty(y.shape, np.int64)            # each window's choice, for the backward
        ctx.save(index=index)
        if y.size:
            grid, block = launch_config(gpu, y.size)
            gpu.launch(SOURCE, kernel, grid, block, x, y, index, geometry_table(gpu, x.shape, g))
        return y

    def gpu_backward(self, gpu, ctx, grad, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        shape = ctx.input_metas[0].shape
        gpu.require_dtype(self.name, grad)
        g = self.geometry(shape, kernel_size, stride, padding, ceil_mode, dilation)
        dx = gpu.empty(shape, grad.dtype)
        if dx.size:
            grid, block = launch_config(gpu, dx.size)
            gpu.launch(SOURCE, "max_pool_backward", grid, block, grad, ctx.saved["index"], dx,
                       geometry_table(gpu, shape, g))
        return (dx,)


@register
class MaxPool1d(MaxPool):
    name, d = "max_pool1d", 1
    test_attrs = (dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, stride=1, dilation=3),
                  dict(kernel_size=3, stride=2, padding=(0, 2)))                   # per side


@register
class MaxPool2d(MaxPool):
    name, d = "max_pool2d", 2
    test_attrs = (dict(kernel_size=2, stride=None, padding=0), dict(kernel_size=3, stride=2, padding=1),
                  dict(kernel_size=(2, 3), stride=(1, 2), padding=0),
                  dict(kernel_size=3, stride=2, padding=(0, 1), ceil_mode=True),   # the last rows overhang
                  dict(kernel_size=(2, 2), stride=(2, 3), dilation=(3, 2)),
                  dict(kernel_size=3, stride=2, padding=(0, 1, 2, 1)))             # per side, last dim first


@register
class MaxPool3d(MaxPool):
    name, d = "max_pool3d", 3
    test_attrs = (dict(kernel_size=2, stride=None, padding=0), dict(kernel_size=(3, 2, 2), stride=2, padding=1,
                                                                     dilation=(1, 2, 1), ceil_mode=True))


@register
class MaxPoolIndices(Op):
    """F.max_pool*d(return_indices=True)'s second result: each window's flat index in the
    input plane (int64, PyTorch's), by the max pool's own window walk. Not differentiable."""
    name = "max_pool_indices"
    differentiable = False
    float_only = False
    saves = ()
    kernels = ("max_pool_indices", "max_pool_indices_i32", "max_pool_indices_i64")
    test_attrs = (dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=(3, 2), dilation=(2, 3)),
                  dict(kernel_size=2, stride=2, ceil_mode=True))

    def infer(self, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        if x.dtype not in INT_DTYPES:
            self.check_float(x)
        d = len(x.shape) - 2
        if d not in (1, 2, 3):
            raise ValueError(f"max_pool_indices: expected input (N, C, *spatial) with 1-3 spatial dims, got {x.shape}")
        g = pool_geometry(self.name, x.shape, d, kernel_size, stride, padding, dilation, ceil_mode)
        return Meta(x.shape[:2] + g.out, np.dtype(np.int64))

    def forward(self, ctx, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        g = pool_geometry(self.name, x.shape, x.ndim - 2, kernel_size, stride, padding, dilation, ceil_mode)
        return flat_indices(x.shape, g, window_argmax(x, g)[1])

    def gpu_forward(self, gpu, ctx, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        kernel = "max_pool_indices" + KERNEL_SUFFIX.get(x.dtype, "")
        gpu.require_dtype(self.name, x, dtype=x.dtype if x.dtype in KERNEL_SUFFIX else np.float32)
        g = pool_geometry(self.name, x.shape, len(x.shape) - 2, kernel_size, stride, padding, dilation, ceil_mode)
        index = gpu.empty(x.shape[:2] + g.out, np.int64)
        if index.size:
            grid, block = launch_config(gpu, index.size)
            gpu.launch(SOURCE, kernel, grid, block, x, index, geometry_table(gpu, x.shape, g))
        return index


class AvgPool(Pool):
    """CUDA: avg_pool_forward(x, y, table, count_include_pad, divisor_override) and
    avg_pool_backward(grad, dx, table, ...)."""
    kernels = ("avg_pool_forward", "avg_pool_backward")

    def check_options(self, count_include_pad=True, divisor_override=None):
        if divisor_override is not None and (not _is_int(divisor_override) or divisor_override < 1):
            raise ValueError(f"{self.name}: divisor_override must be a positive int or None, got {divisor_override!r}")

    def divisors(self, shape, g, ceil_mode, count_include_pad, divisor_override, dtype):
        plain = not ceil_mode and count_include_pad and not divisor_override and \
            all(b == a for b, a in g.pads)
        if plain:
            return dtype.type(np.prod(g.k))
        return window_divisors(shape, g, count_include_pad, divisor_override).astype(dtype)

    def forward(self, ctx, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        # the sum of one strided view of x per window offset: ~10x faster in numpy than a
        # mean over the kernel axes of a window view
        g = self.geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        total = np.empty(x.shape[:2] + g.out, x.dtype)
        divisor = self.divisors(x.shape, g, ceil_mode, count_include_pad, divisor_override, x.dtype)

        def work(start, stop):
            views = list(tap_views(padded(x[start:stop], g, 0), g))
            part = total[start:stop]
            np.copyto(part, views[0])
            for v in views[1:]:
                part += v
            part /= divisor
        cpu_parallel.for_batch(x.shape[0], work, int(np.prod(x.shape[1:])))
        return total

    def backward(self, ctx, grad, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        shape = ctx.input_metas[0].shape
        g = self.geometry(shape, kernel_size, stride, padding, ceil_mode)
        share = grad / self.divisors(shape, g, ceil_mode, count_include_pad, divisor_override, grad.dtype)
        def at_tap(tap, start, stop, dest):
            return share[start:stop] if dest is None else np.copyto(dest, share[start:stop])
        return (scatter_taps(shape, g, at_tap, grad.dtype),)

    def launch(self, gpu, kernel, n, bufs, shape, g, count_include_pad, divisor_override):
        gpu.require_dtype(self.name, *bufs)
        if n:
            grid, block = launch_config(gpu, n)
            gpu.launch(SOURCE, kernel, grid, block, *bufs, geometry_table(gpu, shape, g),
                       np.int32(bool(count_include_pad)), np.int32(divisor_override or 0))

    def gpu_forward(self, gpu, ctx, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                    divisor_override=None):
        g = self.geometry(x.shape, kernel_size, stride, padding, ceil_mode)
        y = gpu.empty(x.shape[:2] + g.out, x.dtype)
        self.launch(gpu, "avg_pool_forward", y.size, (x, y), x.shape, g, count_include_pad, divisor_override)
        return y

    def gpu_backward(self, gpu, ctx, grad, kernel_size, stride=None, padding=0, ceil_mode=False,
                     count_include_pad=True, divisor_override=None):
        shape = ctx.input_metas[0].shape
        g = self.geometry(shape, kernel_size, stride, padding, ceil_mode)
        dx = gpu.empty(shape, grad.dtype)
        self.launch(gpu, "avg_pool_backward", dx.size, (grad, dx), shape, g, count_include_pad, divisor_override)
        return (dx,)


@register
class AvgPool1d(AvgPool):
    name, d = "avg_pool1d", 1
    test_attrs = (dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                                                  count_include_pad=False))


@register
class AvgPool2d(AvgPool):
    name, d = "avg_pool2d", 2
    test_attrs = MaxPool2d.test_attrs[:4] + (
        dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        dict(kernel_size=2, stride=1, padding=1, count_include_pad=False),
        dict(kernel_size=2, stride=2, padding=0, divisor_override=3),
        dict(kernel_size=3, stride=2, padding=(0, 1, 2, 1), count_include_pad=False))   # per side


@register
class AvgPool3d(AvgPool):
    name, d = "avg_pool3d", 3
    test_attrs = (dict(kernel_size=2, stride=None, padding=0), dict(kernel_size=(3, 2, 2), stride=2, padding=1,
                                                                     ceil_mode=True, count_include_pad=False))
