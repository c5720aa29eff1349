"""Optimiser updates as ops: they change parameters in place, on the parameters' device.

On `emu` and `cuda` they are single kernels (ops/optim.cu), so a training step never
copies parameters to the host. They are not differentiable and record nothing.
Formulas as PyTorch's torch.optim (see tinygrad_cu.optim).
"""
import numpy as np

from tinygrad_cu.op import Op, register

SOURCE = "optim.cu"


class UpdateOp(Op):
    differentiable = False
    saves = ()

    def infer(self, *metas, **hyper):
        shape = metas[0].shape
        for m in metas:
            if m.shape != shape or m.dtype != metas[0].dtype:
                raise ValueError(f"{self.name}: parameter, gradient and state must share shape and "
                                 f"dtype, got {', '.join(f'{x.shape} {x.dtype}' for x in metas)}")
        self.check_float(*metas)
        return None


@register
class SGDStep(UpdateOp):
    """g = grad + wd p;  buf = momentum buf + g;  p -= lr (g + momentum buf if nesterov else buf).
    With momentum 0 the buffer is unused: p -= lr g (the lecture's gradient descent)."""
    name = "sgd_step"
    n_inputs = 3            # param, grad, momentum buffer (updated in place)
    kernels = ("sgd_step",)

    def update(self, p, g, buf, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            buf *= momentum
            buf += g
            g = g + momentum * buf if nesterov else buf
        p -= (lr * g).astype(p.dtype)


@register
class AdamStep(UpdateOp):
    """Adam (Kingma & Ba) with bias correction at step t; `decoupled` = AdamW's weight decay."""
    name = "adam_step"
    n_inputs = 4            # param, grad, m, v (m and v updated in place)
    kernels = ("adam_step",)

    def update(self, p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled=False):
        if weight_decay and decoupled:
            p -= (lr * weight_decay * p).astype(p.dtype)
        elif weight_decay:
            g = g + weight_decay * p
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** step)
        v_hat = v / (1 - beta2 ** step)
        p -= (lr * m_hat / (np.sqrt(v_hat) + eps)).astype(p.dtype)
