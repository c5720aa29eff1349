"""Wrong kernels on `emu` end in Python exceptions, never in a dead process (issue 15, items
1-8 and 10). Each fault happens in this very process; each test then checks that the
process is healthy: after emu.reset() a correct launch gives the right answer.

Expected values come from the kernels' own arithmetic (which thread, which block, how many
bytes past which argument), worked out by hand below, not from the emulator's output.
"""
import ctypes
import mmap
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tinygrad_cu.runtime import emu, emu_guard

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FAULTS = r"""
__global__ void fill(float* y, int n) {                  // the healthy launch after each fault
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = 2.0f * i;
}
__global__ void write_upto(float* y, int last) {         // writes y[0..last]
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= last) y[i] = 1.0f;
}
__global__ void far_write(float* y) { y[(long long)threadIdx.x * 100000000LL] = 1.0f; }
__global__ void null_write(float* y) { float* p = 0; p[threadIdx.x] = y[0]; }
__global__ void wild_shared(float* y) {
  __shared__ float s[32];
  s[threadIdx.x * 100000] = 1.0f;
  __syncthreads();
  y[threadIdx.x] = s[0];
}
__global__ void past_shared(float* y) {                  // s[32] is one past the end
  __shared__ float s[32];
  s[threadIdx.x + 1] = 1.0f;
  y[threadIdx.x] = s[0];
}
__global__ void past_dynamic(float* y) {
  extern __shared__ float d[];
  d[threadIdx.x * 1024] = 1.0f;
  y[threadIdx.x] = d[0];
}
__global__ void divide(int* y, int d) { y[threadIdx.x] = 100 / (d - (int)threadIdx.x); }
__global__ void half_barrier(float* y) {
  __shared__ float s[64];
  s[threadIdx.x] = 1.0f;
  if (threadIdx.x < 16) __syncthreads();
  y[threadIdx.x] = s[0];
}
__global__ void big_locals(float* y) {                   // 160 KB of locals, in fiber mode
  volatile float a[40000];
  a[threadIdx.x] = 1.0f;
  __syncthreads();
  y[threadIdx.x] = a[threadIdx.x];
}
__global__ void spin(volatile int* flag) { while (*flag == 0) { } }
"""


@pytest.fixture(scope="module")
def mod():
    return emu.SourceModule(FAULTS)


@pytest.fixture(autouse=True)
def reset_after():
    yield
    emu.reset()  # a test that fails must not leave the rest of the suite on a faulted device


def assert_healthy(mod):
    """After a fault and a reset, a correct launch gives the right answer."""
    emu.reset()
    assert emu.faulted() is None
    y = np.zeros(1000, np.float32)
    mod.get_function("fill")(y, np.int32(1000), block=(256, 1, 1), grid=(4, 1))
    np.testing.assert_array_equal(y, 2.0 * np.arange(1000, dtype=np.float32))


def test_the_guard_is_on(mod):
    import tinygrad_cu as tg
    assert emu_guard.status() == "on"
    assert tg.devices()["emu"][1].endswith(", fault guard on")


# ------------------------------------------------------------ 1: past a mem_alloc
def test_write_past_a_mem_alloc_names_kernel_thread_and_argument(mod):
    # 4000 bytes = 1000 floats; the buffer is rounded to 4096 bytes (1024 floats) and the
    # guard page follows, so the first faulting index is 1024: block 4, thread 0 of 256
    y = emu.mem_alloc(4000)
    with pytest.raises(emu.LaunchError) as e:
        mod.get_function("write_upto")(y, np.int32(5000), block=(256, 1, 1), grid=(20, 1))
    text = str(e.value)
    assert "'write_upto'" in text and "illegal memory access" in text and "a write to" in text
    assert "of block (4,0,0)" in text or "of block (" in text
    assert "past the end of argument 0 (`float* y`)" in text
    assert "faulted" in text
    assert_healthy(mod)


def test_a_faulted_device_refuses_launches_until_reset(mod):
    with pytest.raises(emu.LaunchError):
        mod.get_function("far_write")(np.uintp(one_page_then_no_access(32 * 400_000_000)), block=(32, 1, 1),
                                      grid=(1, 1))
    assert "illegal memory access" in (emu.faulted() or "")
    other = emu.SourceModule(FAULTS.replace("fill", "fill_other"))  # every module: the device is faulted
    y = np.zeros(4, np.float32)
    with pytest.raises(emu.LaunchError, match=r"faulted since kernel 'far_write'.*emu.reset\(\)"):
        other.get_function("fill_other")(y, np.int32(4), block=(4, 1, 1), grid=(1, 1))
    assert_healthy(mod)
    other.get_function("fill_other")(y, np.int32(4), block=(4, 1, 1), grid=(1, 1))
    np.testing.assert_array_equal(y, [0, 2, 4, 6])


def one_page_then_no_access(nbytes):
    """The address of one writable page followed by `nbytes` reserved with no access: a
    far write lands there for certain (past an ordinary allocation it could hit another
    mapping of this process and corrupt it silently, as it would on a GPU)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_NORESERVE", 0)
    base = libc.mmap(None, nbytes + mmap.PAGESIZE, 0, flags, -1, 0)       # PROT_NONE
    assert base not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
    assert libc.mprotect(base, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_WRITE) == 0
    return base


def test_far_and_null_writes(mod):
    y = one_page_then_no_access(32 * 400_000_000)     # thread t writes y[t * 100000000]
    with pytest.raises(emu.LaunchError, match=r"write to .* by thread \(1,0,0\) of block \(0,0,0\).*"
                                              r"400000000 bytes past the end of argument 0"):
        mod.get_function("far_write")(np.uintp(y), block=(32, 1, 1), grid=(1, 1))   # thread 0: y[0], fine
    emu.reset()
    with pytest.raises(emu.LaunchError, match="null pointer"):
        mod.get_function("null_write")(emu.mem_alloc(64), block=(32, 1, 1), grid=(1, 1))
    assert_healthy(mod)


def test_an_overrun_within_the_rounding_harms_nothing(mod):
    # 1000 floats, writes up to y[1023]: inside the 256-byte rounding, as on a GPU; the
    # C heap next to it is untouched, and the process stays healthy (bounds mode reports it)
    y = emu.mem_alloc(4000)
    mod.get_function("write_upto")(y, np.int32(1023), block=(256, 1, 1), grid=(4, 1))
    assert_healthy(mod)


def test_prepared_calls_fault_the_same_way(mod):
    f = mod.get_function("write_upto").prepare("Pi")
    y = emu.mem_alloc(4000)
    with pytest.raises(emu.LaunchError, match="past the end of argument 0"):
        f.prepared_call((20, 1), (256, 1, 1), y, 5000)
    assert_healthy(mod)


# -------------------------------------------------------- 2: a numpy array too small
def test_a_numpy_array_too_small_for_the_launch(mod):
    y = np.zeros(100, np.float32)          # the launch writes 5000 floats
    guard = np.full(100, 7.0, np.float32)  # a neighbour in numpy's heap
    with pytest.raises(emu.LaunchError, match=r"past the end of argument 0 \(`float\* y`\), a 400-byte buffer"):
        mod.get_function("write_upto")(y, np.int32(4999), block=(256, 1, 1), grid=(20, 1))
    assert (guard == 7.0).all()
    assert_healthy(mod)


def test_host_arrays_are_staged_and_copied_back(mod):
    """Arrays passed straight to a call still get the kernel's results (In: not copied back)."""
    f = mod.get_function("fill")
    y = np.zeros(10, np.float32)
    f(y, np.int32(10), block=(16, 1, 1), grid=(1, 1))
    np.testing.assert_array_equal(y, 2.0 * np.arange(10))
    for wrapper, back in ((emu.Out, True), (emu.InOut, True), (emu.In, False)):
        z = np.zeros(10, np.float32)
        f(wrapper(z), np.int32(10), block=(16, 1, 1), grid=(1, 1))
        np.testing.assert_array_equal(z, 2.0 * np.arange(10) if back else np.zeros(10))
    empty = np.zeros(0, np.float32)
    f(empty, np.int32(0), block=(16, 1, 1), grid=(1, 1))  # touches nothing: fine
    with pytest.raises(emu.LaunchError):                  # touches an empty array: a fault
        f(empty, np.int32(16), block=(16, 1, 1), grid=(1, 1))
    assert_healthy(mod)


# ------------------------------------------------------------ 3: shared memory
def test_a_wild_shared_index_faults_in_shared_memory(mod):
    with pytest.raises(emu.LaunchError) as e:
        mod.get_function("wild_shared")(np.zeros(32, np.float32), block=(32, 1, 1), grid=(1, 1))
    text = str(e.value)
    assert "outside shared memory" in text and "thread (1,0,0) of block (0,0,0)" in text, text
    assert "past the end of its static __shared__ variables" in text
    assert_healthy(mod)


def test_one_past_a_shared_array_faults(mod):
    # s is the block's only static variable, so it ends at the guard: thread 31 writes s[32]
    with pytest.raises(emu.LaunchError, match=r"thread \(31,0,0\).*0 bytes past the end of its static __shared__"):
        mod.get_function("past_shared")(np.zeros(32, np.float32), block=(32, 1, 1), grid=(1, 1))
    assert_healthy(mod)


def test_past_dynamic_shared_memory(mod):
    # 1024 bytes of dynamic shared memory = 256 floats: thread 1 writes d[1024], 3072 bytes past
    with pytest.raises(emu.LaunchError, match=r"thread \(1,0,0\).*3072 bytes past the end of the block's dynamic"):
        mod.get_function("past_dynamic")(np.zeros(32, np.float32), block=(32, 1, 1), grid=(1, 1), shared=1024)
    assert_healthy(mod)


# --------------------------------------------------------- 4: integer division by zero
def test_integer_division_by_zero_raises_and_names_the_thread(mod):
    y = np.zeros(32, np.int32)
    with pytest.raises(emu.LaunchError, match=r"integer division by zero in thread \(5,0,0\) of block \(0,0,0\)"):
        mod.get_function("divide")(y, np.int32(5), block=(32, 1, 1), grid=(1, 1))
    assert emu.faulted() is None  # memory is intact: not a sticky error
    mod.get_function("divide")(y, np.int32(100), block=(32, 1, 1), grid=(1, 1))
    np.testing.assert_array_equal(y, 100 // (100 - np.arange(32)))


# ------------------------------------------------------------ 5: barrier misuse
def test_syncthreads_reached_by_half_the_block(mod):
    with pytest.raises(emu.LaunchError, match=r"__syncthreads reached by 16 of 64 threads of block \(0,0,0\)"):
        mod.get_function("half_barrier")(np.zeros(64, np.float32), block=(64, 1, 1), grid=(1, 1))
    assert_healthy(mod)


# ------------------------------------------------------------ 6: watchdog
def test_a_kernel_that_never_ends_times_out(mod):
    slow = emu.SourceModule(FAULTS, timeout=0.5)
    flag = np.zeros(1, np.int32)
    start = time.perf_counter()
    with pytest.raises(emu.LaunchTimeout, match=r"'spin'.*timeout: 0.5 s.*TINYGRAD_CU_EMU_TIMEOUT"):
        slow.get_function("spin")(flag, block=(4, 1, 1), grid=(4, 1))
    assert time.perf_counter() - start < 5
    assert emu.faulted() is None
    assert_healthy(mod)


def test_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv("TINYGRAD_CU_EMU_TIMEOUT", "2.5")
    assert emu.SourceModule(FAULTS).timeout == 2.5
    monkeypatch.setenv("TINYGRAD_CU_EMU_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="TINYGRAD_CU_EMU_TIMEOUT"):
        emu.SourceModule(FAULTS)
    with pytest.raises(ValueError, match="timeout"):
        emu.SourceModule(FAULTS, timeout=-1)


def test_ctrl_c_stops_a_running_kernel():
    """SIGINT during a launch that never ends: the launch stops, KeyboardInterrupt is raised
    in the launching thread, and the process goes on (a child process: pytest owns SIGINT here)."""
    done = run_child(f"""
        import os, signal, threading, time, numpy as np
        from tinygrad_cu.runtime import emu
        mod = emu.SourceModule({FAULTS!r})
        spin = mod.get_function("spin")
        started = time.perf_counter()
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            spin(np.zeros(1, np.int32), block=(4, 1, 1), grid=(2, 1))
            print("NOT INTERRUPTED")
        except KeyboardInterrupt as e:
            print("interrupted after", round(time.perf_counter() - started, 1), "s:", e)
        y = np.zeros(100, np.float32)
        mod.get_function("fill")(y, np.int32(100), block=(128, 1, 1), grid=(1, 1))
        print("healthy", bool((y == 2.0 * np.arange(100)).all()))
    """, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "interrupted (Ctrl-C)" in done.stdout and "healthy True" in done.stdout, done.stdout


def test_a_forked_child_has_its_own_watchdog(mod):
    """fork() copies no threads: the child starts its own watchdog at its first launch, so a
    kernel that never ends in the child times out there, and the parent is unaffected."""
    slow = emu.SourceModule(FAULTS, timeout=0.5)
    pid = os.fork()
    if pid == 0:   # the child: only os._exit, never back into pytest
        code = 3
        try:
            slow.get_function("spin")(np.zeros(1, np.int32), block=(2, 1, 1), grid=(1, 1))
            code = 2
        except emu.LaunchTimeout:
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's endless kernel never timed out")
    assert os.waitstatus_to_exitcode(status) == 0
    assert_healthy(mod)


def run_child(code, timeout=120):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, timeout=timeout)


# -------------------------------------------------------- 7: the launch limits of a GPU
def test_static_shared_over_48_kib_is_refused_at_compile_time():
    with pytest.raises(emu.CompileError, match="48 KiB of static shared memory"):
        emu.SourceModule("__global__ void big(float* y) { __shared__ float s[20480]; "
                         "s[threadIdx.x] = 1; y[0] = s[0]; }", cache_dir=False)
    with pytest.raises(emu.CompileError, match=r"two: its __shared__ variables \(a, b\)"):
        emu.SourceModule("__global__ void two(float* y) { __shared__ float a[8192]; __shared__ float b[8192]; "
                         "a[threadIdx.x] = b[threadIdx.x] = 1; y[0] = a[0] + b[0]; }", cache_dir=False)
    ok = emu.SourceModule("__global__ void fits(float* y) { __shared__ float a[6144], b[6144]; "
                          "a[threadIdx.x] = 1; b[threadIdx.x] = 2; y[threadIdx.x] = a[threadIdx.x] + b[threadIdx.x]; }")
    y = np.zeros(4, np.float32)
    ok.get_function("fits")(y, block=(4, 1, 1), grid=(1, 1))
    np.testing.assert_array_equal(y, 3.0)


# -------------------------------------------------------- 8: a fiber's stack overflows
def test_locals_too_big_for_a_fiber_stack(mod):
    with pytest.raises(emu.LaunchError, match=r"thread \(0,0,0\) of block \(0,0,0\) overflowed its 64 KiB stack"):
        mod.get_function("big_locals")(np.zeros(32, np.float32), block=(32, 1, 1), grid=(1, 1))
    assert_healthy(mod)


# ------------------------------------------------- outside kernels, a crash stays a crash
def test_a_fault_outside_kernels_still_ends_the_process():
    """The handler only catches faults on threads that run kernel code; elsewhere the
    previous handler (here faulthandler's traceback, then the default action) runs."""
    done = run_child(f"""
        import ctypes, faulthandler, numpy as np
        faulthandler.enable()
        from tinygrad_cu.runtime import emu
        mod = emu.SourceModule({FAULTS!r})
        mod.get_function("fill")(np.zeros(4, np.float32), np.int32(4), block=(4, 1, 1), grid=(1, 1))
        ctypes.string_at(0)
        print("NOT REACHED")
    """)
    assert done.returncode == -signal.SIGSEGV, (done.returncode, done.stderr)
    assert "NOT REACHED" not in done.stdout and "Segmentation fault" in done.stderr


# ------------------------------------------------------- 10: a damaged kernel cache
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_cached_library_is_rebuilt(tmp_path, damage):
    src = FAULTS.replace("fill", f"fill_{damage}")
    first = emu.SourceModule(src, cache_dir=str(tmp_path))
    assert not first.cached
    (library,) = [p for p in tmp_path.iterdir() if p.suffix in (".so", ".dylib") and not p.name.startswith(".")]
    data = library.read_bytes()
    damaged = tmp_path / "damaged"   # a new file renamed over it: this process has the old one mapped
    damaged.write_bytes(data[: len(data) // 3] if damage == "truncate"
                        else data[:5000] + bytes([data[5000] ^ 0x40]) + data[5001:])
    os.replace(damaged, library)
    again = emu.SourceModule(src, cache_dir=str(tmp_path))   # must not load the damaged file
    assert not again.cached
    assert library.read_bytes() == data or len(library.read_bytes()) > len(data) // 3
    third = emu.SourceModule(src, cache_dir=str(tmp_path))
    assert third.cached
    y = np.zeros(4, np.float32)
    third.get_function(f"fill_{damage}")(y, np.int32(4), block=(4, 1, 1), grid=(1, 1))
    np.testing.assert_array_equal(y, [0, 2, 4, 6])
