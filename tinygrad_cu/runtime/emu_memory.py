"""Device memory for the emulator: host memory that behaves like PyCUDA's.

An allocation is its own memory mapping, with an inaccessible guard page right after
it: a kernel that runs off the end of a buffer faults at once (and the fault becomes a
LaunchError, emu_guard.py) instead of overwriting the C heap's bookkeeping next to it,
which would crash the process later, far from the kernel. The buffer is 256-byte
aligned, like cuMemAlloc's, and placed so that its 256-byte-rounded end touches the
guard page: an overrun of less than that rounding goes unnoticed, as on a GPU (bounds
mode catches it).

Under AddressSanitizer (bounds mode, the ASan runtime preloaded) an allocation is an
exact-size block from the C library's allocator instead, whose end ASan watches.
`int(allocation)` is its address, which is what a kernel receives as a pointer.

Host arrays passed straight to a kernel call (numpy arrays, In/Out/InOut) are staged
through such allocations for the launch (stage_host_arrays), as PyCUDA copies them to
the device: a too-small array then faults in the guard page, not in numpy's heap.
"""
import ctypes
import mmap
import os
import weakref

import numpy as np

from . import emu_toolchain

_libc = ctypes.CDLL(None, use_errno=True)
_libc.posix_memalign.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_size_t]
_libc.free.argtypes = [ctypes.c_void_p]
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
PAGE = mmap.PAGESIZE
ALIGN = 256                       # cuMemAlloc's alignment
_MAP_FAILED = ctypes.c_void_p(-1).value
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_MADV_HUGEPAGE = getattr(mmap, "MADV_HUGEPAGE", None)
_HUGE_FROM = 4 << 20
_PROT_NONE = 0
_PROT_RW = mmap.PROT_READ | mmap.PROT_WRITE
_MAP_FLAGS = mmap.MAP_PRIVATE | getattr(mmap, "MAP_ANONYMOUS", getattr(mmap, "MAP_ANON", 0x20))

# address -> size of every live allocation: race checks snapshot what a raw address points into
live_allocations = {}


class LogicError(RuntimeError):
    """Misuse of the API (PyCUDA: pycuda.driver.LogicError)."""


def _guarded_map(nbytes):
    """(address, mapping start, mapping length) of `nbytes` ending at a guard page."""
    rounded = -(-nbytes // ALIGN) * ALIGN
    data = -(-rounded // PAGE) * PAGE
    base = _libc.mmap(None, data + PAGE, _PROT_RW, _MAP_FLAGS, -1, 0)
    if base in (None, _MAP_FAILED):
        raise MemoryError(f"mem_alloc({nbytes}): out of memory (mmap: {os.strerror(ctypes.get_errno())})")
    if data >= _HUGE_FROM and _MADV_HUGEPAGE is not None:
        _libc.madvise(base, data, _MADV_HUGEPAGE)  # as numpy does for big arrays: fewer TLB misses
    if _libc.mprotect(base + data, PAGE, _PROT_NONE) != 0:
        _libc.munmap(base, data + PAGE)
        raise MemoryError(f"mem_alloc({nbytes}): cannot protect the guard page ({os.strerror(ctypes.get_errno())})")
    return base + data - rounded, base, data + PAGE


class DeviceAllocation:
    """PyCUDA's DeviceAllocation: int() gives the address; freed by free() or on GC."""
    __slots__ = ("_address", "size", "_finalizer", "__weakref__")

    def __init__(self, nbytes):
        if int(nbytes) <= 0:
            raise LogicError(f"mem_alloc({nbytes}): cannot allocate zero bytes (cuMemAlloc fails likewise)")
        nbytes = int(nbytes)
        if emu_toolchain.asan_preloaded():
            address = ctypes.c_void_p()
            if _libc.posix_memalign(ctypes.byref(address), ALIGN, nbytes) != 0:
                raise MemoryError(f"mem_alloc({nbytes}): out of memory")
            self._address, mapping = address.value, None
        else:
            self._address, start, length = _guarded_map(nbytes)
            mapping = (start, length)
        self.size = nbytes
        live_allocations[self._address] = self.size
        self._finalizer = weakref.finalize(self, _release, self._address, mapping)

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


def _release(address, mapping):
    live_allocations.pop(address, None)
    if mapping is None:
        _libc.free(address)
    else:
        _libc.munmap(*mapping)


_no_access_page = []


def inaccessible_address():
    """A page no kernel may touch: what an empty array is staged as, so that any access faults."""
    if not _no_access_page:
        base = _libc.mmap(None, PAGE, _PROT_NONE, _MAP_FLAGS, -1, 0)
        if base in (None, _MAP_FAILED):
            raise MemoryError("cannot map a page")
        _no_access_page.append(base)
    return _no_access_page[0]


class StagedArgument(int):
    """What a launch sees for a staged array: the staging buffer's address, with the
    array's own size (error messages speak of the user's array, not of the buffer)."""
    size = 0


class _Staged:
    """One staged pointer argument; `array` is the host array to copy back into after the
    launch, or None (an In array, or nothing to copy)."""
    __slots__ = ("index", "allocation", "array", "argument")

    def __init__(self, index, allocation, array, nbytes):
        self.index, self.allocation, self.array = index, allocation, array
        self.argument = StagedArgument(int(allocation))
        self.argument.size = nbytes


class _NoAccess(int):
    """An empty array's stand-in: its address is the inaccessible page; nothing to copy."""
    size = 0


def stage_host_arrays(params, args, values):
    """Copy the host arrays among a call's pointer arguments into guarded allocations (one
    per distinct array), as PyCUDA copies In/Out arrays to the device. Returns what
    unstage() copies back; [] when there is nothing to stage. Arrays that overlap without
    being the same buffer are passed in place, so the kernel still sees them alias."""
    if emu_toolchain.asan_preloaded():
        return []   # bounds mode: ASan checks numpy's own blocks
    found = []
    for p, a in zip(params, args):
        if p.kind == 0 and (type(a) is np.ndarray or isinstance(a, (In, np.ndarray))):
            found.append((p.index, a))
    if not found:
        return []
    extents = {}
    for index, a in found:
        array = np.asarray(a.array if isinstance(a, In) else a)
        start = array.__array_interface__["data"][0]
        extents.setdefault((start, array.nbytes), []).append((index, a, array))
    spans = sorted(extents)
    clash = {k for k, nxt in zip(spans, spans[1:]) if k[0] + k[1] > nxt[0]}
    clash |= {nxt for k, nxt in zip(spans, spans[1:]) if k[0] + k[1] > nxt[0]}
    staged = []
    for (start, nbytes), users in extents.items():
        if (start, nbytes) in clash:
            continue
        allocation = _NoAccess(inaccessible_address()) if nbytes == 0 else _staging_buffer(nbytes)
        if nbytes:
            ctypes.memmove(int(allocation), start, nbytes)
        copy_back = any(not isinstance(a, In) or isinstance(a, (Out, InOut)) for _, a, _ in users)
        array = users[0][2]
        for index, _, _ in users:
            staged.append(_Staged(index, allocation, array if copy_back and nbytes else None, nbytes))
    return staged


def unstage(staged):
    """Copy staged arrays back to the host (those passed as arrays, Out or InOut), and
    keep the staging buffers for the next call."""
    done = set()
    for s in staged:
        if id(s.allocation) in done:
            continue
        done.add(id(s.allocation))
        if s.array is not None and s.array.flags.writeable:
            ctypes.memmove(s.array.__array_interface__["data"][0], int(s.allocation), s.array.nbytes)
        if s.allocation.size:
            _keep_staging_buffer(s.allocation)


# Staging buffers are reused by size (rounded to 256 bytes, so a reused buffer ends at its
# guard page exactly as a new one would): a mapping per call would cost more than most
# launches. A few dozen are kept, up to STAGING_KEEP_BYTES.
STAGING_KEEP_BYTES = 256 << 20
_staging = {}        # rounded size -> [DeviceAllocation]
_staging_bytes = [0]


def _staging_buffer(nbytes):
    rounded = -(-nbytes // ALIGN) * ALIGN
    free = _staging.get(rounded)
    if free:
        _staging_bytes[0] -= rounded
        return free.pop()
    return DeviceAllocation(rounded)


def _keep_staging_buffer(allocation):
    rounded = allocation.size
    if _staging_bytes[0] + rounded > STAGING_KEEP_BYTES or len(_staging.get(rounded, ())) >= 8:
        return  # dropped: unmapped when it dies
    _staging.setdefault(rounded, []).append(allocation)
    _staging_bytes[0] += rounded


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
