"""Loss functions, as functions and as modules.

Besides PyTorch's CrossEntropyLoss and MSELoss, the lecture's two error functions on
the network's softmax probabilities k = softmax(scores) and the target class T:

    one_minus_target_prob_loss:    E = 1 - k[T]
    quadratic_class_distance_loss: E = sum_j k[j] (j - T)^2

Both are averaged over the batch. They are composed from Tensor ops (softmax, integer
array indexing, arithmetic), so autograd differentiates them with no new kernel.
"""
import numpy as np

from ..tensor import Tensor
from . import functional as F
from .module import Module


def _labels(target, n):
    labels = target.numpy() if isinstance(target, Tensor) else np.asarray(target)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise ValueError(f"expected integer class labels of shape ({n},), got {labels.dtype} {labels.shape}")
    return labels.astype(np.int64)


def _probabilities(scores, apply_softmax):
    if scores.ndim != 2:
        raise ValueError(f"expected scores of shape (N, C), got {scores.shape}")
    return F.softmax(scores, dim=-1) if apply_softmax else scores


def one_minus_target_prob_loss(scores, target, apply_softmax=True, reduction="mean"):
    """The lecture's E = 1 - k[T]: one minus the probability given to the right class.

    scores: (N, C) raw network outputs (softmax applied here), or probabilities k if
    apply_softmax=False; target: (N,) integer classes T. Mean over the batch."""
    k = _probabilities(scores, apply_softmax)
    labels = _labels(target, k.shape[0])
    return F.reduce_loss(1.0 - k[np.arange(k.shape[0]), labels], reduction, "one_minus_target_prob_loss")


def quadratic_class_distance_loss(scores, target, apply_softmax=True, reduction="mean"):
    """The lecture's quadratic error E = sum_j k[j] (j - T)^2: the expected squared
    distance between the predicted class index j and the target T (sensible when the
    classes are ordered, e.g. digits as numbers). Arguments as one_minus_target_prob_loss."""
    k = _probabilities(scores, apply_softmax)
    labels = _labels(target, k.shape[0])
    distance2 = (np.arange(k.shape[1])[None, :] - labels[:, None]) ** 2      # (N, C), a constant
    weighted = k * Tensor(distance2, dtype=k.dtype, device=k.device)
    return F.reduce_loss(weighted.sum(axis=1), reduction, "quadratic_class_distance_loss")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """-log softmax(scores)[T], from raw scores (N, C) and integer labels (N,) or class
    probabilities; weight, ignore_index and label_smoothing as F.cross_entropy."""
    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        self.weight, self.ignore_index, self.label_smoothing = weight, ignore_index, label_smoothing

    def forward(self, scores, target):
        return F.cross_entropy(scores, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class MSELoss(_Loss):
    """mean((input - target)^2)."""
    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class OneMinusTargetProbLoss(_Loss):
    """Module form of one_minus_target_prob_loss: E = 1 - k[T]."""
    def __init__(self, apply_softmax=True, reduction="mean"):
        super().__init__(reduction)
        self.apply_softmax = apply_softmax

    def forward(self, scores, target):
        return one_minus_target_prob_loss(scores, target, self.apply_softmax, self.reduction)


class QuadraticClassDistanceLoss(OneMinusTargetProbLoss):
    """Module form of quadratic_class_distance_loss: E = sum_j k[j] (j - T)^2."""
    def forward(self, scores, target):
        return quadratic_class_distance_loss(scores, target, self.apply_softmax, self.reduction)
