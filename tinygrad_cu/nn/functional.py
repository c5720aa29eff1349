"""Functional forms of the layers and losses, with PyTorch's names and arguments.

Fused ops (softmax, cross_entropy, conv, pooling) have their own kernels; the rest
is composed from Tensor arithmetic, which autograd differentiates for free.
"""
import numpy as np

from ..autograd import apply
from ..tensor import Tensor
from ..tensor_movement import one_hot  # noqa: F401  (int64 class indicators; ops/gather.py)
from . import conv_padding


def relu(x): return x.relu()
def sigmoid(x): return x.sigmoid()
def tanh(x): return x.tanh()
def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta, and x where beta x > threshold, as PyTorch's."""
    return input.softplus(beta, threshold)
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


def celu(input, alpha=1.0, inplace=False):
    _not_inplace("celu", inplace)
    return input.celu(alpha)


def selu(input, inplace=False):
    _not_inplace("selu", inplace)
    return input.selu()


def logsigmoid(input):
    """log(sigmoid(x)), stable for large |x| (its own kernel: ops/activation.cu)."""
    return input.logsigmoid()


def softmax(x, dim=-1):
    return apply("softmax", x, axis=dim)


def log_softmax(x, dim=-1):
    return apply("log_softmax", x, axis=dim)


def mse_loss(input, target, reduction="mean"):
    """mean((input - target)^2)."""
    if not isinstance(target, Tensor):
        target = Tensor(np.asarray(target), dtype=input.dtype, device=input.device)
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input {input.shape} and target {target.shape} must have the same shape")
    diff = input - target
    return reduce_loss(diff * diff, reduction, "mse_loss")


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


def _conv(d, x, weight, bias, stride, padding, dilation, groups):
    if x.ndim != d + 2:
        raise ValueError(f"conv{d}d: expected input (N, C{', *spatial' if d else ''}) with {d} spatial "
                         f"dims, got {x.shape}")
    # padding='same'/'valid' (PyTorch) or per side (tinygrad): the conv's symmetric part, the rest
    # padded or cropped first (tinygrad_cu/nn/conv_padding.py)
    x, padding = conv_padding.split(f"conv{d}d", x, weight.shape[2:], stride, padding, dilation)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return apply("conv", *inputs, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """x (N, C, L), weight (O, C/groups, k): audio-like signals."""
    return _conv(1, x, weight, bias, stride, padding, dilation, groups)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """x (N, C, H, W), weight (O, C/groups, kh, kw): images."""
    return _conv(2, x, weight, bias, stride, padding, dilation, groups)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """x (N, C, D, H, W), weight (O, C/groups, kd, kh, kw): volumes."""
    return _conv(3, x, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(d, x, weight, bias, stride, padding, output_padding, groups, dilation):
    if x.ndim != d + 2:
        raise ValueError(f"conv_transpose{d}d: expected input (N, C, *spatial) with {d} spatial dims, got {x.shape}")
    y = apply("conv_transpose", x, weight, stride=stride, padding=padding, output_padding=output_padding,
              dilation=dilation, groups=groups)
    if bias is None:
        return y
    if bias.shape != (y.shape[1],):
        raise ValueError(f"conv_transpose{d}d: bias shape {bias.shape} must be ({y.shape[1]},)")
    return y + bias.reshape(1, -1, *(1,) * d)       # a composite: its backward is add's sum


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint of conv1d: x (N, Cin, L), weight (Cin, Cout/groups, k) -> (N, Cout, L_out)."""
    return _conv_transpose(1, x, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint of conv2d: x (N, Cin, H, W), weight (Cin, Cout/groups, kh, kw); upsamples
    by the stride, e.g. in a decoder or a GAN's generator."""
    return _conv_transpose(2, x, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint of conv3d: x (N, Cin, D, H, W), weight (Cin, Cout/groups, kd, kh, kw)."""
    return _conv_transpose(3, x, weight, bias, stride, padding, output_padding, groups, dilation)


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


# --- normalisation (tinygrad_cu/nn/functional_norm.py) ---------------------------------
from .functional_norm import batch_norm, group_norm, layer_norm  # noqa: E402,F401
from .embedding import embedding  # noqa: E402,F401
from .functional_losses import (binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: E402,F401
                                cross_entropy, huber_loss, kl_div, l1_loss, nll_loss, reduce_loss,
                                smooth_l1_loss)
from .functional_pool import (avg_pool1d, avg_pool2d, avg_pool3d, max_pool1d, max_pool2d,  # noqa: E402,F401
                              max_pool3d, max_unpool1d, max_unpool2d, max_unpool3d)
from .resample import adaptive_avg_pool2d, interpolate  # noqa: E402,F401
from .attention import scaled_dot_product_attention  # noqa: E402,F401
