"""Convolution in 1, 2 or 3 spatial dimensions (the lecture's audio, images, volumes).

x: (N, C, *spatial), weight: (O, C, *kernel), optional bias: (O,); stride and
padding per spatial dim; any input size. Weight sharing: the same (O, C, *kernel)
weights are applied at every output position, so their gradient is a sum over
positions and over the batch.

numpy reference (im2col): a strided view gathers every receptive field into a row of
`cols` (N*P, C*K), then one matmul with the weights (O, C*K) gives all outputs.
Backward: dW = dY^T cols, dcols = dY W, and col2im adds dcols back into dx, one
kernel offset at a time (a loop over the K kernel taps, not over pixels).
Kernels: ops/conv.cu (forward, backward-data, backward-weight).
"""
import itertools

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinygrad_cu.op import Meta, Op, register

SOURCE = "conv.cu"


def as_tuple(v, n, what):
    t = (int(v),) * n if isinstance(v, (int, np.integer)) else tuple(int(i) for i in v)
    if len(t) != n:
        raise ValueError(f"conv: {what} {v} must have {n} values, one per spatial dim")
    return t


def out_size(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def im2col(x, kernel, stride, padding):
    """(N, C, *S) -> cols (N, *out, C, *kernel) as a contiguous array."""
    d = len(kernel)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding]) if any(padding) else x
    win = sliding_window_view(xp, kernel, axis=tuple(range(2, 2 + d)))    # N, C, *S', *k
    win = win[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]
    order = (0,) + tuple(range(2, 2 + d)) + (1,) + tuple(range(2 + d, 2 + 2 * d))
    return np.asarray(win.transpose(order), order="C")


def col2im(dcols, x_shape, kernel, stride, padding):
    """The adjoint of im2col: add each window's gradient back where it came from."""
    d = len(kernel)
    n, c = x_shape[:2]
    padded = [s + 2 * p for s, p in zip(x_shape[2:], padding)]
    dxp = np.zeros((n, c, *padded), dcols.dtype)
    out = dcols.shape[1:1 + d]
    for tap in itertools.product(*(range(k) for k in kernel)):
        region = tuple(slice(t, t + s * (o - 1) + 1, s) for t, s, o in zip(tap, stride, out))
        # dcols[:, *out, :, *tap] has shape (N, *out, C) -> move C next to N
        g = dcols[(slice(None),) + (slice(None),) * d + (slice(None),) + tap]
        dxp[(slice(None), slice(None)) + region] += np.moveaxis(g, -1, 1)
    inner = tuple(slice(p, p + s) for p, s in zip(padding, x_shape[2:]))
    return dxp[(slice(None), slice(None)) + inner]


@register
class Conv(Op):
    name = "conv"
    n_inputs = None         # x, weight[, bias]
    kernels = ("conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight",
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
        out = tuple(out_size(s, k, st, p) for s, k, st, p in zip(x.shape[2:], w.shape[2:], stride, padding))
        if min(out) < 1:
            raise ValueError(f"conv: kernel {w.shape[2:]} is larger than the padded input "
                             f"{tuple(s + 2 * p for s, p in zip(x.shape[2:], padding))}")
        return Meta((x.shape[0], w.shape[0]) + out, x.dtype)

    def forward(self, ctx, x, w, b=None, stride=1, padding=0):
        d = x.ndim - 2
        stride, padding = as_tuple(stride, d, "stride"), as_tuple(padding, d, "padding")
        cols = im2col(x, w.shape[2:], stride, padding)            # N, *out, C, *k
        out_shape = cols.shape[:1 + d]
        rows = cols.reshape(-1, int(np.prod(cols.shape[1 + d:])))
        y = rows @ w.reshape(w.shape[0], -1).T                    # (N*P, O): the one matmul
        if b is not None:
            y += b
        ctx.save(rows=rows, out_shape=out_shape)
        return np.asarray(np.moveaxis(y.reshape(*out_shape, w.shape[0]), -1, 1), order="C")

    def backward(self, ctx, grad, stride=1, padding=0):
        x, w = ctx.inputs[:2]
        d = x.ndim - 2
        stride, padding = as_tuple(stride, d, "stride"), as_tuple(padding, d, "padding")
        needs = ctx.needs_input_grad
        gy = np.moveaxis(grad, 1, -1).reshape(-1, w.shape[0])      # (N*P, O)
        gx = gw = gb = None
        if needs[0]:
            dcols = (gy @ w.reshape(w.shape[0], -1)).reshape(ctx.saved["out_shape"] + w.shape[1:])
            gx = np.asarray(col2im(dcols, x.shape, w.shape[2:], stride, padding), order="C")
        if needs[1]:
            gw = (gy.T @ ctx.saved["rows"]).reshape(w.shape)
        if len(needs) > 2 and needs[2]:
            gb = gy.sum(axis=0)
        return (gx, gw, gb)[:len(needs)]
