"""tinygrad_cu: a small deep-learning framework whose every kernel is real CUDA C.

    import tinygrad_cu as tg
    x = tg.randn(3, 4, requires_grad=True)
    (x.relu() @ tg.randn(4, 2)).sum().backward()
    x.grad.shape   # (3, 4)
"""
import os as _os

# The op families live at the repository root (ops/) and install as tinygrad_cu.ops. In a
# plain source checkout (PYTHONPATH=., or running from the repository without installing)
# let the subpackage be found there too.
_package_dir = _os.path.dirname(_os.path.abspath(__file__))
if not _os.path.isdir(_os.path.join(_package_dir, "ops")) and \
        _os.path.isfile(_os.path.join(_package_dir, _os.pardir, "ops", "__init__.py")):
    __path__.append(_os.path.dirname(_package_dir))

from . import ops  # noqa: E402,F401  (registers every op)
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .creation import (arange, empty, empty_like, eye, from_numpy, full, full_like, linspace, manual_seed,
                       normal, ones, ones_like, rand, rand_like, randint, randn, randn_like, tensor, zeros, zeros_like)
from .device import default_device, device_status, get_device, set_default_device
from .device.memory import memory_stats
from .device.warmup import warmup
from .dtypes import bool_, float32, float64, int32, int64, uint8
from .gradcheck import gradcheck
from .jit import JitError, jit
from .computation_graph import draw_graph, graph
from .op import REGISTRY
from .serialization import load, save
from .tensor import Tensor, cat, stack
from .reduction_functions import FUNCTIONS as _reduction_functions   # tg.sort, tg.max, tg.topk, ...
globals().update(_reduction_functions)
from .tensor_reductions import return_types  # noqa: E402  (tg.return_types.max, .sort, ...)
from .tensor_movement import (chunk, einsum, flip, gather, index_select, narrow, repeat_interleave,  # noqa: F401
                              roll, scatter, scatter_add, scatter_reduce, split, take_along_dim, tile, tril, triu)
from .tensor_movement import diag, diagonal, masked_select, meshgrid, unflatten  # noqa: E402,F401  (t2)
from .elementwise_functions import *  # noqa: E402,F401,F403  (tg.where, tg.maximum, tg.sin, ...: issue 11)

__version__ = "0.1.0"


def devices():
    """{name: (available, reason)} for cpu, emu and cuda.

    For cuda the reason names every missing part -- PyCUDA, the driver library
    libcuda.so.1, a GPU, nvcc -- and what was found; when ready, the GPU's name, compute
    capability and memory ("ready: GPU 0 NVIDIA H200 (compute capability 9.0, 139.7 GiB),
    ..."). tinygrad_cu/device/cuda_probe.py does the checking."""
    return {name: device_status(name) for name in ("cpu", "emu", "cuda")}

from . import data, nn, optim  # noqa: E402,F401  (after Tensor: they build on it)
# write your own op, and see where a step's time goes (docs/custom_ops.md)
from . import profiler  # noqa: E402,F401
from .custom_op import check_op, custom_op  # noqa: E402,F401
