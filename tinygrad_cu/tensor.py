"""Tensor: an n-dimensional array on a device that records the ops applied to it.

Every method here is a thin front: it turns Python arguments into an op call
(`autograd.apply`), or composes other Tensor methods (`mean` is `sum` times 1/n,
`a - b` is its own op so that its kernel is one pass). The ops themselves, their
numpy references and CUDA kernels, live in `ops/`.
"""
import numpy as np

from . import autograd, dtypes
from .autograd import apply, run
from .errors import OpError
from .device import get_device
from .device.recording import state as recording
from .tensor_inplace import InplaceOpsMixin
from .tensor_integer import IntegerOpsMixin
from .version_counter import share_counter
from .op import REGISTRY
from .tensor_reductions import ReductionsMixin
from .tensor_movement import MovementMethods
from .tensor_elementwise import ElementwiseMixin


def _axis_args(op, axis, dim, keepdims, keepdim):
    """Accept numpy's (axis, keepdims) and PyTorch's (dim, keepdim) spellings."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: pass axis or dim, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, bool(keepdims)


class Tensor(ElementwiseMixin, ReductionsMixin, MovementMethods, IntegerOpsMixin, InplaceOpsMixin):
    """`Tensor(data, requires_grad=False, device=None, dtype=None)`: data is copied.

    Floats become float32 unless dtype says otherwise (also numpy float64 arrays, as in
    tinygrad: mixing float32 and float64 in one op is an error, not a silent upcast)."""
    __slots__ = ("buf", "_dev", "requires_grad", "grad", "_node", "_vc", "__weakref__")
    __array_priority__ = 1000   # `np_array + tensor` calls Tensor.__radd__

    def __init__(self, data, requires_grad=False, device=None, dtype=None):
        if isinstance(data, Tensor):
            data = data.numpy()
        dtype = dtypes.as_dtype(dtype)
        array = np.asarray(data, dtype=dtype)
        if dtype is None:
            array = array.astype(dtypes.infer_dtype(array), copy=False)
        self._dev = get_device(device)
        self.buf = self._dev.from_numpy(array)
        self._node, self.grad, self.requires_grad, self._vc = None, None, False, None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_buffer(cls, buf, dev, requires_grad=False):
        t = cls.__new__(cls)
        t.buf, t._dev, t.requires_grad, t.grad, t._node, t._vc = buf, dev, requires_grad, None, None, None
        return t

    # --- what a tensor is ------------------------------------------------------------
    shape = property(lambda self: self.buf.shape)        # buffers keep shapes as tuples
    ndim = property(lambda self: len(self.buf.shape))
    dtype = property(lambda self: self.buf.dtype)
    device = property(lambda self: self._dev.name)
    is_leaf = property(lambda self: self._node is None)
    grad_fn = property(lambda self: self._node)
    T = property(lambda self: self.permute(*reversed(range(self.ndim))))

    def numel(self):
        return int(np.prod(self.shape, dtype=np.int64))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def numpy(self):
        return self._dev.to_numpy(self.buf)

    def item(self):
        if self.numel() != 1:
            raise OpError(f"item: only a tensor with one element can be converted to a "
                             f"Python scalar, got shape {self.shape}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def __repr__(self):
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(", precision=4)
        extra = [f"shape={self.shape}", f"device='{self.device}'"]
        if self.dtype != dtypes.float32:
            extra.append(f"dtype={self.dtype}")
        if self._node is not None:
            extra.append(f"grad_fn={self._node!r}")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extra)})"

    def __bool__(self):
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    __hash__ = object.__hash__   # __eq__ is elementwise, as in PyTorch

    # --- autograd --------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) into `.grad` of every leaf that requires grad."""
        autograd.backward(self, gradient, retain_graph=retain_graph)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and not dtypes.is_float(self.dtype):
            raise RuntimeError(f"only floating point tensors can require gradients, got {self.dtype}")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def assign(self, value):
        """Replace this tensor's data with `value`'s (same shape, dtype and device),
        keeping its identity: how hand-written update rules change parameters."""
        value = self._operand(value, "assign")
        if value.shape != self.shape or value.dtype != self.dtype or value._dev is not self._dev:
            raise OpError(f"assign: {value.shape} {value.dtype} on {value.device} does not match "
                             f"{self.shape} {self.dtype} on {self.device}")
        if self._node is not None:
            raise RuntimeError("assign: only leaf tensors can be assigned to")
        self.buf = self._dev.copy(value.buf)     # a copy: later in-place updates of value stay there
        if recording.recorder is not None:
            recording.recorder.rebound(self, self.buf)
        return self

    def detach(self):
        """The same data, cut from the graph (shares the buffer, and its version counter:
        an in-place change of either is seen by backward through the other)."""
        out = Tensor._from_buffer(self.buf, self._dev)
        share_counter(out, self)
        return out

    def graph(self):
        from .computation_graph import graph
        return graph(self)

    # --- devices and dtypes ------------------------------------------------------
    def to(self, target):
        """A copy on another device ('cpu', 'emu', 'cuda') or in another dtype.
        A device copy of a leaf is a new leaf that keeps `requires_grad` (for moving
        models and inputs); moving a tensor in the middle of a graph is refused."""
        try:
            dtype = dtypes.as_dtype(target) if not (isinstance(target, str) and
                                                    target.split(":")[0] in ("cpu", "emu", "cuda")) else None
        except TypeError:
            dtype = None
        if dtype is not None:
            return self if dtype == self.dtype else apply("cast", self, dtype=dtype)
        dev = get_device(target)
        if dev is self._dev:
            return self
        if self._node is not None and autograd.is_grad_enabled():
            # the copy would be a new leaf: gradients would silently stop here
            raise RuntimeError(f"to: moving a non-leaf tensor {self.shape} from {self.device} to "
                               f"{dev.name} would cut the graph; move the leaves (model.to(...), "
                               "inputs) before computing, or detach() it first")
        out = Tensor._from_buffer(dev.from_numpy(self.numpy()), dev)
        return out.requires_grad_(self.requires_grad) if self.requires_grad else out

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def cpu(self):
        return self.to("cpu")

    def contiguous(self):
        return self

    # --- arithmetic --------------------------------------------------------------
    def _operand(self, other, op_name):
        """Turn a Python number or array into a tensor on this tensor's device. A number
        is filled in on the device (no upload); arrays and lists are data, and copied."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (bool, int, float, np.number)):
            dtype = self.dtype
            if isinstance(other, (float, np.floating)) and dtype.kind != "f":
                dtype = dtypes.float32
            return Tensor._from_buffer(self._dev.full((), other, dtype), self._dev)
        if isinstance(other, (np.ndarray, list)):
            arr = np.asarray(other)
            dtype = self.dtype
            if arr.dtype.kind == "f" and not dtypes.is_float(dtype):
                dtype = dtypes.float32
            return Tensor(arr, dtype=dtype, device=self.device)
        raise TypeError(f"{op_name}: unsupported operand type {type(other).__name__}")

    def _binary(self, op_name, other, reverse=False):
        if other.__class__ is Tensor and other.buf.dtype == self.buf.dtype:   # the common case
            return run(REGISTRY[op_name], (other, self) if reverse else (self, other), {})
        other = self._operand(other, op_name)
        a, b = (other, self) if reverse else (self, other)
        if a.dtype != b.dtype and not (dtypes.is_float(a.dtype) and dtypes.is_float(b.dtype)):
            if dtypes.is_float(a.dtype) or dtypes.is_float(b.dtype):
                # int tensor with a float operand: compute in float, as PyTorch promotes
                a, b = (a.float() if not dtypes.is_float(a.dtype) else a,
                        b.float() if not dtypes.is_float(b.dtype) else b)
            else:   # two integer/bool dtypes: the wider one, as PyTorch (bool + int32 is int32)
                common = np.promote_types(a.dtype, b.dtype)
                a, b = a.to(common), b.to(common)
        return apply(op_name, a, b)

    def __add__(self, o): return self._binary("add", o)
    def __radd__(self, o): return self._binary("add", o, reverse=True)
    def __sub__(self, o): return self._binary("sub", o)
    def __rsub__(self, o): return self._binary("sub", o, reverse=True)
    def __mul__(self, o): return self._binary("mul", o)
    def __rmul__(self, o): return self._binary("mul", o, reverse=True)
    # __truediv__, __pow__ (integer rules), __mod__: tinygrad_cu/tensor_elementwise.py
    def __matmul__(self, o): return self.matmul(o)
    def __rmatmul__(self, o): return self._operand(o, "matmul").matmul(self)
    def __eq__(self, o): return self._binary("eq", o)
    def __ne__(self, o): return self._binary("ne", o)
    def __lt__(self, o): return self._binary("lt", o)
    def __le__(self, o): return self._binary("le", o)
    def __gt__(self, o): return self._binary("gt", o)
    def __ge__(self, o): return self._binary("ge", o)

    add, sub, mul = __add__, __sub__, __mul__     # div (rounding_mode=), pow: tensor_elementwise.py

    def matmul(self, other):
        """Matrix product with numpy's rules: 1-D operands are promoted and the added
        dimension removed afterwards; leading (batch) dimensions broadcast."""
        other = self._operand(other, "matmul")
        if self.ndim == 0 or other.ndim == 0:
            raise OpError(f"matmul: both operands need at least 1 dimension, got shapes "
                             f"{self.shape} and {other.shape}")
        a = self.unsqueeze(0) if self.ndim == 1 else self
        b = other.unsqueeze(-1) if other.ndim == 1 else other
        integer = not (dtypes.is_float(a.dtype) or dtypes.is_float(b.dtype))   # exact: ops/matmul_int.py
        out = apply("matmul_int" if integer else "matmul", a, b)
        if other.ndim == 1:
            out = out.squeeze(-1)
        if self.ndim == 1:
            out = out.squeeze(-1 if other.ndim == 1 else -2)
        return out

    def dot(self, other):
        return self.matmul(other)

    # --- elementwise -------------------------------------------------------------
    # exp log sqrt abs relu sigmoid tanh sign neg, with PyTorch's integer rules:
    # tinygrad_cu/tensor_elementwise.py

    def clip(self, min=None, max=None):
        if min is None and max is None:
            raise OpError("clip: at least one of min and max must be given")
        if not dtypes.is_float(self.dtype):
            return self._integer_clip(min, max)
        return apply("clip", self, min=None if min is None else float(min),
                     max=None if max is None else float(max))

    clamp = clip

    # --- reductions --------------------------------------------------------------
    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
        """dtype: cast the input to it first (PyTorch's sum(dtype=))."""
        axis, keepdims = _axis_args("sum", axis, dim, keepdims, keepdim)
        x = self if dtype is None else self.to(dtypes.as_dtype(dtype))     # a bad dtype: TypeError
        return apply("sum", x, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
        axis, keepdims = _axis_args("mean", axis, dim, keepdims, keepdim)
        out = self.sum(axis=axis, keepdims=keepdims, dtype=dtype)
        count = self.numel() // max(out.numel(), 1) if self.numel() else 0
        return out * (1.0 / count if count else float("nan"))

    # max/min (PyTorch's: (values, indices) with a dim), amax/amin, prod, var/std, any/all,
    # logsumexp, cumulative ops and sorting: ReductionsMixin, tinygrad_cu/tensor_reductions.py

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        """Index of the first largest value (of the flattened tensor if axis is None)."""
        axis, keepdims = _axis_args("argmax", axis, dim, keepdims, keepdim)
        return apply("argmax", self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        axis, keepdims = _axis_args("argmin", axis, dim, keepdims, keepdim)
        return apply("argmin", self, axis=axis, keepdims=keepdims)

    # --- shape -------------------------------------------------------------------
    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return apply("reshape", self, shape=tuple(int(s) for s in shape))

    view = reshape

    def _dim(self, dim, op, extra=0):
        """A dim in [-ndim - extra, ndim + extra) as a non-negative index, else IndexError."""
        n = self.ndim + extra
        if not -max(n, 1) <= dim < max(n, 1):
            raise IndexError(f"{op}: dim {dim} is out of range for a tensor of shape {self.shape}")
        return dim % max(n, 1)

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        start, end = self._dim(start_dim, "flatten"), self._dim(end_dim, "flatten")
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:])

    def permute(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return apply("permute", self, dims=tuple(self._dim(int(d), "permute") for d in dims))

    def transpose(self, dim0=-2, dim1=-1):
        if self.ndim < 2:
            return self
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def expand(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        lead = len(shape) - self.ndim
        full = tuple(self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
        return apply("expand", self, shape=tuple(int(s) for s in full))

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(s for s in self.shape if s != 1))
        dim = self._dim(dim, "squeeze")
        if self.ndim == 0 or self.shape[dim] != 1:
            return self
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:])

    def unsqueeze(self, dim):
        dim = self._dim(dim, "unsqueeze", extra=1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def __getitem__(self, index):
        """Basic and advanced indexing (ints, slices, None, ..., integer and boolean
        arrays or tensors) with PyTorch's rules, which are numpy's except where an int
        meets an index array (docs/ops.md, "Indexing"); differentiable."""
        return apply("getitem", self, index=_normalize_index(index))

    def pad(self, pad_width, value=0.0, mode="constant"):
        """numpy-style padding: one (before, after) pair per dimension; a negative pad
        crops, and mode is F.pad's (tinygrad_cu/nn/padding.py)."""
        from .nn.padding import pad_pairs
        try:
            pad_width = tuple((int(a), int(b)) for a, b in pad_width)
        except (TypeError, ValueError):
            raise OpError(f"pad: pad_width must be one (before, after) pair per dim of {self.shape}, "
                             f"got {pad_width!r} (nn.functional.pad takes PyTorch's flat form)") from None
        return pad_pairs(self, pad_width, mode, value)

    # --- functional conveniences --------------------------------------------------
    def softmax(self, axis=-1):
        """A 0-d tensor is one row of one element (axis 0 or -1), as PyTorch: softmax 1."""
        if self.ndim == 0:
            return apply("softmax", self.reshape(1), axis=self._dim(axis, "softmax")).reshape(())
        return apply("softmax", self, axis=axis)

    def log_softmax(self, axis=-1):
        if self.ndim == 0:
            return apply("log_softmax", self.reshape(1), axis=self._dim(axis, "log_softmax")).reshape(())
        return apply("log_softmax", self, axis=axis)


def _normalize_index(index):
    """Indices become hashable-free plain Python/numpy objects the op can check."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for it in items:
        if isinstance(it, Tensor):
            it = it.numpy()
        if isinstance(it, (list, tuple)):   # a sequence inside the index is an index array (PyTorch)
            it = np.asarray(it) if it else np.zeros(0, np.int64)   # [] selects nothing
        out.append(it)
    return tuple(out)


def _tensor_list(op, tensors):
    """The tensors of cat/stack as a list, each checked to be a Tensor (PyTorch's TypeError)."""
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}: expected a sequence of tensors, got one Tensor of shape {tensors.shape}")
    tensors = list(tensors)
    if not tensors:
        raise OpError(f"{op}: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expected Tensor as element {i}, got {type(t).__name__}")
    return tensors


def cat(tensors, dim=0):
    """Join tensors along an existing dimension."""
    tensors = _tensor_list("cat", tensors)
    return apply("cat", *tensors, axis=int(dim))


def stack(tensors, dim=0):
    """Join tensors along a new dimension."""
    tensors = _tensor_list("stack", tensors)
    return cat([t.unsqueeze(dim) for t in tensors], dim=dim)


autograd.Tensor = Tensor     # autograd makes result tensors without importing this module
