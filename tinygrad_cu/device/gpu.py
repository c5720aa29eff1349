"""One code path for the two devices that run CUDA C: `emu` and `cuda`.

A GPUDevice is given a *driver* module with PyCUDA's names (`mem_alloc`,
`memcpy_htod`, `memcpy_dtoh`, `memset_d8`, `Context`), a `SourceModule` class and a
memory pool with the API of `pycuda.tools.DeviceMemoryPool`. For `cuda` those are
`pycuda.driver`, `pycuda.compiler.SourceModule` and `pycuda.tools.DeviceMemoryPool`;
for `emu` they come from `tinygrad_cu.runtime.emu` and `.emu_tools`. Nothing else
differs: the ops' launch code (`gpu_forward`/`gpu_backward` in ops/*.py) runs
unchanged on either.

What a training step costs the device is decided here (docs/memory.md):
  - memory comes from the pool: after the first step no buffer is a driver allocation,
    and a buffer goes back to the pool when its last DeviceArray dies;
  - data crosses between host and device only in from_numpy / to_numpy / table (a
    cached upload), never behind an op's back; fills and scalars are kernel arguments;
  - ops report bad input found by a kernel (an out-of-range label) through the
    device's error record, read at the next to_numpy, where the host waits anyway;
  - every driver call goes through one small method each (`allocate`, `memset_d8`,
    `memcpy_htod`, `memcpy_dtoh`, `memcpy_dtod`, `synchronize`, `launch_prepared`), so
    that a graph recorder (tg.jit) and tests can see each of them.
"""
import os
import threading
from collections import OrderedDict

import numpy as np

from .. import dtypes
from . import compile_notice, profiling
from .recording import state as recording


# Kernel sources that are not files of ops/: custom ops' (tinygrad_cu/custom_op.py), by the
# name their launches use -> an object with .text, .include_dirs and .shown (what messages call it)
CUSTOM_SOURCES = {}


def source_label(source_file):
    """What messages call a kernel source: ops/<file>, or the custom op's own file."""
    custom = CUSTOM_SOURCES.get(source_file)
    return custom.shown if custom is not None else f"ops/{source_file}"


def _source_of(source_file):
    """(source text, include folders) of a kernel file: ops/<file>, or a custom op's."""
    custom = CUSTOM_SOURCES.get(source_file)
    if custom is not None:
        return custom.text, list(custom.include_dirs) + [ops_dir()]
    with open(os.path.join(ops_dir(), source_file)) as f:
        return f.read(), [ops_dir()]


def ops_dir():
    """Where the `.cu` files are: beside the op modules (tinygrad_cu.ops is the
    repository's `ops/` folder, installed as a subpackage)."""
    from .. import ops
    return os.path.dirname(os.path.abspath(ops.__file__))


class DeviceArray:
    """A contiguous array in device memory: an allocation plus shape and dtype.

    Reshapes share the allocation (`alloc`), which keeps it alive."""
    __slots__ = ("shape", "dtype", "alloc", "device")

    def __init__(self, device, shape, dtype, alloc):
        self.device, self.shape, self.dtype, self.alloc = device, tuple(shape), np.dtype(dtype), alloc

    @property
    def size(self):
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    def reshape(self, shape):
        return DeviceArray(self.device, shape, self.dtype, self.alloc)

    def __repr__(self):
        return f"DeviceArray({self.device.name}, shape={self.shape}, dtype={self.dtype})"


def default_memory_pool(driver):
    """The caching allocator for a driver module: PyCUDA's own pool for pycuda.driver,
    the emulator's mirror of it (runtime/emu_tools.py) for the emulator."""
    if getattr(driver, "__name__", "") == "pycuda.driver":
        from pycuda.tools import DeviceMemoryPool
    else:
        from ..runtime.emu_tools import DeviceMemoryPool
    return DeviceMemoryPool()


class PreparedKernel:
    """A kernel handle with its argument format worked out once (PyCUDA's prepare()).

    `format` has one struct character per argument: "P" for a device buffer, the numpy
    dtype character of each scalar ("i" int32, "l" int64, "f" float32, ...). Later
    launches must pass the same kinds: a kernel's C signature never changes, so a
    different scalar dtype is a mistake in the op's launch code."""
    __slots__ = ("source_file", "name", "function", "format")

    def __init__(self, source_file, name, function, format):
        self.source_file, self.name, self.function, self.format = source_file, name, function, format

    def driver_args(self, args):
        """The prepared_call arguments: device buffers as addresses (Python ints), numpy
        scalars as they are, each checked against the prepared format."""
        if len(args) != len(self.format):
            raise TypeError(f"kernel {self.name} ({source_label(self.source_file)}) takes {len(self.format)} "
                            f"arguments, got {len(args)}")
        out = []
        for i, (a, kind) in enumerate(zip(args, self.format)):
            if kind == "P":
                if not isinstance(a, DeviceArray):
                    raise TypeError(f"kernel {self.name}: argument {i} must be a device buffer, "
                                    f"got {type(a).__name__}")
                out.append(int(a.alloc))
            elif isinstance(a, np.generic) and a.dtype.char == kind:
                out.append(a)
            else:
                got = f"np.{a.dtype.name}" if isinstance(a, np.generic) else f"a {type(a).__name__}"
                raise TypeError(f"kernel {self.name}: argument {i} was prepared as np.{np.dtype(kind).name}, "
                                f"got {got}")
        return out

    @staticmethod
    def format_of(name, args):
        chars = []
        for i, a in enumerate(args):
            if isinstance(a, DeviceArray):
                chars.append("P")
            elif isinstance(a, np.generic) and a.dtype.kind in "iufb":
                chars.append(a.dtype.char)
            else:
                raise TypeError(f"kernel {name}: argument {i} is {type(a).__name__} {a!r}; pass a device "
                                "buffer or a sized numpy scalar (np.int32(...), np.int64(...), "
                                "np.float32(...)): the kernel's C parameter has a fixed size")
        return "".join(chars)

    def __repr__(self):
        return f"PreparedKernel({self.name} from {source_label(self.source_file)}, format={self.format!r})"


class GPUDevice:
    """Buffers in device memory; ops run their CUDA kernels."""
    # CUDA's grid limit in x is 2^31-1; kernels use grid-stride loops, so a modest
    # grid covers any size without launching millions of tiny blocks on the emulator.
    MAX_BLOCKS = 65535
    # The device error record: ERROR_RECORD_WORDS uint64; word 0 is the code of the first
    # error (0: none), the rest are that error's details (see error_record()).
    ERROR_RECORD_WORDS = 4

    def __init__(self, name, driver, source_module, memory_pool=None):
        self.name, self.driver, self.SourceModule = name, driver, source_module
        self.available, self.reason = True, "ready"
        self.pool = memory_pool if memory_pool is not None else default_memory_pool(driver)
        self._modules = {}
        self._kernels = {}                    # (source_file, kernel_name) -> PreparedKernel
        self._tables = OrderedDict()          # content -> DeviceArray, see table()
        self._lock = threading.Lock()
        self._error_record = None             # DeviceArray, allocated on first use
        self._error_kinds = []                # code - 1 -> describe(details) -> Exception
        self._errors_pending = False          # a kernel got the record since the last check
        self.sync_every_launch = os.environ.get("TINYGRAD_CU_SYNC", "0") == "1"

    # --- the driver calls: one method each ---------------------------------------------
    def allocate(self, nbytes):
        """Device memory from the pool (a driver allocation only when no held block fits)."""
        return self.pool.allocate(nbytes)

    def memset_d8(self, dest, value, nbytes):
        if recording.recorder is not None:
            recording.recorder.tape_for(self).gpu_memset(dest, value, nbytes)
        self.driver.memset_d8(dest, value, nbytes)

    def memcpy_htod(self, dest, host):
        if profiling.watched and profiling.state.profiler is not None:
            return profiling.state.profiler.transfer(self, "HtoD", host.nbytes, self.driver.memcpy_htod, dest, host)
        self.driver.memcpy_htod(dest, host)

    def memcpy_dtoh(self, host, src):
        if profiling.watched and profiling.state.profiler is not None:
            return profiling.state.profiler.transfer(self, "DtoH", host.nbytes, self.driver.memcpy_dtoh, host, src)
        self.driver.memcpy_dtoh(host, src)

    def memcpy_dtod(self, dest, src, nbytes):
        if recording.recorder is not None:
            recording.recorder.tape_for(self).gpu_copy(dest, src, nbytes)
        self.driver.memcpy_dtod(dest, src, nbytes)

    def synchronize(self):
        self.driver.Context.synchronize()

    def launch_prepared(self, kernel, grid, block, args, shared=0):
        """THE launch seam: every kernel launch of every op ends here, once per launch.

        kernel: a PreparedKernel (kernel.function is the driver's prepared Function,
                kernel.name / kernel.source_file name it, kernel.format its arguments);
        grid, block: tuples of 3 ints; args: the driver-level argument list, a list of
                Python ints (device addresses, where kernel.format has "P") and numpy
                scalars (the rest); shared: dynamic shared memory in bytes (an int).
        Replaying the same call with the same arguments repeats the launch exactly (as
        long as the buffers behind the addresses are alive). Launch errors become a
        RuntimeError naming the kernel; with TINYGRAD_CU_SYNC=1 it waits for the kernel
        and checks the error record after every launch. While a profile watches this
        thread (tg.profiler, TINYGRAD_CU_DEBUG=1) it times the launch and calls back here
        unwatched: when none does, that costs this one test."""
        if profiling.watched and profiling.state.profiler is not None:
            return profiling.state.profiler.launch(self, kernel, grid, block, args, shared)
        try:
            kernel.function.prepared_call(grid, block, *args, shared_size=shared)
            if self.sync_every_launch:
                self.synchronize()
        except (TypeError, ValueError):
            raise
        except Exception as e:
            raise RuntimeError(f"{self.name}: launch of kernel {kernel.name} from {source_label(kernel.source_file)} "
                               f"with grid={grid} block={block} shared={shared} failed: {e}") from e
        if self.sync_every_launch:
            self.check_errors()

    # --- memory ----------------------------------------------------------------
    def empty(self, shape, dtype):
        dtype = np.dtype(dtype)
        if dtype not in dtypes.SUPPORTED or dtype == dtypes.float64:
            raise TypeError(f"device {self.name}: dtype {dtype} is not supported "
                            f"(kernels are float32; labels and indices int32/int64)")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        # A zero-byte allocation is an error in CUDA; keep one byte so empty tensors work.
        buf = DeviceArray(self, shape, dtype, self.allocate(max(nbytes, 1)))
        if recording.recorder is not None:
            recording.recorder.tape_for(self).gpu_allocated(buf)
        return buf

    def full(self, shape, value, dtype=np.float32):
        """A new buffer of `shape` filled with `value` (converted to `dtype` as np.full
        does), made on the device: nothing is uploaded. A value whose bit pattern is zero
        (0, 0.0, False) is one driver memset; any other is one launch of movement.cu's
        `fill` kernel, which receives the bit pattern as an argument."""
        dtype = np.dtype(dtype)
        out = self.empty(shape, dtype)
        if out.nbytes:
            bits = int(np.full((), value, dtype).reshape(1).view(f"u{dtype.itemsize}")[0])
            if bits == 0:
                self.memset_d8(out.alloc, 0, out.nbytes)
            else:
                grid, block = self.grid_1d(out.size)
                self.launch("movement.cu", "fill", grid, block, out, np.int64(out.size),
                            np.int32(dtype.itemsize), np.uint64(bits))
        return out

    def zeros(self, shape, dtype=np.float32):
        return self.full(shape, 0, dtype)

    def from_numpy(self, array):
        if recording.recorder is not None:
            recording.recorder.upload(self, f"an array of shape {np.shape(array)}")
        return self._upload(array)

    def _upload(self, array):
        array = np.asarray(array, order="C")
        out = self.empty(array.shape, array.dtype)
        if array.nbytes:
            self.memcpy_htod(out.alloc, array)
        return out

    def to_numpy(self, buf):
        """The buffer's contents on the host. This is where the host waits for the
        device, so pending device-side errors are raised first (check_errors): no value
        computed from bad input reaches the user."""
        if recording.recorder is not None:
            recording.recorder.download(self, f"a tensor of shape {buf.shape}")
        self.check_errors()
        host = np.empty(buf.shape, buf.dtype)
        if host.nbytes:
            self.memcpy_dtoh(host, buf.alloc)
        return host

    TABLE_CACHE_ENTRIES, TABLE_CACHE_MAX_BYTES = 1024, 1 << 16

    def table(self, array):
        """A read-only device copy of a small host table (shapes, strides, batch offsets
        that kernels read through a `const long long*`), cached by content: a training
        step launches the same geometries every step, so after the first step nothing is
        uploaded. Kernels must never write to a table. (A table is the one upload a
        jit-captured step may make: it is a constant of the step's geometry.)"""
        array = np.asarray(array, order="C")
        if array.nbytes > self.TABLE_CACHE_MAX_BYTES:
            return self._upload(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        with self._lock:
            buf = self._tables.get(key)
            if buf is not None:
                self._tables.move_to_end(key)
                return buf
        buf = self._upload(array)
        with self._lock:
            self._tables[key] = buf
            if len(self._tables) > self.TABLE_CACHE_ENTRIES:
                self._tables.popitem(last=False)
        return buf

    def copy(self, buf):
        out = self.empty(buf.shape, buf.dtype)
        if buf.nbytes:
            self.memcpy_dtod(out.alloc, buf.alloc, buf.nbytes)
        return out

    def memory_stats(self):
        """What the pool holds and what is in use, in the spirit of torch.cuda.memory_stats:
            active_bytes   bytes requested by the live buffers
            active_blocks  live buffers' blocks
            held_bytes     bytes of unused blocks kept for reuse (None if the pool
                           does not report it)
            held_blocks    unused blocks kept for reuse
            managed_bytes  all device memory the pool has from the driver (active
                           blocks, rounded to their bins, plus held blocks)"""
        pool = self.pool
        stats = {"device": self.name, "allocator": f"{type(pool).__module__}.{type(pool).__name__}",
                 "active_blocks": pool.active_blocks, "held_blocks": pool.held_blocks,
                 "active_bytes": getattr(pool, "active_bytes", None),
                 "managed_bytes": getattr(pool, "managed_bytes", None),
                 "held_bytes": getattr(pool, "held_bytes", None)}
        return stats

    # --- errors found by kernels -----------------------------------------------------------
    def error_record(self, describe):
        """(record, code) for a kernel that checks its input on the device.

        record is the device's one error record, ERROR_RECORD_WORDS uint64 (zeroed once,
        never reallocated); code (np.uint64) identifies `describe`, a function of the
        details (words 1..3 as Python ints) that returns the exception to raise. The
        kernel's contract: on bad input, `old = atomicCAS(&record[0], 0, code)`, and only
        if old is 0 or code, write the details (atomically and in an order-independent
        way, e.g. atomicMax, so that the report does not depend on thread order). The
        record is read at the next to_numpy (check_errors), or after the launch with
        TINYGRAD_CU_SYNC=1. Register `describe` once (a module-level function)."""
        with self._lock:
            if describe not in self._error_kinds:
                self._error_kinds.append(describe)
            code = self._error_kinds.index(describe) + 1
        if self._error_record is None:      # uint64 words: not a tensor dtype, so not via empty()
            record = DeviceArray(self, (self.ERROR_RECORD_WORDS,), np.uint64,
                                 self.allocate(8 * self.ERROR_RECORD_WORDS))
            self.memset_d8(record.alloc, 0, record.nbytes)
            self._error_record = record
        self._errors_pending = True
        return self._error_record, np.uint64(code)

    def check_errors(self):
        """Raise the first error a kernel recorded since the last check (and clear it).
        Costs one small device-to-host copy, only when a kernel has had the record."""
        if not self._errors_pending:
            return
        self._errors_pending = False
        record = np.empty(self.ERROR_RECORD_WORDS, np.uint64)
        self.memcpy_dtoh(record, self._error_record.alloc)
        code = int(record[0])
        if code:
            self.memset_d8(self._error_record.alloc, 0, self._error_record.nbytes)
            raise self._error_kinds[code - 1](tuple(int(w) for w in record[1:]))

    # --- kernels -----------------------------------------------------------------
    def module(self, source_file):
        """The compiled module of `ops/<source_file>`, compiled (or loaded from the
        compiler's cache) once per process; a real compile is announced once on stderr
        (compile_notice.py), since it is the long silent wait of a first run."""
        with self._lock:
            module = self._modules.get(source_file)
            if module is None:
                source, include_dirs = _source_of(source_file)
                with compile_notice.announce(self.name, source_label(source_file), self.SourceModule) as hook:
                    module = self.SourceModule(source, options=["-std=c++17"], include_dirs=include_dirs, **hook)
                self._modules[source_file] = module
        return module

    def precompile(self, source_file):
        """Compile `ops/<source_file>` into the compiler's cache without loading it, where
        the driver can (the emulator: SourceModule.precompile); tg.warmup runs several at
        once. Returns whether it did anything."""
        precompile = getattr(self.SourceModule, "precompile", None)
        if precompile is None or source_file in self._modules:
            return False
        source, include_dirs = _source_of(source_file)
        precompile(source, options=["-std=c++17"], include_dirs=include_dirs)
        return True

    def function(self, source_file, kernel_name):
        """The compiled kernel `kernel_name` from `ops/<source_file>` (or a custom op's
        source), compiled once."""
        return self.module(source_file).get_function(kernel_name)

    def prepared(self, source_file, kernel_name, args):
        """The kernel's PreparedKernel, made on its first launch from that launch's
        argument kinds (the driver's prepare() checks them, on emu against the C signature)."""
        key = (source_file, kernel_name)
        kernel = self._kernels.get(key)
        if kernel is None:
            fmt = PreparedKernel.format_of(kernel_name, args)
            function = self.function(source_file, kernel_name)
            try:
                function = function.prepare(fmt) or function
            except (TypeError, ValueError) as e:
                raise TypeError(f"{self.name}: kernel {kernel_name} from {source_label(source_file)}: {e}") from e
            kernel = self._kernels[key] = PreparedKernel(source_file, kernel_name, function, fmt)
        return kernel

    def launch(self, source_file, kernel_name, grid, block, *args, shared=0):
        """Launch a kernel: what ops call. Device buffers and sized numpy scalars in
        `args`; the launch goes through the kernel's prepared handle to launch_prepared
        (the one launch seam). Every launch error becomes an exception naming the kernel."""
        kernel = self.prepared(source_file, kernel_name, args)
        grid = tuple(int(g) for g in grid) + (1,) * (3 - len(grid))
        block = tuple(int(b) for b in block) + (1,) * (3 - len(block))
        driver_args = kernel.driver_args(args)
        if recording.recorder is not None:
            recording.recorder.tape_for(self).gpu_launch(
                kernel, grid, block, driver_args, int(shared), [a for a in args if isinstance(a, DeviceArray)])
        self.launch_prepared(kernel, grid, block, driver_args, int(shared))

    def require_dtype(self, op_name, *bufs, dtype=np.float32):
        """The kernels of most ops are float32 only (labels: int64): any other dtype is a
        TypeError naming the op, the device and the dtype."""
        for b in bufs:
            if b.dtype != dtype:
                raise TypeError(f"{op_name}: device {self.name} runs {op_name} on {np.dtype(dtype)} only, "
                                f"got dtype {b.dtype}")

    def grid_1d(self, n, block=256):
        """Blocks for a grid-stride loop over n items."""
        return (max(1, min(self.MAX_BLOCKS, (n + block - 1) // block)), 1, 1), (block, 1, 1)

    # --- what the autograd layer calls ---------------------------------------------
    def forward(self, op, ctx, xs, attrs):
        if profiling.watched and profiling.state.profiler is not None:
            return profiling.state.profiler.op(self, "forward", op, op.gpu_forward, (self, ctx, *xs), attrs)
        return op.gpu_forward(self, ctx, *xs, **attrs)

    def backward(self, op, ctx, grad, attrs):
        if profiling.watched and profiling.state.profiler is not None:
            return profiling.state.profiler.op(self, "backward", op, op.gpu_backward, (self, ctx, grad), attrs)
        return op.gpu_backward(self, ctx, grad, **attrs)

    def update(self, op, bufs, attrs):
        recorder = recording.recorder
        if recorder is not None:
            recorder.begin_update(self, op, bufs, attrs)
        if profiling.watched and profiling.state.profiler is not None:
            profiling.state.profiler.op(self, "update", op, op.gpu_update, (self, *bufs), attrs)
        else:
            op.gpu_update(self, *bufs, **attrs)
        if recorder is not None:
            recorder.end_update(self)

    def __repr__(self):
        return f"device({self.name})"


class UnavailableDevice:
    """Stands for a device that cannot run here, and says why whenever it is used."""

    def __init__(self, name, reason):
        self.name, self.reason, self.available = name, reason, False

    def __getattr__(self, attr):
        raise RuntimeError(f"device {self.name!r} is not available: {self.reason}")

    def __repr__(self):
        return f"device({self.name}, unavailable: {self.reason})"
