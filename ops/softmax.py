"""Softmax, log-softmax, logsumexp and softmax-cross-entropy, fused and numerically stable.

softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m) with m = max_j x_j: subtracting
the row maximum changes nothing mathematically and keeps exp() from overflowing
(logits of +-1000 stay finite). Cross-entropy is computed from log-softmax, and its
gradient is the lecture's (p - onehot(t)) / N. Kernels: ops/softmax.cu, one block
per row.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Domain, Meta, Op, normalize_axes, register

from . import reduce as reduce_ops
from .reduce import launch_config

SOURCE = "softmax.cu"


def log_softmax_ref(x, axis):
    if x.size == 0:                   # rows of no element (or no rows): nothing to normalise
        return x.copy()
    m = x.max(axis=axis, keepdims=True)
    shifted = x - m
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class RowOp(Op):
    domain = Domain(-4, 4)
    test_attrs = (dict(axis=-1), dict(axis=0))

    def infer(self, x, axis=-1):
        self.check_float(x)
        if len(x.shape) == 0:
            raise ValueError(f"{self.name}: needs at least 1 dimension, got a 0-d tensor")
        if not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{self.name}: axis must be an int (one axis), got {axis!r}")
        normalize_axes(self.name, axis, len(x.shape))
        return Meta(x.shape, x.dtype)

    @staticmethod
    def rows(shape, axis):
        """(outer, C, inner): the view in which the rows along `axis` are x[o, :, i]."""
        a = normalize_axes("softmax", axis, len(shape))[0]
        return int(np.prod(shape[:a])), shape[a], int(np.prod(shape[a + 1:]))

    # CUDA: <name>_forward(x, y, outer, C, inner), one block per row
    def gpu_forward(self, gpu, ctx, x, axis=-1):
        gpu.require_dtype(self.name, x)
        y = gpu.empty(x.shape, x.dtype)
        if y.size:
            outer, C, inner = self.rows(x.shape, axis)
            grid, block = launch_config(gpu, outer * inner, C)
            gpu.launch(SOURCE, self.kernels[0], grid, block, x, y, np.int64(outer), np.int64(C), np.int64(inner))
        return y

    # CUDA: <name>_backward(grad, y, dx, outer, C, inner), one block per row
    def gpu_backward(self, gpu, ctx, grad, axis=-1):
        if not ctx.needs_input_grad[0]:
            return (None,)
        dx = gpu.empty(grad.shape, grad.dtype)
        if dx.size:
            outer, C, inner = self.rows(grad.shape, axis)
            grid, block = launch_config(gpu, outer * inner, C)
            gpu.launch(SOURCE, self.kernels[1], grid, block, grad, ctx.output, dx,
                       np.int64(outer), np.int64(C), np.int64(inner))
        return (dx,)


@register
class Softmax(RowOp):
    name = "softmax"
    saves = ("output",)
    kernels = ("softmax_forward", "softmax_backward")

    def forward(self, ctx, x, axis=-1):
        return np.exp(log_softmax_ref(x, axis)).astype(x.dtype, copy=False)

    def backward(self, ctx, grad, axis=-1):
        y = ctx.output
        return (y * (grad - (grad * y).sum(axis=axis, keepdims=True)),)


@register
class LogSoftmax(RowOp):
    name = "log_softmax"
    saves = ("output",)
    kernels = ("log_softmax_forward", "log_softmax_backward")

    def forward(self, ctx, x, axis=-1):
        return log_softmax_ref(x, axis).astype(x.dtype, copy=False)

    def backward(self, ctx, grad, axis=-1):
        return (grad - np.exp(ctx.output) * grad.sum(axis=axis, keepdims=True),)


def label_error(label, n_classes, op="cross_entropy"):
    """The one message for a bad label, on every device (also F.nll_loss's)."""
    return ValueError(f"{op}: label {label} is out of range for {n_classes} classes "
                      f"(labels must be in [0, {n_classes}))")


def check_labels(labels, n_classes, op="cross_entropy"):
    """Host labels (a numpy integer array) in [0, n_classes), else label_error naming
    the first bad one."""
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise label_error(labels[(labels < 0) | (labels >= n_classes)][0], n_classes, op)


def bad_label_error(details):
    """The error a GPU device raises from cross_entropy_forward's record (ops/softmax.cu):
    words 1 and 2 hold the high and low 32 bits of the first bad label, word 3 the classes."""
    high, low, n_classes = details
    label = np.array([(high & 0xFFFFFFFF) << 32 | (low & 0xFFFFFFFF)], np.uint64).view(np.int64)[0]
    return label_error(label, n_classes)


@register
class CrossEntropy(Op):
    """E = -log softmax(logits)[n, t_n], averaged (or summed) over the batch.
    Inputs: logits (N, C) float, labels (N,) int in [0, C)."""
    name = "cross_entropy"
    n_inputs = 2
    saves = ()
    domain = Domain(-4, 4)
    kernels = ("cross_entropy_forward", "cross_entropy_backward")
    test_attrs = (dict(reduction="mean"), dict(reduction="sum"), dict(reduction="none"))

    def infer(self, logits, labels, reduction="mean"):
        self.check_float(logits)
        if labels.dtype.kind not in "iu":
            raise TypeError(f"cross_entropy: labels must be an integer tensor, got {labels.dtype}")
        if len(logits.shape) != 2 or len(labels.shape) != 1 or labels.shape[0] != logits.shape[0]:
            raise ValueError(f"cross_entropy: expected logits (N, C) and labels (N,), got "
                             f"{logits.shape} and {labels.shape}")
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        return Meta((logits.shape[0],) if reduction == "none" else (), logits.dtype)

    check_labels = staticmethod(check_labels)

    def forward(self, ctx, logits, labels, reduction="mean"):
        self.check_labels(labels, logits.shape[1])
        logp = log_softmax_ref(logits, axis=1)
        ctx.save(probs=np.exp(logp), labels=labels)
        losses = -logp[np.arange(len(labels)), labels]
        if reduction == "none":
            return losses.astype(logits.dtype)
        with np.errstate(invalid="ignore"):   # the mean of no labels is NaN, as in PyTorch
            total = losses.sum() / (len(labels) if reduction == "mean" else 1)
        return np.asarray(total, dtype=logits.dtype)

    def backward(self, ctx, grad, reduction="mean"):
        probs, labels = ctx.saved["probs"], ctx.saved["labels"]
        g = probs.copy()
        g[np.arange(len(labels)), labels] -= 1
        if reduction == "none":
            g *= grad[:, None]
        else:
            g *= grad / (len(labels) if reduction == "mean" and len(labels) else 1)
        return (g.astype(probs.dtype, copy=False), None)

    # Labels are checked on the device, not copied to the host (a copy would make the
    # host wait for the device in every training step): cross_entropy_forward writes the
    # first bad row's label to the device's error record, and the device raises
    # bad_label_error at its next synchronisation (.item(), .numpy()), before any value
    # can be read; with TINYGRAD_CU_SYNC=1, right after the launch.
    def gpu_forward(self, gpu, ctx, logits, labels, reduction="mean"):
        gpu.require_dtype(self.name, logits)
        gpu.require_dtype(self.name, labels, dtype=dtypes.int64)
        N, C = logits.shape
        if N >= 2**31:
            raise ValueError(f"cross_entropy: device {gpu.name} takes at most 2^31 - 1 rows, got {N}")
        probs = gpu.empty(logits.shape, logits.dtype)
        losses = gpu.empty((N,), logits.dtype)
        if N:
            record, code = gpu.error_record(bad_label_error)
            grid, block = launch_config(gpu, N, C)
            gpu.launch(SOURCE, "cross_entropy_forward", grid, block, logits, labels, probs, losses,
                       np.int64(N), np.int64(C), record, code)
        ctx.save(probs=probs, labels=labels)
        if reduction == "none":
            return losses
        if N == 0:     # as numpy: the sum of nothing is 0, its mean 0/0
            return gpu.full((), np.nan if reduction == "mean" else 0.0, logits.dtype)
        scale = 1.0 / N if reduction == "mean" else 1.0
        return reduce_ops.gpu_reduce(gpu, "sum_forward", losses, (0,), (), scale=scale)

    # CUDA: one thread per logit, dx = (p - onehot) * grad * scale
    def gpu_backward(self, gpu, ctx, grad, reduction="mean"):
        if not ctx.needs_input_grad[0]:
            return (None, None)
        probs, labels = ctx.saved["probs"], ctx.saved["labels"]
        N, C = probs.shape
        dx = gpu.empty(probs.shape, probs.dtype)
        if dx.size:
            scale = 1.0 / N if reduction == "mean" else 1.0
            grid, block = gpu.grid_1d(dx.size)
            gpu.launch(SOURCE, "cross_entropy_backward", grid, block, probs, labels, grad, dx,
                       np.int64(N), np.int64(C), np.int32(reduction == "none"), np.float32(scale))
        return (dx, None)


@register
class LogSumExp(RowOp):
    """log(sum(exp(x))) along one axis, stable (the row max is subtracted first; a row
    of -inf gives -inf). Gradient: grad * softmax(x). Tensor.logsumexp reduces several
    dims by moving them to the end first (tinygrad_cu/tensor_reductions.py)."""
    name = "logsumexp"
    saves = ("inputs", "output")
    kernels = ("logsumexp_forward", "logsumexp_backward")
    test_attrs = (dict(axis=-1, keepdims=False), dict(axis=0, keepdims=True), dict(axis=1, keepdims=False))

    def infer(self, x, axis=-1, keepdims=False):
        super().infer(x, axis)
        a = normalize_axes(self.name, axis, len(x.shape))[0]
        return Meta(reduce_ops.reduced_shape(x.shape, (a,), keepdims), x.dtype)

    def forward(self, ctx, x, axis=-1, keepdims=False):
        m = x.max(axis=axis, keepdims=True, initial=-np.inf)   # initial: rows of no element
        m = np.where(np.isinf(m), 0, m)
        with np.errstate(divide="ignore"):          # log(0) = -inf: a row of -inf
            out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
        return (out if keepdims else out.squeeze(axis)).astype(x.dtype, copy=False)

    def backward(self, ctx, grad, axis=-1, keepdims=False):
        x, y = ctx.inputs[0], ctx.output
        if not keepdims:
            y, grad = np.expand_dims(y, axis), np.expand_dims(grad, axis)
        return (grad * np.exp(x - y),)

    def gpu_forward(self, gpu, ctx, x, axis=-1, keepdims=False):
        gpu.require_dtype(self.name, x)
        y = gpu.empty(self.infer(Meta(x.shape, x.dtype), axis, keepdims).shape, x.dtype)
        outer, C, inner = self.rows(x.shape, axis)
        if y.size == 0:
            return y
        if C == 0:                                   # log of an empty sum
            return gpu.full(y.shape, -np.inf, x.dtype)
        grid, block = launch_config(gpu, outer * inner, C)
        gpu.launch(SOURCE, "logsumexp_forward", grid, block, x, y, np.int64(outer), np.int64(C), np.int64(inner))
        return y

    def gpu_backward(self, gpu, ctx, grad, axis=-1, keepdims=False):
        if not ctx.needs_input_grad[0]:
            return (None,)
        x = ctx.inputs[0]
        dx = gpu.empty(x.shape, grad.dtype)
        if dx.size:
            outer, C, inner = self.rows(x.shape, axis)
            grid, block = gpu.grid_1d(dx.size)
            gpu.launch(SOURCE, "logsumexp_backward", grid, block, x, ctx.output, grad, dx,
                       np.int64(outer), np.int64(C), np.int64(inner))
        return (dx,)
