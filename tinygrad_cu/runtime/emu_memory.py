"""Device memory for the emulator: host memory that behaves like PyCUDA's.

An allocation is a block from the C library's allocator of exactly the requested size
(256-byte aligned, like cuMemAlloc), so that under AddressSanitizer (bounds mode) a
kernel that runs past its end is caught. `int(allocation)` is its address, which is
what a kernel receives as a pointer.
"""
import ctypes
import weakref

import numpy as np

_libc = ctypes.CDLL(None)
_libc.posix_memalign.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_size_t]
_libc.free.argtypes = [ctypes.c_void_p]

# address -> size of every live allocation: race checks snapshot what a raw address points into
live_allocations = {}


class LogicError(RuntimeError):
    """Misuse of the API (PyCUDA: pycuda.driver.LogicError)."""


class DeviceAllocation:
    """PyCUDA's DeviceAllocation: int() gives the address; freed by free() or on GC."""
    __slots__ = ("_address", "size", "_finalizer", "__weakref__")

    def __init__(self, nbytes):
        if int(nbytes) <= 0:
            raise LogicError(f"mem_alloc({nbytes}): cannot allocate zero bytes (cuMemAlloc fails likewise)")
        address = ctypes.c_void_p()
        if _libc.posix_memalign(ctypes.byref(address), 256, int(nbytes)) != 0:
            raise MemoryError(f"mem_alloc({nbytes}): out of memory")
        self._address, self.size = address.value, int(nbytes)
        live_allocations[self._address] = self.size
        self._finalizer = weakref.finalize(self, _release, self._address)

    def free(self):
        self._finalizer()
        self._address = 0

    def __int__(self):
        if not self._address:
            raise LogicError("use of a freed DeviceAllocation")
        return self._address

    __index__ = __int__

    def __repr__(self):
        return f"<emu.DeviceAllocation {self.size} bytes at {self._address:#x}>"


def _release(address):
    live_allocations.pop(address, None)
    _libc.free(address)


class DevicePointer(int):
    """An address inside the module, such as a __constant__ variable (never freed)."""


def mem_alloc(nbytes):
    return DeviceAllocation(nbytes)


def _address(ptr):
    if isinstance(ptr, np.ndarray):
        return ptr.__array_interface__["data"][0]
    return int(ptr)


def _check_room(ptr, nbytes, what):
    """An allocation (a DeviceAllocation, or a pool's PooledDeviceAllocation: both have
    .size) must have room; a raw address is trusted, as by the driver."""
    size = None if isinstance(ptr, (int, np.ndarray)) else getattr(ptr, "size", None)
    if size is not None and nbytes > size:
        raise ValueError(f"{what}: {nbytes} bytes do not fit in an allocation of {size} bytes")


def _host_array(a, what, writable=False):
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if not a.flags.c_contiguous:
        raise TypeError(f"{what}: the host array must be contiguous")
    if writable and not a.flags.writeable:
        raise TypeError(f"{what}: the host array is read-only")
    return a


def memcpy_htod(dest, src):
    src = _host_array(src, "memcpy_htod")
    _check_room(dest, src.nbytes, "memcpy_htod")
    ctypes.memmove(_address(dest), src.__array_interface__["data"][0], src.nbytes)


def memcpy_dtoh(dest, src):
    dest = _host_array(dest, "memcpy_dtoh", writable=True)
    _check_room(src, dest.nbytes, "memcpy_dtoh")
    ctypes.memmove(dest.__array_interface__["data"][0], _address(src), dest.nbytes)


def memcpy_dtod(dest, src, size):
    _check_room(dest, size, "memcpy_dtod")
    _check_room(src, size, "memcpy_dtod")
    ctypes.memmove(_address(dest), _address(src), int(size))


def memset_d8(dest, data, count):
    _check_room(dest, count, "memset_d8")
    ctypes.memset(_address(dest), int(data) & 0xFF, int(count))


def memset_d32(dest, data, count):
    _check_room(dest, 4 * count, "memset_d32")
    if count:
        words = (ctypes.c_uint32 * int(count)).from_address(_address(dest))
        np.frombuffer(words, dtype=np.uint32)[:] = int(data) & 0xFFFFFFFF


class In:
    """Marks a host array as kernel input. PyCUDA copies it to the device and back;
    the emulator's device memory is host memory, so the array is passed as it is."""
    def __init__(self, array):
        self.array = array


class Out(In):
    pass


class InOut(In):
    pass


class Context:
    """Kernels finish before a launch returns, so there is nothing to wait for."""
    @staticmethod
    def synchronize():
        pass
