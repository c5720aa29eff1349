"""Recording ops into a graph, and running the chain rule backwards through it.

`apply(op_name, *tensors, **attrs)` is the single door through which every op runs:
it checks devices, shapes and dtypes, runs the op on the tensors' device, and, if any
input needs a gradient, records a `Node` (PyTorch's grad_fn) on the result.

`backward(root, grad)` exports the recorded graph to networkx, checks it, and calls
each op's backward in reverse topological order (tinygrad_cu.computation_graph).
"""
import functools

import numpy as np

from . import computation_graph as graph_mod, dtypes
from .op import Context, Meta, get_op

_grad_enabled = [True]
_tensor_class = []      # [Tensor], filled on first use (tensor.py imports this module)


def _Tensor():
    if not _tensor_class:
        from .tensor import Tensor
        _tensor_class.append(Tensor)
    return _tensor_class[0]


class no_grad:
    """`with no_grad():` (or `@no_grad()`) records nothing: for evaluation and updates."""

    def __enter__(self):
        self.prev = _grad_enabled[0]
        _grad_enabled[0] = False

    def __exit__(self, *exc):
        _grad_enabled[0] = self.prev

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)
        return wrapped


def is_grad_enabled():
    return _grad_enabled[0]


class Node:
    """The op that produced a tensor: its inputs (Tensors), attributes and context."""
    __slots__ = ("op", "attrs", "inputs", "ctx")

    def __init__(self, op, attrs, inputs, ctx):
        self.op, self.attrs, self.inputs, self.ctx = op, attrs, inputs, ctx

    def name(self):
        return "".join(p.capitalize() for p in self.op.name.split("_")) + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"


def apply(op_name, *inputs, **attrs):
    """Run op `op_name` on tensors `inputs` and record it for backward if needed."""
    op = get_op(op_name)
    if op.n_inputs is not None and len(inputs) != op.n_inputs:
        raise TypeError(f"{op_name}: expected {op.n_inputs} tensor input(s), got {len(inputs)}")
    device = inputs[0]._dev
    for t in inputs:
        if t._dev is not device:
            raise RuntimeError(f"{op_name}: all inputs must be on the same device, got "
                               f"{', '.join(t.device for t in inputs)}")
    metas = tuple([Meta(t.shape, t.dtype) for t in inputs])
    out_meta = op.infer(*metas, **attrs)
    needs = tuple([t.requires_grad for t in inputs])
    record = (_grad_enabled[0] and op.differentiable and any(needs)
              and dtypes.is_float(out_meta.dtype))
    if not record:
        needs = (False,) * len(inputs)
    ctx = Context(needs_input_grad=needs, input_metas=metas)
    out = device.forward(op, ctx, [t.buf for t in inputs], attrs)
    if tuple(out.shape) != tuple(out_meta.shape) or out.dtype != out_meta.dtype:
        raise RuntimeError(f"{op_name} on {device.name} returned {tuple(out.shape)} {out.dtype}, "
                           f"expected {tuple(out_meta.shape)} {out_meta.dtype} (a bug in the op)")
    result = _Tensor()._from_buffer(out, device, requires_grad=record)
    if record:
        if "inputs" in op.saves:
            ctx.inputs = tuple(t.buf for t in inputs)
        if "output" in op.saves:
            ctx.output = out
        result._node = Node(op, attrs, inputs, ctx)
    return result


def _accumulate(device, a, b):
    if a is None:
        return b
    add = get_op("add")
    return device.forward(add, Context((False, False), ()), [a, b], {})


def backward(root, grad=None, retain_graph=False):
    """Reverse-mode autodiff from `root` (see Tensor.backward for the semantics)."""
    Tensor = _Tensor()
    if not root.requires_grad:
        raise RuntimeError(f"backward: the tensor of shape {root.shape} does not require grad "
                           "and has no grad_fn (did you forget requires_grad=True, or use no_grad?)")
    if grad is None:
        if root.numel() != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs, "
                               f"got shape {root.shape}; pass a gradient of that shape")
        grad = Tensor._from_buffer(root._dev.from_numpy(np.ones(root.shape, root.dtype)), root._dev)
    elif not isinstance(grad, Tensor):
        grad = Tensor(grad, dtype=root.dtype, device=root.device)
    if grad.shape != root.shape or grad.dtype != root.dtype or grad._dev is not root._dev:
        raise RuntimeError(f"backward: gradient {grad.shape} {grad.dtype} on {grad.device} does not "
                           f"match the output {root.shape} {root.dtype} on {root.device}")

    g = graph_mod.build_graph(root, for_backward=True)
    order = graph_mod.topological_order(g)
    graph_mod.check_graph(g, order)
    grads = {id(root): grad.buf}
    nodes = g.nodes
    for key in reversed(order):
        attrs = nodes[key]
        if attrs["kind"] == "tensor":
            t = attrs["obj"]
            if t._node is None and id(t) in grads:   # a leaf: its gradient is complete
                _deposit_leaf_grad(t, grads.pop(id(t)))
            continue
        node, out_tensor = attrs["obj"], attrs["out"]
        out_grad = grads.pop(id(out_tensor), None)
        if out_grad is None:
            continue                                  # branch with no gradient flowing
        if node.ctx.freed:
            raise RuntimeError(f"backward: trying to backward through {node.name()} a second time "
                               "after its saved tensors were freed; use backward(retain_graph=True) "
                               "the first time")
        in_grads = root._dev.backward(node.op, node.ctx, out_grad, node.attrs)
        for t, meta, gi, need in zip(node.inputs, node.ctx.input_metas, in_grads,
                                     node.ctx.needs_input_grad):
            if not need or gi is None:
                continue
            if tuple(gi.shape) != tuple(meta.shape):
                raise RuntimeError(f"{node.op.name} backward returned a gradient of shape "
                                   f"{tuple(gi.shape)} for an input of shape {meta.shape} (op bug)")
            grads[id(t)] = _accumulate(root._dev, grads.get(id(t)), gi)
        if not retain_graph:
            node.ctx.free()


def _deposit_leaf_grad(t, g):
    Tensor = _Tensor()
    if t.grad is None:
        t.grad = Tensor._from_buffer(g, t._dev)
    else:
        t.grad = Tensor._from_buffer(_accumulate(t._dev, t.grad.buf, g), t._dev)
