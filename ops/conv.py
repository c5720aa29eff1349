"""Convolution in 1, 2 or 3 spatial dimensions (the lecture's audio, images, volumes).

x: (N, C, *spatial), weight: (O, C, *kernel), optional bias: (O,); stride and
padding per spatial dim; any input size. Weight sharing: the same (O, C, *kernel)
weights are applied at every output position, so their gradient is a sum over
positions and over the batch.

numpy reference (im2col): one strided copy per kernel tap gathers every receptive
field into a column of `cols` (C*K, N*P), then one matmul with the weights (O, C*K)
gives all outputs. Backward: dW = dY cols^T, dcols = W^T dY, and col2im adds dcols
back into dx, one kernel offset at a time (a loop over the K kernel taps, not over
pixels). The (C*K, N*P) layout makes each tap's copy run along image rows, which is
2-3x faster in numpy than the (N*P, C*K) one (docs/benchmarks.md).
Kernels: ops/conv.cu (forward, backward-data, backward-weight).
"""
import numpy as np

from tinygrad_cu.op import Meta, Op, register

from . import cpu_parallel
from .im2col import Columns, col2im, im2col, out_size

SOURCE = "conv.cu"


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def as_tuple(v, n, what):
    t = (v,) * n if _is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None
    if t is None or not all(_is_int(i) for i in t):
        # int(2.5) would quietly make a stride of 2
        raise TypeError(f"conv: {what} must be an int or {n} ints, got {v!r}")
    if len(t) != n:
        raise ValueError(f"conv: {what} {v} must have {n} values, one per spatial dim")
    return tuple(int(i) for i in t)


def to_channels_first(grad):
    """The gradient (N, O, *out) -> (O, N, *out), contiguous (the layout of the big
    matmuls), copied by the cpu threads, each its own images."""
    moved = grad.swapaxes(0, 1)
    gy = np.empty(moved.shape, grad.dtype)
    cpu_parallel.for_batch(grad.shape[0], lambda a, b: np.copyto(gy[:, a:b], moved[:, a:b]),
                           grad.size // max(grad.shape[0], 1))
    return gy


def to_batch_first(y, bias=None):
    """The matmul's (O, N, *out) -> the output (N, O, *out), plus the bias, in one
    pass, by the cpu threads, each its own images."""
    moved = y.swapaxes(0, 1)
    out = np.empty(moved.shape, y.dtype)
    if bias is not None:
        bias = bias.reshape((-1,) + (1,) * (y.ndim - 2))

    def work(a, b):
        if bias is None:
            np.copyto(out[a:b], moved[a:b])
        else:
            np.add(moved[a:b], bias, out=out[a:b])
    cpu_parallel.for_batch(out.shape[0], work, y.size // max(out.shape[0], 1))
    return out


@register
class Conv(Op):
    name = "conv"
    n_inputs = None         # x, weight[, bias]
    kernels = ("conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight", "conv_sum_partials",
               "conv_forward", "conv_backward_data", "conv_backward_weight")
    test_attrs = (dict(stride=1, padding=0), dict(stride=2, padding=1), dict(stride=(1, 2), padding=(2, 0)))

    def infer(self, x, w, b=None, stride=1, padding=0):
        self.check_float(x, w, *([b] if b else []))
        self.check_same_dtype(x, w, *([b] if b else []))
        d = len(x.shape) - 2
        if d not in (1, 2, 3) or len(w.shape) != d + 2:
            raise ValueError(f"conv: expected input (N, C, *spatial) with 1-3 spatial dims and "
                             f"weight (O, C, *kernel) of the same rank, got {x.shape} and {w.shape}")
        if w.shape[1] != x.shape[1]:
            raise ValueError(f"conv: input has {x.shape[1]} channels but weight {w.shape} "
                             f"expects {w.shape[1]}")
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"conv: bias shape {b.shape} must be ({w.shape[0]},)")
        stride, padding = as_tuple(stride, d, "stride"), as_tuple(padding, d, "padding")
        if min(stride) < 1 or min(padding) < 0:
            raise ValueError(f"conv: stride {stride} must be >= 1 and padding {padding} >= 0")
        if min(w.shape[2:]) < 1:
            raise ValueError(f"conv: the weight {w.shape} has an empty kernel_size {w.shape[2:]}; "
                             "every kernel dim must be >= 1")
        out = tuple(out_size(s, k, st, p) for s, k, st, p in zip(x.shape[2:], w.shape[2:], stride, padding))
        if min(out) < 1:
            raise ValueError(f"conv: kernel {w.shape[2:]} is larger than the padded input "
                             f"{tuple(s + 2 * p for s, p in zip(x.shape[2:], padding))}")
        return Meta((x.shape[0], w.shape[0]) + out, x.dtype)

    def forward(self, ctx, x, w, b=None, stride=1, padding=0):
        d, n, o = x.ndim - 2, x.shape[0], w.shape[0]
        g = Columns(x.shape, w.shape[2:], as_tuple(stride, d, "stride"), as_tuple(padding, d, "padding"))
        rows = im2col(x, g).reshape(g.rows)                       # (C*K, N*P)
        y = w.reshape(o, g.rows[0]) @ rows                        # (O, N*P): the one matmul (BLAS threads)
        ctx.save(rows=rows)
        return to_batch_first(y.reshape((o, n) + g.out), b)

    def backward(self, ctx, grad, stride=1, padding=0):
        x, w = ctx.inputs[:2]
        d, o = x.ndim - 2, w.shape[0]
        g = Columns(x.shape, w.shape[2:], as_tuple(stride, d, "stride"), as_tuple(padding, d, "padding"))
        needs = ctx.needs_input_grad
        gy = to_channels_first(grad).reshape(o, g.rows[1])    # (O, N*P)
        gx = gw = gb = None
        if needs[0]:
            gx = col2im((w.reshape(o, g.rows[0]).T @ gy).reshape(g.shape), g)
        if needs[1]:
            # (cols dY^T)^T, not dY cols^T: the same product, but OpenBLAS runs the long
            # N*P reduction 1.5-2x faster in this orientation
            gw = (ctx.saved["rows"] @ gy.T).T.reshape(w.shape)
        if len(needs) > 2 and needs[2]:
            gb = gy.sum(axis=1)
        return (gx, gw, gb)[:len(needs)]

    # --- CUDA (ops/conv.cu) -------------------------------------------------------
    # 2-D: implicit-GEMM kernels conv2d_*; 1-D and 3-D: direct kernels conv_* on shapes
    # padded to 3-D with size-1 dims. See the comment at the top of ops/conv.cu.
    def gpu_forward(self, gpu, ctx, x, w, b=None, stride=1, padding=0):
        gpu.require_dtype(self.name, x, w, *((b,) if b is not None else ()))
        g = Geometry(x.shape, w.shape, stride, padding)
        y = gpu.empty(g.y_shape, x.dtype)
        if y.size == 0:
            return y
        has_bias, bias = (1, b) if b is not None else (0, w)      # w: a never-read stand-in
        kernel = "conv2d_forward" if g.d == 2 else "conv_forward"
        grid, block, _ = launch_config(gpu, kernel, g)
        gpu.launch(SOURCE, kernel, grid, block, x, w, bias, y, np.int32(has_bias), *g.args(kernel))
        return y

    def gpu_backward(self, gpu, ctx, grad, stride=1, padding=0):
        x, w = ctx.inputs[:2]
        needs = ctx.needs_input_grad
        g = Geometry(x.shape, w.shape, stride, padding)
        gx = gw = gb = None
        if needs[0]:
            gx = gpu.empty(x.shape, x.dtype)
            if gx.size and grad.size == 0:
                gx = gpu.zeros(x.shape, x.dtype)
            elif gx.size:
                kernel = "conv2d_backward_data" if g.d == 2 else "conv_backward_data"
                grid, block, _ = launch_config(gpu, kernel, g)
                gpu.launch(SOURCE, kernel, grid, block, grad, w, gx, *g.args(kernel))
        want_b = len(needs) > 2 and needs[2]
        if needs[1] or want_b:
            dw = gpu.empty(w.shape, w.dtype)
            db = gpu.empty((w.shape[0],), w.dtype) if want_b else dw     # dw: never-written stand-in
            ncols = g.CKK + int(want_b)
            if grad.size == 0:
                dw, db = gpu.zeros(w.shape, w.dtype), gpu.zeros((w.shape[0],), w.dtype)
            elif w.shape[0] and ncols:
                if g.d == 2:
                    grid, block, (chunk, n_chunks) = launch_config(gpu, "conv2d_backward_weight", g, ncols)
                    partial = gpu.empty((n_chunks, w.shape[0], ncols), np.float32)
                    gpu.launch(SOURCE, "conv2d_backward_weight", grid, block, x, grad, partial,
                               np.int32(ncols), np.int32(chunk), np.int32(n_chunks), *g.args("conv2d"))
                    grid, block, _ = launch_config(gpu, "conv_sum_partials", g, ncols)
                    gpu.launch(SOURCE, "conv_sum_partials", grid, block, partial, dw, db,
                               np.int32(n_chunks), np.int32(w.shape[0]), np.int32(ncols), np.int32(g.CKK))
                else:
                    grid, block, _ = launch_config(gpu, "conv_backward_weight", g, ncols)
                    gpu.launch(SOURCE, "conv_backward_weight", grid, block, x, grad, dw, db,
                               np.int32(ncols), *g.args("conv"))
            gw = dw if needs[1] else None
            gb = db if want_b else None
        return (gx, gw, gb)[:len(needs)]


class Geometry:
    """Sizes of one convolution, and the kernels' shape arguments."""

    def __init__(self, x_shape, w_shape, stride, padding):
        self.d = d = len(x_shape) - 2
        self.stride, self.padding = as_tuple(stride, d, "stride"), as_tuple(padding, d, "padding")
        self.n, self.c = x_shape[:2]
        self.o = w_shape[0]
        self.spatial, self.kernel = tuple(x_shape[2:]), tuple(w_shape[2:])
        self.out = tuple(out_size(s, k, st, p) for s, k, st, p in
                         zip(self.spatial, self.kernel, self.stride, self.padding))
        self.y_shape = (self.n, self.o) + self.out
        self.CKK = self.c * int(np.prod(self.kernel))       # columns of the im2col matrix

    def args(self, kernel):
        i32 = lambda *v: [np.int32(a) for a in v]
        if kernel.startswith("conv2d"):
            (h, w), (kh, kw), (oh, ow) = self.spatial, self.kernel, self.out
            return i32(self.n, self.c, h, w, self.o, kh, kw, oh, ow, *self.stride, *self.padding)
        pad3 = lambda t, fill: (fill,) * (3 - self.d) + tuple(t)
        return i32(self.n, self.c, *pad3(self.spatial, 1), self.o, *pad3(self.kernel, 1),
                   *pad3(self.out, 1), *pad3(self.stride, 1), *pad3(self.padding, 0))


def launch_config(gpu, kernel, g, ncols=0):
    """The one place that sizes conv launches: (grid, block, extra). The conv2d_* tiles
    are 8 channels x 128 positions (64 threads); conv2d_backward_weight splits its
    long reduction over N*OH*OW positions into chunks (extra = (chunk, n_chunks)) so
    there are enough blocks; the rest are grid-stride loops over elements."""
    ceil = lambda a, b: -(-a // b)
    positions = g.n * int(np.prod(g.out))
    if kernel == "conv2d_forward":
        tiles = ceil(g.o, 8) * ceil(positions, 128)
    elif kernel == "conv2d_backward_data":
        tiles = ceil(g.c, 8) * ceil(g.n * int(np.prod(g.spatial)), 128)
    elif kernel == "conv2d_backward_weight":
        tiles_mn = ceil(g.o, 8) * ceil(ncols, 32)
        n_chunks = max(1, min(ceil(256, tiles_mn), ceil(positions, 512)))   # >= 512 positions each
        chunk = ceil(ceil(positions, n_chunks), 32) * 32
        n_chunks = ceil(positions, chunk)
        return (max(1, min(gpu.MAX_BLOCKS, tiles_mn * n_chunks)), 1, 1), (64, 1, 1), (chunk, n_chunks)
    else:
        n = {"conv_forward": g.n * g.o * int(np.prod(g.out)),
             "conv_backward_data": g.n * g.c * int(np.prod(g.spatial)),
             "conv_backward_weight": g.o * ncols, "conv_sum_partials": g.o * ncols}[kernel]
        grid, block = gpu.grid_1d(n)
        return grid, block, None
    return (max(1, min(gpu.MAX_BLOCKS, tiles)), 1, 1), (64, 1, 1), None

