"""Module: the base class of every layer and model, shaped like torch.nn.Module.

Registration is by attribute assignment: `self.fc1 = Linear(...)` records a child
module, `self.weight = Parameter(...)` a parameter, in insertion order. Names in
`named_parameters()` and `state_dict()` are dotted paths ("fc1.bias", "0.weight").

The state dict maps those names to numpy arrays (copies, on the host). Numpy keeps it
device-independent, so a state dict taken from a `cpu` model loads into an `emu`
model, and `tinygrad_cu.save` writes it without further conversion.
`load_state_dict` accepts numpy arrays or Tensors.
"""
from collections import namedtuple

import numpy as np

from .. import dtypes
from ..autograd import no_grad
from ..device import NAMES as DEVICE_NAMES, get_device
from ..tensor import Tensor
from .parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    def __init__(self):
        # object.__setattr__: our own __setattr__ needs these dicts to exist already
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})             # name -> Tensor or None
        object.__setattr__(self, "_non_persistent", set())   # buffers left out of state_dict
        object.__setattr__(self, "training", True)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- registration ------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before "
                                 f"assigning attributes (assigning {name!r})")
        params, modules = self._parameters, self._modules
        if name in self.__dict__.get("_buffers", ()):      # running statistics and the like
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r} (use a Tensor, or None)")
            self._buffers[name] = value
        elif isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in params:
            if value is not None:   # as PyTorch: only a Parameter or None may replace one
                raise TypeError(f"cannot assign {type(value).__name__} to parameter {name!r} "
                                "(use a Parameter, or None)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to child module {name!r}")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name):
        """Drop `name` from every place it may be registered, so it lives in one only."""
        self.__dict__.pop(name, None)
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self.__dict__.get("_buffers", {}).pop(name, None)

    def __getattr__(self, name):   # only called when normal lookup fails
        for table in ("_parameters", "_modules", "_buffers"):
            entries = self.__dict__.get(table, {})
            if name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute {name!r}")

    def __delattr__(self, name):
        if name in self._parameters or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register `param` (a Parameter, or None for an absent one such as bias=False)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"got {type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """A Tensor that belongs to the module's state but is not trained (BatchNorm's
        running statistics): moved by `to()`, in `state_dict()` unless persistent=False."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        self._forget(name)
        self._buffers[name] = tensor
        (self._non_persistent.discard if persistent else self._non_persistent.add)(name)

    def named_buffers(self, prefix="", persistent_only=False):
        for path, module in self.named_modules(prefix):
            for name, b in module.__dict__.get("_buffers", {}).items():
                if b is not None and not (persistent_only and name in module._non_persistent):
                    yield (f"{path}.{name}" if path else name), b

    def buffers(self):
        for _, b in self.named_buffers():
            yield b

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, got {type(module).__name__}")
        if "." in str(name) or not str(name):
            raise KeyError(f"add_module: module name {name!r} must be non-empty and contain no '.'")
        self._forget(str(name))
        self._modules[str(name)] = module

    # --- traversal ---------------------------------------------------------------
    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix=""):
        """This module and every descendant, depth first, each once. (A stack, not a
        recursive inner function: that function would refer to itself through its
        closure, a cycle that only the garbage collector frees, made on every call.)"""
        seen, stack = set(), [(prefix, self)]
        while stack:
            path, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield path, module
            children = [(f"{path}.{name}" if path else name, child) for name, child in module.named_children()]
            stack.extend(reversed(children))        # the first child is visited first

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix=""):
        """(dotted name, Parameter) for every parameter; a parameter shared by two
        modules is listed once, under the first name found."""
        seen = set()
        for path, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{path}.{name}" if path else name), p

    def parameters(self):
        for _, p in self.named_parameters():
            yield p

    def num_parameters(self, trainable_only=False):
        """Number of scalar weights (shared parameters counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def apply(self, fn):
        """Call fn(module) on every descendant, then on self (as PyTorch)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # --- training state ----------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Drop every parameter's gradient (PyTorch's default set_to_none=True)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor._from_buffer(p._dev.zeros(p.shape, p.dtype), p._dev)

    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    # --- devices and dtypes ----------------------------------------------------------
    def to(self, target):
        """Move every parameter to a device ('cpu', 'emu', 'cuda') or cast it to a
        float dtype, in place. The Parameter objects stay the same (only their
        buffers are replaced), so an optimiser keeps seeing them; gradients move too.
        Buffers move as well, except those a module keeps on the host (`_host_buffers`:
        BatchNorm's batch counter, which only the host reads)."""
        device, dtype = _device_or_dtype(target)
        with no_grad():
            for p in self.parameters():
                dev = get_device(device) if device is not None else p._dev
                dt = dtype if dtype is not None else p.dtype
                if dev is p._dev and dt == p.dtype:
                    continue
                p.buf, p._dev = dev.from_numpy(p.numpy().astype(dt, copy=False)), dev
                if p.grad is not None:
                    p.grad = Tensor._from_buffer(dev.from_numpy(p.grad.numpy().astype(dt, copy=False)), dev)
            for m in self.modules():       # float buffers take the dtype; counters stay integers
                for name, b in m._buffers.items():
                    if b is not None and name not in m.__dict__.get("_host_buffers", ()):
                        _move(b, device, dtype)
        return self

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    # --- state dict --------------------------------------------------------------
    def state_dict(self):
        """{dotted name: numpy array copy} for every parameter, in registration order, then
        every persistent buffer (running statistics)."""
        state = {name: p.numpy() for name, p in self.named_parameters()}
        state.update((name, b.numpy()) for name, b in self.named_buffers(persistent_only=True))
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (numpy arrays or Tensors, from any device) into the parameters.

        strict=True: a missing or unexpected key is a KeyError naming every such key.
        A shape mismatch is always a ValueError naming the key. Nothing is changed
        unless every check passes. Values are cast to each parameter's dtype.
        Returns (missing_keys, unexpected_keys)."""
        own = dict(self.named_parameters())
        own.update(self.named_buffers(persistent_only=True))
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict into {type(self).__name__}: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        updates = []
        for name, p in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
            if array.shape != p.shape:
                raise ValueError(f"load_state_dict: shape mismatch for {name!r}: the checkpoint has "
                                 f"{array.shape}, the model {p.shape}")
            updates.append((p, array))
        with no_grad():
            for p, array in updates:
                # a copy: the parameter must not share memory with the caller's array
                p.buf = p._dev.from_numpy(np.array(array, dtype=p.dtype, copy=True))
        return IncompatibleKeys(missing, unexpected)

    # --- printing ------------------------------------------------------------------
    def extra_repr(self):
        """The constructor arguments shown in repr, e.g. 'in_features=3, out_features=2'."""
        return ""

    def _body_repr(self):
        children = [f"({name}): " + child._body_repr().replace("\n", "\n  ")
                    for name, child in self.named_children()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not children:
            return head + ")"
        return head + "\n  " + "\n  ".join(children) + "\n)"

    def __repr__(self):
        return f"{self._body_repr()}  # {self.num_parameters():,} parameters"


def _move(b, device, dtype):
    """A buffer to `device` (None: its own) and, if it holds floats, to `dtype`, in place."""
    dev = get_device(device) if device is not None else b._dev
    dt = dtype if dtype is not None and dtypes.is_float(b.dtype) else b.dtype
    if dev is not b._dev or dt != b.dtype:
        b.buf, b._dev = dev.from_numpy(b.numpy().astype(dt, copy=False)), dev


def _device_or_dtype(target):
    """Module.to's argument: a device name (or device object) or a dtype."""
    name = getattr(target, "name", target)
    if isinstance(name, str) and name.split(":")[0] in DEVICE_NAMES:
        return name, None
    dtype = dtypes.as_dtype(target)
    if not dtypes.is_float(dtype):
        raise TypeError(f"Module.to: parameters must stay floating point, got {dtype}")
    return None, dtype
