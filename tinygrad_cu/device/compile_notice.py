"""Saying so when a kernel file is compiled: the long silent wait of a first run.

The first launch of any kernel of ops/<file>.cu compiles the whole file: g++ or clang++
for `emu` (tens of seconds, then cached on disk), nvcc through PyCUDA for `cuda`.
Without a word this looks like a hung program and its time is counted as training
speed. GPUDevice.module() wraps each compile in `announce`, which prints (on stderr,
like a progress bar, so that stdout stays the program's own output):

    emu: compiling ops/conv.cu with g++ (first use; cached afterwards in ~/.cache/tinygrad_cu/emu/g++; from seconds to a minute) ...
    emu: ops/conv.cu compiled in 23.4 s

The emulator says exactly when it compiles (SourceModule's on_compile is called only on
a cache miss), so a cached file prints nothing. PyCUDA does not say whether its cache
had the binary, so `cuda` announces each file's first load in a process and its time.
`quiet()` silences the notices in this thread (tg.warmup shows one progress bar instead).
"""
import contextlib
import contextvars
import os
import sys
import time

_quiet = contextvars.ContextVar("tinygrad_cu_compile_notice_quiet", default=False)


@contextlib.contextmanager
def quiet():
    """No compile notices from this thread (context) inside the block."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


def _short(path):
    home = os.path.expanduser("~")
    return "~" + path[len(home):] if home != "/" and path.startswith(home + os.sep) else path


def _say(text):
    if not _quiet.get():
        print(text, file=sys.stderr, flush=True)


class _Notice:
    def __init__(self, device_name, source_file):
        self.device_name, self.source_file = device_name, source_file
        self.started = None

    def emu_compiling(self, cache_folder):
        from ..runtime import emu_build
        self.started = time.perf_counter()
        _say(f"{self.device_name}: compiling {self.source_file} with {emu_build.compiler()} (first use; "
             f"cached afterwards in {_short(cache_folder)}; from seconds to a minute) ...")

    def cuda_loading(self):
        self.started = time.perf_counter()
        _say(f"{self.device_name}: loading {self.source_file} (nvcc compiles it unless PyCUDA's cache "
             f"has it from an earlier run) ...")

    def finished(self):
        if self.started is not None:
            _say(f"{self.device_name}: {self.source_file} ready in {time.perf_counter() - self.started:.1f} s")


@contextlib.contextmanager
def announce(device_name, source_file, source_module):
    """Around the construction of `source_module` for `source_file` (as messages name it:
    ops/<file>, or a custom op's own file): yields the extra
    keyword arguments to pass it ({"on_compile": ...} for the emulator, {} for PyCUDA)."""
    notice = _Notice(device_name, source_file)
    if getattr(source_module, "REPORTS_COMPILES", False):
        hook = {"on_compile": notice.emu_compiling}
    else:
        hook = {}
        notice.cuda_loading()
    yield hook
    notice.finished()
