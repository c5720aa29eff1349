"""The emulator's `pycuda.tools`: DeviceMemoryPool, a caching allocator of device memory.

    pool = DeviceMemoryPool()
    a = pool.allocate(1000)          # a PooledDeviceAllocation: int(a) is its address
    del a                            # back to the pool, not to the driver
    b = pool.allocate(900)           # the same block again: no mem_alloc

The semantics are PyCUDA's (pycuda/tools.py, src/cpp/mempool.hpp): requests are put in
bins by rounded size (the top three significant bits, so a bin's blocks are at most
25% larger than a request); a freed allocation goes back to its bin and is handed out
again for the next request of that bin; `free_held()` gives the held blocks back to
the driver, `stop_holding()` frees them and stops holding. On a GPU this matters
because cuMemAlloc and cuMemFree are slow and cuMemFree waits until the device is idle:
after the first training step, every buffer a step needs is in the pool.

New blocks come from `emu.mem_alloc` (looked up at call time, so a test that wraps the
driver function counts the pool's allocations).

Bounds mode (TINYGRAD_CU_EMU_CHECK=bounds, AddressSanitizer) needs exact blocks: a
block rounded up to its bin hides an overrun into the rounding, and a held block hides
a use after free (the memory is still mapped). So in that mode the pool is exact: it
neither rounds nor holds, and every allocation is a fresh driver allocation of the
requested size, freed when it dies. `exact=` overrides the choice.
"""
import collections
import os
import threading
import weakref

from . import emu_memory

MANTISSA_BITS = 2          # as PyCUDA: 4 bins per power of two


def _bounds_mode():
    return os.environ.get("TINYGRAD_CU_EMU_CHECK") == "bounds"


class PooledDeviceAllocation:
    """An allocation from a DeviceMemoryPool: int() is its address, len() its size in
    bytes (the request, not the block). It returns to the pool on free() or when it is
    garbage-collected; free() twice is a LogicError, as in PyCUDA."""
    __slots__ = ("_block", "_size", "_finalizer", "__weakref__")

    def __init__(self, pool, block, size):
        self._block, self._size = block, size
        self._finalizer = weakref.finalize(self, pool._give_back, block, size)

    def free(self):
        if not self._finalizer.alive:
            raise LogicError("pooled_device_allocation::free: the allocation was already freed")
        self._finalizer()

    def __int__(self):
        if not self._finalizer.alive:
            raise LogicError("use of a freed PooledDeviceAllocation")
        return int(self._block)

    __index__ = __int__

    def __len__(self):
        return self._size

    @property
    def size(self):
        """The requested size (emu_memory's room checks read `.size`, as of a DeviceAllocation)."""
        return self._size

    def __repr__(self):
        state = f"at {int(self._block):#x}" if self._finalizer.alive else "freed"
        return f"<emu.PooledDeviceAllocation {self._size} bytes {state}>"


LogicError = emu_memory.LogicError


class DeviceMemoryPool:
    """pycuda.tools.DeviceMemoryPool for the emulator (see the module docstring).

    Allocations die in garbage collection, which can run inside any other call, even
    inside allocate() while it holds the lock: so a dying allocation only queues its
    block (`deque.append` is atomic), and the queue is drained under the lock by the
    next call of the pool, or at once when the lock is free."""

    def __init__(self, exact=None):
        self.exact = _bounds_mode() if exact is None else bool(exact)
        self._bins = {}                      # bin number -> [DeviceAllocation, ...] held
        self._returned = collections.deque()  # (block, size) given back, not yet binned
        self._lock = threading.Lock()
        self._holding = not self.exact
        self._held_blocks = self._active_blocks = 0
        self._held_bytes = self._active_block_bytes = self._active_bytes = 0

    # --- PyCUDA's bin arithmetic (static, as in PyCUDA) -----------------------------------
    @staticmethod
    def bin_number(size):
        """Bins by the top MANTISSA_BITS + 1 significant bits of `size`."""
        size = int(size)
        if size <= 0:
            return 0
        exponent = size.bit_length() - 1
        shift = exponent - MANTISSA_BITS
        shifted = size >> shift if shift >= 0 else size << -shift
        return exponent << MANTISSA_BITS | (shifted & ((1 << MANTISSA_BITS) - 1))

    @staticmethod
    def alloc_size(bin_number):
        """The block size of a bin: the largest size that falls into it."""
        exponent, mantissa = bin_number >> MANTISSA_BITS, bin_number & ((1 << MANTISSA_BITS) - 1)
        shift = exponent - MANTISSA_BITS
        head = 1 << MANTISSA_BITS | mantissa
        if shift < 0:
            return head >> -shift
        return (head << shift) | ((1 << shift) - 1)

    # --- what PyCUDA's pool reports --------------------------------------------------------
    def _counter(name):
        def get(self):
            with self._lock:
                self._drain_locked()
                return getattr(self, name)
        return property(get)

    held_blocks = _counter("_held_blocks")        # unused blocks the pool keeps
    active_blocks = _counter("_active_blocks")    # blocks in use through this pool
    active_bytes = _counter("_active_bytes")      # bytes requested by the allocations in use
    held_bytes = _counter("_held_bytes")          # bytes of the held blocks (emu extra)
    del _counter

    @property
    def managed_bytes(self):
        """Bytes of device memory the pool has from the driver: active and held blocks."""
        with self._lock:
            self._drain_locked()
            return self._held_bytes + self._active_block_bytes

    # --- allocation --------------------------------------------------------------------
    def allocate(self, size):
        size = int(size)
        if size <= 0:
            raise LogicError(f"DeviceMemoryPool.allocate({size}): cannot allocate zero bytes")
        key = None if self.exact else self.bin_number(size)
        with self._lock:
            self._drain_locked()
            held = self._bins.get(key) if key is not None else None
            block = held.pop() if held else None
            if block is not None:
                self._held_blocks -= 1
                self._held_bytes -= block.size
        if block is None:
            block = self._new_block(size if key is None else self.alloc_size(key))
        with self._lock:
            self._active_blocks += 1
            self._active_block_bytes += block.size
            self._active_bytes += size
        return PooledDeviceAllocation(self, block, size)

    def _new_block(self, nbytes):
        from . import emu        # the driver module, looked up per call (tests wrap it)
        try:
            return emu.mem_alloc(nbytes)
        except MemoryError:
            self.free_held()     # as PyCUDA: give the held blocks back, then try once more
            return emu.mem_alloc(nbytes)

    def _give_back(self, block, size):
        self._returned.append((block, size))
        if self._lock.acquire(blocking=False):
            try:
                self._drain_locked()
            finally:
                self._lock.release()

    def _drain_locked(self):
        while self._returned:
            block, size = self._returned.popleft()
            self._active_blocks -= 1
            self._active_block_bytes -= block.size
            self._active_bytes -= size
            if self._holding:
                self._bins.setdefault(self.bin_number(size), []).append(block)
                self._held_blocks += 1
                self._held_bytes += block.size
            else:
                block.free()

    def free_held(self):
        """Give every held (unused) block back to the driver."""
        with self._lock:
            self._drain_locked()
            blocks = [b for held in self._bins.values() for b in held]
            self._bins.clear()
            self._held_blocks = self._held_bytes = 0
        for block in blocks:
            block.free()

    def stop_holding(self):
        """From now on free returned memory at once instead of holding it; frees what is held."""
        with self._lock:
            self._drain_locked()
            self._holding = False
        self.free_held()

    def __repr__(self):
        return (f"<emu.DeviceMemoryPool {self.active_blocks} active / {self.held_blocks} held blocks, "
                f"{self.managed_bytes} bytes managed{', exact (bounds mode)' if self.exact else ''}>")
