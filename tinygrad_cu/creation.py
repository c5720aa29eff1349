"""Tensor factories with PyTorch's names and signatures, and the global random seed.

Constant tensors (zeros, ones, full, *_like) are filled on the device itself: a memset
or one launch of the `fill` kernel on emu/cuda, nothing uploaded; `empty` only
allocates (on cpu, where numpy owns memory, it is zero-filled). Random tensors are
drawn by numpy's Generator on the host and then copied to the device, so the same seed
gives the same numbers on cpu, emu and cuda; `linspace`, `arange` and `eye` are
computed on the host and uploaded too (no kernel makes them).
"""
import numpy as np

from . import dtypes
from .errors import OpError
from .device import get_device
from .tensor import Tensor

_rng = [np.random.default_rng(0)]


def manual_seed(seed):
    """Seed every random factory (rand, randn, randint, init, dropout, shuffles)."""
    _rng[0] = np.random.default_rng(seed)


def rng():
    return _rng[0]


def _shape(shape, op="tensor creation"):
    """A size given as ints or as one sequence, checked: every dim an int >= 0 (the device
    fills would otherwise make a tensor of shape (2, -3, 0) with no elements)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return _checked_dims(shape, op)


def _checked_dims(shape, op):
    dims = []
    for s in shape:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{op}: sizes must be ints, got {type(s).__name__} {s!r} in {tuple(shape)}")
        if s < 0:
            raise OpError(f"{op}: negative dimension {int(s)} in size {tuple(int(d) for d in shape)}")
        dims.append(int(s))
    return tuple(dims)


def _make(array, dtype, device, requires_grad):
    return Tensor(array, dtype=dtype or dtypes.float32, device=device, requires_grad=requires_grad)


def tensor(data, dtype=None, device=None, requires_grad=False):
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def _filled(shape, value, dtype, device, requires_grad):
    """A tensor of `shape` filled with `value`, made on the device (no host array)."""
    dev = get_device(device)
    t = Tensor._from_buffer(dev.full(shape, value, dtype), dev)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    """Zeros made on the device itself (a memset on emu/cuda), never via a host array."""
    return _filled(_shape(shape, "zeros"), 0, dtypes.as_dtype(dtype) or dtypes.float32, device, requires_grad)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    return _filled(_shape(shape, "ones"), 1, dtypes.as_dtype(dtype) or dtypes.float32, device, requires_grad)


def _fill_dtype(fill_value):
    """torch.full's dtype for a Python fill value: bool, int64 or float32."""
    return dtypes.infer_dtype(np.asarray(fill_value))


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    dtype = dtypes.as_dtype(dtype) or _fill_dtype(fill_value)
    return _filled(_checked_dims(shape, "full"), fill_value, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor: on emu/cuda only an allocation (its contents are whatever
    the memory held, as torch.empty); on cpu zeros, numpy's allocation."""
    dtype = dtypes.as_dtype(dtype) or dtypes.float32
    dev = get_device(device)
    shape = _shape(size, "empty")
    buf = dev.empty(shape, dtype) if hasattr(dev, "empty") else dev.full(shape, 0, dtype)
    t = Tensor._from_buffer(buf, dev)
    return t.requires_grad_(True) if requires_grad else t


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """`steps` evenly spaced values from start to end, both included. As PyTorch, the
    first half counts up from start and the second half down from end, so both ends
    are exact; an integer dtype truncates."""
    steps = int(steps)
    if steps < 0:
        raise OpError(f"linspace: number of steps must be non-negative, got {steps}")
    dtype = dtypes.as_dtype(dtype) or dtypes.float32
    if dtype == np.bool_:
        raise OpError("linspace: not supported for bool (as in PyTorch): give a number dtype")
    i = np.arange(steps, dtype=np.float64)
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    values = np.where(i < steps // 2, start + i * step, end - (steps - 1 - i) * step)
    if steps == 1:
        values = np.array([start], np.float64)
    return Tensor(values, dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(array):
    """A tensor with the array's values AND dtype (float64 stays float64, unlike tensor()).
    Unlike torch.from_numpy it shares no memory: the data is copied, so the tensor's later
    updates never reach the array and the array's never reach the tensor."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return Tensor(array, dtype=dtypes.as_dtype(array.dtype))


def _float_dtype(dtype):
    dtype = dtypes.as_dtype(dtype) or dtypes.float32
    if not dtypes.is_float(dtype):
        raise TypeError(f"random floats cannot have dtype {dtype}; use randint for integers")
    return dtype


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1), drawn directly in the tensor's float dtype."""
    dtype = _float_dtype(dtype)
    return _make(rng().random(_shape(shape, "rand"), dtype=dtype), dtype, device, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal, drawn directly in the tensor's float dtype."""
    dtype = _float_dtype(dtype)
    return _make(rng().standard_normal(_shape(shape, "randn"), dtype=dtype), dtype, device, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, dtype=None, device=None, requires_grad=False):
    """torch.normal: samples of N(mean, std^2). mean and std numbers (then `size` gives
    the shape), or tensors (broadcast together; one sample per element, no gradient to
    them, as PyTorch's torch.normal). Drawn on the host from the global seed, as randn."""
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        if size is not None:
            raise TypeError("normal: size is only for a number mean and std (tensors give the shape)")
        like = mean if isinstance(mean, Tensor) else std
        m = mean.detach() if isinstance(mean, Tensor) else float(mean)
        s = std.detach() if isinstance(std, Tensor) else float(std)
        shape = np.broadcast_shapes(np.shape(m.numpy() if isinstance(m, Tensor) else m),
                                    np.shape(s.numpy() if isinstance(s, Tensor) else s))
        noise = _make(rng().standard_normal(shape, dtype=like.dtype), like.dtype, like.device, False)
        out = (noise * s + m).detach()
        return out.requires_grad_(True) if requires_grad else out
    if size is None:
        raise TypeError("normal: give size when mean and std are numbers")
    if std < 0:
        raise ValueError(f"normal: std must be >= 0, got {std}")
    dtype = _float_dtype(dtype)
    draws = rng().standard_normal(_shape((size,) if isinstance(size, (int, np.integer)) else (tuple(size),)),
                                  dtype=dtype) * dtype.type(std) + dtype.type(mean)
    return _make(draws, dtype, device, requires_grad)


def randint(low, high=None, size=None, *, dtype=None, device=None, requires_grad=False):
    """Integers uniform on [low, high): randint(high, size) or randint(low, high, size),
    int64 unless dtype says otherwise, as torch.randint."""
    if size is None:                         # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:                       # randint(high, size=...)
        low, high = 0, low
    if size is None:
        raise TypeError("randint: missing the size argument, e.g. randint(0, 10, (3,))")
    if not low < high:
        raise ValueError(f"randint: low must be less than high, got low={low}, high={high}")
    size = (int(size),) if isinstance(size, (int, np.integer)) else tuple(int(s) for s in size)
    return Tensor(rng().integers(low, high, size=size), dtype=dtypes.as_dtype(dtype) or dtypes.int64,
                  device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    if dtype is None:
        dtype = dtypes.infer_dtype(values)
    return Tensor(values, dtype=dtype, device=device, requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _make(np.eye(n, m), dtype, device, requires_grad)


# --- *_like: input's shape, and its dtype and device unless given ---------------------------
def _like(t, dtype, device):
    return t.shape, dtypes.as_dtype(dtype) or t.dtype, device or t.device


def zeros_like(input, *, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(input, dtype, device)
    return _filled(shape, 0, dtype, device, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(input, dtype, device)
    return _filled(shape, 1, dtype, device, requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    """input's dtype unless given (full_like(int_tensor, 2.7) is 2, as PyTorch)."""
    shape, dtype, device = _like(input, dtype, device)
    return _filled(shape, fill_value, dtype, device, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(input, dtype, device)
    return empty(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(input, dtype, device)
    return rand(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False):
    shape, dtype, device = _like(input, dtype, device)
    return randn(shape, dtype=dtype, device=device, requires_grad=requires_grad)
