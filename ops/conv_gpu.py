"""The three convolution passes on a GPUDevice (ops/conv.cu), shared by conv and
conv_transpose (whose forward is conv's backward-data and so on; ops/conv.py).

2-D with groups=1 and dilation=1 (LeNet's, the common case) runs the tuned
implicit-GEMM kernels conv2d_*; everything else (1-D, 3-D, grouped or dilated) the
direct kernels conv_* on shapes padded to 3-D with size-1 dims. Every function checks
sizes before launching: an empty output launches nothing, an empty reduction writes
zeros. See the comment at the top of ops/conv.cu for the thread mapping.
"""
import numpy as np

from .im2col import out_size

SOURCE = "conv.cu"


class Geometry:
    """Sizes of one convolution (x (N, C, *S) -> y (N, O, *out)), and the kernels' shape
    arguments. stride, padding, dilation: tuples, one per spatial dim. `out` overrides
    the output size (a transposed convolution's output_padding, ops/conv.py)."""

    def __init__(self, x_shape, w_shape, stride, padding, dilation, groups, out=None):
        self.d = len(x_shape) - 2
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.n, self.c = x_shape[:2]
        self.o = w_shape[0]
        self.spatial, self.kernel = tuple(x_shape[2:]), tuple(w_shape[2:])
        self.out = tuple(out) if out is not None else tuple(
            out_size(s, k, st, p, dl) for s, k, st, p, dl in
            zip(self.spatial, self.kernel, self.stride, self.padding, self.dilation))
        self.x_shape, self.y_shape = tuple(x_shape), (self.n, self.o) + self.out
        self.CKK = w_shape[1] * int(np.prod(self.kernel))    # weights per output channel
        self.tuned = self.d == 2 and groups == 1 and set(dilation) == {1}

    def kernel_name(self, pass_):
        return ("conv2d_" if self.tuned else "conv_") + pass_

    def args(self):
        i32 = lambda *v: [np.int32(a) for a in v]
        if self.tuned:
            (h, w), (kh, kw), (oh, ow) = self.spatial, self.kernel, self.out
            return i32(self.n, self.c, h, w, self.o, kh, kw, oh, ow, *self.stride, *self.padding)
        pad3 = lambda t, fill: (fill,) * (3 - self.d) + tuple(t)
        return i32(self.n, self.c, *pad3(self.spatial, 1), self.o, *pad3(self.kernel, 1),
                   *pad3(self.out, 1), *pad3(self.stride, 1), *pad3(self.padding, 0),
                   self.groups, *pad3(self.dilation, 1))


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


def gpu_forward(gpu, g, x, w, b):
    """y (N, O, *out) = conv(x, w) (+ b)."""
    y = gpu.empty(g.y_shape, x.dtype)
    if y.size == 0:
        return y
    has_bias, bias = (1, b) if b is not None else (0, w)      # w: a never-read stand-in
    kernel = g.kernel_name("forward")
    grid, block, _ = launch_config(gpu, kernel, g)
    gpu.launch(SOURCE, kernel, grid, block, x, w, bias, y, np.int32(has_bias), *g.args())
    return y


def gpu_backward_data(gpu, g, dy, w):
    """dx (N, C, *S) from dy (N, O, *out): zeros where no output reads an input."""
    dx = gpu.empty(g.x_shape, dy.dtype)
    if dx.size and (dy.size == 0 or w.size == 0):
        return gpu.zeros(g.x_shape, dy.dtype)
    if dx.size:
        kernel = g.kernel_name("backward_data")
        grid, block, _ = launch_config(gpu, kernel, g)
        gpu.launch(SOURCE, kernel, grid, block, dy, w, dx, *g.args())
    return dx


def gpu_backward_weight(gpu, g, x, dy, want_w, want_b):
    """(dw (O, C/G, *K), db (O,)) from x and dy, each None unless wanted. The bias is one
    extra column of the weight gradient whose input is the constant 1."""
    w_shape = (g.o, g.c // max(g.groups, 1)) + g.kernel
    dw = gpu.empty(w_shape, dy.dtype)
    db = gpu.empty((g.o,), dy.dtype) if want_b else dw     # dw: never-written stand-in
    ncols = g.CKK + int(want_b)
    if dy.size == 0:
        dw, db = gpu.zeros(w_shape, dy.dtype), gpu.zeros((g.o,), dy.dtype)
    elif g.o and ncols:
        if g.tuned:
            grid, block, (chunk, n_chunks) = launch_config(gpu, "conv2d_backward_weight", g, ncols)
            partial = gpu.empty((n_chunks, g.o, ncols), np.float32)
            gpu.launch(SOURCE, "conv2d_backward_weight", grid, block, x, dy, partial,
                       np.int32(ncols), np.int32(chunk), np.int32(n_chunks), *g.args())
            grid, block, _ = launch_config(gpu, "conv_sum_partials", g, ncols)
            gpu.launch(SOURCE, "conv_sum_partials", grid, block, partial, dw, db,
                       np.int32(n_chunks), np.int32(g.o), np.int32(ncols), np.int32(g.CKK))
        else:
            grid, block, _ = launch_config(gpu, "conv_backward_weight", g, ncols)
            gpu.launch(SOURCE, "conv_backward_weight", grid, block, x, dy, dw, db, np.int32(ncols), *g.args())
    return (dw if want_w else None), (db if want_b else None)
