"""`tg.autograd.Function`: a differentiable function written from Tensor ops, with a
backward of your own, in PyTorch's shape.

    class Cube(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x
        @staticmethod
        def backward(ctx, grad):
            x, = ctx.saved_tensors
            return grad * 3 * x * x

    y = Cube.apply(x)            # recorded as one node, CubeBackward; y.backward() calls yours

Both methods receive and return Tensors, so a Function runs on every device (cpu, emu,
cuda): the ops inside are the device's own. `forward` runs with grad mode off (what it
computes is not recorded; its one node is), and so does `backward` (no double backward).

The node is the registry's own kind of thing: each Function subclass gets an `Op`
(`FunctionOp`) whose forward/backward call yours, recorded in a `Node` exactly as a
built-in op's, so graph export, backward, retain_graph and freeing work unchanged.

Limits, said here rather than discovered: forward returns one Tensor (PyTorch allows
a tuple); arguments that are not Tensors are passed through and get no gradient.
"""
from . import autograd
from .grad_mode import _mode as grad_mode, no_grad
from .op import Context, Meta, Op


class FunctionCtx:
    """What `forward` and `backward` share (PyTorch's ctx): tensors saved with
    save_for_backward, needs_input_grad, and any attribute you set on it."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._non_differentiable = set()

    def save_for_backward(self, *tensors):
        from .tensor import Tensor
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward: argument {i} is a {type(t).__name__}; save Tensors "
                                "(or None) here, other values as attributes of ctx")
        self._saved = tuple(None if t is None else t.detach() for t in tensors)

    @property
    def saved_tensors(self):
        return self._saved

    def mark_non_differentiable(self, *outputs):
        """The outputs given will not require grad (indices, masks)."""
        self._non_differentiable.update(id(t) for t in outputs)


class FunctionOp(Op):
    """The Op standing for one Function subclass in the graph. It is not in the registry
    (Function.apply runs it; nobody calls apply("cube", ...)), and its numpy and GPU
    paths are the same: the Function's own backward, on Tensors of the device."""
    float_only = False
    saves = ()
    runs_tensor_ops = True    # the ops inside backward are what a device, tg.jit and tg.profiler see

    def __init__(self, function):
        self.function = function
        self.name = _snake(function.__name__)

    def backward(self, ctx, grad, **attrs):
        return self._backward(ctx, grad)

    def gpu_backward(self, gpu, ctx, grad, **attrs):
        return self._backward(ctx, grad)

    def _backward(self, ctx, grad):
        from .tensor import Tensor
        fctx, device, positions, n_args = ctx.saved["function"]
        with no_grad():
            grads = self.function.backward(fctx, Tensor._from_buffer(grad, device))
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) != n_args:
            raise RuntimeError(f"function {self.function.__name__}.backward returned {len(grads)} gradient(s), "
                               f"expected {n_args} (one per argument of forward, None for the rest)")
        out = []
        for k in positions:                         # the Node's inputs are the tensor arguments
            g = grads[k]
            if g is not None and not isinstance(g, Tensor):
                raise TypeError(f"function {self.function.__name__}.backward: gradient {k} is a "
                                f"{type(g).__name__}, expected a Tensor or None")
            if g is not None and g._dev is not device:
                raise RuntimeError(f"function {self.function.__name__}.backward: gradient {k} is on "
                                   f"{g.device}, its input on {device.name}")
            out.append(None if g is None else g.buf)
        return out


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grads)`, then call
    `YourFunction.apply(*args)` (never forward directly: that records nothing)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads) to be differentiated")

    @classmethod
    def apply(cls, *args, **kwargs):
        from .tensor import Tensor
        positions = [k for k, a in enumerate(args) if isinstance(a, Tensor)]
        if not positions:
            raise TypeError(f"{cls.__name__}.apply: expected at least one Tensor argument")
        tensors = [args[k] for k in positions]
        device = tensors[0]._dev
        for t in tensors:
            if t._dev is not device:
                raise RuntimeError(f"{cls.__name__}: all tensor arguments must be on the same device, got "
                                   f"{', '.join(t.device for t in tensors)}")
        record = grad_mode.enabled and any(t.requires_grad for t in tensors)
        fctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad and record for a in args))
        with no_grad():
            out = cls.forward(fctx, *args, **kwargs)
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward returned a {type(out).__name__}; it must return one "
                            "Tensor (tuples of outputs are not supported)")
        if out._dev is not device:
            raise RuntimeError(f"{cls.__name__}.forward returned a tensor on {out.device}, its inputs are "
                               f"on {device.name}")
        record = record and id(out) not in fctx._non_differentiable and out.dtype.kind == "f"
        # a new Tensor on the output's buffer: a forward that returns an input (or a tensor
        # it keeps) must not have that tensor's history replaced
        result = Tensor._from_buffer(out.buf, device, record)
        if record:
            op = _op_of(cls)
            ctx = Context(tuple(t.requires_grad for t in tensors),
                          tuple(Meta(t.shape, t.dtype) for t in tensors))
            ctx.saved["function"] = (fctx, device, positions, len(args))
            result._node = autograd.Node(op, {}, tuple(tensors), ctx)   # freed by backward as any node
        return result


_ops = {}


def _op_of(cls):
    op = _ops.get(cls)
    if op is None:
        op = _ops[cls] = FunctionOp(cls)
    return op


__all__ = ["Function", "FunctionCtx", "FunctionOp"]
