"""Tensor factories with PyTorch's names, and the global random seed.

Random tensors are drawn by numpy's Generator on the host and then copied to the
device, so the same seed gives the same numbers on cpu, emu and cuda.
"""
import numpy as np

from . import dtypes
from .device import get_device
from .tensor import Tensor

_rng = [np.random.default_rng(0)]


def manual_seed(seed):
    """Seed every random factory (rand, randn, randint, init, dropout, shuffles)."""
    _rng[0] = np.random.default_rng(seed)


def rng():
    return _rng[0]


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _make(array, dtype, device, requires_grad):
    return Tensor(array, dtype=dtype or dtypes.float32, device=device, requires_grad=requires_grad)


def tensor(data, dtype=None, device=None, requires_grad=False):
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    """Zeros made on the device itself (a memset on emu/cuda), never via a host array."""
    dtype = dtypes.as_dtype(dtype) or dtypes.float32
    dev = get_device(device)
    t = Tensor._from_buffer(dev.zeros(_shape(shape), dtype), dev)
    return t.requires_grad_(True) if requires_grad else t


def ones(*shape, dtype=None, device=None, requires_grad=False):
    dtype = dtypes.as_dtype(dtype) or dtypes.float32
    return _make(np.ones(_shape(shape), dtype), dtype, device, requires_grad)


def full(shape, fill_value, dtype=None, device=None, requires_grad=False):
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if dtype is None:
        dtype = dtypes.infer_dtype(np.asarray(fill_value))
    return _make(np.full(shape, fill_value), dtype, device, requires_grad)


def _float_dtype(dtype):
    dtype = dtypes.as_dtype(dtype) or dtypes.float32
    if not dtypes.is_float(dtype):
        raise TypeError(f"random floats cannot have dtype {dtype}; use randint for integers")
    return dtype


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1), drawn directly in the tensor's float dtype."""
    dtype = _float_dtype(dtype)
    return _make(rng().random(_shape(shape), dtype=dtype), dtype, device, requires_grad)


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Standard normal, drawn directly in the tensor's float dtype."""
    dtype = _float_dtype(dtype)
    return _make(rng().standard_normal(_shape(shape), dtype=dtype), dtype, device, requires_grad)


def randint(low, high, size, dtype=None, device=None):
    return Tensor(rng().integers(low, high, size=size), dtype=dtype or dtypes.int64, device=device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    if dtype is None:
        dtype = dtypes.infer_dtype(values)
    return Tensor(values, dtype=dtype, device=device, requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _make(np.eye(n, m), dtype, device, requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return ones(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)
