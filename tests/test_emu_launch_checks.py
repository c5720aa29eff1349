"""The emulator refuses what PyCUDA refuses, so that emu tests catch cuda mistakes, and
GPUDevice launches through prepared calls that behave the same on both.

PyCUDA's rules (pycuda/driver.py): `Function.__call__` packs each scalar by its numpy
dtype, so a plain Python int is an "invalid type"; `prepared_call` packs by the format
given to `prepare`, with struct: any integer for an integer or pointer slot, any real
for a float slot; a kernel's `__launch_bounds__(n)` fails launches of more than n
threads per block."""
import os

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.device import get_device
from tinygrad_cu.device.gpu import GPUDevice
from tinygrad_cu.runtime import emu

from conftest import device_or_skip

KERNELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "emu_kernels")
SOURCE = r"""
#define WIDE 128
__global__ void __launch_bounds__(WIDE, 2) bounded(float* y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = 2.0f * i;
}
__global__ void __launch_bounds__(4 * 16) bounded_expr(float* y) { y[threadIdx.x] = 1.0f; }
__global__ void unbounded(float* y, long long n, float a)
{
    for (long long i = threadIdx.x; i < n; i += blockDim.x) y[i] = a;
}
"""


@pytest.fixture(scope="module")
def module():
    device_or_skip("emu")
    return emu.SourceModule(SOURCE)


def test_call_refuses_a_python_int_for_a_scalar(module):
    y = emu.mem_alloc(64)
    f = module.get_function("bounded")
    with pytest.raises(TypeError, match=r"bounded.*argument 1 \(`int n`\).*plain Python int"):
        f(y, 16, block=(16, 1, 1), grid=(1, 1))
    f(y, np.int32(16), block=(16, 1, 1), grid=(1, 1))              # a sized numpy scalar is fine


def test_call_and_prepared_call_refuse_a_wrong_argument_count(module):
    y = emu.mem_alloc(64)
    f = module.get_function("unbounded")
    with pytest.raises(TypeError, match="unbounded.*takes 3 arguments.*got 2"):
        f(y, np.int64(4), block=(4, 1, 1), grid=(1, 1))
    with pytest.raises(TypeError, match="names 2 types, the kernel takes 3"):
        f.prepare("Pl")
    f.prepare("Plf")
    with pytest.raises(TypeError, match="takes 3 arguments, got 4"):
        f.prepared_call((1, 1), (4, 1, 1), y, 4, 1.0, 7)


def test_prepared_call_packs_like_struct(module):
    y = emu.mem_alloc(16)
    f = module.get_function("unbounded").prepare([np.uintp, np.int64, np.float32])  # np.uintp: a pointer
    f.prepared_call((1, 1), (4, 1, 1), int(y), 4, 3)                 # Python ints: PyCUDA packs them
    out = np.empty(4, np.float32)
    emu.memcpy_dtoh(out, y)
    assert out.tolist() == [3.0] * 4
    with pytest.raises(TypeError, match="required argument is not an integer"):
        f.prepared_call((1, 1), (4, 1, 1), y, 4.0, 3)                # a float for an integer slot
    with pytest.raises(TypeError, match="required argument is not an integer"):
        f.prepared_call((1, 1), (4, 1, 1), np.zeros(4, np.float32), 4, 3)   # an array for "P"
    with pytest.raises(TypeError, match="required argument is not a float"):
        f.prepared_call((1, 1), (4, 1, 1), y, 4, "3")
    with pytest.raises(TypeError, match="does not fit"):
        module.get_function("bounded").prepare("Pi").prepared_call((1, 1), (4, 1, 1), y, 2**31)


def test_prepare_takes_no_block_or_shared_as_in_pycuda(module):
    with pytest.raises(TypeError):
        module.get_function("unbounded").prepare("Plf", block=(4, 1, 1))


@pytest.mark.parametrize("kernel,limit", [("bounded", 128), ("bounded_expr", 64), ("unbounded", 1024)])
def test_launch_bounds_are_read_from_the_source(module, kernel, limit):
    assert module.get_function(kernel).max_threads_per_block == limit


def test_more_threads_than_launch_bounds_allow_is_refused(module):
    y = emu.mem_alloc(4 * 256)
    f = module.get_function("bounded")
    f(y, np.int32(128), block=(128, 1, 1), grid=(1, 1))
    with pytest.raises(emu.LaunchConfigError, match=r"bounded.*256 threads.*__launch_bounds__\(128\)"):
        f(y, np.int32(256), block=(256, 1, 1), grid=(1, 1))
    with pytest.raises(emu.LaunchConfigError, match="bounded_expr.*__launch_bounds__"):
        module.get_function("bounded_expr")(y, block=(8, 9, 1), grid=(1, 1))     # 72 > 64


def test_launch_bounds_in_a_macro_and_in_the_ops(module):
    with open(os.path.join(KERNELS, "elementwise.cu")) as f:
        elementwise = emu.SourceModule(f.read())
    assert elementwise.get_function("square_forward").max_threads_per_block == 256
    gpu = get_device("emu")
    assert gpu.function("matmul.cu", "matmul_forward").max_threads_per_block == 256     # MM_THREADS
    assert gpu.function("conv.cu", "conv2d_forward").max_threads_per_block == 64        # CONV_THREADS


# --------------------------------------------------------------- GPUDevice's launches
def test_gpu_launch_refuses_a_python_scalar_naming_the_kernel():
    device_or_skip("emu")
    gpu = GPUDevice("emu", emu, emu.SourceModule)
    y = gpu.empty((4,), np.float32)
    with pytest.raises(TypeError, match="kernel fill: argument 1 is int 4"):
        gpu.launch("movement.cu", "fill", (1,), (4,), y, 4, np.int32(4), np.uint64(0))


def test_gpu_launch_checks_the_prepared_format_on_every_launch():
    device_or_skip("emu")
    gpu = GPUDevice("emu", emu, emu.SourceModule)
    y = gpu.empty((4,), np.float32)
    gpu.launch("movement.cu", "fill", (1,), (4,), y, np.int64(4), np.int32(4), np.uint64(1))
    with pytest.raises(TypeError, match="kernel fill: argument 1 was prepared as np.int64, got np.int32"):
        gpu.launch("movement.cu", "fill", (1,), (4,), y, np.int32(4), np.int32(4), np.uint64(1))
    with pytest.raises(TypeError, match="kernel fill.*takes 4 arguments, got 3"):
        gpu.launch("movement.cu", "fill", (1,), (4,), y, np.int64(4), np.int32(4))


def test_gpu_launch_refuses_a_scalar_of_the_wrong_c_type_on_first_use():
    device_or_skip("emu")
    gpu = GPUDevice("emu", emu, emu.SourceModule)
    y = gpu.empty((4,), np.float32)
    with pytest.raises(TypeError, match="fill.*prepared type"):
        gpu.launch("movement.cu", "fill", (1,), (4,), y, np.int32(4), np.int32(4), np.uint64(1))  # n is long long


def test_every_launch_is_one_prepared_call_through_launch_prepared(monkeypatch):
    device_or_skip("emu")
    gpu = GPUDevice("emu", emu, emu.SourceModule)
    seen, calls = [], []
    real_seam, real_call = gpu.launch_prepared, emu.Function.prepared_call
    monkeypatch.setattr(gpu, "launch_prepared", lambda k, g, b, a, s=0: (seen.append((k, g, b, a, s)),
                                                                         real_seam(k, g, b, a, s))[1])
    monkeypatch.setattr(emu.Function, "prepared_call", lambda self, *a, **kw: (calls.append(self.name),
                                                                              real_call(self, *a, **kw))[1])
    monkeypatch.setattr(emu.Function, "__call__", lambda *a, **kw: pytest.fail("unprepared launch"))
    out = gpu.full((3,), 2.5, np.float32)
    kernel, grid, block, args, shared = seen[0]
    assert (kernel.name, grid, block, shared) == ("fill", (1, 1, 1), (256, 1, 1), 0)
    assert kernel.format == "P" + np.dtype(np.int64).char + np.dtype(np.int32).char + np.dtype(np.uint64).char
    assert args[0] == int(out.alloc) and type(args[0]) is int                # device buffers as addresses
    assert [type(a) for a in args[1:]] == [np.int64, np.int32, np.uint64]
    assert calls == ["fill"]
    real_seam(*seen[0][:4])                                                   # a replay repeats the launch
    assert calls == ["fill", "fill"] and gpu.to_numpy(out).tolist() == [2.5] * 3


def test_sync_mode_synchronises_after_every_launch_and_names_the_kernel(monkeypatch):
    device_or_skip("emu")
    monkeypatch.setenv("TINYGRAD_CU_SYNC", "1")
    gpu = GPUDevice("emu", emu, emu.SourceModule)
    syncs = []
    monkeypatch.setattr(emu.Context, "synchronize", staticmethod(lambda: syncs.append(1)))
    gpu.full((3,), 1.0, np.float32)
    assert syncs == [1]

    def failing():
        raise emu.LaunchError("unspecified launch failure")
    monkeypatch.setattr(emu.Context, "synchronize", staticmethod(failing))
    with pytest.raises(RuntimeError, match="launch of kernel fill from ops/movement.cu.*unspecified launch failure"):
        gpu.full((3,), 1.0, np.float32)
