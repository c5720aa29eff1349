"""tg.warmup(device): compile every kernel file up front, with one progress bar.

Without it each ops/<file>.cu is compiled at the first launch of one of its kernels,
somewhere inside the first training step (compile_notice.py says so as it happens). An
example calls warmup before its first epoch, so that the wait is at the start, visible,
and not counted in the img/s it reports. On `cpu` there is nothing to compile.
"""
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from . import compile_notice
from .gpu import GPUDevice, ops_dir

SHOWN_SECONDS = 0.5      # outside a terminal, a line for each file that took this long (a compile)


def kernel_files():
    """The kernel files of every op family, as GPUDevice.module() names them."""
    return sorted(f for f in os.listdir(ops_dir()) if f.endswith(".cu"))


def _progress(files, device_name):
    """A tqdm bar on a terminal; None (a line per file) in a log or without tqdm, where
    a bar redrawn with carriage returns would be one long line."""
    try:
        from tqdm import tqdm
    except ImportError:      # tqdm is the 'examples' extra
        return None
    if not sys.stderr.isatty():
        return None
    return tqdm(total=len(files), desc=f"{device_name}: compiling kernels", unit="file",
                file=sys.stderr, leave=True)


def warmup(device=None, progress=True, jobs=None):
    """Compile (or load from the cache) every kernel file of `device` ('emu', 'cuda';
    None = the default device) now. Returns {file: seconds it took}; {} on `cpu`.
    progress=True shows a progress bar on stderr (a line per file outside a terminal).
    jobs: compilers run at once where the driver can compile without loading (the
    emulator); default one per CPU core."""
    from . import get_device
    dev = get_device(device)
    if not isinstance(dev, GPUDevice):
        return {}
    files = kernel_files()
    bar = _progress(files, dev.name) if progress else None
    seconds = dict.fromkeys(files, 0.0)
    started = time.perf_counter()

    def precompile(f):
        start = time.perf_counter()
        dev.precompile(f)
        seconds[f] += time.perf_counter() - start

    with compile_notice.quiet():
        jobs = jobs or os.cpu_count() or 1
        if jobs > 1 and len(files) > 1 and hasattr(dev.SourceModule, "precompile"):
            if bar is not None:
                bar.set_postfix_str(f"{jobs} compilers at once")
            with ThreadPoolExecutor(jobs) as pool:   # each compiler is a process: threads suffice
                list(pool.map(precompile, files))
        for f in files:                             # then loaded one by one, from the cache
            if bar is not None:
                bar.set_postfix_str(f"ops/{f}")
            start = time.perf_counter()
            dev.module(f)
            seconds[f] += time.perf_counter() - start
            if bar is not None:
                bar.update(1)
            elif progress and seconds[f] >= SHOWN_SECONDS:     # compiled, not just loaded from the cache
                print(f"{dev.name}: ops/{f} ready in {seconds[f]:.1f} s", file=sys.stderr, flush=True)
    if bar is not None:
        bar.close()
    if progress:
        print(f"{dev.name}: {len(files)} kernel files ready in {time.perf_counter() - started:.1f} s", file=sys.stderr,
              flush=True)
    return seconds
