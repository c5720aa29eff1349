"""Gradient clipping, as torch.nn.utils: clip_grad_norm_ and clip_grad_value_.

Everything stays on the parameters' device: one norm per gradient (a reduce op), one
stack and one reduction for the total, then every gradient times min(1, max_norm /
(total + 1e-6)) as a 0-d device tensor. Nothing is read back to the host (no sync per
parameter, none at all unless error_if_nonfinite asks for the value). The gradients are
replaced by their clipped values (p.grad is a new tensor; its values are PyTorch's).
"""
import math

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor, stack


def _grads(parameters):
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in params if p.grad is not None]


@no_grad()
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their joint norm (the norm of all of them
    concatenated) is at most max_norm; returns that norm before clipping (a 0-d Tensor)."""
    params = _grads(parameters)
    norm_type = float(norm_type)
    if not params:
        return Tensor(np.array(0.0, np.float32))
    device, dtype = params[0].device, params[0].grad.dtype
    if norm_type == math.inf:
        total = stack([p.grad.abs().max() for p in params]).max()
    elif norm_type == 2.0:
        total = stack([(p.grad * p.grad).sum() for p in params]).sum().sqrt()
    elif norm_type > 0:
        total = stack([(p.grad.abs() ** norm_type).sum() for p in params]).sum() ** (1.0 / norm_type)
    else:
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 or inf, got {norm_type}")
    if error_if_nonfinite and not np.isfinite(total.item()):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite, "
                           "so it cannot be clipped (error_if_nonfinite=False skips this check)")
    coef = (float(max_norm) / (total + 1e-6)).clip(max=1.0)
    for p in params:
        if p.device != device:
            raise RuntimeError(f"clip_grad_norm_: gradients on {device} and {p.device}")
        p.grad = p.grad * coef
    return total.to(dtype) if total.dtype != dtype else total


@no_grad()
def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for p in _grads(parameters):
        p.grad = p.grad.clip(-clip_value, clip_value)
