"""The seam through which `tg.profiler` (and TINYGRAD_CU_DEBUG=1) watch devices work.

While a profile is open on this thread, `state.profiler` is set and the devices hand it
each op call (forward, backward, update), kernel launch and host<->device copy; the
profiler times them and calls straight back (tinygrad_cu/profiler.py).

The devices test `watched` first: a plain module attribute, True while any thread has a
watcher. When nothing is profiled, that one test is all a launch, op call or copy pays
(a threading.local read costs about four times as much). Which thread is watched, and
by whom, is per thread, as grad mode and the jit's recorder: `state.profiler`.
With TINYGRAD_CU_DEBUG=1 in the environment the default watcher of every thread is a
printer of each launch (tinygrad's DEBUG=1), installed by tinygrad_cu/profiler.py.
"""
import threading

watched = False            # any watcher on any thread (read by the devices, written here only)
_open = 0                  # watchers opened on some thread and not yet closed
_lock = threading.Lock()


class _State(threading.local):
    profiler = None        # the class attribute is every thread's default


state = _State()


def _update():
    global watched
    watched = _open > 0 or _State.profiler is not None


def set_default(watcher):
    """The watcher of threads with no profile of their own (TINYGRAD_CU_DEBUG's printer)."""
    with _lock:
        _State.profiler = watcher
        _update()


def opened(watcher):
    """This thread is watched by `watcher` until closed(previous)."""
    global _open
    with _lock:
        state.profiler = watcher
        _open += 1
        _update()


def closed(previous):
    global _open
    with _lock:
        state.profiler = previous
        _open -= 1
        _update()
