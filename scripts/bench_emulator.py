"""Benchmark of the CUDA emulator (not a test): prints the figures in docs/emulator.md.

    python scripts/bench_emulator.py

vector add vs numpy, tiled matmul 512^3 vs numpy, barrier cost per thread, launch
overhead, compile time cold and cached, on 1 OS thread and on all cores.
"""
import importlib
import os
import sys
import tempfile
import time
import types

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
try:
    emu = importlib.import_module("tinygrad_cu.runtime.emu")
except ImportError:  # the runtime does not need the rest of the package
    for name in [n for n in sys.modules if n.startswith("tinygrad_cu")]:
        del sys.modules[name]
    package = types.ModuleType("tinygrad_cu")
    package.__path__ = [os.path.join(ROOT, "tinygrad_cu")]
    sys.modules["tinygrad_cu"] = package
    emu = importlib.import_module("tinygrad_cu.runtime.emu")

KERNELS = os.path.join(ROOT, "tests", "emu_kernels")
BARRIERS = """
// One block; every thread passes `rounds` barriers (nothing else): the cost of a barrier.
__global__ void barriers(float* out, int rounds)
{
    float v = threadIdx.x;
    for (int r = 0; r < rounds; ++r) { v += 1.0f; __syncthreads(); }
    if (threadIdx.x == 0) out[0] = v;
}
"""


def best(f, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def source(name):
    with open(os.path.join(KERNELS, name)) as f:
        return f.read()


def main():
    cores = os.cpu_count()
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        emu.SourceModule(source("shared_memory.cu"), cache_dir=cache)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        emu.SourceModule(source("shared_memory.cu"), cache_dir=cache)
        warm = time.perf_counter() - start
    print(f"compile shared_memory.cu (7 kernels): cold {cold:.2f} s, cached load {warm * 1e3:.1f} ms")

    elementwise = emu.SourceModule(source("elementwise.cu"))
    shared = emu.SourceModule(source("shared_memory.cu"))
    barrier_mod = emu.SourceModule(BARRIERS)
    vadd, matmul, barriers = (elementwise.get_function("vector_add"), shared.get_function("matmul_tiled"),
                              barrier_mod.get_function("barriers"))
    n = 10_000_000
    a, b = np.random.rand(n).astype(np.float32), np.random.rand(n).astype(np.float32)
    c = np.empty_like(a)
    M = N = K = 512
    A, B = np.random.rand(M, K).astype(np.float32), np.random.rand(K, N).astype(np.float32)
    C = np.zeros((M, N), np.float32)
    t_np_add = best(lambda: np.add(a, b, out=c))
    t_np_mm = best(lambda: A @ B)
    print(f"numpy: vector add {n / t_np_add / 1e9:.2f} G elements/s, matmul 512^3 {2 * M * N * K / t_np_mm / 1e9:.1f} GFLOP/s")
    # the data lives on the (emulated) device, as in a GPU program: host arrays passed to a
    # call are copied to guarded device buffers and back (as PyCUDA's In/Out), which would
    # time the copies, not the kernel
    def on_device(array):
        buffer = emu.mem_alloc(array.nbytes)
        emu.memcpy_htod(buffer, array)
        return buffer
    da, db, dc, dA, dB, dC = (on_device(v) for v in (a, b, c, A, B, C))
    for workers in (1, cores):
        emu._set_max_workers(workers)
        t = best(lambda: vadd(da, db, dc, np.int32(n), block=(256, 1, 1), grid=((n + 255) // 256, 1)))
        emu.memcpy_dtoh(c, dc)
        assert np.array_equal(c, a + b)
        print(f"[{workers} thread(s)] vector add 10M (loop mode): {n / t / 1e9:.2f} G elements/s "
              f"({t_np_add / t:.2f}x numpy)")
        t = best(lambda: matmul(dA, dB, dC, np.int32(M), np.int32(N), np.int32(K), block=(16, 16, 1),
                                grid=(N // 16, M // 16)), 3)
        emu.memcpy_dtoh(C, dC)
        np.testing.assert_allclose(C, A @ B, rtol=1e-4)
        print(f"[{workers} thread(s)] tiled matmul 512^3 (fiber mode): {2 * M * N * K / t / 1e9:.2f} GFLOP/s")
    emu._set_max_workers(1)
    out = np.zeros(1, np.float32)
    rounds, threads = 2000, 256
    t = best(lambda: barriers(out, np.int32(rounds), block=(threads, 1, 1), grid=(1, 1)), 3)
    print(f"barrier cost: {t / (rounds * threads) * 1e9:.1f} ns per thread per __syncthreads (256 threads, 1 OS thread)")
    emu._set_max_workers(0)
    x, dx = np.zeros(1, np.float32), emu.mem_alloc(4)
    t = best(lambda: vadd(dx, dx, dx, np.int32(1), block=(1, 1, 1), grid=(1, 1)), 2000)
    print(f"launch overhead, loop mode, 1 thread: {t * 1e6:.1f} us")
    t = best(lambda: vadd(x, x, x, np.int32(1), block=(1, 1, 1), grid=(1, 1)), 2000)
    print(f"launch overhead, loop mode, 1 thread, a host array staged: {t * 1e6:.1f} us")
    prepared = elementwise.get_function("vector_add").prepare("PPPi")
    address = int(dx)                               # prepared_call packs "P" as an integer, as PyCUDA
    t = best(lambda: prepared.prepared_call((1, 1), (1, 1, 1), address, address, address, 1), 2000)
    print(f"launch overhead, prepared_call: {t * 1e6:.1f} us")
    t = best(lambda: barriers(out, np.int32(1), block=(256, 1, 1), grid=(1, 1)), 500)
    print(f"launch overhead, fiber mode, 1 block of 256 threads, 1 barrier: {t * 1e6:.1f} us")


if __name__ == "__main__":
    main()
