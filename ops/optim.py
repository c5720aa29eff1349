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
    """SGD with optional weight decay, momentum, dampening and Nesterov momentum
    (torch.optim.SGD):

        g = grad + weight_decay * p
        buf = g on the first step, else momentum * buf + (1 - dampening) g   (only if momentum != 0)
        p -= lr * (g + momentum * buf  if nesterov else  buf)
    With momentum 0 the buffer is neither read nor written, and the optimiser passes
    the gradient in its place (no state is allocated): p -= lr * g, the lecture's
    gradient descent. `first` says the buffer is new (PyTorch starts it at g, not at
    (1 - dampening) g); with dampening 0 the zero-initialised buffer gives g anyway."""
    name = "sgd_step"
    n_inputs = 3            # param, grad, momentum buffer (updated in place)
    kernels = ("sgd_step",)

    def update(self, p, g, buf, lr, momentum=0.0, weight_decay=0.0, nesterov=False, dampening=0.0, first=False):
        if weight_decay:
            g = g + weight_decay * p
        if momentum:
            buf *= 0 if first else momentum
            buf += g if first or not dampening else (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p -= (lr * g).astype(p.dtype, copy=False)

    def gpu_update(self, gpu, p, g, buf, lr, momentum=0.0, weight_decay=0.0, nesterov=False, dampening=0.0,
                   first=False):
        # CUDA: sgd_step(param, grad, momentum_buffer, n, lr, momentum, weight_decay, nesterov, dampening, first)
        gpu.require_dtype(self.name, p)
        if p.size:
            grid, block = gpu.grid_1d(p.size)     # one thread per element, grid-stride
            gpu.launch(SOURCE, "sgd_step", grid, block, p, g, buf, np.int64(p.size), np.float32(lr),
                       np.float32(momentum), np.float32(weight_decay), np.int32(bool(nesterov)),
                       np.float32(dampening), np.int32(bool(first)))


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


@register
class RMSpropStep(UpdateOp):
    """RMSprop (Hinton's lecture 6e; torch.optim.RMSprop):

        g = grad + weight_decay * p
        sq = alpha sq + (1 - alpha) g^2
        avg = sqrt(sq - ga^2) + eps with ga = alpha ga + (1 - alpha) g   if centered
              sqrt(sq) + eps                                             otherwise
        buf = momentum buf + g / avg;  p -= lr * buf                     if momentum
        p -= lr * g / avg                                                otherwise
    grad_avg and momentum_buffer are neither read nor written unless centered / momentum
    (the optimiser then passes the gradient in their place)."""
    name = "rmsprop_step"
    n_inputs = 5            # param, grad, square_avg, grad_avg, momentum_buffer
    kernels = ("rmsprop_step",)

    def update(self, p, g, sq, ga, buf, lr, alpha, eps, weight_decay=0.0, momentum=0.0, centered=False):
        if weight_decay:
            g = g + weight_decay * p
        sq *= alpha
        sq += (1 - alpha) * g * g
        if centered:
            ga *= alpha
            ga += (1 - alpha) * g
            avg = np.sqrt(sq - ga * ga) + eps
        else:
            avg = np.sqrt(sq) + eps
        if momentum:
            buf *= momentum
            buf += g / avg
            p -= (lr * buf).astype(p.dtype, copy=False)
        else:
            p -= (lr * g / avg).astype(p.dtype, copy=False)

    def gpu_update(self, gpu, p, g, sq, ga, buf, lr, alpha, eps, weight_decay=0.0, momentum=0.0, centered=False):
        gpu.require_dtype(self.name, p)
        if p.size:
            grid, block = gpu.grid_1d(p.size)     # one thread per element, grid-stride
            gpu.launch(SOURCE, "rmsprop_step", grid, block, p, g, sq, ga, buf, np.int64(p.size), np.float32(lr),
                       np.float32(alpha), np.float32(eps), np.float32(weight_decay), np.float32(momentum),
                       np.int32(bool(centered)))


@register
class AdagradStep(UpdateOp):
    """Adagrad (Duchi et al. 2011; torch.optim.Adagrad) at step t = `step`:

        g = grad + weight_decay * p
        sum += g^2
        p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps)
    The decayed rate depends only on t: the host computes it once."""
    name = "adagrad_step"
    n_inputs = 3            # param, grad, sum
    kernels = ("adagrad_step",)

    def update(self, p, g, acc, lr, eps, weight_decay=0.0, lr_decay=0.0, step=1):
        if weight_decay:
            g = g + weight_decay * p
        acc += g * g
        clr = lr / (1 + (step - 1) * lr_decay)
        p -= (clr * g / (np.sqrt(acc) + eps)).astype(p.dtype, copy=False)

    def gpu_update(self, gpu, p, g, acc, lr, eps, weight_decay=0.0, lr_decay=0.0, step=1):
        gpu.require_dtype(self.name, p)
        if p.size:
            grid, block = gpu.grid_1d(p.size)     # one thread per element, grid-stride
            gpu.launch(SOURCE, "adagrad_step", grid, block, p, g, acc, np.int64(p.size),
                       np.float32(lr / (1 + (step - 1) * lr_decay)), np.float32(eps), np.float32(weight_decay))
