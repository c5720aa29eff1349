"""Convolution in 1, 2 or 3 spatial dimensions (the lecture's audio, images, volumes),
and its adjoint, the transposed convolution.

conv: x (N, C, *spatial), weight (O, C/groups, *kernel), optional bias (O,); stride,
padding and dilation per spatial dim; any input size. Weight sharing: the same weights
are applied at every output position, so their gradient is a sum over positions and
over the batch. With groups G the channels split into G independent convolutions:
output channel o sees only input channels of its group o // (O/G) (G = C: depthwise).

conv_transpose: the adjoint of conv, as PyTorch's conv_transpose1d/2d/3d: x (N, Cin,
*spatial), weight (Cin, Cout/groups, *kernel), output (N, Cout, *out) with
out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1.
Its forward is conv's backward-data, its input gradient is conv's forward, its weight
gradient is conv's backward-weight with the roles of input and output swapped: the
same numpy code and the same kernels. Its bias is added by F.conv_transpose*d (a
composite: one broadcast add, whose backward is a sum).

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
from .conv_gpu import Geometry, gpu_backward_data, gpu_backward_weight, gpu_forward
from .im2col import Columns, col2im, im2col, out_size

SOURCE = "conv.cu"


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def as_tuple(v, n, what, op="conv"):
    t = (v,) * n if _is_int(v) else tuple(v) if isinstance(v, (tuple, list)) else None
    if t is None or not all(_is_int(i) for i in t):
        # int(2.5) would quietly make a stride of 2
        raise TypeError(f"{op}: {what} must be an int or {n} ints, got {v!r}")
    if len(t) != n:
        raise ValueError(f"{op}: {what} {v} must have {n} values, one per spatial dim")
    return tuple(int(i) for i in t)


def spatial_tuples(x_shape, stride, padding, dilation):
    d = len(x_shape) - 2
    return as_tuple(stride, d, "stride"), as_tuple(padding, d, "padding"), as_tuple(dilation, d, "dilation")


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


def grouped_forward(w, rows, groups):
    """y (O, N*P) = W (O, C/G*K) @ cols (C*K, N*P), one product per group."""
    o, ck = w.shape[0], int(np.prod(w.shape[1:]))               # sizes spelled out: -1 is ambiguous
    if groups == 1:                                              # once N*P (an empty batch) is 0
        return w.reshape(o, rows.shape[0]) @ rows                # the one matmul (BLAS threads)
    return np.matmul(w.reshape(groups, o // groups, ck),
                     rows.reshape(groups, ck, rows.shape[1])).reshape(o, rows.shape[1])


def grouped_data(w, gy, groups):
    """dcols (C*K, N*P) = W^T dY, per group (the adjoint of grouped_forward in the columns)."""
    o, ck = w.shape[0], int(np.prod(w.shape[1:]))
    if groups == 1:
        return w.reshape(o, ck).T @ gy
    wg = w.reshape(groups, o // groups, ck)
    return np.matmul(wg.transpose(0, 2, 1), gy.reshape(groups, o // groups, gy.shape[1])).reshape(groups * ck,
                                                                                                  gy.shape[1])


def grouped_weight(rows, gy, groups, w_shape):
    """dW (O, C/G, *K) = dY cols^T, per group. (cols dY^T)^T rather than dY cols^T: the same
    product, but OpenBLAS runs the long N*P reduction 1.5-2x faster in this orientation."""
    if groups == 1:
        return (rows @ gy.T).T.reshape(w_shape)
    o, ck = w_shape[0], int(np.prod(w_shape[1:]))
    part = np.matmul(rows.reshape(groups, ck, rows.shape[1]),
                     gy.reshape(groups, o // groups, gy.shape[1]).transpose(0, 2, 1))
    return part.transpose(0, 2, 1).reshape(w_shape)


def check_conv_args(op, x, w, d, stride, padding, dilation, groups):
    """stride, padding, dilation as d-tuples, and groups, checked against the shapes
    (x's channels: C for conv, Cin for conv_transpose, both w.shape[0] or w.shape[1] * G)."""
    stride, padding = as_tuple(stride, d, "stride", op), as_tuple(padding, d, "padding", op)
    dilation = as_tuple(dilation, d, "dilation", op)
    if not _is_int(groups):
        raise TypeError(f"{op}: groups must be an int, got {groups!r}")
    if min(stride) < 1 or min(padding) < 0 or min(dilation) < 1 or groups < 1:
        raise ValueError(f"{op}: stride {stride} and dilation {dilation} must be >= 1, padding "
                         f"{padding} >= 0 and groups {groups} >= 1")
    if min(w.shape[2:]) < 1:
        raise ValueError(f"{op}: the weight {w.shape} has an empty kernel_size {w.shape[2:]}; "
                         "every kernel dim must be >= 1")
    if w.shape[0] < groups:        # PyTorch's check_shape_forward: so no conv has 0 out (transposed: in) channels
        raise ValueError(f"{op}: given groups={groups}, expected weight to be at least {groups} at dimension 0, "
                         f"but got weight of size {w.shape}")
    return stride, padding, dilation, int(groups)


def check_rank(op, x, w, b, bias_size=None):
    d = len(x.shape) - 2
    if d not in (1, 2, 3) or len(w.shape) != d + 2:
        raise ValueError(f"{op}: expected input (N, C, *spatial) with 1-3 spatial dims and "
                         f"weight of the same rank, got {x.shape} and {w.shape}")
    if b is not None and b.shape != (bias_size,):
        raise ValueError(f"{op}: bias shape {b.shape} must be ({bias_size},)")
    return d


@register
class Conv(Op):
    name = "conv"
    n_inputs = None         # x, weight[, bias]
    kernels = ("conv2d_forward", "conv2d_backward_data", "conv2d_backward_weight", "conv_sum_partials",
               "conv_forward", "conv_backward_data", "conv_backward_weight")

    def infer(self, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        self.check_float(x, w, *([b] if b else []))
        self.check_same_dtype(x, w, *([b] if b else []))
        d = check_rank("conv", x, w, b, w.shape[0])
        stride, padding, dilation, groups = check_conv_args("conv", x, w, d, stride, padding, dilation, groups)
        if w.shape[1] * groups != x.shape[1]:
            raise ValueError(f"conv: input has {x.shape[1]} channels but weight {w.shape} with "
                             f"groups={groups} expects {w.shape[1] * groups}")
        if w.shape[0] % groups:
            raise ValueError(f"conv: out_channels {w.shape[0]} (weight {w.shape}) must be divisible "
                             f"by groups={groups}")
        out = tuple(out_size(s, k, st, p, dl) for s, k, st, p, dl in
                    zip(x.shape[2:], w.shape[2:], stride, padding, dilation))
        if min(out) < 1:
            raise ValueError(f"conv: kernel {w.shape[2:]} with dilation {dilation} is larger than the padded "
                             f"input {tuple(s + 2 * p for s, p in zip(x.shape[2:], padding))}")
        return Meta((x.shape[0], w.shape[0]) + out, x.dtype)

    def columns(self, x_shape, w_shape, stride, padding, dilation):
        return Columns(x_shape, w_shape[2:], *spatial_tuples(x_shape, stride, padding, dilation))

    def forward(self, ctx, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        n, o = x.shape[0], w.shape[0]
        g = self.columns(x.shape, w.shape, stride, padding, dilation)
        rows = im2col(x, g).reshape(g.rows)                       # (C*K, N*P)
        y = grouped_forward(w, rows, groups)                      # (O, N*P)
        ctx.save(rows=rows)
        return to_batch_first(y.reshape((o, n) + g.out), b)

    def backward(self, ctx, grad, stride=1, padding=0, dilation=1, groups=1):
        x, w = ctx.inputs[:2]
        g = self.columns(x.shape, w.shape, stride, padding, dilation)
        needs = ctx.needs_input_grad
        gy = to_channels_first(grad).reshape(w.shape[0], g.rows[1])    # (O, N*P)
        gx = gw = gb = None
        if needs[0]:
            gx = col2im(grouped_data(w, gy, groups).reshape(g.shape), g)
        if needs[1]:
            gw = grouped_weight(ctx.saved["rows"], gy, groups, w.shape)
        if len(needs) > 2 and needs[2]:
            gb = gy.sum(axis=1)
        return (gx, gw, gb)[:len(needs)]

    # --- CUDA (ops/conv.cu, launched by ops/conv_gpu.py) ---------------------------
    def gpu_forward(self, gpu, ctx, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        gpu.require_dtype(self.name, x, w, *((b,) if b is not None else ()))
        g = Geometry(x.shape, w.shape, *spatial_tuples(x.shape, stride, padding, dilation), groups)
        return gpu_forward(gpu, g, x, w, b)

    def gpu_backward(self, gpu, ctx, grad, stride=1, padding=0, dilation=1, groups=1):
        x, w = ctx.inputs[:2]
        needs = ctx.needs_input_grad
        g = Geometry(x.shape, w.shape, *spatial_tuples(x.shape, stride, padding, dilation), groups)
        gx = gpu_backward_data(gpu, g, grad, w) if needs[0] else None
        want_b = len(needs) > 2 and needs[2]
        gw, gb = gpu_backward_weight(gpu, g, x, grad, needs[1], want_b) if needs[1] or want_b else (None, None)
        return (gx, gw, gb)[:len(needs)]


def transposed_out(op, in_shape, w_shape, stride, padding, output_padding, dilation, groups):
    """conv_transpose's output shape (N, Cout, *out); output_padding, as PyTorch, must be
    smaller than the stride or the dilation (else it would only add unread zeros)."""
    out = []
    for i, k, s, p, op_, dl in zip(in_shape[2:], w_shape[2:], stride, padding, output_padding, dilation):
        if not 0 <= op_ < max(s, dl):
            raise ValueError(f"{op}: output_padding {output_padding} must be >= 0 and smaller than "
                             f"stride {stride} or dilation {dilation}")
        out.append((i - 1) * s - 2 * p + dl * (k - 1) + op_ + 1)
    if min(out) < 1:
        raise ValueError(f"{op}: input {in_shape}, weight {w_shape}, padding {padding} give an empty "
                         f"output {tuple(out)}")
    return (in_shape[0], w_shape[1] * groups) + tuple(out)


@register
class ConvTranspose(Op):
    name = "conv_transpose"
    n_inputs = 2            # x, weight (the bias is a broadcast add in F.conv_transpose*d)
    kernels = Conv.kernels  # conv's three passes in the other order (ops/conv.cu)

    def infer(self, x, w, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
        self.check_float(x, w)
        self.check_same_dtype(x, w)
        d = check_rank(self.name, x, w, None)
        stride, padding, dilation, groups = check_conv_args(self.name, x, w, d, stride, padding, dilation, groups)
        output_padding = as_tuple(output_padding, d, "output_padding", self.name)
        if w.shape[0] != x.shape[1]:
            raise ValueError(f"conv_transpose: input has {x.shape[1]} channels but weight {w.shape} "
                             f"(in_channels, out_channels/groups, *kernel) expects {w.shape[0]}")
        if w.shape[0] % groups:
            raise ValueError(f"conv_transpose: in_channels {w.shape[0]} must be divisible by groups={groups}")
        return Meta(transposed_out(self.name, x.shape, w.shape, stride, padding, output_padding, dilation,
                                   groups), x.dtype)

    def conv_geometry(self, x_shape, w_shape, attrs):
        """The convolution this op is the adjoint of: its input has our output's shape,
        its output our input's (given explicitly: output_padding may leave rows unread)."""
        d = len(x_shape) - 2
        t = {k: as_tuple(attrs[k], d, k) for k in ("stride", "padding", "output_padding", "dilation")}
        y_shape = transposed_out(self.name, x_shape, w_shape, t["stride"], t["padding"], t["output_padding"],
                                 t["dilation"], attrs["groups"])
        return y_shape, Columns(y_shape, w_shape[2:], t["stride"], t["padding"], t["dilation"], out=x_shape[2:])

    def forward(self, ctx, x, w, **attrs):
        attrs = dict(dict(stride=1, padding=0, output_padding=0, dilation=1, groups=1), **attrs)
        y_shape, g = self.conv_geometry(x.shape, w.shape, attrs)
        gy = to_channels_first(x).reshape(w.shape[0], g.rows[1])          # (Cin, N*P)
        return col2im(grouped_data(w, gy, attrs["groups"]).reshape(g.shape), g)

    def backward(self, ctx, grad, **attrs):
        attrs = dict(dict(stride=1, padding=0, output_padding=0, dilation=1, groups=1), **attrs)
        x, w = ctx.inputs
        _, g = self.conv_geometry(x.shape, w.shape, attrs)
        rows = im2col(grad, g).reshape(g.rows)                            # (Cout*K, N*P)
        gx = gw = None
        if ctx.needs_input_grad[0]:
            gx = to_batch_first(grouped_forward(w, rows, attrs["groups"]).reshape((w.shape[0], x.shape[0]) + g.out))
        if ctx.needs_input_grad[1]:
            gy = to_channels_first(x).reshape(w.shape[0], g.rows[1])
            gw = grouped_weight(rows, gy, attrs["groups"], w.shape)
        return gx, gw

    def gpu_geometry(self, x_shape, w_shape, attrs):
        attrs = dict(dict(stride=1, padding=0, output_padding=0, dilation=1, groups=1), **attrs)
        y_shape, _ = self.conv_geometry(x_shape, w_shape, attrs)
        return Geometry(y_shape, w_shape, *spatial_tuples(y_shape, attrs["stride"], attrs["padding"],
                                                          attrs["dilation"]), attrs["groups"], out=x_shape[2:])

    def gpu_forward(self, gpu, ctx, x, w, **attrs):
        gpu.require_dtype(self.name, x, w)
        return gpu_backward_data(gpu, self.gpu_geometry(x.shape, w.shape, attrs), x, w)

    def gpu_backward(self, gpu, ctx, grad, **attrs):
        x, w = ctx.inputs
        g = self.gpu_geometry(x.shape, w.shape, attrs)
        gx = gpu_forward(gpu, g, grad, w, None) if ctx.needs_input_grad[0] else None
        gw = gpu_backward_weight(gpu, g, grad, x, True, False)[0] if ctx.needs_input_grad[1] else None
        return gx, gw
