"""Parameter: a Tensor that a Module registers as one of its learnable weights.

It is a plain Tensor subclass with no extra slots: `Tensor._from_buffer` builds it
like any tensor, and ops on a Parameter return ordinary Tensors. Assigning one to a
Module attribute is what registers it (see Module.__setattr__).
"""
import numpy as np

from ..tensor import Tensor
from ..version_counter import share_counter


class Parameter(Tensor):
    __slots__ = ()

    def __init__(self, data, requires_grad=True, device=None, dtype=None):
        """`data`: a Tensor (its buffer and device are shared, as torch.nn.Parameter
        shares storage), or anything numpy accepts (copied to `device`; float32
        unless `dtype` says otherwise)."""
        if isinstance(data, Tensor):
            if dtype is not None and np.dtype(dtype) != data.dtype:
                data = data.to(dtype)
            if device is not None and data._dev.name != str(device).split(":")[0]:
                data = data.to(device)
            self.buf, self._dev = data.buf, data._dev
            self._node, self.grad, self.requires_grad = None, None, False
            share_counter(self, data)        # one buffer: one version counter, as PyTorch
            if requires_grad:
                self.requires_grad_(True)
        else:
            # a copy: on cpu, Tensor(array) may share the caller's memory, and
            # optimisers update parameters in place
            super().__init__(np.array(data, copy=True), requires_grad=requires_grad, device=device,
                             dtype=np.float32 if dtype is None else dtype)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
