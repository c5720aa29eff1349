"""Turning a Python launch into the C call: launch limits, argument checks, packing.

Every kernel argument travels in an 8-byte slot; the C side copies each out with its
exact parameter type. The checks use the kernel's real C signature, reported by the
compiled library, so a float64 array for a `float*` or an int64 scalar for an `int`
is a TypeError here instead of garbage in the kernel. Converters are built once per
kernel, so a launch costs a few microseconds of Python.
"""
import ctypes
import numbers
import operator
import struct

import numpy as np

from .emu_memory import DeviceAllocation, In, LogicError
from .emu_tools import PooledDeviceAllocation

# kinds reported by emu::Signature (cuda_emu_scheduler.h)
POINTER, SIGNED, UNSIGNED, FLOAT, BOOL, OTHER = range(6)
# launch flags (emu::LaunchFlag)
ORDER_FORWARD, ORDER_REVERSE, ORDER_RANDOM = 0, 1, 2
FLAG_POISON, FLAG_SERIAL, POISON_SHIFT, SEED_SHIFT = 4, 8, 8, 16

MAX_THREADS_PER_BLOCK = 1024
MAX_BLOCK = (1024, 1024, 64)
MAX_GRID = (2**31 - 1, 65535, 65535)
MAX_DYNAMIC_SHARED = 48 * 1024  # without cudaFuncSetAttribute opt-in

_FLOAT_DTYPES = {2: np.dtype(np.float16), 4: np.dtype(np.float32), 8: np.dtype(np.float64)}
_INT_FORMAT = {1: "B7x", 2: "H6x", 4: "I4x", 8: "Q"}
_FLOAT_FORMAT = {2: "e6x", 4: "f4x", 8: "d"}


class LaunchError(RuntimeError):
    """A kernel failed while running (PyCUDA: pycuda.driver.LaunchError)."""


class LaunchConfigError(LogicError, ValueError):
    """A launch configuration CUDA rejects (too many threads, a zero-sized grid, ...)."""


class RaceError(LaunchError):
    """Race mode: a launch gave different results under different thread orders."""


class LaunchTimeout(LaunchError):
    """The watchdog stopped a kernel that ran longer than its module's timeout."""


# what a launch returns (emu::ErrorKind, cuda_emu_scheduler.h)
(E_NONE, E_BARRIER_IN_LOOP_MODE, E_DEVICE_ASSERT, E_RESOURCES, E_MEMORY_FAULT, E_ARITHMETIC, E_STACK_OVERFLOW,
 E_TIMEOUT, E_INTERRUPTED, E_BARRIER_DIVERGENCE, E_ILLEGAL_INSTRUCTION, E_SHARED_FAULT) = range(12)
# after these, memory may hold wild writes: the device is faulted until emu.reset(), as a CUDA context
STICKY_ERRORS = (E_MEMORY_FAULT, E_STACK_OVERFLOW, E_ILLEGAL_INSTRUCTION, E_SHARED_FAULT)


def type_name(kind, size):
    return {POINTER: "pointer", SIGNED: f"int{8 * size}", UNSIGNED: f"uint{8 * size}",
            FLOAT: f"float{8 * size}", BOOL: "bool"}.get(kind, f"{size}-byte struct")


class Parameter:
    """One kernel parameter: its C type as reported by the library, and its text."""
    def __init__(self, index, code, text, kernel):
        self.index, self.text, self.kernel = index, text, kernel
        self.kind, self.size, self.pointee_kind, self.pointee_size = code
        self.format = ("Q" if self.kind == POINTER else _FLOAT_FORMAT[self.size] if self.kind == FLOAT
                       else "?7x" if self.kind == BOOL else f"{self.size}s{8 - self.size}x" if self.kind == OTHER
                       else _INT_FORMAT[self.size])

    def where(self):
        return f"kernel {self.kernel!r}, argument {self.index} (`{self.text}`)"

    def accepts_dtype(self, dtype):
        """Whether an array of `dtype` may be passed for this pointer parameter."""
        k, s = self.pointee_kind, self.pointee_size
        if k == OTHER or (k in (SIGNED, UNSIGNED) and s == 1):
            return True  # void* or a byte pointer: any buffer
        if k == FLOAT:
            return dtype == _FLOAT_DTYPES.get(s)
        if k == BOOL:
            return dtype.itemsize == 1
        return dtype.kind in "iu" and dtype.itemsize == s

    def is_float_buffer(self):
        return self.kind == POINTER and self.pointee_kind == FLOAT and self.pointee_size == 4

    # ---- conversions for __call__ (strict, numpy scalars only, like PyCUDA)
    def value(self, a):
        if self.kind == POINTER:
            return self.address(a, allow_int=False)
        if not isinstance(a, np.generic):
            raise TypeError(f"{self.where()}: got a plain Python {type(a).__name__}; pass a numpy "
                            f"scalar of the parameter's type ({type_name(self.kind, self.size)}), "
                            f"e.g. np.{'float32' if self.kind == FLOAT else 'int32'}(...)")
        dt = a.dtype
        if self.kind == FLOAT and dt.kind == "f" and dt.itemsize == self.size:
            return float(a)
        if self.kind in (SIGNED, UNSIGNED) and dt.kind in "iu" and dt.itemsize == self.size:
            return int(a) & ((1 << (8 * self.size)) - 1)
        if self.kind == BOOL and dt.kind == "b":
            return bool(a)
        if self.kind == OTHER and dt.itemsize == self.size:
            return a.tobytes()
        raise TypeError(f"{self.where()}: got np.{dt.name}, but the parameter is "
                        f"{type_name(self.kind, self.size)}")

    def address(self, a, allow_int):
        if type(a) is np.ndarray:
            if not self.accepts_dtype(a.dtype):
                raise TypeError(f"{self.where()}: got an array of {a.dtype}, but the parameter "
                                f"points to {type_name(self.pointee_kind, self.pointee_size)}")
            if not a.flags.c_contiguous:
                raise TypeError(f"{self.where()}: the array is not contiguous (pass np.ascontiguousarray(...))")
            return a.__array_interface__["data"][0]
        if isinstance(a, (DeviceAllocation, PooledDeviceAllocation)):
            return int(a)
        if isinstance(a, In):
            return self.address(a.array, allow_int)
        if isinstance(a, np.integer) and a.dtype.itemsize == 8:  # np.uintp / np.intp holding an address
            return int(a)
        if isinstance(a, np.ndarray):  # a subclass
            return self.address(np.asarray(a), allow_int)
        if allow_int and isinstance(a, numbers.Integral):
            return int(a)
        if hasattr(a, "gpudata"):
            return int(a.gpudata)
        raise TypeError(f"{self.where()}: cannot pass a {type(a).__name__} as a pointer (use a numpy "
                        "array, a DeviceAllocation or an np.uintp address)")

    # ---- conversions for prepared_call: what PyCUDA's struct packing accepts
    def prepared_value(self, a):
        """PyCUDA packs prepared arguments with struct.pack(format, *args): integer and
        "P" slots take anything with __index__ (ints, numpy integers, allocations; not
        floats, not arrays), float slots any real number, bool slots anything."""
        if self.kind in (POINTER, SIGNED, UNSIGNED):
            try:
                v = operator.index(a)
            except TypeError:
                raise TypeError(f"{self.where()}: prepared_call packs an integer here "
                                f"({'an address' if self.kind == POINTER else type_name(self.kind, self.size)}), "
                                f"got {type(a).__name__} (struct.error: required argument is not an integer)") from None
            if self.kind == POINTER:
                return v
            bits = 8 * self.size
            lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if self.kind == SIGNED else (0, 1 << bits)
            if not lo <= v < hi:
                raise TypeError(f"{self.where()}: {v} does not fit in {type_name(self.kind, self.size)} "
                                "(struct.error: argument out of range)")
            return v & ((1 << bits) - 1)
        if self.kind == FLOAT:
            if not isinstance(a, (numbers.Real, np.number)) or isinstance(a, np.complexfloating):
                raise TypeError(f"{self.where()}: prepared_call packs a {type_name(self.kind, self.size)} here, "
                                f"got {type(a).__name__} (struct.error: required argument is not a float)")
            return float(a)
        if self.kind == BOOL:
            return bool(a)
        return bytes(a)

    def matches_prepared(self, char):
        """Does a PyCUDA prepare() type character describe this parameter? A pointer may
        also be prepared as an unsigned integer of pointer size (np.uintp), as PyCUDA
        does for any type it does not know."""
        try:
            size = struct.calcsize(char)
        except struct.error:
            return False
        if char == "P":
            return self.kind == POINTER
        if char in "fde":
            return self.kind == FLOAT and size == self.size
        if char == "?":
            return self.kind == BOOL
        if self.kind == POINTER:
            return char in "LQ" and size == 8
        return self.kind in (SIGNED, UNSIGNED) and size == self.size


def launch_dims(kernel, block, grid):
    """The six launch dimensions, checked against CUDA's limits."""
    def dims(value, what, limits):
        t = tuple(value)
        if not 1 <= len(t) <= 3 or not all(isinstance(v, numbers.Integral) for v in t):
            raise LaunchConfigError(f"kernel {kernel!r}: {what}={value!r} must be 1 to 3 integers")
        t = tuple(int(v) for v in t) + (1,) * (3 - len(t))
        for axis, v, limit in zip("xyz", t, limits):
            if not 1 <= v <= limit:
                raise LaunchConfigError(f"kernel {kernel!r}: {what}.{axis}={v} is outside CUDA's "
                                        f"limits 1..{limit} (invalid configuration argument)")
        return t
    b, g = dims(block, "block", MAX_BLOCK), dims(grid, "grid", MAX_GRID)
    if b[0] * b[1] * b[2] > MAX_THREADS_PER_BLOCK:
        raise LaunchConfigError(f"kernel {kernel!r}: block={b} has {b[0] * b[1] * b[2]} threads; CUDA "
                                f"allows at most {MAX_THREADS_PER_BLOCK} per block (too many resources requested)")
    return g + b


def check_shared(kernel, shared):
    if not isinstance(shared, numbers.Integral) or not 0 <= shared <= MAX_DYNAMIC_SHARED:
        raise LaunchConfigError(f"kernel {kernel!r}: shared={shared!r} bytes of dynamic shared memory; "
                                f"CUDA allows 0..{MAX_DYNAMIC_SHARED} (48 KiB) per block")
    return int(shared)


class SlotBuffer:
    """The 8-byte argument slots of one kernel, filled by struct.pack_into."""
    def __init__(self, params):
        self.format = "<" + "".join(p.format for p in params)
        self.buffer = (ctypes.c_uint64 * max(1, len(params)))()
        self.address = ctypes.addressof(self.buffer)

    def fill(self, values):
        struct.pack_into(self.format, self.buffer, 0, *values)
        return self.address
