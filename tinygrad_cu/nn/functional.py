"""Functional forms of the layers and losses, with PyTorch's names and arguments.

Fused ops (softmax, cross_entropy, conv, pooling) have their own kernels; the rest
is composed from Tensor arithmetic, which autograd differentiates for free.
"""
import numpy as np

from ..autograd import apply
from ..ops.softmax import check_labels
from ..tensor import Tensor
from ..tensor_movement import one_hot  # noqa: F401  (int64 class indicators; ops/gather.py)


def relu(x): return x.relu()
def sigmoid(x): return x.sigmoid()
def tanh(x): return x.tanh()
def softplus(x): return x.softplus()
def sign(x): return x.sign()


# --- activations with their own kernels (ops/activation.cu; issue 11) ---------------------
def _not_inplace(name, inplace):
    if inplace:
        raise NotImplementedError(f"{name}: inplace=True is not supported; the result is a new "
                                  "tensor (call it with inplace=False)")


def leaky_relu(input, negative_slope=0.01, inplace=False):
    _not_inplace("leaky_relu", inplace)
    return input.leaky_relu(negative_slope)


def elu(input, alpha=1.0, inplace=False):
    _not_inplace("elu", inplace)
    return input.elu(alpha)


def gelu(input, approximate="none"):
    return input.gelu(approximate=approximate)


def silu(input, inplace=False):
    _not_inplace("silu", inplace)
    return input.silu()


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    _not_inplace("hardtanh", inplace)
    return input.hardtanh(min_val, max_val)


def relu6(input, inplace=False):
    _not_inplace("relu6", inplace)
    return input.relu6()


def hardsigmoid(input, inplace=False):
    _not_inplace("hardsigmoid", inplace)
    return input.hardsigmoid()


def hardswish(input, inplace=False):
    _not_inplace("hardswish", inplace)
    return input.hardswish()


def softsign(input):
    return input.softsign()


def mish(input, inplace=False):
    _not_inplace("mish", inplace)
    return input.mish()


def softmax(x, dim=-1):
    return apply("softmax", x, axis=dim)


def log_softmax(x, dim=-1):
    return apply("log_softmax", x, axis=dim)


def cross_entropy(logits, labels, reduction="mean"):
    """-log softmax(logits)[t], from raw logits (N, C) and integer labels (N,)."""
    if not isinstance(labels, Tensor):
        labels = Tensor(np.asarray(labels), device=logits.device)
    if labels.dtype.kind in "iu" and labels.dtype != np.int64:
        labels = labels.long()                 # the kernels take int64 labels
    return apply("cross_entropy", logits, labels, reduction=reduction)


def nll_loss(log_probs, labels, reduction="mean"):
    """-log_probs[n, t_n]: cross_entropy for inputs that already went through log_softmax.

    The labels are indices into the rows, so they are needed on the host anyway; they are
    checked there, on every device, with cross_entropy's message (a label of -1 would
    otherwise pick the last class, as numpy indexing does)."""
    if log_probs.ndim != 2:
        raise ValueError(f"nll_loss: expected log-probabilities (N, C), got {log_probs.shape}")
    n, n_classes = log_probs.shape
    labels = labels.numpy() if isinstance(labels, Tensor) else np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: labels must be integers, got {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"nll_loss: expected labels of shape ({n},) for log-probabilities "
                         f"{log_probs.shape}, got {labels.shape}")
    check_labels(labels, n_classes, "nll_loss")
    picked = -log_probs[np.arange(n), labels]
    return reduce_loss(picked, reduction, "nll_loss")


def mse_loss(input, target, reduction="mean"):
    """mean((input - target)^2)."""
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target), dtype=input.dtype, device=input.device)
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input {input.shape} and target {target.shape} must have the same shape")
    diff = input - target
    return reduce_loss(diff * diff, reduction, "mse_loss")


def reduce_loss(values, reduction, name):
    """Per-example losses -> their mean, sum, or themselves ('none'), as PyTorch's `reduction`."""
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction == "none":
        return values
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def linear(x, weight, bias=None):
    """y = x W^T + b with W of shape (out_features, in_features), as PyTorch."""
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input {x.shape} has {x.shape[-1]} features but weight "
                         f"{weight.shape} expects {weight.shape[-1]}")
    if weight.ndim != 2 or x.ndim < 1:
        raise ValueError(f"linear: expected a 2-D weight and an input with features last, got "
                         f"{weight.shape} and {x.shape}")
    # one linear op: x W^T (the GEMM reads W transposed in place, no copy of W^T) plus b
    params = (weight,) if bias is None else (weight, bias)
    if x.ndim == 2:
        return apply("linear", x, *params)
    # (..., in) -> rows of one 2-D product
    return apply("linear", x.reshape(-1, x.shape[-1]), *params).reshape(*x.shape[:-1], weight.shape[0])


def _conv(d, x, weight, bias, stride, padding):
    if x.ndim != d + 2:
        raise ValueError(f"conv{d}d: expected input (N, C{', *spatial' if d else ''}) with {d} spatial "
                         f"dims, got {x.shape}")
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return apply("conv", *inputs, stride=stride, padding=padding)


def conv1d(x, weight, bias=None, stride=1, padding=0):
    """x (N, C, L), weight (O, C, k): audio-like signals."""
    return _conv(1, x, weight, bias, stride, padding)


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """x (N, C, H, W), weight (O, C, kh, kw): images."""
    return _conv(2, x, weight, bias, stride, padding)


def conv3d(x, weight, bias=None, stride=1, padding=0):
    """x (N, C, D, H, W), weight (O, C, kd, kh, kw): volumes."""
    return _conv(3, x, weight, bias, stride, padding)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    return apply("max_pool2d", x, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    return apply("avg_pool2d", x, kernel_size=kernel_size, stride=stride, padding=padding)


def pad(x, pad, mode="constant", value=None):
    """PyTorch's F.pad: `pad` lists (before, after) for the LAST dim first; mode
    'constant' (value, default 0), 'reflect', 'replicate' or 'circular'; negative pads
    crop (tinygrad_cu/nn/padding.py)."""
    from .padding import pad_pairs, pairs_from_flat
    return pad_pairs(x, pairs_from_flat(x, pad), mode, value)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted
    dropout), so evaluation needs no rescaling. The mask comes from the global seed."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    from ..creation import rng
    keep = (rng().random(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * Tensor(keep, dtype=x.dtype, device=x.device)
