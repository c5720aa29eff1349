"""Kernel faults as Python exceptions, and the watchdog: the Python side of cuda_emu_guard.h.

A wrong kernel on a GPU gives the host program an error code; the same kernel on the
CPU raises a signal in this process. The guard library (compiled once, like the thread
pool) catches SIGSEGV, SIGBUS, SIGFPE and SIGILL on the threads that run kernel code and
turns them into a launch error; its watchdog stops a launch that runs longer than the
module's timeout, or that Ctrl-C interrupts. This file builds and loads that library,
hands it to every module, sets the timeout, and explains a faulting address in terms of
the launch's arguments ("12 bytes past the end of argument 1 (`float* y`)").

What a fault leaves behind follows CUDA: an illegal memory access (or a stack overflow)
marks the emulated device as faulted, because the write that faulted may have been one
of many and memory can no longer be trusted; every later launch raises until
`emu.reset()`. An integer division by zero, a barrier error, a device-side assert, a
timeout or an interrupt end only their own launch.

Not guarded: bounds mode (AddressSanitizer has its own handlers and reports), and a
process where the library cannot be built (then `devices()` says so, and a fault ends
the process as before).
"""
import bisect
import ctypes
import os
import sys

DEFAULT_TIMEOUT_S = 300.0     # generous: the slowest kernel a test runs takes about a second

_state = {}                   # "api": the Api pointer (0: unavailable), "lib", "timeout", "error"


def api_address():
    """The guard library's Api for modules (an address), or 0 when it cannot be built."""
    if "api" not in _state:
        _state["api"], _state["timeout"] = 0, None
        try:
            from . import emu_build
            path = emu_build.build_helper("guard", '#include "cuda_emu_guard.h"\n', ["-O2", "-pthread"])
            lib = ctypes.CDLL(path)
            lib.emu_guard_api.restype = ctypes.c_void_p
            lib.emu_guard_set_timeout.argtypes = [ctypes.c_double]
            lib.emu_guard_install()
            _state["lib"], _state["api"] = lib, lib.emu_guard_api()
        except Exception as e:  # noqa: BLE001 (any failure: run unguarded, and say so once)
            _state["error"] = str(e)
            print(f"tinygrad_cu emu: the fault guard could not be built ({e}); a faulting kernel "
                  "ends the process", file=sys.stderr)
    return _state["api"]


def attach(lib):
    """Give a freshly loaded module the guard (and put the signal handlers back in front,
    should someone have replaced them since, e.g. faulthandler.enable())."""
    address = api_address()
    if address:
        _state["lib"].emu_guard_install()
        lib.emu_set_guard.argtypes = [ctypes.c_void_p]
        lib.emu_set_guard(address)


def status():
    """'on', or why the guard is off (for devices())."""
    return "on" if _state.get("api") else _state.get("error", "not built yet")


def default_timeout():
    """$TINYGRAD_CU_EMU_TIMEOUT seconds (0: no timeout), else DEFAULT_TIMEOUT_S."""
    text = os.environ.get("TINYGRAD_CU_EMU_TIMEOUT", "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"TINYGRAD_CU_EMU_TIMEOUT={text!r}: give seconds as a number (0: no timeout)") from None
    if value < 0 or value != value:
        raise ValueError(f"TINYGRAD_CU_EMU_TIMEOUT={text!r}: must be >= 0 (0: no timeout)")
    return value


def set_timeout(seconds):
    """Tell the watchdog the timeout of the next launch; a call only when it changes."""
    if _state.get("timeout") != seconds and _state.get("api"):
        _state["lib"].emu_guard_set_timeout(float(seconds))
        _state["timeout"] = seconds


# --------------------------------------------------------- explaining an address
NEAR_BYTES = 1 << 30          # an address this close to an argument is reported relative to it


def describe_address(address, params, values, args, live_allocations):
    """Where `address` lies relative to the launch's pointer arguments: a phrase, or ''."""
    if address < 4096:
        return f"address {address:#x} is a null pointer (plus {address} bytes)" if address else \
               "address 0x0 is a null pointer"
    starts = sorted(live_allocations)
    best = None
    for p, v, a in zip(params, values, args):
        if p.kind != 0 or not v:
            continue
        base, size = _extent(v, a, starts, live_allocations)
        if base <= address < base + size:
            offset = address - base
            return (f"address {address:#x} is inside argument {p.index} (`{p.text}`), {offset} bytes into its "
                    f"{size}-byte buffer (a guard page or an unmapped part?)")
        gap = address - (base + size) if address >= base + size else base - address
        if gap <= NEAR_BYTES and (best is None or gap < best[0]):
            where = (f"{gap} bytes past the end of" if address >= base + size else f"{gap} bytes before the start of")
            best = (gap, f"address {address:#x} is {where} argument {p.index} (`{p.text}`), "
                         f"a {size}-byte buffer at {base:#x}")
    if best:
        return best[1]
    return f"address {address:#x} is not near any pointer argument of the launch"


def _extent(value, arg, starts, live_allocations):
    """(start, size) of the buffer a pointer argument points into."""
    import numpy as np
    array = getattr(arg, "array", arg)
    if isinstance(array, np.ndarray):
        return array.__array_interface__["data"][0], array.nbytes
    size = getattr(arg, "size", None)
    if isinstance(size, int) and not isinstance(arg, np.generic):
        try:
            if int(arg) == value:       # an allocation, or a staged array: its own size
                return value, size
        except (TypeError, ValueError):
            pass
    i = bisect.bisect_right(starts, value) - 1
    if i >= 0 and value < starts[i] + live_allocations[starts[i]]:
        return starts[i], live_allocations[starts[i]]
    return value, 0
