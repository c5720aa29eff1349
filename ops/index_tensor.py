"""Host-side helpers of the ops that take an int64 index tensor (ops/gather.py,
ops/scatter.py) and of ops/rearrange.py: dims, dtypes, the kernels' geometry tables and
launch configuration, and the checks of index values (on the host for `cpu`; the error
record's layout for `emu`/`cuda`, written by ops/index_tensor.cuh). No ops here."""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import contiguous_strides

from .movement import GPU_DTYPES

MAX_CHECKED = 2**31 - 1      # the error record ranks elements in 32 bits (index_tensor.cuh)


def check_dim(op, dim, ndim):
    """dim in [-ndim, ndim) (a 0-d tensor has dims 0 and -1, as in PyTorch) -> non-negative."""
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dims "
                         f"(expected to be in [{-n}, {n - 1}])")
    return int(dim) % n


def check_index_dtype(op, index, what="index"):
    if index.dtype != dtypes.int64:
        raise TypeError(f"{op}: {what} must be an int64 tensor, got dtype {index.dtype}")


def check_gpu_dtype(op, gpu, dtype):
    if np.dtype(dtype) not in GPU_DTYPES:
        raise TypeError(f"{op}: dtype {np.dtype(dtype)} is not supported on device {gpu.name}")


def kernel_shape(shape):
    """The kernels walk at least one dim: a 0-d tensor is seen as shape (1,)."""
    return tuple(shape) if len(shape) else (1,)


def along_dim(index, dim):
    """numpy coordinates of every element c of `index` with c_dim replaced by index[c]:
    x[along_dim(index, dim)] is torch.gather (index 0-d: seen as shape (1,))."""
    index = index.reshape(kernel_shape(index.shape))
    coords = list(np.indices(index.shape, sparse=True))
    coords[dim] = index
    return tuple(coords)


def detail_word(dim, size):
    """Word 3 of an index error record: the dim (top 8 bits) and its size."""
    return np.uint64((int(dim) << 56) | int(size))


def record_details(details):
    """(bad value, dim, size) from the record's words 1..3 (see index_tensor.cuh)."""
    high, low, detail = details
    value = np.array([(high & 0xFFFFFFFF) << 32 | (low & 0xFFFFFFFF)], np.uint64).view(np.int64)[0]
    return int(value), detail >> 56, detail & ((1 << 56) - 1)


def out_of_bounds(op, value, dim, size):
    """torch.gather's and torch.scatter's error for an index outside [0, size)."""
    return RuntimeError(f"{op}: index {value} is out of bounds for dimension {dim} with size {size}")


def check_index_values(op, index, dim, size, error=out_of_bounds):
    """cpu: every index in [0, size), else `error` naming the first bad one."""
    bad = (index < 0) | (index >= size)
    if bad.any():
        raise error(op, int(index[bad][0]), dim, size)


def check_countable(op, gpu, n):
    if n > MAX_CHECKED:
        raise ValueError(f"{op}: device {gpu.name} checks at most {MAX_CHECKED} indices per call, got {n}")


def launch_config(gpu, n):
    """One thread per element walked, grid-stride, 256 threads a block, no shared memory."""
    return gpu.grid_1d(n, block=256)


def walk_geometry(gpu, walked, strided):
    """geom of the kernels: [walked shape, strides of the contiguous `strided` shape]."""
    walked, strided = kernel_shape(walked), kernel_shape(strided)
    return gpu.table(np.array(list(walked) + list(contiguous_strides(strided)), np.int64)), np.int32(len(walked))
