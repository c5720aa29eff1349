"""2-D max and average pooling over (N, C, H, W): kernel, stride (default: kernel), padding,
ceil_mode; average pooling also count_include_pad and divisor_override, as PyTorch.

Max pooling passes each window's gradient to the first maximal element of the
window (as PyTorch); padding counts as -inf. ceil_mode rounds the output size up, so
the last window may hang over the padded input (never starting in the far padding):
that overhang is ignored. Average pooling divides by the window's part inside the
padded input (count_include_pad=True, the default: k*k except for ceil_mode's last
windows), by its part inside the input itself (False), or by divisor_override.
numpy reference: one strided view per window offset (tap_views), no loops over pixels.
Kernels: ops/pool.cu, one thread per output element (forward) or per input element
(backward, which gathers from the windows that cover it, so no atomics are needed).
"""
import itertools

import numpy as np

from tinygrad_cu.op import Meta, Op, register

from . import cpu_parallel

SOURCE = "pool.cu"


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def pair(op, value, what):
    """One int, or a tuple/list of two, as (h, w); anything else is an error naming the op
    (a 3-element padding once reached the kernel as an extra argument)."""
    t = (value, value) if _is_int(value) else tuple(value) if isinstance(value, (tuple, list)) else None
    if t is None or not all(_is_int(i) for i in t):
        raise TypeError(f"{op}: {what} must be an int or a tuple of two ints, got {value!r}")
    if len(t) != 2:
        raise ValueError(f"{op}: {what} must be a single int or a tuple of two ints (h, w), got {value!r}")
    return int(t[0]), int(t[1])


def pooled_size(n, k, s, p, ceil_mode):
    """PyTorch's output size: floor or ceil of (n + 2p - k) / s, plus 1; in ceil mode the
    last window must start inside the input or the near padding."""
    out = (n + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def pool_geometry(op, shape, kernel_size, stride, padding, ceil_mode=False):
    k = pair(op, kernel_size, "kernel_size")
    s = k if stride is None else pair(op, stride, "stride")
    p = pair(op, padding, "padding")
    if len(shape) != 4:
        raise ValueError(f"{op}: expected input (N, C, H, W), got {shape}")
    if 0 in shape[1:]:            # PyTorch's pool2d_shape_check: only the batch may be empty
        raise ValueError(f"{op}: expected input (N, C, H, W) with an optional 0 batch size but C, H, W "
                         f"non-zero, got {shape}")
    if min(k) < 1 or min(s) < 1 or min(p) < 0 or p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise ValueError(f"{op}: invalid kernel {k}, stride {s} or padding {p} "
                         "(padding may be at most half the kernel)")
    out = tuple(pooled_size(n, kk, ss, pp, ceil_mode) for n, kk, ss, pp in zip(shape[2:], k, s, p))
    if min(out) < 1:
        raise ValueError(f"{op}: kernel {k} is larger than the padded input {shape}")
    return k, s, p, out


def overhang(shape, k, s, p, out):
    """Rows and columns that ceil_mode's last windows reach past the padded input."""
    return tuple(max(0, (o - 1) * ss + kk - (n + 2 * pp)) for n, kk, ss, pp, o in zip(shape[2:], k, s, p, out))


def window_divisors(shape, k, s, p, out, count_include_pad, divisor_override):
    """(OH, OW) divisors of average pooling, PyTorch's rule: each window clipped to the
    padded input (count_include_pad) or to the input itself."""
    if divisor_override:
        return np.full(out, float(divisor_override))
    sizes = []
    for n, kk, ss, pp, o in zip(shape[2:], k, s, p, out):
        start = np.arange(o) * ss - pp
        end = np.minimum(start + kk, n + pp)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        sizes.append(end - start)
    return np.outer(sizes[0], sizes[1]).astype(np.float64)


def tap_views(a, k, s, out):
    """For each window offset (i, j), in order i * kw + j, the strided view of the
    padded array `a` that holds that offset of every window: shape (N, C, OH, OW).
    Pooling then loops over the kh * kw offsets, never over pixels."""
    for i, j in itertools.product(range(k[0]), range(k[1])):
        yield i * k[1] + j, a[:, :, i:i + s[0] * (out[0] - 1) + 1:s[0], j:j + s[1] * (out[1] - 1) + 1:s[1]]


def padded(x, p, fill, extra=(0, 0)):
    """x (N, C, H, W) with p[0] rows and p[1] columns of `fill` on each side, and `extra`
    more at the far side (ceil_mode's overhang)."""
    if not any(p) and not any(extra):
        return x
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * p[0] + extra[0], w + 2 * p[1] + extra[1]), fill, x.dtype)
    xp[:, :, p[0]:p[0] + h, p[1]:p[1] + w] = x
    return xp


def scatter_taps(x_shape, k, s, p, out, grad_at_tap, dtype, extra=(0, 0)):
    """The adjoint of tap_views: put each offset's gradient (N, C, OH, OW) back into x.
    grad_at_tap(tap, start, stop, dest) writes (or, with dest=None, returns) images
    start:stop of that offset's gradient; the cpu threads each do their own images.
    Where windows cannot overlap (stride >= kernel) each input is in at most one
    window, so gradients are written straight into dx instead of added; where they
    also tile the input exactly, dx needs no zeroing first."""
    n, c, h, w = x_shape
    disjoint = s[0] >= k[0] and s[1] >= k[1]
    tiled = disjoint and not any(p) and (out[0] * s[0], out[1] * s[1]) == (h, w) and tuple(s) == tuple(k)
    dx = np.empty(x_shape, dtype)

    def work(start, stop):
        dxp = dx[start:stop] if tiled else np.zeros((stop - start, c, h + 2 * p[0] + extra[0],
                                                     w + 2 * p[1] + extra[1]), dtype)
        for tap, view in tap_views(dxp, k, s, out):
            if disjoint:
                grad_at_tap(tap, start, stop, dest=view)
            else:
                view += grad_at_tap(tap, start, stop, dest=None)
        if not tiled:
            np.copyto(dx[start:stop], dxp[:, :, p[0]:p[0] + h, p[1]:p[1] + w])
    cpu_parallel.for_batch(n, work, c * h * w)
    return dx


def launch_config(gpu, n):
    """The one place pooling kernels get their launch configuration: one thread per
    element (output for forward, input for backward) in a grid-stride loop."""
    return gpu.grid_1d(n, block=256)


class Pool2d(Op):
    test_attrs = (dict(kernel_size=2, stride=None, padding=0), dict(kernel_size=3, stride=2, padding=1),
                  dict(kernel_size=(2, 3), stride=(1, 2), padding=0),
                  dict(kernel_size=3, stride=2, padding=(0, 1), ceil_mode=True))   # the last rows overhang

    def infer(self, x, kernel_size, stride=None, padding=0, ceil_mode=False, **options):
        self.check_float(x)
        self.check_options(**options)
        *_, out = pool_geometry(self.name, x.shape, kernel_size, stride, padding, ceil_mode)
        return Meta(x.shape[:2] + out, x.dtype)

    def check_options(self):
        pass

    # CUDA: <name>_forward(x, y, [argmax,] geometry, [options]) and <name>_backward(grad, [argmax,] dx,
    # geometry, [options]), geometry = planes (N*C), H, W, OH, OW, kh, kw, sh, sw, ph, pw as ints.
    def geometry(self, gpu, shape, dtype, kernel_size, stride, padding, ceil_mode):
        if dtype != np.float32:       # (a dtype here, not a buffer: the backward checks the input's)
            raise TypeError(f"{self.name}: device {gpu.name} runs {self.name} on float32 only, got dtype {dtype}")
        k, s, p, out = pool_geometry(self.name, shape, kernel_size, stride, padding, ceil_mode)
        n, c, h, w = shape
        return tuple(np.int32(v) for v in (n * c, h, w, *out, *k, *s, *p)), shape[:2] + out

    def gpu_forward(self, gpu, ctx, x, kernel_size, stride=None, padding=0, ceil_mode=False, **options):
        geom, out_shape = self.geometry(gpu, x.shape, x.dtype, kernel_size, stride, padding, ceil_mode)
        y = gpu.empty(out_shape, x.dtype)
        extra = self.forward_buffers(gpu, ctx, out_shape)
        if y.size:
            grid, block = launch_config(gpu, y.size)
            gpu.launch(SOURCE, self.kernels[0], grid, block, x, y, *extra, *geom, *self.option_args(**options))
        return y

    def gpu_backward(self, gpu, ctx, grad, kernel_size, stride=None, padding=0, ceil_mode=False, **options):
        shape = ctx.input_metas[0].shape
        geom, _ = self.geometry(gpu, shape, grad.dtype, kernel_size, stride, padding, ceil_mode)
        dx = gpu.empty(shape, grad.dtype)
        if dx.size:
            grid, block = launch_config(gpu, dx.size)
            gpu.launch(SOURCE, self.kernels[1], grid, block, grad, *self.backward_buffers(ctx), dx, *geom,
                       *self.option_args(**options))
        return (dx,)

    def option_args(self):
        return ()

    def forward_buffers(self, gpu, ctx, out_shape):
        return ()

    def backward_buffers(self, ctx):
        return ()


@register
class MaxPool2d(Pool2d):
    name = "max_pool2d"
    saves = ()
    kernels = ("max_pool2d_forward", "max_pool2d_backward")

    def forward(self, ctx, x, kernel_size, stride=None, padding=0, ceil_mode=False):
        k, s, p, out = pool_geometry(self.name, x.shape, kernel_size, stride, padding, ceil_mode)
        extra = overhang(x.shape, k, s, p, out)
        y = np.empty(x.shape[:2] + out, x.dtype)
        arg = np.empty(y.shape, np.int8 if k[0] * k[1] <= 127 else np.int32)   # small: backward reads it per tap

        def work(start, stop):
            ys, args = y[start:stop], arg[start:stop]
            views = [v for _, v in tap_views(padded(x[start:stop], p, -np.inf, extra), k, s, out)]
            np.copyto(ys, views[0])
            args[...] = 0
            larger, candidate = np.empty(ys.shape, bool), np.empty(ys.shape, arg.dtype)
            for tap, v in enumerate(views[1:], 1):
                # strictly larger: on ties the earlier offset stays, as PyTorch's first maximum.
                # args = max(args, larger * tap) keeps the latest larger offset (offsets only
                # grow) without a masked copy, whose branches cost 30x more on random data
                np.greater(v, ys, out=larger)
                np.multiply(larger, arg.dtype.type(tap), out=candidate)
                np.maximum(args, candidate, out=args)
                np.maximum(ys, v, out=ys)                   # NaN wins, as numpy's max
            if np.isnan(ys).any():                          # then the first NaN is the argmax
                nan = np.isnan(ys)
                for tap, v in reversed(list(enumerate(views))):
                    np.copyto(args, tap, where=nan & np.isnan(v))
        cpu_parallel.for_batch(x.shape[0], work, int(np.prod(x.shape[1:])))
        ctx.save(argmax=arg)
        return y

    def backward(self, ctx, grad, kernel_size, stride=None, padding=0, ceil_mode=False):
        shape = ctx.input_metas[0].shape
        k, s, p, out = pool_geometry(self.name, shape, kernel_size, stride, padding, ceil_mode)
        arg = ctx.saved["argmax"]
        # gradient * (argmax == tap): no branches; np.where only where an inf or NaN
        # gradient must not leak into the other offsets of its window (inf * 0 = NaN)
        finite = bool(np.isfinite(grad).all())

        def at_tap(tap, start, stop, dest):
            g, chosen = grad[start:stop], arg[start:stop] == tap
            if finite:
                return np.multiply(g, chosen, out=dest)
            picked = np.where(chosen, g, grad.dtype.type(0))
            return picked if dest is None else np.copyto(dest, picked)
        return (scatter_taps(shape, k, s, p, out, at_tap, grad.dtype, overhang(shape, k, s, p, out)),)

    def forward_buffers(self, gpu, ctx, out_shape):
        # each window's argmax (its position i * kw + j in the window) for the backward
        argmax = gpu.empty(out_shape, np.int32)
        ctx.save(argmax=argmax)
        return (argmax,)

    def backward_buffers(self, ctx):
        return (ctx.saved["argmax"],)


@register
class AvgPool2d(Pool2d):
    name = "avg_pool2d"
    saves = ()
    kernels = ("avg_pool2d_forward", "avg_pool2d_backward")
    test_attrs = Pool2d.test_attrs + (dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
                                      dict(kernel_size=2, stride=1, padding=1, count_include_pad=False),
                                      dict(kernel_size=2, stride=2, padding=0, divisor_override=3))

    def check_options(self, count_include_pad=True, divisor_override=None):
        if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                             or isinstance(divisor_override, bool) or divisor_override < 1):
            raise ValueError(f"avg_pool2d: divisor_override must be a positive int or None, got {divisor_override!r}")

    def forward(self, ctx, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        # the sum of kh*kw strided views of x, one per window offset: ~10x faster in numpy
        # than a mean over the (kh, kw) axes of a window view
        k, s, p, out = pool_geometry(self.name, x.shape, kernel_size, stride, padding, ceil_mode)
        extra = overhang(x.shape, k, s, p, out)
        total = np.empty(x.shape[:2] + out, x.dtype)
        plain = not ceil_mode and count_include_pad and not divisor_override
        divisor = x.dtype.type(k[0] * k[1]) if plain else \
            window_divisors(x.shape, k, s, p, out, count_include_pad, divisor_override).astype(x.dtype)

        def work(start, stop):
            views = [v for _, v in tap_views(padded(x[start:stop], p, 0, extra), k, s, out)]
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
        k, s, p, out = pool_geometry(self.name, shape, kernel_size, stride, padding, ceil_mode)
        if not ceil_mode and count_include_pad and not divisor_override:
            share = grad / grad.dtype.type(k[0] * k[1])
        else:
            share = grad / window_divisors(shape, k, s, p, out, count_include_pad, divisor_override).astype(grad.dtype)

        def at_tap(tap, start, stop, dest):
            return share[start:stop] if dest is None else np.copyto(dest, share[start:stop])
        return (scatter_taps(shape, k, s, p, out, at_tap, grad.dtype, overhang(shape, k, s, p, out)),)

    def option_args(self, count_include_pad=True, divisor_override=None):
        return (np.int32(bool(count_include_pad)), np.int32(divisor_override or 0))
