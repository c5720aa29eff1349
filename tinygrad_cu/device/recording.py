"""The seam through which `tg.jit` watches a device work.

While a jit captures a call, this thread's `recorder` is set, and every device reports
what it does to it: the `cpu` device each numpy reference call (forward, backward,
update), a GPUDevice each kernel launch, memset and copy. Host<->device transfers are
reported too, so that a captured function that reads tensor values (`.item()`) or
uploads new host data is refused. The device layer knows nothing of the jit: it only
calls the recorder's methods (tinygrad_cu/jit.py, `Capture`) when one is set.

Per thread, as grad mode: another thread's eager work is never captured.
"""
import threading


class _State(threading.local):
    recorder = None


state = _State()


def current():
    """The recorder capturing on this thread, or None (the usual case)."""
    return state.recorder


class recording:
    """`with recording(recorder):` routes this thread's device work to `recorder`."""

    def __init__(self, recorder):
        self.recorder = recorder

    def __enter__(self):
        if state.recorder is not None:
            raise RuntimeError("tg.jit: a jitted function called another while capturing; "
                               "capture the outer function only")
        state.recorder = self.recorder
        return self.recorder

    def __exit__(self, *exc):
        state.recorder = None
