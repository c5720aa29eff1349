"""Tests of the CUDA emulator (tinygrad_cu/runtime/emu.py) on kernels written for them
(tests/emu_kernels/*.cu). Every result is checked against numpy."""
import importlib
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "tests", "emu_kernels")


def import_emu():
    """The runtime imports nothing else from tinygrad_cu, so its tests need not depend
    on the rest of the package importing cleanly."""
    try:
        return importlib.import_module("tinygrad_cu.runtime.emu")
    except ImportError:
        for name in [n for n in sys.modules if n == "tinygrad_cu" or n.startswith("tinygrad_cu.")]:
            del sys.modules[name]
        package = types.ModuleType("tinygrad_cu")
        package.__path__ = [os.path.join(ROOT, "tinygrad_cu")]
        sys.modules["tinygrad_cu"] = package
        return importlib.import_module("tinygrad_cu.runtime.emu")


emu = import_emu()
rng = np.random.default_rng(0)


def source(name):
    with open(os.path.join(KERNELS, name)) as f:
        return f.read()


def line_of(name, text):
    """1-based line of the first line of kernels file `name` containing `text`."""
    return next(i for i, line in enumerate(source(name).splitlines(), 1) if text in line)


@pytest.fixture(scope="module")
def elementwise():
    return emu.SourceModule(source("elementwise.cu"))


@pytest.fixture(scope="module")
def shared():
    return emu.SourceModule(source("shared_memory.cu"))


@pytest.fixture(scope="module")
def shared_race():
    return emu.SourceModule(source("shared_memory.cu"), check="race")


def blocks(n, threads=256):
    return ((n + threads - 1) // threads, 1)


# ------------------------------------------------------------------ analysis
def test_analysis_finds_macro_generated_kernels_and_modes(elementwise, shared):
    assert {"vector_add", "square_forward", "softplus_forward", "rsqrt_forward"} <= set(elementwise.kernel_names)
    assert not any(elementwise.needs_fibers(k) for k in elementwise.kernel_names)
    assert shared.needs_fibers("matmul_tiled") and shared.needs_fibers("block_sum")
    assert shared.needs_fibers("shuffle_sum"), "the shuffle is in a __device__ helper it calls"
    assert shared.needs_fibers("block_sum_racy")  # it still has one barrier


# ---------------------------------------------------------------- loop mode
def test_vector_add(elementwise):
    n = 100_003
    a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    c = np.zeros_like(a)
    elementwise.get_function("vector_add")(a, b, c, np.int32(n), block=(256, 1, 1), grid=blocks(n))
    np.testing.assert_array_equal(c, a + b)


@pytest.mark.parametrize("kernel,reference", [
    ("square_forward", lambda x: x * x),
    ("softplus_forward", lambda x: np.log1p(np.exp(x))),
    ("rsqrt_forward", lambda x: 1 / np.sqrt(x)),
])
def test_macro_generated_kernels(elementwise, kernel, reference):
    x = rng.random(1000, dtype=np.float32) + 0.5
    y = np.zeros_like(x)
    elementwise.get_function(kernel)(x, y, np.int32(x.size), block=(256, 1, 1), grid=blocks(x.size))
    np.testing.assert_allclose(y, reference(x.astype(np.float64)), rtol=1e-5)


def test_constant_memory(elementwise):
    address, nbytes = elementwise.get_global("poly_coef")
    assert nbytes == 16
    coef = np.array([1.0, -2.0, 0.5, 0.25], np.float32)
    emu.memcpy_htod(address, coef)
    x = rng.standard_normal(500).astype(np.float32)
    y = np.zeros_like(x)
    elementwise.get_function("polynomial")(x, y, np.int32(x.size), block=(128, 1, 1), grid=blocks(x.size, 128))
    np.testing.assert_allclose(y, np.polyval(coef[::-1].astype(np.float64), x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("block,grid", [((4, 3, 2), (3, 2, 2)), ((8, 8, 8), (1, 1, 5)), ((1, 1, 64), (2, 3))])
def test_3d_blocks_and_grids(elementwise, block, grid):
    threads, nblocks = int(np.prod(block)), int(np.prod(grid))
    out = np.full(threads * nblocks, -1, np.int32)
    elementwise.get_function("index_3d")(out, block=block, grid=grid)
    expected = (np.arange(nblocks)[:, None] * 10000 + np.arange(threads)[None, :]).ravel()
    np.testing.assert_array_equal(out, expected)


def test_scalar_parameter_types(elementwise):
    out = np.zeros(5, np.float64)
    elementwise.get_function("scalar_types")(out, np.int32(-7), np.uint32(3_000_000_000), np.float32(1.5),
                                             np.float64(2.25), np.int64(-(2**40)), block=(1, 1, 1), grid=(1, 1))
    np.testing.assert_array_equal(out, [-7, 3_000_000_000, 1.5, 2.25, -(2**40)])


def test_atomics_from_many_blocks(elementwise):
    n = 50_000
    x = rng.random(n, dtype=np.float32)
    total, count = np.zeros(1, np.float32), np.zeros(1, np.int32)
    maximum, first = np.full(1, -1, np.int32), np.full(1, -1, np.int32)
    elementwise.get_function("atomics")(x, np.int32(n), total, count, maximum, first,
                                        block=(128, 1, 1), grid=blocks(n, 128))
    assert count[0] == n
    assert total[0] == pytest.approx(x.astype(np.float64).sum(), rel=1e-4)
    assert maximum[0] == (x * 1000.0).astype(np.int32).max()
    assert 0 <= first[0] < n  # exactly one thread won the compare-and-swap


def test_printf_reaches_stdout(elementwise, capfd):
    elementwise.get_function("hello")(np.int32(2), block=(4, 1, 1), grid=(2, 1))
    out = capfd.readouterr().out
    assert sorted(l for l in out.splitlines() if l.startswith("hello")) == [
        f"hello from block {b} thread {t}" for b in range(2) for t in range(2)]


def test_device_assert_raises_and_the_module_still_works(elementwise):
    x = np.ones(1000, np.float32)
    x[777] = -1.0
    y = np.zeros_like(x)
    f = elementwise.get_function("checked_copy")
    with pytest.raises(emu.LaunchError, match=r"device-side assert triggered.*x\[i\] >= 0"):
        f(x, y, np.int32(x.size), block=(128, 1, 1), grid=blocks(x.size, 128))
    x[777] = 1.0
    f(x, y, np.int32(x.size), block=(128, 1, 1), grid=blocks(x.size, 128))
    np.testing.assert_array_equal(y, x)


# --------------------------------------------------------------- fiber mode
@pytest.mark.parametrize("M,N,K", [(70, 45, 33), (16, 16, 16), (1, 1, 1), (129, 7, 200)])
def test_tiled_matmul(shared, M, N, K):
    A, B = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((K, N)).astype(np.float32)
    C = np.zeros((M, N), np.float32)
    shared.get_function("matmul_tiled")(A, B, C, np.int32(M), np.int32(N), np.int32(K),
                                        block=(16, 16, 1), grid=((N + 15) // 16, (M + 15) // 16))
    np.testing.assert_allclose(C, A.astype(np.float64) @ B, rtol=1e-4, atol=1e-4)


def test_tree_reduction(shared):
    n = 300_001
    x = rng.random(n, dtype=np.float32)
    partial = np.zeros((n + 511) // 512, np.float32)
    shared.get_function("block_sum")(x, partial, np.int32(n), block=(256, 1, 1), grid=(partial.size, 1))
    expected = np.pad(x, (0, partial.size * 512 - n)).reshape(-1, 512).astype(np.float64).sum(1)
    np.testing.assert_allclose(partial, expected, rtol=1e-5)


def test_dynamic_shared_memory(shared):
    n, threads = 1000, 128
    x = rng.standard_normal(n).astype(np.float32)
    out, positives = np.zeros_like(x), np.zeros(8, np.int32)
    shared.get_function("reverse_and_count")(x, out, positives, np.int32(n), block=(threads, 1, 1), grid=(8, 1),
                                             shared=threads * 8)
    padded = np.pad(x, (0, 8 * threads - n))
    expected = padded.reshape(8, threads)[:, ::-1].ravel()[:n]
    mask = np.arange(8 * threads).reshape(8, threads)[:, ::-1].ravel()[:n] < n
    np.testing.assert_array_equal(out[mask], expected[mask])
    np.testing.assert_array_equal(positives, (padded.reshape(8, threads) > 0).sum(1))


def test_warp_shuffle_reduction(shared):
    n = 10_000
    x = rng.random(n, dtype=np.float32)
    out = np.zeros(1, np.float32)
    shared.get_function("shuffle_sum")(x, out, np.int32(n), block=(96, 1, 1), grid=blocks(n, 96))
    assert out[0] == pytest.approx(x.astype(np.float64).sum(), rel=1e-4)


def test_portable_ucontext_fibers():
    """The portable ucontext switch (any machine other than x86-64 and aarch64, or
    -DCUDA_EMU_UCONTEXT), forced on here."""
    mod = emu.SourceModule(source("shared_memory.cu"), options=["-DCUDA_EMU_UCONTEXT"])
    A, B = rng.standard_normal((40, 20)).astype(np.float32), rng.standard_normal((20, 30)).astype(np.float32)
    C = np.zeros((40, 30), np.float32)
    mod.get_function("matmul_tiled")(A, B, C, np.int32(40), np.int32(30), np.int32(20), block=(16, 16, 1), grid=(2, 3))
    np.testing.assert_allclose(C, A @ B, rtol=1e-4, atol=1e-4)


def test_launches_from_several_python_threads(elementwise):
    f, errors = elementwise.get_function("vector_add"), []

    def work(seed):
        r = np.random.default_rng(seed)
        for _ in range(20):
            a, b = r.random(5000, dtype=np.float32), r.random(5000, dtype=np.float32)
            c = np.zeros_like(a)
            f(a, b, c, np.int32(5000), block=(256, 1, 1), grid=blocks(5000))
            if not np.array_equal(c, a + b):
                errors.append(seed)
    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# ---------------------------------------------------------------- race mode
def test_race_mode_catches_a_missing_barrier(shared_race):
    x = rng.random(256 * 8, dtype=np.float32)
    partial = np.zeros(8, np.float32)
    with pytest.raises(emu.RaceError, match="block_sum_racy.*__syncthreads"):
        shared_race.get_function("block_sum_racy")(x, partial, np.int32(x.size), block=(256, 1, 1), grid=(8, 1))


def test_race_mode_catches_a_read_of_unwritten_shared_memory(shared_race):
    out = np.zeros(2, np.float32)
    with pytest.raises(emu.RaceError, match="reads_unwritten_shared"):
        shared_race.get_function("reads_unwritten_shared")(out, block=(256, 1, 1), grid=(2, 1))


def test_race_mode_passes_correct_kernels(shared_race):
    A, B = rng.standard_normal((40, 33)).astype(np.float32), rng.standard_normal((33, 20)).astype(np.float32)
    C = np.zeros((40, 20), np.float32)
    shared_race.get_function("matmul_tiled")(A, B, C, np.int32(40), np.int32(20), np.int32(33),
                                             block=(16, 16, 1), grid=(2, 3))
    np.testing.assert_allclose(C, A @ B, rtol=1e-4, atol=1e-4)
    x = rng.random(2000, dtype=np.float32)
    out = emu.mem_alloc(4)
    emu.memset_d32(out, 0, 1)
    shared_race.get_function("shuffle_sum")(x, out, np.int32(x.size), block=(128, 1, 1), grid=blocks(x.size, 128))
    result = np.zeros(1, np.float32)
    emu.memcpy_dtoh(result, out)
    assert result[0] == pytest.approx(x.astype(np.float64).sum(), rel=1e-4)  # not added three times


# -------------------------------------------------------------- bounds mode
BOUNDS_SCRIPT = """
import numpy as np, sys
sys.path.insert(0, {tests!r})
from test_emulator import emu, source
mod = emu.SourceModule(source({file!r}), check="bounds")
{launch}
print("NOT DETECTED")
"""


def asan_runtime_or_skip():
    """The AddressSanitizer runtime of the emulator's compiler (g++'s libasan.so, clang's
    libclang_rt.asan-<arch>.so: code from one needs its own)."""
    from tinygrad_cu.runtime import emu_toolchain
    asan = emu_toolchain.asan_runtime()
    if asan is None:
        pytest.skip(f"{emu_toolchain.compiler()} has no AddressSanitizer runtime: bounds mode is unavailable")
    return asan


def run_bounds(file, launch):
    asan = asan_runtime_or_skip()
    env = dict(os.environ, LD_PRELOAD=asan, ASAN_OPTIONS="detect_leaks=0",
               UBSAN_OPTIONS="print_stacktrace=1", PYTHONPATH=ROOT)
    script = BOUNDS_SCRIPT.format(tests=os.path.dirname(__file__), file=file, launch=textwrap.dedent(launch))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert "NOT DETECTED" not in done.stdout, done.stdout + done.stderr
    return done.stderr


def test_bounds_mode_reports_global_overrun_with_kernel_and_line():
    report = run_bounds("elementwise.cu", """
        x, y = np.ones(1000, np.float32), np.zeros(1000, np.float32)
        mod.get_function("off_by_one")(x, y, np.int32(1000), block=(256, 1, 1), grid=(4, 1))""")
    assert "AddressSanitizer" in report and "off_by_one" in report, report
    assert f".cu:{line_of('elementwise.cu', 'if (i <= n)')}" in report, report


def test_bounds_mode_reports_shared_overrun_with_line():
    report = run_bounds("shared_memory.cu", """
        y = np.zeros(1, np.float32)
        mod.get_function("shared_overrun")(y, block=(33, 1, 1), grid=(1, 1))""")
    assert "out of bounds" in report and "shared_overrun" in report, report
    assert f".cu:{line_of('shared_memory.cu', 'writes past the end')}" in report, report


def test_bounds_mode_fiber_kernels_leave_no_stale_stack_poison():
    """Barrier kernels in bounds mode, on 1 and 2 OS threads, with blocks of growing size
    (the fiber stacks are remapped, so memory that held them goes back to the system),
    then more Python work: ASan must report nothing, and the process must exit 0.
    (A fiber stack handed back while still marked as stack redzones made ASan abort later
    in Python's parser, far from any kernel.)"""
    asan = asan_runtime_or_skip()
    script = textwrap.dedent(f"""
        import gc, numpy as np, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_emulator import emu, source
        mod = emu.SourceModule(source("shared_memory.cu"), check="bounds")
        block_sum, shuffle = mod.get_function("block_sum"), mod.get_function("shuffle_sum")
        x = np.ones(20_000, np.float32)
        for workers in (1, 2):
            emu._set_max_workers(workers)
            for threads in (32, 64, 128, 256):
                partial = np.zeros((x.size + 2 * threads - 1) // (2 * threads), np.float32)
                block_sum(x, partial, np.int32(x.size), block=(threads, 1, 1), grid=(partial.size, 1))
                assert partial.sum() == x.size, (threads, partial.sum())
            for threads in (32, 96, 512, 1024):
                out = np.zeros(1, np.float32)
                shuffle(x, out, np.int32(x.size), block=(threads, 1, 1), grid=((x.size + threads - 1) // threads, 1))
                assert out[0] == x.size, (threads, out[0])
        emu._set_max_workers(0)
        for i in range(300):  # the parser and the allocator reuse freed memory
            code = compile("\\n".join(f"def f{{j}}(a, b={{j}}):\\n    return [a * b + k for k in range({{j}})]"
                                        for j in range(40)), f"<gen {{i}}>", "exec")
            exec(code, {{}})
        junk = [bytes(range(i % 256)) * 3 for i in range(20_000)]
        gc.collect()
        print("DONE")
        """)
    env = dict(os.environ, LD_PRELOAD=asan, ASAN_OPTIONS="detect_leaks=0", PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and "DONE" in done.stdout, done.stdout + done.stderr[-6000:]
    assert "AddressSanitizer" not in done.stderr, done.stderr[-6000:]


# ------------------------------------------------- launch limits and arguments
LIMITS = [
    (dict(block=(1025, 1, 1)), "block.x=1025"),
    (dict(block=(33, 33, 1)), "1089 threads"),
    (dict(block=(1, 1, 65)), "block.z=65"),
    (dict(block=(0, 1, 1)), "block.x=0"),
    (dict(grid=(0, 1)), "grid.x=0"),
    (dict(grid=(1, 65536)), "grid.y=65536"),
    (dict(grid=(1, 1, 70000)), "grid.z=70000"),
    (dict(shared=48 * 1024 + 1), "49153"),
    (dict(block=(1, 1, 1, 1)), "1 to 3 integers"),
]


@pytest.mark.parametrize("launch,message", LIMITS)
def test_launch_limits_raise(elementwise, launch, message):
    x = np.zeros(4, np.float32)
    kwargs = dict(dict(block=(4, 1, 1), grid=(1, 1)), **launch)
    with pytest.raises(emu.LaunchConfigError, match=r"'vector_add'.*" + re.escape(message)):
        elementwise.get_function("vector_add")(x, x, x, np.int32(4), **kwargs)
    assert issubclass(emu.LaunchConfigError, ValueError) and issubclass(emu.LaunchConfigError, emu.LogicError)


a4 = np.zeros(4, np.float32)
ARGUMENTS = [
    ((a4, a4, a4), "takes 4 arguments"),
    ((a4, a4, a4, np.int32(4), np.int32(4)), "takes 4 arguments"),
    ((a4, a4, a4, 4), "plain Python int"),
    ((a4, a4, a4, np.int64(4)), "np.int64.*int32"),
    ((a4, a4, a4, np.float32(4)), "np.float32.*int32"),
    ((np.zeros(4, np.float64), a4, a4, np.int32(4)), "array of float64"),
    ((np.zeros(4, np.int32), a4, a4, np.int32(4)), "array of int32"),
    ((np.zeros(8, np.float32)[::2], a4, a4, np.int32(4)), "not contiguous"),
    ((a4, a4, [0.0] * 4, np.int32(4)), "cannot pass a list"),
    ((a4, a4, 12345, np.int32(4)), "cannot pass a int"),
]


@pytest.mark.parametrize("args,message", ARGUMENTS)
def test_argument_errors_raise_type_error(elementwise, args, message):
    with pytest.raises(TypeError, match=message) as error:
        elementwise.get_function("vector_add")(*args, block=(4, 1, 1), grid=(1, 1))
    assert "vector_add" in str(error.value)


def test_float64_scalar_for_float_parameter(elementwise):
    with pytest.raises(TypeError, match=r"argument 3 \(`float f`\).*float64"):
        elementwise.get_function("scalar_types")(np.zeros(5), np.int32(1), np.uint32(1), np.float64(1.5),
                                                 np.float64(1), np.int64(1), block=(1, 1, 1), grid=(1, 1))


def test_unknown_kernel_name(elementwise):
    with pytest.raises(emu.LogicError, match="'no_such_kernel'.*vector_add"):
        elementwise.get_function("no_such_kernel")
    with pytest.raises(emu.LogicError, match="no __constant__ 'nothing'"):
        elementwise.get_global("nothing")


def test_compile_error_is_reported():
    with pytest.raises(emu.CompileError, match="undeclared_thing"):
        emu.SourceModule("__global__ void broken(float* x) { x[0] = undeclared_thing; }", cache_dir=False)


# ------------------------------------------------------- memory and PyCUDA API
def test_device_memory_and_prepared_call(elementwise):
    n = 3000
    a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    da, db, dc = emu.mem_alloc(a.nbytes), emu.mem_alloc(b.nbytes), emu.mem_alloc(a.nbytes)
    emu.memcpy_htod(da, a)
    emu.memcpy_htod(db, b)
    emu.memset_d8(dc, 0, a.nbytes)
    f = elementwise.get_function("vector_add").prepare("PPPi")
    f.prepared_call(blocks(n), (256, 1, 1), da, int(db), np.uintp(int(dc)), n)
    c = np.empty_like(a)
    emu.memcpy_dtoh(c, dc)
    np.testing.assert_array_equal(c, a + b)
    emu.memcpy_dtod(da, dc, a.nbytes)
    emu.memset_d32(dc, 0x3F800000, n)  # 1.0f
    emu.memcpy_dtoh(c, dc)
    assert (c == 1.0).all()
    emu.memcpy_dtoh(c, da)
    np.testing.assert_array_equal(c, a + b)
    with pytest.raises(TypeError, match="prepared type 'f'"):
        elementwise.get_function("vector_add").prepare("PPPf")
    with pytest.raises(ValueError, match="do not fit"):
        emu.memcpy_htod(da, np.zeros(n + 1, np.float32))
    with pytest.raises(emu.LogicError, match="zero bytes"):
        emu.mem_alloc(0)
    for d in (da, db, dc):
        d.free()


def test_in_out_wrappers_and_uintp_pointers(elementwise):
    a, b = rng.random(100, dtype=np.float32), rng.random(100, dtype=np.float32)
    c = np.zeros_like(a)
    f = elementwise.get_function("vector_add")
    f(emu.In(a), emu.In(b), emu.Out(c), np.int32(100), block=(128, 1, 1), grid=(1, 1))
    np.testing.assert_array_equal(c, a + b)
    c[:] = 0
    f(a, b, np.uintp(c.ctypes.data), np.int32(100), block=(128, 1, 1), grid=(1, 1))
    np.testing.assert_array_equal(c, a + b)
    emu.Context.synchronize()


# ------------------------------------------------------------ cache and fork
TINY = "__global__ void scale(float* x, float s, int n) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] *= s; }\n"


def test_cache_directory_override_and_fast_cached_load(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYGRAD_CU_CACHE", str(tmp_path))
    first = emu.SourceModule(TINY)
    assert not first.cached and any(p.suffix == ".so" for p in tmp_path.iterdir())
    start = time.perf_counter()
    again = emu.SourceModule(TINY)
    elapsed = time.perf_counter() - start
    assert again.cached and elapsed < 0.05, f"cached load took {elapsed * 1e3:.1f} ms"
    x = np.ones(10, np.float32)
    again.get_function("scale")(x, np.float32(3), np.int32(10), block=(32, 1, 1), grid=(1, 1))
    assert (x == 3).all()


def test_parallel_processes_build_the_same_module_safely(tmp_path):
    code = ("import sys; sys.path.insert(0, %r); from test_emulator import emu, TINY; "
            "import numpy as np; m = emu.SourceModule(TINY + '// parallel build\\n'); "
            "x = np.ones(5, np.float32); m.get_function('scale')(x, np.float32(2), np.int32(5), block=(8,1,1), grid=(1,1)); "
            "assert (x == 2).all(); print('ok')") % os.path.dirname(__file__)
    env = dict(os.environ, TINYGRAD_CU_CACHE=str(tmp_path), PYTHONPATH=ROOT)
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 and o.strip() == "ok" for p, (o, _) in zip(procs, outs)), outs
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_forked_child_launches_kernels(elementwise, shared):
    n = 200_000  # many blocks: the parent's OpenMP pool is running before the fork
    a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
    c = np.zeros_like(a)
    elementwise.get_function("vector_add")(a, b, c, np.int32(n), block=(256, 1, 1), grid=blocks(n))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must not hang in libgomp
        ok = False
        try:
            c2 = np.zeros_like(a)
            elementwise.get_function("vector_add")(a, b, c2, np.int32(n), block=(256, 1, 1), grid=blocks(n))
            partial = np.zeros(4, np.float32)
            shared.get_function("block_sum")(a, partial, np.int32(2048), block=(256, 1, 1), grid=(4, 1))
            ok = np.array_equal(c2, a + b) and np.allclose(partial, a[:2048].reshape(4, 512).sum(1), rtol=1e-5)
        finally:
            os.write(write, b"ok" if ok else b"bad")
            os._exit(0)
    os.close(write)
    ready, _, _ = select.select([read], [], [], 30)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    assert ready, "the forked child hung"
    assert os.read(read, 16) == b"ok"
    os.close(read)
