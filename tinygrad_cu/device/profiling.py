"""The seam through which `tg.profiler` (and TINYGRAD_CU_DEBUG=1) watch devices work.

While a profile is open on this thread, `state.profiler` is set and the devices hand it
each op call (forward, backward, update), kernel launch and host<->device copy; the
profiler times them and calls straight back (tinygrad_cu/profiler.py). When nothing
watches, each of those places costs one attribute test, nothing else.

Per thread, as grad mode and the jit's recorder: another thread's work is never timed.
With TINYGRAD_CU_DEBUG=1 in the environment the default, on every thread, is a printer
of each launch (tinygrad's DEBUG=1), installed by tinygrad_cu/profiler.py at import.
"""
import threading


class _State(threading.local):
    profiler = None        # the class attribute is every thread's default


state = _State()


def set_default(watcher):
    """The watcher of threads with no profile of their own (TINYGRAD_CU_DEBUG's printer)."""
    _State.profiler = watcher
