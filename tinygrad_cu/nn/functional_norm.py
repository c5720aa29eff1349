"""Functional normalisation, PyTorch's names and arguments (re-exported by nn.functional).

Training-mode batch_norm, layer_norm and group_norm are each ONE `norm` op (ops/norm.py:
a statistics kernel and a normalising kernel forward, three kernels backward). Eval-mode
batch_norm is a documented composite: with fixed statistics it is a per-channel affine
map, y = x * scale + shift with scale = weight / sqrt(running_var + eps) and
shift = bias - running_mean * scale computed on (C,) vectors, so the big tensor is
read by two elementwise launches.
"""
import numpy as np

from ..autograd import apply


def _norm(x, weight, bias, layout, eps, affine_stride, running=None, momentum=0.1):
    if (weight is None) != (bias is None):
        # the op takes both or neither: the missing one is the identity (ones / zeros)
        from ..creation import ones, zeros
        shape = (weight if weight is not None else bias).shape
        weight = weight if weight is not None else ones(*shape, dtype=x.dtype, device=x.device)
        bias = bias if bias is not None else zeros(*shape, dtype=x.dtype, device=x.device)
    params = () if weight is None else (weight, bias)
    return apply("norm", x, *params, *(running or ()), layout=tuple(int(v) for v in layout), eps=float(eps),
                 affine=weight is not None, affine_stride=int(affine_stride), update_running=running is not None,
                 momentum=float(momentum))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel of input (N, C, *S) over N and S. training=True: the batch's
    statistics, and the running ones (if given) updated in place with `momentum`;
    training=False: the running statistics."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C, *), got {input.shape}")
    n, c = input.shape[:2]
    spatial = int(np.prod(input.shape[2:], dtype=np.int64))
    for what, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"batch_norm: {what} of shape {t.shape} must be ({c},) for input {input.shape}")
    if training:
        if n * spatial == 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input "
                             f"{input.shape}")
        running = None if running_mean is None else (running_mean, running_var)
        return _norm(input, weight, bias, (n, c, spatial), eps, spatial, running, momentum)
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    scale = 1.0 / (running_var + eps).sqrt()
    if weight is not None:
        scale = scale * weight
    shift = -(running_mean * scale)
    if bias is not None:
        shift = shift + bias
    per_channel = (1, c) + (1,) * (input.ndim - 2)
    return input * scale.reshape(*per_channel) + shift.reshape(*per_channel)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last len(normalized_shape) dims, which must equal normalized_shape;
    weight and bias have that shape."""
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    k = len(shape)
    if tuple(input.shape[input.ndim - k:]) != shape or k > input.ndim:
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the last dims of the input {input.shape}")
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"layer_norm: {what} of shape {t.shape} must be {shape}")
    size = int(np.prod(shape, dtype=np.int64))
    rows = int(np.prod(input.shape[:input.ndim - k], dtype=np.int64))
    return _norm(input, weight, bias, (1, rows, size), eps, 1)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Split the C channels of input (N, C, *S) into num_groups groups and normalise each
    (sample, group) over its channels and positions; weight and bias are per channel."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input (N, C, *), got {input.shape}")
    n, c = input.shape[:2]
    if num_groups < 1 or c % num_groups:
        raise ValueError(f"group_norm: the {c} channels of input {input.shape} must split into num_groups="
                         f"{num_groups} equal groups")
    for what, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"group_norm: {what} of shape {t.shape} must be ({c},)")
    spatial = int(np.prod(input.shape[2:], dtype=np.int64))
    return _norm(input, weight, bias, (1, n * num_groups, c // num_groups * spatial), eps, spatial)
