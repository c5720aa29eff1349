"""check="bounds" from a plain pytest process: no LD_PRELOAD set by hand.

The launches run in a child process started with AddressSanitizer (emu_bounds.py); these
tests check that an overrun comes back here as a LaunchError naming the kernel and its
.cu line, that correct launches give numpy's answers and copy their outputs back, and
that this process, and the next launch, are fine after a caught error. (The preload
route, in-process, is tested in test_emulator.py.)"""
import ctypes

import numpy as np
import pytest

from tinygrad_cu.runtime import emu, emu_bounds, emu_toolchain

SOURCE = r"""
__constant__ float weights[4];

__global__ void scale(const float* x, float* y, float a, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * x[i];
}

__global__ void write_one_past(float* y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i <= n) y[i] = 1.0f;   // off by one: thread n writes one element past the end
}

__global__ void shared_past_end(float* y)
{
    __shared__ float s[32];
    s[threadIdx.x] = 2.0f;     // thread 32 writes past the end of s
    __syncthreads();
    if (threadIdx.x == 0) y[0] = s[0];
}

__global__ void weigh(float* y) { y[threadIdx.x] = 2.0f * weights[threadIdx.x]; }

__global__ void spin(volatile int* flag) { while (flag[0] == 0) { } }
"""


def line_of(text):
    return next(i for i, line in enumerate(SOURCE.splitlines(), 1) if text in line)


def child_pid():
    child = emu_bounds._child.get("current")
    return child.process.pid if child is not None and child.alive() else None


@pytest.fixture(scope="module")
def module():
    if emu_toolchain.asan_preloaded():
        pytest.skip("AddressSanitizer is preloaded: bounds mode runs in-process (test_emulator.py tests that)")
    if emu_bounds.asan_runtime() is None:
        reason = f"{emu_toolchain.compiler()} has no AddressSanitizer runtime: bounds mode is unavailable"
        print(reason)
        pytest.skip(reason)
    mod = emu.SourceModule(SOURCE, check="bounds")
    assert mod._bounds_child is not None
    return mod


def overrun(module):
    y = np.zeros(1000, np.float32)
    with pytest.raises(emu.LaunchError) as caught:
        module.get_function("write_one_past")(y, np.int32(y.size), block=(256, 1, 1), grid=(4, 1))
    return str(caught.value), y


def test_global_overrun_of_a_numpy_array_names_kernel_and_line(module):
    message, y = overrun(module)
    assert "AddressSanitizer" in message and "heap-buffer-overflow" in message, message
    assert "write_one_past" in message and f".cu:{line_of('off by one')}" in message, message
    assert "Shadow bytes" not in message, message            # trimmed to the relevant part
    assert not y.any(), "the buffers here must be as before the launch"


def test_global_overrun_of_mem_alloc_through_prepared_call(module):
    n = 100
    y = emu.mem_alloc(4 * n)
    emu.memset_d32(y, 0, n)
    f = module.get_function("write_one_past").prepare("Pi")
    with pytest.raises(emu.LaunchError, match="AddressSanitizer") as caught:
        f.prepared_call((1, 1), (128, 1, 1), y, n)
    assert "write_one_past" in str(caught.value) and f".cu:{line_of('off by one')}" in str(caught.value)
    # a pointer into the middle of the allocation: one element past its end is caught too
    with pytest.raises(emu.LaunchError, match="AddressSanitizer"):
        f.prepared_call((1, 1), (64, 1, 1), int(y) + 4 * (n // 2), n // 2)


def test_static_shared_overrun(module):
    y = np.zeros(1, np.float32)
    with pytest.raises(emu.LaunchError) as caught:
        module.get_function("shared_past_end")(y, block=(33, 1, 1), grid=(1, 1))
    message = str(caught.value)
    assert "out of bounds" in message and "shared_past_end" in message, message
    assert f".cu:{line_of('past the end of s')}" in message, message


def test_correct_launches_copy_results_back(module, rng):
    f = module.get_function("scale")
    x = rng.standard_normal(1000).astype(np.float32)
    y = np.zeros_like(x)
    f(emu.In(x), emu.Out(y), np.float32(3.0), np.int32(x.size), block=(128, 1, 1), grid=(8, 1))
    np.testing.assert_array_equal(y, np.float32(3.0) * x)
    # two pointers into one allocation (sent once), one of them into its middle
    buf = emu.mem_alloc(2 * x.nbytes)
    emu.memcpy_htod(buf, np.concatenate([x, np.zeros_like(x)]))
    f.prepare("PPfi").prepared_call((8, 1), (128, 1, 1), buf, int(buf) + x.nbytes, -2.0, x.size)
    back = np.empty(2 * x.size, np.float32)
    emu.memcpy_dtoh(back, buf)
    np.testing.assert_array_equal(back[:x.size], x)
    np.testing.assert_array_equal(back[x.size:], np.float32(-2.0) * x)
    # a bound launch (tg.jit's path) goes through the child too
    launch = f.bind((8, 1), (128, 1, 1), buf, int(buf) + x.nbytes, 0.5, x.size)
    launch()
    emu.memcpy_dtoh(back, buf)
    np.testing.assert_array_equal(back[x.size:], np.float32(0.5) * x)


def test_constant_memory_is_sent_to_the_child(module):
    address, size = module.get_global("weights")
    emu.memcpy_htod(address, np.array([1, 2, 3, 4], np.float32))
    y = np.zeros(4, np.float32)
    module.get_function("weigh")(y, block=(4, 1, 1), grid=(1, 1))
    np.testing.assert_array_equal(y, [2, 4, 6, 8])


def test_a_pointer_outside_arrays_and_allocations_is_refused(module):
    raw = (ctypes.c_float * 8)()
    f = module.get_function("write_one_past").prepare("Pi")
    with pytest.raises(emu.LaunchError, match=r"argument 0 .*mem_alloc allocations or numpy arrays"):
        f.prepared_call((1, 1), (4, 1, 1), ctypes.addressof(raw), 2)
    with pytest.raises(emu.LaunchError, match="__constant__ `weights`"):
        f.prepared_call((1, 1), (4, 1, 1), module.get_global("weights")[0], 2)


def test_after_a_caught_error_the_next_launch_works_in_a_new_child(module):
    overrun(module)
    assert child_pid() is None                          # the child stopped at the report
    x = np.arange(300, dtype=np.float32)
    y = np.zeros_like(x)
    module.get_function("scale")(x, y, np.float32(2.0), np.int32(x.size), block=(128, 1, 1), grid=(3, 1))
    np.testing.assert_array_equal(y, 2 * x)
    first = child_pid()
    assert first is not None
    module.get_function("scale")(x, y, np.float32(1.0), np.int32(x.size), block=(128, 1, 1), grid=(3, 1))
    assert child_pid() == first                         # kept while it is healthy
    # this process is healthy: a normal module still builds and runs in-process
    normal = emu.SourceModule(SOURCE)
    assert normal._bounds_child is None
    normal.get_function("scale")(x, y, np.float32(4.0), np.int32(x.size), block=(128, 1, 1), grid=(3, 1))
    np.testing.assert_array_equal(y, 4 * x)


def test_a_hanging_launch_is_killed_after_the_timeout(module, monkeypatch):
    monkeypatch.setattr(module, "timeout", 2.0, raising=False)   # SourceModule(timeout=2) for this test
    flag = np.zeros(1, np.int32)
    with pytest.raises(emu.LaunchError, match="did not finish within 2 s"):
        module.get_function("spin")(flag, block=(1, 1, 1), grid=(1, 1))
    flag[0] = 1
    module.get_function("spin")(flag, block=(1, 1, 1), grid=(1, 1))   # a new child


def test_without_an_asan_runtime_bounds_mode_says_it_is_unavailable(module, monkeypatch):
    monkeypatch.setitem(emu_bounds._runtime, "path", None)
    with pytest.raises(RuntimeError, match="check='bounds' is unavailable"):
        emu.SourceModule(SOURCE, check="bounds")
