"""Optimiser updates as ops: they change parameters in place, on the parameters' device.

On `emu` and `cuda` they are single kernels (ops/optim.cu), so a training step never
copies parameters to the host. They are not differentiable and record nothing.
Formulas as PyTorch's torch.optim (see tinygrad_cu.optim).

The optimisers call `param._dev.update(op, bufs, hyper)`: the `cpu` device runs
`update(*bufs, **hyper)` below on numpy arrays, a GPUDevice runs
`gpu_update(gpu, *bufs, **hyper)`. The first buffer (the parameter) and the state
buffers are modified in place; the gradient is only read. Hyperparameters arrive as
Python floats (and `step` as an int, `nesterov`/`decoupled` as bools).
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

    def update(self, *arrays, **hyper):
        raise NotImplementedError

    def gpu_update(self, gpu, *bufs, **hyper):
        raise RuntimeError(f"op {self.name} has no CUDA kernel ({', '.join(self.kernels)} in "
                           f"ops/{SOURCE}) for device {gpu.name} yet")


@register
class SGDStep(UpdateOp):
    """SGD with optional weight decay, momentum and Nesterov momentum (torch.optim.SGD,
    dampening 0):

        g = grad + weight_decay * p
        buf = momentum * buf + g                      (only if momentum != 0)
        p -= lr * (g + momentum * buf  if nesterov else  buf)
    With momentum 0 the buffer is neither read nor written, and the optimiser passes
    the gradient in its place (no state is allocated): p -= lr * g, the lecture's
    gradient descent. With a zero-initialised buffer, the first step gives buf = g,
    as PyTorch's first step does."""
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
        p -= (lr * g).astype(p.dtype, copy=False)

    def gpu_update(self, gpu, p, g, buf, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        # CUDA: sgd_step(param, grad, momentum_buffer, n, lr, momentum, weight_decay, nesterov)
        gpu.require_dtype(self.name, p)
        if p.size:
            grid, block = gpu.grid_1d(p.size)     # one thread per element, grid-stride
            gpu.launch(SOURCE, "sgd_step", grid, block, p, g, buf, np.int64(p.size), np.float32(lr),
                       np.float32(momentum), np.float32(weight_decay), np.int32(bool(nesterov)))


@register
class AdamStep(UpdateOp):
    """Adam (Kingma & Ba 2015) at step t = `step` (1 for the first update), with m and v
    zero-initialised by the optimiser:

        g = grad + weight_decay * p                   (Adam's L2 penalty; not decoupled)
        p -= lr * weight_decay * p                    (AdamW, decoupled=True, instead)
        m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
        p -= lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t)
    """
    name = "adam_step"
    n_inputs = 4            # param, grad, m, v (m and v updated in place)
    kernels = ("adam_step",)

    def update(self, p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled=False):
        if weight_decay and decoupled:
            p -= (lr * weight_decay * p).astype(p.dtype, copy=False)
        elif weight_decay:
            g = g + weight_decay * p
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** step)
        v_hat = v / (1 - beta2 ** step)
        p -= (lr * m_hat / (np.sqrt(v_hat) + eps)).astype(p.dtype, copy=False)

    def gpu_update(self, gpu, p, g, m, v, lr, beta1, beta2, eps, weight_decay, step, decoupled=False):
        # CUDA: adam_step(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, decoupled,
        #                 bias_correction1, bias_correction2); 1 - beta^t computed here in double
        gpu.require_dtype(self.name, p)
        if p.size:
            grid, block = gpu.grid_1d(p.size)     # one thread per element, grid-stride
            gpu.launch(SOURCE, "adam_step", grid, block, p, g, m, v, np.int64(p.size), np.float32(lr),
                       np.float32(beta1), np.float32(beta2), np.float32(eps), np.float32(weight_decay),
                       np.int32(bool(decoupled)), np.float32(1 - beta1 ** step),
                       np.float32(1 - beta2 ** step))
