"""Check an analytic gradient against central finite differences, in float64.

Instead of comparing full Jacobians, both sides are projected on a random direction
u of the output: the analytic side is backward(u), the numeric side is
(f(x + eps e_i) - f(x - eps e_i)) . u / (2 eps) for each input element. A random
(not all-ones) u catches gradients that are transposed or permuted.
"""
import numpy as np

from .tensor import Tensor


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0, raise_exception=True):
    """True if fn's gradients match finite differences for every float input that
    requires grad. `inputs` are Tensors (float64 recommended) or numpy arrays; `fn`
    returns a Tensor. Raises AssertionError naming the input and worst element."""
    rng = np.random.default_rng(seed)
    tensors = [x if isinstance(x, Tensor) else Tensor(np.asarray(x, np.float64), requires_grad=True)
               for x in inputs]
    base = [t.detach().numpy() for t in tensors]
    device = tensors[0].device

    def run(arrays):
        args = [Tensor(a, dtype=t.dtype, device=device, requires_grad=t.requires_grad)
                for a, t in zip(arrays, tensors)]
        return args, fn(*args)

    args, out = run(base)
    u = rng.standard_normal(out.shape)
    (out * Tensor(u, dtype=out.dtype, device=device)).sum().backward()

    for k, (arg, t) in enumerate(zip(args, tensors)):
        if not t.requires_grad:
            continue
        analytic = np.zeros(t.shape) if arg.grad is None else arg.grad.numpy().astype(np.float64)
        numeric = np.zeros(t.shape)
        flat = numeric.reshape(-1)
        for i in range(flat.size):
            values = []
            for sign in (1, -1):
                arrays = [b.copy() for b in base]
                arrays[k].reshape(-1)[i] += sign * eps
                with_grad_off = [Tensor(a, dtype=tt.dtype, device=device) for a, tt in zip(arrays, tensors)]
                values.append(float((fn(*with_grad_off).numpy().astype(np.float64) * u).sum()))
            flat[i] = (values[0] - values[1]) / (2 * eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), t.shape)
            msg = (f"gradcheck: input {k} of shape {t.shape}: analytic {analytic[worst]:.6g} != "
                   f"numeric {numeric[worst]:.6g} at {worst}")
            if raise_exception:
                raise AssertionError(msg)
            return False
    return True
