"""The emulator on other compilers and platforms (issue 16): the half type and OpenMP
found by a probe, the runtime's own thread pool, the macOS assembly, the cache folder
per platform and per compiler, and what tg.devices() says.

Everything runs with the emulator's compiler (TINYGRAD_CU_EMU_CXX, else g++); CI runs
this file once more with clang++ 14, with OpenMP on and forced off. Results are checked
against numpy (float16 rounding) and hand-computed values."""
import os
import re
import shutil
import stat
import subprocess
import textwrap

import numpy as np
import pytest

from test_emulator import emu, source

from tinygrad_cu.runtime import emu_build, emu_toolchain

HALF_KERNELS = r"""
// Conversions and arithmetic of __half, written out as bits so that Python compares
// them with numpy's float16 exactly. One thread per element.
__device__ unsigned short bits_of(__half h) { unsigned short b; memcpy(&b, &h, 2); return b; }
__device__ __half half_of(unsigned short b) { __half h; memcpy(&h, &b, 2); return h; }

__global__ void from_float(const float* x, unsigned short* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = bits_of(__float2half(x[i]));
}

__global__ void from_double(const double* x, unsigned short* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = bits_of((__half)x[i]);
}

__global__ void to_float(const unsigned short* h, float* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __half2float(half_of(h[i]));
}

// row k of out: op k applied to (a[i], b[i]), k = add, sub, mul, div, fma(a, b, a),
// a + b (operator), a * 3 (with an int), -a
__global__ void arithmetic(const unsigned short* a, const unsigned short* b, unsigned short* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    __half x = half_of(a[i]), y = half_of(b[i]);
    out[0 * n + i] = bits_of(__hadd(x, y));
    out[1 * n + i] = bits_of(__hsub(x, y));
    out[2 * n + i] = bits_of(__hmul(x, y));
    out[3 * n + i] = bits_of(__hdiv(x, y));
    out[4 * n + i] = bits_of(__hfma(x, y, x));
    __half s = x + y;
    out[5 * n + i] = bits_of(s);
    __half t = x * 3;
    out[6 * n + i] = bits_of(t);
    out[7 * n + i] = bits_of(-x);
}
"""

POOL_KERNELS = r"""
// Which OS thread ran each block (the emulator's own view: not CUDA code), after a
// little work, so that every worker gets blocks.
#include <pthread.h>
__global__ void which_thread(unsigned long long* out, float* sink)
{
    float v = 0.0f;
    for (int k = 0; k < 200000; ++k) v += 1e-7f * k;
    if (threadIdx.x == 0) {
        sink[blockIdx.x] = v;
        out[blockIdx.x] = (unsigned long long)pthread_self();
    }
}
"""


def blocks(n, threads=256):
    return ((n + threads - 1) // threads, 1)


@pytest.fixture
def fresh_toolchains(monkeypatch):
    """Environment changes take effect: the in-process memo of probes is emptied."""
    monkeypatch.setattr(emu_toolchain, "_toolchains", {})
    return monkeypatch


# ------------------------------------------------------------------ half
def half_cases():
    """float32 values that test rounding: exact halves, ties (to even), values just
    off a tie, subnormals and their ties, the overflow threshold 65520, Inf, -0."""
    rng = np.random.default_rng(16)
    h = rng.integers(0, 0x7C00, 4000, dtype=np.uint16)         # finite positive halves
    exact = h.view(np.float16).astype(np.float32)
    nxt = (h + 1).view(np.float16).astype(np.float32)
    ties = (exact.astype(np.float64) + nxt) / 2                  # exactly representable in float32
    specials = np.array([0.0, -0.0, 65504, 65519.99, 65520, 65536, 1e30, np.inf, -np.inf,
                         2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -26, 2.0 ** -26, 6.1e-5, -6.0e-8], np.float64)
    values = np.concatenate([exact, -exact, ties, -ties, np.nextafter(ties.astype(np.float32), np.float32(np.inf)),
                             np.nextafter(ties.astype(np.float32), np.float32(0)), specials])
    return values.astype(np.float32)


@pytest.fixture(params=["probed", "software"], scope="module")
def half_module(request):
    """The half kernels with the compiler's own half type and with the software type."""
    previous = os.environ.get("TINYGRAD_CU_EMU_HALF")
    os.environ["TINYGRAD_CU_EMU_HALF"] = "software" if request.param == "software" else ""
    try:
        mod = emu.SourceModule(HALF_KERNELS)
        half = emu_toolchain.toolchain().half
    finally:
        os.environ.pop("TINYGRAD_CU_EMU_HALF")
        if previous is not None:
            os.environ["TINYGRAD_CU_EMU_HALF"] = previous
    if request.param == "software":
        assert half == 3
    return mod


def test_half_from_float_rounds_to_nearest_even_as_numpy(half_module):
    x = half_cases()
    out = np.zeros(x.size, np.uint16)
    half_module.get_function("from_float")(x, out, np.int32(x.size), block=(256, 1, 1), grid=blocks(x.size))
    with np.errstate(over="ignore"):  # 65520 and up become Inf, as they should
        expected = x.astype(np.float16).view(np.uint16)
    bad = np.flatnonzero(out != expected)
    assert bad.size == 0, [(float(x[i]), hex(out[i]), hex(expected[i])) for i in bad[:8]]


def test_half_from_double_rounds_once(half_module):
    """Doubles just above a tie of two halves, closer than a float's resolution: rounding
    through float first would land on the tie and then go to even (wrong)."""
    h = np.arange(0x0400, 0x7BFF, 7, dtype=np.uint16)
    lo, hi = h.view(np.float16).astype(np.float64), (h + 1).view(np.float16).astype(np.float64)
    x = np.concatenate([(lo + hi) / 2 * (1 + 2.0 ** -40), (lo + hi) / 2 * (1 - 2.0 ** -40), (lo + hi) / 2, [np.nan]])
    out = np.zeros(x.size, np.uint16)
    half_module.get_function("from_double")(x, out, np.int32(x.size), block=(256, 1, 1), grid=blocks(x.size))
    expected = x.astype(np.float16)
    got = out.view(np.float16)
    assert np.isnan(got[-1])
    bad = np.flatnonzero(got[:-1].view(np.uint16) != expected[:-1].view(np.uint16))
    assert bad.size == 0, [(float(x[i]), hex(out[i]), hex(expected.view(np.uint16)[i])) for i in bad[:8]]


def test_half_to_float_is_exact_for_every_half(half_module):
    h = np.arange(0, 1 << 16, dtype=np.uint32).astype(np.uint16)
    out = np.zeros(h.size, np.float32)
    half_module.get_function("to_float")(h, out, np.int32(h.size), block=(256, 1, 1), grid=blocks(h.size))
    expected = h.view(np.float16).astype(np.float32)
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(out[finite].view(np.uint32), expected[finite].view(np.uint32))
    assert np.isnan(out[np.isnan(expected)]).all() and (out[np.isinf(expected)] == expected[np.isinf(expected)]).all()


def test_half_arithmetic_matches_numpy_float16(half_module):
    rng = np.random.default_rng(7)
    n = 20000
    a = rng.integers(0, 1 << 16, n, dtype=np.uint32).astype(np.uint16)
    b = rng.integers(0, 1 << 16, n, dtype=np.uint32).astype(np.uint16)
    out = np.zeros(8 * n, np.uint16)
    half_module.get_function("arithmetic")(a, b, out, np.int32(n), block=(256, 1, 1), grid=blocks(n))
    x, y = a.view(np.float16), b.view(np.float16)
    with np.errstate(all="ignore"):
        x32, y32 = x.astype(np.float32), y.astype(np.float32)
        expected = [x + y, x - y, x * y, x / y,
                    # __hfma(x, y, x) is fmaf rounded to half: float64 holds x*y exactly, and
                    # its sum with x rounds to float as fmaf does for these 20000 pairs
                    (x.astype(np.float64) * y + x).astype(np.float32).astype(np.float16),
                    x + y, x * np.float16(3), -x]
    for k, (got, want) in enumerate(zip(out.reshape(8, n), expected)):
        got, want = got.view(np.float16), np.asarray(want, np.float16)
        both_nan = np.isnan(got) & np.isnan(want)
        bad = np.flatnonzero((got.view(np.uint16) != want.view(np.uint16)) & ~both_nan)
        assert bad.size == 0, (k, [(float(x32[i]), float(y32[i]), float(got[i]), float(want[i])) for i in bad[:8]])


# ------------------------------------------------------------ OpenMP / pool
def run_everything(mod_shared, mod_elementwise, workers):
    """Outputs of kernels of every kind (loop mode, barriers, shuffles, atomics) on
    `workers` OS threads, checked against numpy here and returned for comparison."""
    emu._set_max_workers(workers)
    try:
        rng = np.random.default_rng(3)
        n = 300_000
        a, b = rng.random(n, dtype=np.float32), rng.random(n, dtype=np.float32)
        c = np.zeros_like(a)
        mod_elementwise.get_function("vector_add")(a, b, c, np.int32(n), block=(256, 1, 1), grid=blocks(n))
        np.testing.assert_array_equal(c, a + b)
        partial = np.zeros((n + 511) // 512, np.float32)
        mod_shared.get_function("block_sum")(a, partial, np.int32(n), block=(256, 1, 1), grid=(partial.size, 1))
        np.testing.assert_allclose(partial, np.add.reduceat(a, np.arange(0, n, 512)), rtol=1e-5)
        total = np.zeros(1, np.float32)
        mod_shared.get_function("shuffle_sum")(a, total, np.int32(n), block=(256, 1, 1), grid=blocks(n))
        np.testing.assert_allclose(total[0], a.astype(np.float64).sum(), rtol=1e-4)
        return {"vector_add": c, "block_sum": partial}
    finally:
        emu._set_max_workers(0)


def test_results_identical_with_openmp_and_with_the_runtimes_pool(fresh_toolchains):
    results = {}
    for mode in ("", "0"):
        fresh_toolchains.setenv("TINYGRAD_CU_EMU_OPENMP", mode)
        emu_toolchain._toolchains.clear()
        shared, elementwise = emu.SourceModule(source("shared_memory.cu")), emu.SourceModule(source("elementwise.cu"))
        assert shared._lib.emu_uses_openmp() == (mode == "" and emu_toolchain.toolchain().openmp)
        results[mode] = [run_everything(shared, elementwise, w) for w in (1, 2, 3)]
    for got in results["0"] + results[""][1:]:
        for name, value in got.items():  # no atomics or float reassociation across blocks: same bits
            np.testing.assert_array_equal(value, results[""][0][name], err_msg=name)


def test_pool_spreads_blocks_over_several_os_threads(fresh_toolchains):
    fresh_toolchains.setenv("TINYGRAD_CU_EMU_OPENMP", "0")
    mod = emu.SourceModule(POOL_KERNELS)
    assert mod._lib.emu_uses_openmp() == 0 and emu_toolchain.pool_state() is not None
    out, sink = np.zeros(64, np.uint64), np.zeros(64, np.float32)
    emu._set_max_workers(2)
    try:
        mod.get_function("which_thread")(out, sink, block=(32, 1, 1), grid=(64, 1))
    finally:
        emu._set_max_workers(0)
    assert (out != 0).all()
    assert len(set(out.tolist())) == 2, "64 blocks on 2 workers ran on one OS thread"


def test_pool_survives_many_small_launches(fresh_toolchains):
    """Back-to-back launches of 1 to 5 blocks on 1 to 4 workers: a pool thread that missed
    a launch, or ran one twice, shows up as a wrong sum or a hang."""
    fresh_toolchains.setenv("TINYGRAD_CU_EMU_OPENMP", "0")
    mod = emu.SourceModule(source("elementwise.cu"))
    add = mod.get_function("vector_add")
    for i in range(600):
        workers, n = 1 + i % 4, 1 + (i * 37) % 1200
        emu._set_max_workers(workers)
        a = np.full(n, i, np.float32)
        c = np.zeros(n, np.float32)
        add(a, a, c, np.int32(n), block=(256, 1, 1), grid=blocks(n))
        assert (c == 2 * i).all(), (i, workers, n)
    emu._set_max_workers(0)


NO_OPENMP_CXX = """#!/bin/sh
# A C++ compiler without OpenMP (as Apple clang is): -fopenmp fails, the rest is {cxx}.
for a in "$@"; do
  if [ "$a" = "-fopenmp" ]; then echo "clang: error: unsupported option '-fopenmp'" >&2; exit 1; fi
done
exec {cxx} "$@"
"""


@pytest.fixture
def compiler_without_openmp(tmp_path):
    real = shutil.which(emu_toolchain.compiler())
    path = tmp_path / "no-openmp-c++"
    path.write_text(NO_OPENMP_CXX.format(cxx=real))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_probe_finds_no_openmp_says_so_once_and_kernels_still_run(fresh_toolchains, tmp_path, capfd,
                                                                   compiler_without_openmp):
    fresh_toolchains.setenv("TINYGRAD_CU_CACHE", str(tmp_path / "cache"))
    fresh_toolchains.setenv("TINYGRAD_CU_EMU_CXX", compiler_without_openmp)
    fresh_toolchains.delenv("TINYGRAD_CU_EMU_OPENMP", raising=False)
    tools = emu_toolchain.toolchain()
    assert not tools.openmp and "-fopenmp failed" in tools.openmp_note
    lines = [line for line in capfd.readouterr().err.splitlines() if "tinygrad_cu emu" in line]
    assert len(lines) == 1 and "own thread pool" in lines[0], lines
    emu_toolchain._toolchains.clear()
    emu_toolchain.toolchain()  # cached on disk: probed once, said once
    assert "tinygrad_cu emu" not in capfd.readouterr().err
    elementwise, shared = emu.SourceModule(source("elementwise.cu")), emu.SourceModule(source("shared_memory.cu"))
    assert elementwise._lib.emu_uses_openmp() == 0
    run_everything(shared, elementwise, 2)
    if os.path.exists("/proc/self/maps"):  # the pool's library is loaded (Linux shows it)
        assert re.search(r"/pool-\w+\.so", open("/proc/self/maps").read())


def test_openmp_required_but_missing_is_a_clear_error(fresh_toolchains, tmp_path, compiler_without_openmp):
    fresh_toolchains.setenv("TINYGRAD_CU_CACHE", str(tmp_path))
    fresh_toolchains.setenv("TINYGRAD_CU_EMU_CXX", compiler_without_openmp)
    fresh_toolchains.setenv("TINYGRAD_CU_EMU_OPENMP", "1")
    with pytest.raises(emu.CompileError, match="TINYGRAD_CU_EMU_OPENMP=1.*no-openmp-c\\+\\+.*-fopenmp"):
        emu.SourceModule(source("elementwise.cu"))


def test_openmp_on_means_an_openmp_runtime_is_loaded(fresh_toolchains):
    """Independent of the probe: after a launch of a module built with OpenMP, libgomp
    (g++) or libomp (clang) is mapped into the process."""
    fresh_toolchains.delenv("TINYGRAD_CU_EMU_OPENMP", raising=False)
    if not emu_toolchain.toolchain().openmp:
        msg = f"{emu_toolchain.compiler()} has no OpenMP here: {emu_toolchain.toolchain().openmp_note}"
        print(msg)
        pytest.skip(msg)
    if not os.path.exists("/proc/self/maps"):
        pytest.skip("no /proc/self/maps on this platform")
    mod = emu.SourceModule(source("elementwise.cu"))
    assert mod._lib.emu_uses_openmp() == 1
    assert re.search(r"lib(g|i5|)omp[\w.-]*\.so", open("/proc/self/maps").read())


# ------------------------------------------------------------ tg.devices()
def test_devices_names_the_compiler_and_openmp(fresh_toolchains):
    import tinygrad_cu.device as device
    fresh_toolchains.delenv("TINYGRAD_CU_EMU_OPENMP", raising=False)
    dev = device._make("emu")
    cxx = emu_toolchain.compiler()
    assert dev.available and dev.reason.startswith(f"ready: {cxx} (")
    version = subprocess.run([shutil.which(cxx), "--version"], capture_output=True, text=True).stdout
    assert re.search(r"\d+\.\d+", dev.reason).group(0) in version
    # independent of the probe: does this compiler link an OpenMP program?
    program = "#include <omp.h>\nint main() { return omp_get_max_threads() > 0 ? 0 : 1; }\n"
    links = subprocess.run([cxx, "-fopenmp", "-x", "c++", "-", "-o", os.devnull], input=program,
                           capture_output=True, text=True).returncode == 0
    assert ("OpenMP on" in dev.reason) == links, dev.reason
    fresh_toolchains.setenv("TINYGRAD_CU_EMU_OPENMP", "0")
    emu_toolchain._toolchains.clear()
    reason = device._make("emu").reason
    assert "OpenMP off" in reason and "thread pool" in reason


def test_devices_says_how_to_get_a_compiler(fresh_toolchains):
    import tinygrad_cu.device as device
    fresh_toolchains.setenv("TINYGRAD_CU_EMU_CXX", "no-such-c++-compiler")
    dev = device._make("emu")
    assert not dev.available
    for needed in ("'no-such-c++-compiler' is not on PATH", "xcode-select --install", "apt-get install g++", "WSL"):
        assert needed in dev.reason, dev.reason
    with pytest.raises(emu.CompileError, match="xcode-select --install"):
        emu.SourceModule(source("elementwise.cu"))


def test_default_compiler_is_the_first_one_on_path(fresh_toolchains, tmp_path):
    fresh_toolchains.delenv("TINYGRAD_CU_EMU_CXX", raising=False)
    (tmp_path / "clang++").write_text("#!/bin/sh\n")
    (tmp_path / "clang++").chmod(0o755)
    fresh_toolchains.setenv("PATH", str(tmp_path))
    assert emu_toolchain.compiler() == "clang++"       # no g++ on this PATH
    fresh_toolchains.setenv("PATH", "/nonexistent")
    assert emu_toolchain.compiler() == "g++"           # none: the error names g++


# ------------------------------------------------------------ cache folders
def test_cache_folder_per_platform_and_per_compiler(monkeypatch, tmp_path):
    monkeypatch.delenv("TINYGRAD_CU_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(emu_toolchain, "IS_MACOS", False)
    assert emu_build.cache_dir("clang++-14") == str(tmp_path / ".cache" / "tinygrad_cu" / "emu" / "clang++-14")
    assert emu_build.cache_dir("/usr/bin/g++") == str(tmp_path / ".cache" / "tinygrad_cu" / "emu" / "g++")
    monkeypatch.setattr(emu_toolchain, "IS_MACOS", True)
    assert emu_build.cache_dir("clang++") == str(tmp_path / "Library" / "Caches" / "tinygrad_cu" / "emu" / "clang++")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))   # XDG wins on any platform
    assert emu_build.cache_dir("clang++") == str(tmp_path / "xdg" / "tinygrad_cu" / "emu" / "clang++")
    monkeypatch.setenv("TINYGRAD_CU_CACHE", str(tmp_path / "mine"))  # and the explicit folder over all
    assert emu_build.cache_dir("clang++") == str(tmp_path / "mine")


# ------------------------------------------------------------ macOS assembly
def clang_or_skip():
    for cxx in (emu_toolchain.compiler(), "clang++", "clang++-14", "clang++-15", "clang++-16"):
        path = shutil.which(cxx)
        if path and "clang" in subprocess.run([path, "--version"], capture_output=True, text=True).stdout:
            return path
    msg = "no clang on PATH to assemble the macOS (Mach-O) fiber switch (apt-get install clang)"
    print(msg)
    pytest.skip(msg)


@pytest.mark.parametrize("target, private, expect", [
    ("arm64-apple-macos11", ["_emu_switch_stack", "_emu_fiber_start"],
     ["stp\tx19, x20", "stp\td14, d15", "ldp\tx29, x30", "add\tsp, sp, #160", "br\tx16"]),
    ("x86_64-apple-macos10.15", ["_emu_switch_stack"], ["pushq\t%rbp", "pushq\t%r15", "popq\t%rbx", "retq"])])
def test_fiber_switch_assembles_for_macos(tmp_path, target, private, expect):
    """The switch's assembly for Mach-O, as clang builds it on a Mac: the object defines
    _emu_switch_stack (C names get an underscore there) as a private external symbol, and
    saves the callee-saved registers of the platform's ABI. Assembled only: it cannot run
    here (docs/emulator.md)."""
    clang = clang_or_skip()
    tools = os.path.dirname(os.path.realpath(clang))
    nm, objdump = (next((p for p in (os.path.join(tools, t), shutil.which(t)) if p and os.path.exists(p)), None)
                   for t in ("llvm-nm", "llvm-objdump"))
    if nm is None or objdump is None:
        msg = f"no llvm-nm / llvm-objdump beside {clang} to read a Mach-O object"
        print(msg)
        pytest.skip(msg)
    shims = tmp_path / "shims"
    shims.mkdir()
    for name, header in (("cstdint", "stdint.h"), ("cstddef", "stddef.h")):  # no macOS SDK here
        (shims / name).write_text(f"#pragma once\n#include <{header}>\n")
    unit = tmp_path / "fiber.cpp"
    unit.write_text(textwrap.dedent("""
        #include "cuda_emu_fiber.h"
        static emu::Context main_ctx, fiber_ctx;
        static char stack[1 << 16];
        static void entry() { emu::context_switch(fiber_ctx, nullptr, main_ctx, nullptr, 0); }
        void run_one_switch() {
          emu::context_init(fiber_ctx, stack, sizeof stack, entry);
          emu::context_switch(main_ctx, nullptr, fiber_ctx, stack, sizeof stack);
        }
        """))
    obj = tmp_path / "fiber.o"
    done = subprocess.run([clang, "-target", target, "-std=c++17", "-ffreestanding", "-nostdinc++", "-I", str(shims),
                           "-I", emu_build.INCLUDE_DIR, "-O2", "-c", str(unit), "-o", str(obj)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    symbols = subprocess.run([nm, "-m", str(obj)], capture_output=True, text=True).stdout
    for name in private:
        assert re.search(rf"\(__TEXT,__text\) private external {name}$", symbols, re.M), symbols
    listing = subprocess.run([objdump, "-d", str(obj)], capture_output=True, text=True).stdout
    assert "file format mach-o" in listing, listing[:200]
    for instruction in expect:
        assert instruction in listing, listing
