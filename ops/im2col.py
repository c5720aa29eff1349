"""The numpy convolution's column matrix: im2col and its adjoint col2im (ops/conv.py).

cols has the layout (C, *kernel, N, *out): row (c, tap) holds input channel c as seen
through kernel tap `tap` from every output position, so that one matmul with the
weights (O, C*K) gives every output. The batch N sits in the middle, where each cpu
thread can own a slice of it (ops/cpu_parallel.py), and the output positions last,
so that numpy's innermost copy loop runs along an output row instead of along a
kernel row of 5 elements (2-3x faster; docs/benchmarks.md).

Measured and rejected (LeNet-5, docs/benchmarks.md): widening the output grid to the
padded width, which turns each tap of a stride-1 col2im into one long contiguous
add, saved in col2im what the 1.4x longer matmuls cost; per-image matmuls
(N, O, P) = W @ cols[n], which return the output already batch-first, ran 1.5-2x
slower than one large matmul.
"""
import itertools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import cpu_parallel


def out_size(size, k, stride, pad, dilation=1):
    """Output length of a convolution; a dilated kernel spans dilation * (k - 1) + 1 inputs."""
    return (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1


class Columns:
    """The geometry of one convolution's column matrix."""

    def __init__(self, x_shape, kernel, stride, padding, dilation=None, out=None):
        """`out` overrides the output size where it is smaller than the formula's: a
        transposed convolution's output_padding can leave input rows that no output
        position reads (its adjoint, this conv, then stops early)."""
        self.n, self.c = x_shape[:2]
        self.spatial, self.kernel = tuple(x_shape[2:]), tuple(kernel)
        self.stride, self.padding = tuple(stride), tuple(padding)
        self.d = len(self.kernel)
        self.dilation = tuple(dilation) if dilation is not None else (1,) * self.d
        self.extent = tuple(dl * (k - 1) + 1 for dl, k in zip(self.dilation, self.kernel))
        self.padded = tuple(s + 2 * p for s, p in zip(self.spatial, self.padding))
        self.out = tuple(out) if out is not None else tuple(
            out_size(s, k, st, p, dl) for s, k, st, p, dl in zip(self.spatial, kernel, stride, padding, self.dilation))
        self.shape = (self.c, *self.kernel, self.n, *self.out)
        self.rows = (self.c * int(np.prod(self.kernel)), self.n * int(np.prod(self.out)))
        self.interior = tuple(slice(p, p + s) for p, s in zip(self.padding, self.spatial))

    def batch(self, start, stop):
        """The index of images start:stop in an array of layout (C, *kernel, N, *out)."""
        return (slice(None),) * (1 + self.d) + (slice(start, stop),)

    def padded_images(self, x, start, stop):
        """Images start:stop of x (N, C, *S), zero-padded (x's own slice without padding)."""
        if not any(self.padding):
            return x[start:stop]
        xp = np.zeros((stop - start, self.c) + self.padded, x.dtype)
        xp[(slice(None),) * 2 + self.interior] = x[start:stop]
        return xp


def im2col(x, g):
    """(N, C, *S) -> cols (C, *kernel, N, *out), contiguous. One copy from a
    sliding-window *view* of the padded images (nothing moves until the copy); the
    cpu threads each pad and copy their own images."""
    cols = np.empty(g.shape, x.dtype)
    d = g.d
    # output positions every stride (up to g.out), kernel taps every dilation
    every_stride = (slice(None),) * 2 + tuple(slice(None, s * (o - 1) + 1, s) for s, o in zip(g.stride, g.out)) \
        + tuple(slice(None, None, dl) for dl in g.dilation)
    to_cols = (1,) + tuple(range(2 + d, 2 + 2 * d)) + (0,) + tuple(range(2, 2 + d))   # n,C,*out,*k -> C,*k,n,*out

    def work(start, stop):
        windows = sliding_window_view(g.padded_images(x, start, stop), g.extent, axis=tuple(range(2, 2 + d)))
        np.copyto(cols[g.batch(start, stop)], windows[every_stride].transpose(to_cols))
    cpu_parallel.for_batch(g.n, work, cols.size // max(g.n, 1))
    return cols


def col2im(dcols, g):
    """The adjoint of im2col: dcols (C, *kernel, N, *out) -> dx (N, C, *S). Each tap's
    (C, N, *out) gradient is added back where it came from, one kernel offset at a
    time (a loop over the K taps, never over pixels), into a (C, N, *padded) buffer
    in the same order as dcols, so both sides of each add are walked in step; one
    transposing copy at the end gives (N, C, *S). Each cpu thread owns a slice of
    the batch: no two threads add into the same image, and each pixel sums its taps
    in one fixed order whatever the thread count."""
    dx = np.empty((g.n, g.c) + g.spatial, dcols.dtype)
    taps = list(itertools.product(*(range(k) for k in g.kernel)))

    def work(start, stop):
        dxp = np.zeros((g.c, stop - start) + g.padded, dcols.dtype)
        grads = dcols[g.batch(start, stop)]
        for tap in taps:
            region = tuple(slice(t * dl, t * dl + s * (o - 1) + 1, s)
                           for t, s, o, dl in zip(tap, g.stride, g.out, g.dilation))
            dxp[(slice(None), slice(None)) + region] += grads[(slice(None),) + tap]
        np.copyto(dx[start:stop], dxp.swapaxes(0, 1)[(slice(None),) * 2 + g.interior])
    cpu_parallel.for_batch(g.n, work, dcols.size // max(g.n, 1))
    return dx
