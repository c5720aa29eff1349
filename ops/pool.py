"""2-D max and average pooling over (N, C, H, W): kernel, stride (default: kernel), padding.

Max pooling passes each window's gradient to the first maximal element of the
window (as PyTorch); padding counts as -inf. Average pooling divides by the full
window size, padding included (PyTorch's count_include_pad=True).
numpy reference: one strided view per window offset (tap_views), no loops over pixels.
Kernels: ops/pool.cu, one thread per output element (forward) or per input element
(backward, which gathers from the windows that cover it, so no atomics are needed).
"""
import itertools

import numpy as np

from tinygrad_cu.op import Meta, Op, register

SOURCE = "pool.cu"


def pool_geometry(op, shape, kernel_size, stride, padding):
    pair = lambda v: (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(i) for i in v)
    k = pair(kernel_size)
    s = k if stride is None else pair(stride)
    p = pair(padding)
    if len(shape) != 4:
        raise ValueError(f"{op}: expected input (N, C, H, W), got {shape}")
    if min(k) < 1 or min(s) < 1 or min(p) < 0 or p[0] * 2 > k[0] or p[1] * 2 > k[1]:
        raise ValueError(f"{op}: invalid kernel {k}, stride {s} or padding {p} "
                         "(padding may be at most half the kernel)")
    out = tuple((n + 2 * pp - kk) // ss + 1 for n, kk, ss, pp in zip(shape[2:], k, s, p))
    if min(out) < 1:
        raise ValueError(f"{op}: kernel {k} is larger than the padded input {shape}")
    return k, s, p, out


def tap_views(a, k, s, out):
    """For each window offset (i, j), in order i * kw + j, the strided view of the
    padded array `a` that holds that offset of every window: shape (N, C, OH, OW).
    Pooling then loops over the kh * kw offsets, never over pixels."""
    for i, j in itertools.product(range(k[0]), range(k[1])):
        yield i * k[1] + j, a[:, :, i:i + s[0] * (out[0] - 1) + 1:s[0], j:j + s[1] * (out[1] - 1) + 1:s[1]]


def padded(x, p, fill):
    return np.pad(x, [(0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])], constant_values=fill) if any(p) else x


def scatter_taps(x_shape, k, s, p, out, grad_at_tap, dtype):
    """The adjoint of tap_views: add each offset's gradient (N, C, OH, OW) back into x."""
    n, c, h, w = x_shape
    dxp = np.zeros((n, c, h + 2 * p[0], w + 2 * p[1]), dtype)
    for tap, view in tap_views(dxp, k, s, out):
        view += grad_at_tap(tap)
    return np.asarray(dxp[:, :, p[0]:p[0] + h, p[1]:p[1] + w], order="C")


def launch_config(gpu, n):
    """The one place pooling kernels get their launch configuration: one thread per
    element (output for forward, input for backward) in a grid-stride loop."""
    return gpu.grid_1d(n, block=256)


class Pool2d(Op):
    test_attrs = (dict(kernel_size=2, stride=None, padding=0), dict(kernel_size=3, stride=2, padding=1),
                  dict(kernel_size=(2, 3), stride=(1, 2), padding=0))

    def infer(self, x, kernel_size, stride=None, padding=0):
        self.check_float(x)
        *_, out = pool_geometry(self.name, x.shape, kernel_size, stride, padding)
        return Meta(x.shape[:2] + out, x.dtype)

    # CUDA: <name>_forward(x, y, [argmax,] geometry) and <name>_backward(grad, [argmax,] dx,
    # geometry), geometry = planes (N*C), H, W, OH, OW, kh, kw, sh, sw, ph, pw as ints.
    def geometry(self, gpu, shape, dtype, kernel_size, stride, padding):
        if dtype != np.float32:       # (a dtype here, not a buffer: the backward checks the input's)
            raise TypeError(f"{self.name}: device {gpu.name} runs {self.name} on float32 only, got dtype {dtype}")
        k, s, p, out = pool_geometry(self.name, shape, kernel_size, stride, padding)
        n, c, h, w = shape
        return tuple(np.int32(v) for v in (n * c, h, w, *out, *k, *s, *p)), shape[:2] + out

    def gpu_forward(self, gpu, ctx, x, kernel_size, stride=None, padding=0):
        geom, out_shape = self.geometry(gpu, x.shape, x.dtype, kernel_size, stride, padding)
        y = gpu.empty(out_shape, x.dtype)
        extra = self.forward_buffers(gpu, ctx, out_shape)
        if y.size:
            grid, block = launch_config(gpu, y.size)
            gpu.launch(SOURCE, self.kernels[0], grid, block, x, y, *extra, *geom)
        return y

    def gpu_backward(self, gpu, ctx, grad, kernel_size, stride=None, padding=0):
        shape = ctx.input_metas[0].shape
        geom, _ = self.geometry(gpu, shape, grad.dtype, kernel_size, stride, padding)
        dx = gpu.empty(shape, grad.dtype)
        if dx.size:
            grid, block = launch_config(gpu, dx.size)
            gpu.launch(SOURCE, self.kernels[1], grid, block, grad, *self.backward_buffers(ctx), dx, *geom)
        return (dx,)

    def forward_buffers(self, gpu, ctx, out_shape):
        return ()

    def backward_buffers(self, ctx):
        return ()


@register
class MaxPool2d(Pool2d):
    name = "max_pool2d"
    saves = ()
    kernels = ("max_pool2d_forward", "max_pool2d_backward")

    def forward(self, ctx, x, kernel_size, stride=None, padding=0):
        k, s, p, out = pool_geometry(self.name, x.shape, kernel_size, stride, padding)
        views = list(tap_views(padded(x, p, -np.inf), k, s, out))
        y = views[0][1].copy()
        for _, v in views[1:]:
            np.maximum(y, v, out=y)                     # NaN wins, as numpy's max
        # each window's FIRST maximal offset: walk the offsets backwards, the earliest
        # match overwrites later ones (a NaN maximum matches the first NaN)
        nan = np.isnan(y) if np.isnan(y).any() else None
        arg = np.zeros(y.shape, np.int32)
        for tap, v in reversed(views):
            match = v == y if nan is None else (v == y) | (nan & np.isnan(v))
            np.copyto(arg, np.int32(tap), where=match)
        ctx.save(argmax=arg)
        return y

    def backward(self, ctx, grad, kernel_size, stride=None, padding=0):
        shape = ctx.input_metas[0].shape
        k, s, p, out = pool_geometry(self.name, shape, kernel_size, stride, padding)
        arg = ctx.saved["argmax"]
        return (scatter_taps(shape, k, s, p, out, lambda tap: np.where(arg == tap, grad, 0), grad.dtype),)

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

    def forward(self, ctx, x, kernel_size, stride=None, padding=0):
        # the sum of kh*kw strided views of x, one per window offset: ~10x faster in numpy
        # than a mean over the (kh, kw) axes of a window view
        k, s, p, out = pool_geometry(self.name, x.shape, kernel_size, stride, padding)
        total = np.zeros(x.shape[:2] + out, x.dtype)
        for _, v in tap_views(padded(x, p, 0), k, s, out):
            total += v
        total /= k[0] * k[1]
        return total

    def backward(self, ctx, grad, kernel_size, stride=None, padding=0):
        shape = ctx.input_metas[0].shape
        k, s, p, out = pool_geometry(self.name, shape, kernel_size, stride, padding)
        share = grad / grad.dtype.type(k[0] * k[1])
        return (scatter_taps(shape, k, s, p, out, lambda tap: share, grad.dtype),)
