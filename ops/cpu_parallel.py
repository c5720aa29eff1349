"""Both cores for the numpy references: a process-wide pool that splits the batch.

numpy's BLAS already runs a large matmul on every core, but numpy's copies and
elementwise ufuncs (im2col, col2im, pooling) run on one. They release the GIL,
though, so plain Python threads run them in parallel: `for_batch(n, work)` calls
`work(start, stop)` on disjoint slices of range(n), one slice per thread, the
calling thread doing the first itself.

Results never depend on the thread count: each slice writes only its own images'
outputs with the same arithmetic as one thread would, and nothing is summed across
slices here (the batch reductions of a convolution's weight gradient stay inside
one matmul, which OpenBLAS splits over rows and columns, never over the summed
axis). tests/test_cpu_parallel.py checks this bit for bit.

The pool is created lazily, on the first call that is large enough, and sized like
numpy's BLAS: TINYGRAD_CU_CPU_THREADS, else OPENBLAS_NUM_THREADS / OMP_NUM_THREADS /
MKL_NUM_THREADS, else the cores this process may run on. `set_num_threads(n)`
changes it (1 = no threads at all).
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait

# below this many elements of work a slice is not worth a thread's wake-up (~20-50 us)
MIN_ELEMENTS_PER_THREAD = 32768
THREAD_VARIABLES = ("TINYGRAD_CU_CPU_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

_lock = threading.Lock()
_pool = None
_threads = None


def default_num_threads():
    for var in THREAD_VARIABLES:
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                      # not on Linux
        return max(1, os.cpu_count() or 1)


def num_threads():
    global _threads
    if _threads is None:
        _threads = default_num_threads()
    return _threads


def set_num_threads(n):
    """Threads the cpu references use from now on (the pool is rebuilt lazily)."""
    global _pool, _threads
    if int(n) < 1:
        raise ValueError(f"set_num_threads: need at least 1 thread, got {n}")
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool, _threads = None, int(n)


def _submit(work, pieces, workers):
    """Hand `pieces` to the pool. Under the lock, so that set_num_threads in another
    thread cannot shut the pool down between our finding it and submitting to it (a
    shut-down executor refuses new work). Two Python threads may share the pool: each
    waits only for its own futures, and workers never wait, so no one deadlocks."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tinygrad_cu-cpu")
        return [_pool.submit(work, start, stop) for start, stop in pieces]


def slices(n, parts):
    """range(n) cut into `parts` contiguous (start, stop) pieces, sizes differing by <= 1."""
    parts = max(1, min(parts, n))
    base, extra = divmod(n, parts)
    bounds = [0]
    for i in range(parts):
        bounds.append(bounds[-1] + base + (i < extra))
    return list(zip(bounds[:-1], bounds[1:]))


def for_batch(n, work, elements_per_item):
    """Run work(start, stop) over range(n), split over the pool's threads when each
    thread gets at least MIN_ELEMENTS_PER_THREAD elements (elements_per_item each).
    `work` must write only the outputs of its own items."""
    threads = min(num_threads(), n, max(1, (n * elements_per_item) // MIN_ELEMENTS_PER_THREAD))
    if threads <= 1:
        work(0, n)
        return
    pieces = slices(n, threads)
    futures = _submit(work, pieces[1:], num_threads() - 1)
    try:
        work(*pieces[0])
    finally:
        wait(futures)               # never return (or raise) while a thread still writes
    for f in futures:
        f.result()                  # a thread's error, raised here
