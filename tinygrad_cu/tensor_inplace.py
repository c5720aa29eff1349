"""In-place Tensor methods (PyTorch's `add_`, `mul_`, `zero_`, `copy_`, ...) and the
safety that makes them trustworthy: version counters and PyTorch's autograd rules.

What an in-place call does, in order (`_inplace` below):
1. Checks, as PyTorch: a leaf that requires grad cannot be modified while grad mode is
   on ("a leaf Variable that requires grad is being used in an in-place operation");
   operands broadcast to the tensor's shape and have a dtype its dtype can hold.
2. Writes the tensor's own buffer through the device's `update` seam (ops/inplace.py:
   numpy with out= on `cpu`, kernels writing the existing buffer on `emu`/`cuda`; a
   captured tg.jit step replays it like an optimiser step). Views that share the buffer
   (reshape/view/flatten/squeeze/unsqueeze results, detach()) see the new values.
3. Bumps the version counter (`t._version`) the tensor shares with those views.
4. If a graph is being recorded (grad mode on and the tensor or an operand requires
   grad), the tensor's grad_fn is REBASED, as PyTorch does: its old history moves to a
   stand-in tensor `prev` (same buffer, same counter, the old grad_fn), and the tensor
   gets a new node of the matching out-of-place op (add_ -> add, clamp_ -> clip,
   masked_fill_ / fill_ / zero_ -> masked_fill) with `prev` as its first input. Where
   that op's backward needs the OLD value (mul_ and div_ when the operand needs a
   gradient, clamp_), `prev` holds a copy made before the write: the one allocation
   beyond the write, and only while recording. Ops recorded earlier that read the
   tensor keep reading `prev`'s version (tinygrad_cu/autograd.py, `_input_as_used`).

Every recorded op notes the versions of the tensors it saved for backward; backward
raises "one of the variables needed for gradient computation has been modified by an
inplace operation", naming the op and the tensor, instead of computing a wrong
gradient (autograd.py `_check_saved_versions`).

Not supported, with an error that says so: in-place ops on a view (or a tensor with
views) while a graph is recorded (PyTorch rebases the base's history too, CopySlices).
copy_ from a source that requires grad drops the tensor's old history (its gradient
there is zero, so leaves reached only through it get no .grad, where PyTorch gives
zeros).
"""
import numpy as np

from . import autograd, dtypes
from .device.recording import state as recording
from .op import Context, Meta, REGISTRY, broadcast_shapes
from .ops import inplace as writers
from .version_counter import counter_of


class InplaceOpsMixin:
    __slots__ = ()

    @property
    def _version(self):
        return 0 if self._vc is None else self._vc.value

    # --- the methods --------------------------------------------------------------------
    def add_(self, other, *, alpha=1):
        other = self._inplace_operand(other, "add_")
        if alpha != 1:
            other = other * alpha
        return self._inplace("add_", writers.ADD, [other], {}, REGISTRY["add"], {})

    def sub_(self, other, *, alpha=1):
        other = self._inplace_operand(other, "sub_")
        if alpha != 1:
            other = other * alpha
        return self._inplace("sub_", writers.SUB, [other], {}, REGISTRY["sub"], {})

    def mul_(self, other):
        other = self._inplace_operand(other, "mul_")
        return self._inplace("mul_", writers.MUL, [other], {}, REGISTRY["mul"], {},
                             keep_old=other.requires_grad)

    def div_(self, other):
        if not dtypes.is_float(self.dtype):
            raise RuntimeError(f"div_: result type Float can't be cast to the desired output type {self.dtype}")
        other = self._inplace_operand(other, "div_")
        return self._inplace("div_", writers.DIV, [other], {}, REGISTRY["div"], {},
                             keep_old=other.requires_grad)

    def clamp_(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp_: at least one of min and max must be given")
        bounds = dict(min=None if min is None else float(min), max=None if max is None else float(max))
        REGISTRY["clip"].infer(Meta(self.shape, self.dtype), **bounds)      # float only, min <= max
        return self._inplace("clamp_", writers.CLAMP, [], bounds, REGISTRY["clip"], bounds,
                             keep_old=self.requires_grad)

    clip_ = clamp_

    # `x += y` is in place, as in PyTorch (a view or the optimiser's parameter sees it)
    def __iadd__(self, other): return self.add_(other)
    def __isub__(self, other): return self.sub_(other)
    def __imul__(self, other): return self.mul_(other)
    def __itruediv__(self, other): return self.div_(other)

    def fill_(self, value):
        value = self._fill_value(value, "fill_")
        return self._inplace("fill_", writers.FILL, [], dict(value=value), **self._filled_node(value))

    def zero_(self):
        return self._inplace("zero_", writers.FILL, [], dict(value=0), **self._filled_node(0))

    def masked_fill_(self, mask, value):
        mask = self._mask_operand(mask, "masked_fill_")
        value = self._fill_value(value, "masked_fill_", tensor_value="item")
        return self._inplace("masked_fill_", writers.MASKED_FILL, [mask], dict(value=value),
                             REGISTRY["masked_fill"], dict(value=value))

    def masked_fill(self, mask, value):
        """value where mask is True, else self (the mask broadcasts with self). value is a
        number or a 0-d tensor; a tensor value gets its gradient (the sum of the gradient
        where the mask is set) and is never read on the host: x with the masked places
        zeroed, plus the value expanded with the unmasked places zeroed."""
        from .tensor import Tensor
        mask = self._mask_operand(mask, "masked_fill")
        if isinstance(value, Tensor):
            if value.ndim != 0:
                raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got "
                                   f"tensor with {value.ndim} dimension(s)")
            value = value if value.dtype == self.dtype else value.to(self.dtype)
            shape = broadcast_shapes("masked_fill", self.shape, mask.shape)
            kept = autograd.apply("masked_fill", self, mask, value=0)
            return kept + autograd.apply("masked_fill", value.expand(shape), ~mask, value=0)
        return autograd.apply("masked_fill", self, mask, value=self._fill_value(value, "masked_fill"))

    def copy_(self, src):
        """self = src, broadcast to self's shape and converted to self's dtype; the
        gradient flows to src (where it requires grad)."""
        from .tensor import Tensor
        if not isinstance(src, Tensor):
            src = Tensor(src, dtype=self.dtype, device=self.device)
        if src._dev is not self._dev:
            src = src.to(self.device)
        self._check_broadcast("copy_", src)
        if src.requires_grad and autograd.is_grad_enabled():
            node_src = src if src.dtype == self.dtype else src.to(self.dtype)
            if node_src.shape != self.shape:
                node_src = node_src.expand(self.shape)
            return self._inplace("copy_", writers.COPY, [src], {}, REGISTRY["reshape"], dict(shape=self.shape),
                                 node_operands=[node_src], drop_history=True)
        return self._inplace("copy_", writers.COPY, [src], {}, **self._filled_node(0))

    # --- operands -------------------------------------------------------------------------
    def _inplace_operand(self, other, name):
        """A Tensor on this device with this dtype (PyTorch: the operand is converted to
        the result's dtype, and a float result cannot be stored in an integer tensor)."""
        other = self._operand(other, name)
        if other._dev is not self._dev:
            raise RuntimeError(f"{name}: expected all tensors on the same device, got {self.device} "
                               f"and {other.device}")
        if other.dtype != self.dtype:
            if dtypes.is_float(other.dtype) and not dtypes.is_float(self.dtype):
                raise RuntimeError(f"{name}: result type Float can't be cast to the desired output "
                                   f"type {self.dtype}")
            other = other.to(self.dtype)
        self._check_broadcast(name, other)
        return other

    def _check_broadcast(self, name, other):
        if broadcast_shapes(name, self.shape, other.shape) != self.shape:
            raise RuntimeError(f"{name}: output with shape {list(self.shape)} doesn't match the "
                               f"broadcast shape {list(np.broadcast_shapes(self.shape, other.shape))}")

    def _mask_operand(self, mask, name):
        from .tensor import Tensor
        if not isinstance(mask, Tensor):
            mask = Tensor(np.asarray(mask), device=self.device)
        if mask.dtype != dtypes.bool_:
            raise TypeError(f"{name} only supports boolean masks, but got mask with dtype {mask.dtype}")
        if mask._dev is not self._dev:
            raise RuntimeError(f"{name}: the mask is on {mask.device}, the tensor on {self.device}")
        if name.endswith("_"):
            self._check_broadcast(name, mask)
        return mask

    def _fill_value(self, value, name, tensor_value=None):
        """A Python number. A 0-d tensor value (tensor_value="item") is read on the host,
        as PyTorch's in-place masked_fill_ does (a synchronisation), unless it needs a
        gradient, which an in-place fill cannot give it here."""
        from .tensor import Tensor
        if isinstance(value, Tensor):
            if tensor_value != "item" or value.ndim != 0:
                raise TypeError(f"{name}: value must be a Python number or (masked_fill/masked_fill_) a "
                                f"0-d tensor, got a tensor of shape {value.shape}")
            if value.requires_grad and autograd.is_grad_enabled():
                raise RuntimeError(f"{name}: a value tensor that requires grad is not supported in place; "
                                   "use the out-of-place masked_fill")
            value = value.item()
        if isinstance(value, (float, np.floating)) and not dtypes.is_float(self.dtype) and value != int(value):
            raise RuntimeError(f"{name}: value {value} cannot be converted to {self.dtype} without overflow")
        return value.item() if isinstance(value, np.generic) else value

    def _filled_node(self, value):
        """The node of an op whose result no longer depends on self's old value: a
        masked_fill with an all-true 0-d mask, whose backward gives the old self zero."""
        from .tensor import Tensor
        if not (self.requires_grad and autograd.is_grad_enabled()):
            return dict(node_op=None, node_attrs=None)
        mask = Tensor._from_buffer(self._dev.full((), True, dtypes.bool_), self._dev)
        return dict(node_op=REGISTRY["masked_fill"], node_attrs=dict(value=value), node_operands=[mask])

    # --- the machinery ----------------------------------------------------------------------
    def _inplace(self, name, writer, operands, attrs, node_op, node_attrs, keep_old=False,
                 node_operands=None, drop_history=False):
        """Write self in place with `writer` reading `operands`; when recording, self's new
        grad_fn is `node_op` (attrs `node_attrs`) over (prev, *node_operands), or over
        node_operands alone with drop_history (the result no longer depends on self)."""
        if self.requires_grad and self._node is None and autograd.is_grad_enabled():
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        record = (node_op is not None and autograd.is_grad_enabled() and dtypes.is_float(self.dtype)
                  and (self.requires_grad or any(t.requires_grad for t in operands)))
        if record and self._vc is not None and self._vc.shared:
            raise RuntimeError(f"{name}: in-place operations on a view, or on a tensor that has views "
                               "(reshape, view, detach), are not supported while a graph is recorded; "
                               "use the out-of-place op")
        if recording.recorder is not None:
            recording.recorder.tensors_read([self, *operands])
        self._own_cpu_buffer()
        prev = self._stand_in(keep_old) if record else None
        self._dev.update(writer, [self.buf] + [t.buf for t in operands], attrs)
        counter = counter_of(self)
        counter.value += 1
        if record:
            self._rebase(node_op, node_attrs, prev, operands if node_operands is None else node_operands,
                         keep_old, drop_history)
        return self

    def _stand_in(self, keep_old):
        """The tensor that takes over self's history: self's buffer (or, with keep_old,
        a copy of it taken before the write), self's grad_fn, self's version counter."""
        from .tensor import Tensor
        buf = self._dev.copy(self.buf) if keep_old else self.buf
        prev = Tensor._from_buffer(buf, self._dev, self.requires_grad)
        prev._node, prev._vc = self._node, counter_of(self)
        return prev

    def _own_cpu_buffer(self):
        """On `cpu` a buffer may be a numpy view into another tensor's memory that is not
        a tensor view here (permute's transposed view, a read-only broadcast, one gradient
        array handed to two leaves): copy it first, so that the write reaches this tensor
        only, as on emu/cuda where such results are separate buffers."""
        buf = self.buf
        if self._dev.name != "cpu" or (self._vc is not None and self._vc.shared):
            return
        if buf.base is not None or not buf.flags.writeable:
            self.buf = self._dev.copy(buf)
            if recording.recorder is not None:
                recording.recorder.rebound(self, self.buf)

    def _rebase(self, op, attrs, prev, operands, keep_old, drop_history):
        """Make self the output of a new node of `op` over (prev, *operands)."""
        inputs = list(operands) if drop_history else [prev] + [prev if t is self else t for t in operands]
        needs = tuple(t.requires_grad for t in inputs)
        ctx = Context(needs, tuple(Meta(t.shape, t.dtype) for t in inputs))
        if op.saves_inputs:
            ctx.inputs = [t.buf for t in inputs]
        if op.saves_output:
            ctx.output = self.buf
        versions = [t._version for t in inputs]
        if keep_old and not drop_history:
            versions = [None if t is prev else v for t, v in zip(inputs, versions)]   # prev is a copy
        ctx.versions = tuple(versions) + (self._version,)
        self._node = autograd.InplaceNode(op, attrs, tuple(inputs), ctx)
        self.requires_grad = True
