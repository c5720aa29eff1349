"""The op registry: what every op declared in `ops/` provides.

An op is one small unit you can hold in your head (see docs/ops.md):

    @register
    class Exp(UnaryOp):
        name = "exp"
        kernels = ("exp_forward", "exp_backward")   # in ops/unary.cu
        saves = ("output",)                          # what backward needs
        domain = Domain(-3, 3)                       # where tests sample inputs
        def forward(self, ctx, x):     return np.exp(x)          # numpy reference (cpu)
        def backward(self, ctx, grad): return (grad * ctx.output,)

* `infer(*metas, **attrs)` checks shapes and dtypes and returns the output's Meta;
  errors name the op and what was wrong (ValueError for shapes, TypeError for dtypes).
* `forward` / `backward` are the numpy reference, run by the `cpu` device and used as
  the oracle the kernels are checked against.
* `gpu_forward` / `gpu_backward` launch the op's CUDA kernels through a `GPUDevice`
  (the `emu` emulator or PyCUDA's `cuda`); they live beside the reference in the same
  module, with their `.cu` file.

`backward` returns one gradient per input, or None where `ctx.needs_input_grad` is
False, so no work is wasted on inputs that need no gradient.
"""
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import dtypes
from .errors import DimensionError

REGISTRY = {}


class Meta(NamedTuple):
    """What an op knows about an input before running it: shape and dtype.
    (A NamedTuple: made for every input of every op call, so it must be cheap.)"""
    shape: tuple
    dtype: np.dtype


@dataclass(frozen=True)
class Domain:
    """Where tests may sample an op's inputs: values in [low, high], and whether
    values too close to a kink (relu, abs at 0) must be avoided by finite differences."""
    low: float = -2.0
    high: float = 2.0
    avoid_zero: bool = False


class Context:
    """Per-call state shared by an op's forward and backward (PyTorch's `ctx`).

    The autograd engine fills `inputs`/`output` as the op's `saves` declares; a
    forward may stash more with `ctx.save(name=array)`. `free()` drops it all when
    the graph is released after backward (retain_graph=False). A plain class with
    __slots__: one is made per recorded op call."""
    __slots__ = ("needs_input_grad", "input_metas", "inputs", "output", "saved", "freed", "versions")

    def __init__(self, needs_input_grad, input_metas, inputs=None, output=None):
        self.needs_input_grad, self.input_metas = needs_input_grad, input_metas
        self.inputs, self.output, self.saved, self.freed = inputs, output, {}, False
        # the version counters of the inputs, then of the output, when the op saved them
        # for backward (None: nothing saved); tinygrad_cu/tensor_inplace.py
        self.versions = None

    def save(self, **arrays):
        self.saved.update(arrays)

    def free(self):
        self.inputs, self.output, self.saved, self.freed = None, None, {}, True


class Op:
    name = ""
    n_inputs = 1              # None for variadic ops (cat)
    differentiable = True
    reads_inputs = None       # indices of the saved inputs backward reads (None: all)
    shares_input_storage = False   # the output is a view of input 0's buffer (reshape)
    saves = ("inputs",)       # any of "inputs", "output"
    kernels = ()              # names of the forward and backward CUDA kernels
    domain = Domain()
    float_only = True         # inputs must be floating point
    runs_tensor_ops = False   # its backward is Tensor ops (autograd.Function): devices, the jit
                              # and the profiler see those ops, not this one, as the work

    # --- checks -------------------------------------------------------------
    def infer(self, *metas, **attrs):
        raise NotImplementedError(f"op {self.name} must define infer()")

    def check_float(self, *metas):
        for m in metas:
            if not dtypes.is_float(m.dtype):
                raise TypeError(f"{self.name}: expected floating point input(s), got dtype "
                                f"{', '.join(str(x.dtype) for x in metas)}")

    def check_same_dtype(self, *metas):
        if len({m.dtype for m in metas}) > 1:
            raise TypeError(f"{self.name}: inputs must have the same dtype, got "
                            f"{', '.join(str(m.dtype) for m in metas)} (use .to(dtype))")

    def inputs_read_by_backward(self, needs_input_grad):
        """Which saved inputs backward reads, given which inputs need a gradient: only
        those must be unmodified at backward (tinygrad_cu/version_counter.py)."""
        return range(len(needs_input_grad)) if self.reads_inputs is None else self.reads_inputs

    # --- numpy reference ------------------------------------------------------
    def forward(self, ctx, *xs, **attrs):
        raise NotImplementedError

    def backward(self, ctx, grad, **attrs):
        raise NotImplementedError

    # --- CUDA kernels through a GPUDevice ------------------------------------
    def gpu_forward(self, gpu, ctx, *xs, **attrs):
        raise RuntimeError(f"op {self.name} has no CUDA kernel for device {gpu.name}")

    def gpu_backward(self, gpu, ctx, grad, **attrs):
        raise RuntimeError(f"op {self.name} has no backward CUDA kernel for device {gpu.name}")

    def __repr__(self):
        return f"<op {self.name}>"


def register(cls):
    """Class decorator: instantiate the op and add it to the registry under its name."""
    op = cls()
    if not op.name or op.name in REGISTRY:
        raise ValueError(f"op name {op.name!r} is empty or registered twice")
    # read on every call by autograd.apply: worked out once here
    op.saves_inputs, op.saves_output = "inputs" in op.saves, "output" in op.saves
    REGISTRY[op.name] = op
    return cls


def factors_read_by_backward(needs):
    """For a product of two inputs (mul, matmul): d/da reads b, d/db reads a."""
    return [i for i, other_needs in ((0, needs[1]), (1, needs[0])) if other_needs]


def get_op(name):
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"no op named {name!r}; registered: {sorted(REGISTRY)}") from None


def broadcast_shapes(op_name, *shapes):
    """numpy's broadcasting rule, with an error that names the op and the shapes."""
    first = tuple(shapes[0])
    if all(tuple(s) == first for s in shapes[1:]):      # the common case, without numpy's cost
        return first
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(f"{op_name}: shapes {', '.join(str(tuple(s)) for s in shapes)} "
                         f"cannot be broadcast together") from None


def normalize_axes(op_name, axis, ndim):
    """axis None | int | tuple -> sorted tuple of non-negative axes (None = all)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise DimensionError(f"{op_name}: axis {a} is out of range for a tensor of {ndim} dims")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op_name}: repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


def contiguous_strides(shape):
    """Row-major (C order) strides of `shape`, in elements."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= int(n)
    return tuple(reversed(strides))


def sum_to_shape(grad, shape):
    """Undo numpy broadcasting in a gradient: sum over the broadcast axes."""
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and grad.shape[i + lead] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)
