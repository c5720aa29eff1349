"""Grad mode: whether ops record a graph for backward. Per thread, as PyTorch's.

`no_grad()`, `enable_grad()` and `set_grad_enabled(mode)` are context managers and
decorators with PyTorch's names. The mode lives in a `threading.local`, so one thread
evaluating under `no_grad` never stops another from recording.

The mode a context manager restores is kept on a per-thread stack, not on the manager
object: one `no_grad()` instance shared by two threads (a module-level `NO_GRAD =
no_grad()`, or the same decorated function running in both) would otherwise let one
thread restore the other's mode.
"""
import functools
import threading


class _GradMode(threading.local):
    def __init__(self):          # runs once in every thread that touches the mode
        self.enabled = True
        self.saved = []          # modes to restore, innermost last


_mode = _GradMode()


def is_grad_enabled():
    return _mode.enabled


class _Switch:
    """Sets grad mode to `self.mode` inside `with`, restores the previous one on exit
    (also when the body raises); as a decorator, around every call."""
    mode = True

    def __new__(cls, func=None):
        # `@no_grad` without parentheses decorates at once, as PyTorch's
        self = super().__new__(cls)
        if func is None:
            return self
        if not callable(func):
            raise TypeError(f"{cls.__name__}: takes no arguments (or a function to decorate), "
                            f"got {type(func).__name__}")
        return self(func)

    def __init__(self, func=None):
        pass

    def __enter__(self):
        _mode.saved.append(_mode.enabled)
        _mode.enabled = self.mode

    def __exit__(self, *exc):
        _mode.enabled = _mode.saved.pop()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self.fresh():
                return fn(*args, **kwargs)
        return wrapped

    def fresh(self):
        """The manager for one decorated call: this one (what it restores is on the
        thread's stack, so calls in several threads, or nested, may share it)."""
        return self


class no_grad(_Switch):
    """`with no_grad():` (or `@no_grad()`) records nothing: for evaluation and updates."""
    mode = False


class enable_grad(_Switch):
    """`with enable_grad():` records again inside a `no_grad` block (PyTorch's name)."""
    mode = True


class set_grad_enabled(_Switch):
    """`set_grad_enabled(False)` switches this thread's grad mode at once, as PyTorch's;
    `with set_grad_enabled(mode):` switches it for the block and restores it after."""

    def __new__(cls, mode):
        return object.__new__(cls)      # (mode is a bool, not a function to decorate)

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: mode must be a bool, got {type(mode).__name__}")
        self.mode = mode
        self.previous = _mode.enabled
        _mode.enabled = mode             # takes effect now, as a plain call

    def __enter__(self):
        # the constructor already switched: remember the mode from before it
        _mode.saved.append(self.previous)

    def __call__(self, fn):
        # used as a decorator: the constructor's switch was not meant for now
        _mode.enabled = self.previous
        return super().__call__(fn)

    def fresh(self):
        return set_grad_enabled(self.mode)      # its `previous` is per instance
