"""Losses with PyTorch's names, arguments and reductions (re-exported by nn.functional).

Pointwise losses (binary_cross_entropy[_with_logits], l1, smooth_l1, huber, kl_div) are
one op each (ops/loss.py, its own forward/backward kernels) followed by the reduction.
cross_entropy takes the fused `cross_entropy` op (ops/softmax.py: softmax and the
gathered log in one kernel, labels checked on the device) in the plain case: integer
labels, no weight, no label smoothing, and either labels given as a Tensor with the
default ignore_index (they are never read on the host then: no sync, jit-capturable; a
label of -100 is reported as out of range rather than ignored) or host labels of which
none equals ignore_index. Pass ignore_index explicitly to have it ignored in a Tensor.
Every other form is a documented composite of the fused log_softmax op, a gather
(getitem with host label indices) and arithmetic, with PyTorch's formulas:

    nll      l_n = -w[y_n] logp[n, y_n], 0 where y_n = ignore_index;
             mean = sum l_n / sum w[y_n] over the kept n (a weighted mean, as PyTorch)
    smooth   s_n = -sum_c w[c] logp[n, c] (0 where ignored), reduced as nll
    label smoothing eps:  (1 - eps) nll + eps / C * smooth
    class probabilities p (same shape as the input): l_n = -sum_c w[c] p'[n, c] logp[n, c],
             p' = (1 - eps) p + eps / C; mean = sum / N
Inputs may be (N, C), (C,) or (N, C, d1, ...), as PyTorch's.
"""
import numpy as np

from ..errors import OpTypeError
from ..autograd import apply
from ..ops.softmax import check_labels
from ..tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def reduce_loss(values, reduction, name, allowed=REDUCTIONS):
    """Per-element losses -> their mean, sum, or themselves ('none'), as PyTorch's `reduction`."""
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}")
    if reduction == "mean":
        return values.mean()
    return values.sum() if reduction == "sum" else values


def _tensor_like(x, value, name):
    if isinstance(value, Tensor):
        if value.device != x.device:
            raise RuntimeError(f"{name}: input on {x.device} but target on {value.device}")
        return value
    return Tensor(np.asarray(value), dtype=x.dtype, device=x.device)


def _pointwise(op, input, target, reduction, weight=None, **attrs):
    target = _tensor_like(input, target, op)
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    losses = apply(op, input, target, **attrs)
    if weight is not None:
        losses = losses * _tensor_like(input, weight, op)
    return losses


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-(t log x + (1 - t) log(1 - x)) for probabilities x; each log clamped at -100."""
    return reduce_loss(_pointwise("binary_cross_entropy", input, target, reduction, weight), reduction,
                       "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """binary_cross_entropy(sigmoid(z), t) computed stably from the logits z. pos_weight
    (broadcast over the last dim) multiplies the positive term: the composite
    l + (pos_weight - 1) t (l - (1 - t) z), where l - (1 - t) z = log(1 + e^-z) >= 0."""
    target = _tensor_like(input, target, "binary_cross_entropy_with_logits")
    losses = _pointwise("binary_cross_entropy_with_logits", input, target, reduction)
    if pos_weight is not None:
        pos_weight = _tensor_like(input, pos_weight, "binary_cross_entropy_with_logits")
        losses = losses + (pos_weight - 1.0) * target * (losses - (1.0 - target) * input)
    if weight is not None:
        losses = losses * _tensor_like(input, weight, "binary_cross_entropy_with_logits")
    return reduce_loss(losses, reduction, "binary_cross_entropy_with_logits")


def l1_loss(input, target, reduction="mean"):
    return reduce_loss(_pointwise("l1_loss", input, target, reduction), reduction, "l1_loss")


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    return reduce_loss(_pointwise("smooth_l1_loss", input, target, reduction, beta=float(beta)), reduction,
                       "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0):
    return reduce_loss(_pointwise("huber_loss", input, target, reduction, delta=float(delta)), reduction,
                       "huber_loss")


def kl_div(input, target, reduction="mean", log_target=False):
    """KL(target || exp(input)) pointwise: input holds log-probabilities; target probabilities
    (or log-probabilities with log_target=True). reduction='batchmean' divides the sum by the
    batch size (the true KL divergence per sample); 'mean' divides by every element, as PyTorch."""
    losses = _pointwise("kl_div", input, target, reduction, log_target=bool(log_target))
    if reduction == "batchmean":
        return losses.sum() / float(input.shape[0] if input.ndim else 1)
    return reduce_loss(losses, reduction, "kl_div", REDUCTIONS)


# --- classification ------------------------------------------------------------------------
def _class_last(x, name):
    """(N, C, d1, ...) -> (N*d1*..., C) rows, (C,) -> (1, C); and the shape of one loss per row."""
    if x.ndim == 1:
        return x.reshape(1, -1), ()
    if x.ndim == 2:
        return x, (x.shape[0],)
    if x.ndim < 1:
        raise ValueError(f"{name}: expected an input (N, C) or (N, C, d1, ...), got {x.shape}")
    dims = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.permute(*dims).reshape(-1, x.shape[1]), (x.shape[0],) + tuple(x.shape[2:])


def _host_labels(target):
    return target.numpy() if isinstance(target, Tensor) else np.asarray(target)


def _weighted_nll(logp, labels, weight, ignore_index, name):
    """Per-row -w[y] logp[n, y] (0 where ignored) and per-row weights w[y] (0 where ignored)."""
    n, c = logp.shape
    keep = labels != ignore_index
    check_labels(labels[keep], c, name)
    safe = np.where(keep, labels, 0)
    keep_t = Tensor(keep.astype(logp.dtype), dtype=logp.dtype, device=logp.device)
    row_weight = keep_t if weight is None else weight[safe] * keep_t
    return -logp[np.arange(n), safe] * row_weight, row_weight, keep_t


def _check_weight(weight, c, name):
    if weight is not None and weight.shape != (c,):
        raise ValueError(f"{name}: weight of shape {weight.shape} must be ({c},), one per class")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """-input[n, y_n] * weight[y_n] for log-probabilities `input` (after log_softmax);
    mean = weighted mean over the labels that are not ignore_index."""
    rows, out_shape = _class_last(input, "nll_loss")
    labels = _host_labels(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: labels must be integers, got {labels.dtype}")
    if labels.shape != out_shape:
        raise ValueError(f"nll_loss: expected labels of shape {out_shape} for log-probabilities "
                         f"{input.shape}, got {labels.shape}")
    _check_weight(weight, rows.shape[1], "nll_loss")
    losses, row_weight, _ = _weighted_nll(rows, labels.reshape(-1), weight, ignore_index, "nll_loss")
    return _reduce_weighted(losses, row_weight, reduction, out_shape, "nll_loss")


def _reduce_weighted(losses, row_weight, reduction, out_shape, name):
    if reduction == "mean":
        return losses.sum() / row_weight.sum()
    if reduction == "none":
        return losses.reshape(out_shape)
    return reduce_loss(losses, reduction, name)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """-log softmax(input)[target] from raw logits, with PyTorch's weight, ignore_index,
    reduction, label_smoothing and class-probability (float) targets."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {', '.join(map(repr, REDUCTIONS))}, "
                         f"got {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    probabilities = (isinstance(target, Tensor) and target.dtype.kind == "f") or \
        (not isinstance(target, Tensor) and np.asarray(target).dtype.kind == "f")
    if not probabilities and weight is None and label_smoothing == 0 and input.ndim == 2 and \
            (ignore_index == -100 if isinstance(target, Tensor) else not (np.asarray(target) == ignore_index).any()):
        if not isinstance(target, Tensor):
            target = Tensor(np.asarray(target), device=input.device)
        if target.dtype.kind in "iu" and target.dtype != np.int64:
            target = target.long()              # the kernels take int64 labels
        return apply("cross_entropy", input, target, reduction=reduction)
    rows, out_shape = _class_last(input, "cross_entropy")
    c = rows.shape[1]
    _check_weight(weight, c, "cross_entropy")
    logp = apply("log_softmax", rows, axis=-1)
    eps = float(label_smoothing)
    if probabilities:
        t_shape, t_dtype = ((tuple(target.shape), target.dtype) if isinstance(target, Tensor)
                            else (np.shape(target), np.asarray(target).dtype))
        if t_shape != tuple(input.shape):
            raise OpTypeError(f"cross_entropy: labels must be an integer tensor, got {t_dtype} (float targets are "
                            f"class probabilities of the input's shape {input.shape}, got {t_shape})")
        p, _ = _class_last(_tensor_like(input, target, "cross_entropy"), "cross_entropy")
        if eps:
            p = p * (1.0 - eps) + eps / c
        weighted = logp * p if weight is None else logp * p * weight.reshape(1, c)
        losses = -weighted.sum(axis=1)
        if reduction == "none":
            return losses.reshape(out_shape)
        return losses.sum() / float(rows.shape[0]) if reduction == "mean" else losses.sum()
    labels = _host_labels(target)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: labels must be integers or class probabilities, got {labels.dtype}")
    if labels.shape != out_shape:
        raise ValueError(f"cross_entropy: expected labels of shape {out_shape} for logits {input.shape}, "
                         f"got {labels.shape}")
    nll, row_weight, keep = _weighted_nll(logp, labels.reshape(-1), weight, ignore_index, "cross_entropy")
    loss = _reduce_weighted(nll, row_weight, reduction, out_shape, "cross_entropy")
    if not eps:
        return loss
    per_class = logp if weight is None else logp * weight.reshape(1, c)
    smooth = -per_class.sum(axis=1) * keep
    smooth = (smooth.sum() / row_weight.sum() if reduction == "mean" else
              smooth.reshape(out_shape) if reduction == "none" else smooth.sum())
    return loss * (1.0 - eps) + smooth * (eps / c)
