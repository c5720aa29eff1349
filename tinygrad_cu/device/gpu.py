"""One code path for the two devices that run CUDA C: `emu` and `cuda`.

A GPUDevice is given a *driver* module with PyCUDA's names (`mem_alloc`,
`memcpy_htod`, `memcpy_dtoh`, `memset_d8`, `Context`) and a `SourceModule` class.
For `cuda` those are `pycuda.driver` and `pycuda.compiler.SourceModule`; for `emu`
both come from `tinygrad_cu.runtime.emu`. Nothing else differs: the ops' launch code
(`gpu_forward`/`gpu_backward` in ops/*.py) runs unchanged on either.
"""
import os
import threading
from collections import OrderedDict

import numpy as np

from .. import dtypes



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


class GPUDevice:
    """Buffers in device memory; ops run their CUDA kernels."""
    # CUDA's grid limit in x is 2^31-1; kernels use grid-stride loops, so a modest
    # grid covers any size without launching millions of tiny blocks on the emulator.
    MAX_BLOCKS = 65535

    def __init__(self, name, driver, source_module):
        self.name, self.driver, self.SourceModule = name, driver, source_module
        self.available, self.reason = True, "ready"
        self._modules = {}
        self._tables = OrderedDict()          # content -> DeviceArray, see table()
        self._lock = threading.Lock()
        self.sync_every_launch = os.environ.get("TINYGRAD_CU_SYNC", "0") == "1"

    # --- memory ----------------------------------------------------------------
    def empty(self, shape, dtype):
        dtype = np.dtype(dtype)
        if dtype not in dtypes.SUPPORTED or dtype == dtypes.float64:
            raise TypeError(f"device {self.name}: dtype {dtype} is not supported "
                            f"(kernels are float32; labels and indices int32/int64)")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        # A zero-byte allocation is an error in CUDA; keep one byte so empty tensors work.
        return DeviceArray(self, shape, dtype, self.driver.mem_alloc(max(nbytes, 1)))

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
                self.driver.memset_d8(out.alloc, 0, out.nbytes)
            else:
                grid, block = self.grid_1d(out.size)
                self.launch("movement.cu", "fill", grid, block, out, np.int64(out.size),
                            np.int32(dtype.itemsize), np.uint64(bits))
        return out

    def zeros(self, shape, dtype=np.float32):
        return self.full(shape, 0, dtype)

    def from_numpy(self, array):
        array = np.asarray(array, order="C")
        out = self.empty(array.shape, array.dtype)
        if array.nbytes:
            self.driver.memcpy_htod(out.alloc, array)
        return out

    def to_numpy(self, buf):
        host = np.empty(buf.shape, buf.dtype)
        if host.nbytes:
            self.driver.memcpy_dtoh(host, buf.alloc)
        return host

    TABLE_CACHE_ENTRIES, TABLE_CACHE_MAX_BYTES = 1024, 1 << 16

    def table(self, array):
        """A read-only device copy of a small host table (shapes, strides, batch offsets
        that kernels read through a `const long long*`), cached by content: a training
        step launches the same geometries every step, so after the first step nothing is
        uploaded. Kernels must never write to a table."""
        array = np.asarray(array, order="C")
        if array.nbytes > self.TABLE_CACHE_MAX_BYTES:
            return self.from_numpy(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        with self._lock:
            buf = self._tables.get(key)
            if buf is not None:
                self._tables.move_to_end(key)
                return buf
        buf = self.from_numpy(array)
        with self._lock:
            self._tables[key] = buf
            if len(self._tables) > self.TABLE_CACHE_ENTRIES:
                self._tables.popitem(last=False)
        return buf

    def copy(self, buf):
        out = self.empty(buf.shape, buf.dtype)
        if buf.nbytes:
            self.driver.memcpy_dtod(out.alloc, buf.alloc, buf.nbytes)
        return out

    # --- kernels -----------------------------------------------------------------
    def function(self, source_file, kernel_name):
        """The compiled kernel `kernel_name` from `ops/<source_file>`, compiled once."""
        with self._lock:
            module = self._modules.get(source_file)
            if module is None:
                with open(os.path.join(ops_dir(), source_file)) as f:
                    source = f.read()
                module = self._modules[source_file] = self.SourceModule(
                    source, options=["-std=c++17"], include_dirs=[ops_dir()])
        return module.get_function(kernel_name)

    def launch(self, source_file, kernel_name, grid, block, *args, shared=0):
        """Launch a kernel and check it: every launch error becomes a RuntimeError
        naming the kernel and its configuration."""
        fn = self.function(source_file, kernel_name)
        grid = tuple(int(g) for g in grid)
        block = tuple(int(b) for b in block) + (1,) * (3 - len(block))
        args = [a.alloc if isinstance(a, DeviceArray) else a for a in args]
        try:
            fn(*args, grid=grid, block=block, shared=int(shared))
            if self.sync_every_launch:
                self.driver.Context.synchronize()
        except (TypeError, ValueError):
            raise
        except Exception as e:
            raise RuntimeError(f"{self.name}: launch of kernel {kernel_name} from ops/{source_file} "
                               f"with grid={grid} block={block} shared={shared} failed: {e}") from e

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
        return op.gpu_forward(self, ctx, *xs, **attrs)

    def backward(self, op, ctx, grad, attrs):
        return op.gpu_backward(self, ctx, grad, **attrs)

    def update(self, op, bufs, attrs):
        op.gpu_update(self, *bufs, **attrs)

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
