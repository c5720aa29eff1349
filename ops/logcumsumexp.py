"""logcumsumexp along one axis (PyTorch's torch.logcumsumexp(x, dim)): y_k =
log(sum_{j <= k} exp(x_j)), computed by a scan whose combine is the stable
log(e^a + e^b) = max + log1p(exp(-|a - b|)), so [0, 100, 1000] neither overflows nor loses
the small terms. Gradient: dx_j = sum_{k >= j} g_k exp(x_j - y_k), in log space (the
positive and negative parts of g each a reverse log-sum-exp scan), as PyTorch.
Kernels: ops/logcumsumexp.cu (a block-wide Hillis-Steele scan per row, as ops/scan.cu).
"""
import numpy as np

from tinygrad_cu.op import Domain, Meta, Op, normalize_axes, register

from .reduce import launch_config, rows_view

SOURCE = "logcumsumexp.cu"


def rows_last(a, axis):
    """a with `axis` moved last (a 0-d array as one element)."""
    return np.moveaxis(a.reshape(1) if a.ndim == 0 else a, axis, -1)


def back_in_place(a, axis, shape):
    return np.array(np.moveaxis(a, -1, axis if len(shape) else 0).reshape(shape), order="C")


@register
class Logcumsumexp(Op):
    name = "logcumsumexp"
    saves = ("inputs", "output")
    kernels = ("logcumsumexp_forward", "logcumsumexp_backward")
    domain = Domain(-3, 3)
    test_attrs = (dict(axis=-1), dict(axis=0))

    def infer(self, x, axis=-1):
        self.check_float(x)
        if not isinstance(axis, (int, np.integer)):
            raise TypeError(f"logcumsumexp: dim must be an int, got {axis!r}")
        normalize_axes(self.name, axis, max(len(x.shape), 1))
        return Meta(x.shape, x.dtype)

    def forward(self, ctx, x, axis=-1):
        with np.errstate(over="ignore"):
            y = np.logaddexp.accumulate(rows_last(x, axis), axis=-1) if x.size else x
        return back_in_place(np.asarray(y, x.dtype), axis, x.shape) if x.size else x.copy()

    def backward(self, ctx, grad, axis=-1):
        x, y, g = (rows_last(a, axis) for a in (ctx.inputs[0], ctx.output, grad))
        with np.errstate(divide="ignore"):
            parts = []
            for part in (np.maximum(g, 0), np.maximum(-g, 0)):
                terms = np.log(part) - y                    # log(0) = -inf: no contribution
                parts.append(np.logaddexp.accumulate(terms[..., ::-1], axis=-1)[..., ::-1])
        dx = np.exp(x + parts[0]) - np.exp(x + parts[1])
        return (back_in_place(dx.astype(grad.dtype), axis, grad.shape),)

    def gpu_forward(self, gpu, ctx, x, axis=-1):
        gpu.require_dtype(self.name, x)
        y = gpu.empty(x.shape, x.dtype)
        if y.size:
            outer, R, inner = rows_view(x.shape, axis)
            grid, block = launch_config(gpu, outer * inner, R)
            gpu.launch(SOURCE, "logcumsumexp_forward", grid, block, x, y, np.int64(outer), np.int64(R),
                       np.int64(inner))
        return y

    def gpu_backward(self, gpu, ctx, grad, axis=-1):
        if not ctx.needs_input_grad[0]:
            return (None,)
        dx = gpu.empty(grad.shape, grad.dtype)
        if dx.size:
            outer, R, inner = rows_view(grad.shape, axis)
            grid, block = launch_config(gpu, outer * inner, R)
            gpu.launch(SOURCE, "logcumsumexp_backward", grid, block, ctx.inputs[0], ctx.output, grad, dx,
                       np.int64(outer), np.int64(R), np.int64(inner))
        return (dx,)
