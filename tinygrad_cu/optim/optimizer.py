"""Optimizer: the base of SGD and Adam, shaped like torch.optim.Optimizer.

Parameters are kept in `param_groups` (a list of dicts: "params" plus that group's
hyperparameters, e.g. "lr"), so a scheduler or the user can change the learning
rate of each group. Per-parameter state (momentum buffers, Adam's m and v) is in
`state[param]`, as Tensors on the parameter's device: an update is one op call on
that device (ops/optim.py) and never copies parameters to the host.
"""
import numpy as np

from ..autograd import no_grad
from ..device.recording import state as recording
from ..op import Meta, get_op
from ..tensor import Tensor


class Optimizer:
    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        for group in groups:
            self.add_param_group(group)
        self.state = {}

    def add_param_group(self, group):
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor) or not p.is_leaf:
                raise TypeError(f"{type(self).__name__}: can only optimise leaf Tensors, got "
                                f"{type(p).__name__}")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.check_group(group)        # the defaults, and any value this group overrides
        self.param_groups.append(group)

    def check_group(self, group):
        """Refuse a group's bad hyperparameters (lr=nan, ...); subclasses say which."""

    @property
    def params(self):
        return [p for group in self.param_groups for p in group["params"]]

    @property
    def lr(self):
        """The learning rate of the first group (all groups, usually)."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        for group in self.param_groups:
            group["lr"] = value

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor._from_buffer(p._dev.zeros(p.shape, p.dtype), p._dev)

    @no_grad()
    def step(self):
        """Update every parameter that has a gradient (those without one are skipped)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, group)

    def update(self, param, group):
        """One parameter's update: the op, state and hyperparameters that update_args
        gives, run on the parameter's device. While tg.jit captures a step, the capture is
        also told how to get the hyperparameters again, so that a replay sees a changed
        lr or Adam's next step count."""
        op_name, state, hyper = self.update_args(param, group)
        recorder = recording.recorder
        if recorder is not None:
            recorder.hyper_source = lambda: self.update_args(param, group)[2]
            recorder.tensors_read(state)
        self.run_update(op_name, param, *state, **hyper)

    def update_args(self, param, group):
        """(op name, state tensors, hyperparameters) of one update; advances per-step
        state such as Adam's step count. Subclasses define it (or override update)."""
        raise NotImplementedError(f"{type(self).__name__} must define update_args(param, group)")

    # --- helpers for subclasses ----------------------------------------------------
    def state_tensor(self, param, name):
        """The state buffer `name` of `param`, zero-filled on first use, and moved to
        the parameter's device if the model was moved since (Module.to)."""
        state = self.state.setdefault(param, {})
        t = state.get(name)
        if t is None or t.shape != param.shape or t.dtype != param.dtype:
            t = Tensor._from_buffer(param._dev.zeros(param.shape, param.dtype), param._dev)
        elif t._dev is not param._dev:
            t = t.to(param.device)
        state[name] = t
        return t

    @staticmethod
    def run_update(op_name, param, *state, **hyper):
        """One in-place update op on the parameter's device: (param, grad, *state)."""
        op = get_op(op_name)
        tensors = (param, param.grad) + state
        device, shape, dtype = param._dev, param.buf.shape, param.buf.dtype
        bufs = []
        for t in tensors:
            if t._dev is not device:
                raise RuntimeError(f"{op_name}: the parameter {param.shape} is on {param.device} but its "
                                   f"gradient or state is on {', '.join(t.device for t in tensors)}")
            buf = t.buf
            if buf.shape != shape or buf.dtype != dtype:   # the op's checks say what is wrong
                op.infer(*(Meta(t.shape, t.dtype) for t in tensors), **hyper)
            bufs.append(buf)
        if dtype.kind != "f":
            op.infer(*(Meta(t.shape, t.dtype) for t in tensors), **hyper)
        device.update(op, bufs, hyper)

    # --- checkpoints -------------------------------------------------------------------
    def state_dict(self):
        """{"state": {param index: {name: numpy array or number}}, "param_groups": [group
        hyperparameters with "params" as indices]}: the same shape as PyTorch's."""
        index = {id(p): i for i, p in enumerate(self.params)}
        state = {index[id(p)]: {k: (v.numpy() if isinstance(v, Tensor) else v) for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        groups = [{**{k: v for k, v in g.items() if k != "params"},
                   "params": [index[id(p)] for p in g["params"]]} for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
                len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved parameter groups "
                             "do not match this optimiser's")
        params = self.params
        for g, own in zip(groups, self.param_groups):
            self.check_group({**own, **g})        # a checkpoint's lr=nan is refused too, before any change
        for g, own in zip(groups, self.param_groups):
            own.update({k: v for k, v in g.items() if k != "params"})
        self.state = {}
        for i, s in state_dict["state"].items():
            p = params[int(i)]
            self.state[p] = {k: self._state_value(p, v) for k, v in s.items()}

    @staticmethod
    def _state_value(param, value):
        """A saved state entry on the parameter's device: numpy arrays and Tensors (as
        tg.load gives them, from any device) become Tensors; numbers stay numbers."""
        if isinstance(value, Tensor):
            value = value.numpy()
        if isinstance(value, np.ndarray):
            array = np.array(value, dtype=param.dtype)       # a copy: never shares the caller's memory
            return Tensor._from_buffer(param._dev.from_numpy(array), param._dev)
        return value

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            hyper = ", ".join(f"{k}={v}" for k, v in g.items() if k != "params")
            lines.append(f"  group {i}: {len(g['params'])} tensors, {hyper}")
        return "\n".join(lines + [")"])
