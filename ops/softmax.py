"""Softmax, log-softmax and softmax-cross-entropy, fused and numerically stable.

softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m) with m = max_j x_j: subtracting
the row maximum changes nothing mathematically and keeps exp() from overflowing
(logits of +-1000 stay finite). Cross-entropy is computed from log-softmax, and its
gradient is the lecture's (p - onehot(t)) / N. Kernels: ops/softmax.cu, one block
per row.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Domain, Meta, Op, normalize_axes, register

SOURCE = "softmax.cu"


def log_softmax_ref(x, axis):
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
        normalize_axes(self.name, axis, len(x.shape))
        return Meta(x.shape, x.dtype)


@register
class Softmax(RowOp):
    name = "softmax"
    saves = ("output",)
    kernels = ("softmax_forward", "softmax_backward")

    def forward(self, ctx, x, axis=-1):
        return np.exp(log_softmax_ref(x, axis)).astype(x.dtype)

    def backward(self, ctx, grad, axis=-1):
        y = ctx.output
        return (y * (grad - (grad * y).sum(axis=axis, keepdims=True)),)


@register
class LogSoftmax(RowOp):
    name = "log_softmax"
    saves = ("output",)
    kernels = ("log_softmax_forward", "log_softmax_backward")

    def forward(self, ctx, x, axis=-1):
        return log_softmax_ref(x, axis).astype(x.dtype)

    def backward(self, ctx, grad, axis=-1):
        return (grad - np.exp(ctx.output) * grad.sum(axis=axis, keepdims=True),)


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

    @staticmethod
    def check_labels(labels, n_classes):
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            bad = labels[(labels < 0) | (labels >= n_classes)][0]
            raise ValueError(f"cross_entropy: label {bad} is out of range for {n_classes} classes")

    def forward(self, ctx, logits, labels, reduction="mean"):
        self.check_labels(labels, logits.shape[1])
        logp = log_softmax_ref(logits, axis=1)
        ctx.save(probs=np.exp(logp), labels=labels)
        losses = -logp[np.arange(len(labels)), labels]
        if reduction == "none":
            return losses.astype(logits.dtype)
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
        return (g.astype(probs.dtype), None)
