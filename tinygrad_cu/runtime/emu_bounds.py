"""Bounds mode from a plain `python` or `pytest`: each launch runs in a child process
that has AddressSanitizer.

Why a child process. ASan's runtime has to be in a process before any other library
(the dynamic loader's LD_PRELOAD; DYLD_INSERT_LIBRARIES on macOS): a Python that is
already running cannot load it. And ASan stops the process at the first bad access,
which would take the user's interpreter or test run down with it. So, when this
process was started without the preload, `SourceModule(src, check="bounds")` builds
the module normally here (for the kernels' signatures and launch checks) and a
`ChildModule` that launches in one shared child (`emu_bounds_child.py`), started with
the preload:

  1. for each pointer argument, find the memory it points into: the numpy array or
     allocation passed, else the `mem_alloc` allocation containing the address;
  2. send the bytes of those buffers (each once, even if two arguments point into
     one) and of the module's `__constant__` variables;
  3. the child copies each buffer into a block of exactly its size, so that ASan's
     redzone starts right after its last byte, points the arguments at the copies
     (base + the same offset), and launches;
  4. it sends the buffers back and this process copies them into place.

If ASan (or UBSan's `-fsanitize=bounds`, for static `__shared__` arrays) finds an
error, the child prints its report and exits; the report comes back here as a
LaunchError, the buffers here stay as they were before the launch, and the next
launch starts a new child. The copies cost time (twice the bytes touched, through a
pipe); this is a debugging mode. What it cannot follow: pointers stored inside
buffers or structs (the child would see this process's addresses), and pointer
arguments into anything but an array or allocation (a raw address, a `__constant__`).
"""
import atexit
import bisect
import ctypes
import hashlib
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from . import emu_launch, emu_memory, emu_toolchain
from .emu_launch import POINTER, LaunchError
from .emu_tools import PooledDeviceAllocation

CHILD_MODULE = "tinygrad_cu.runtime.emu_bounds_child"
# ASan: no leak report at exit (CPython's allocations look like leaks), exit (not abort,
# no core file) at the first error. UBSan: a stack under a report (it names the kernel
# of a shared-array overrun), and stop there too.
ASAN_OPTIONS = "detect_leaks=0:halt_on_error=1:abort_on_error=0"
UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1"
BUILD_TIMEOUT = 900.0   # an ASan build of a large module takes minutes on a small machine
_HEADER = struct.Struct("<Q")


# ------------------------------------------------------------ the pipe protocol
def send(stream, message):
    """One message: its pickle's length (8 bytes), then the pickle. Both sides use it."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def receive(stream):
    """The next message from a blocking stream, or None at its end."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (n,) = _HEADER.unpack(header)
    data = stream.read(n)
    return pickle.loads(data) if len(data) == n else None


def _read_exactly(fd, n, deadline):
    """n bytes from a pipe; b"" if it closed first; TimeoutError past the deadline (None: none)."""
    parts, left = [], n
    while left:
        wait = None if deadline is None else deadline - time.monotonic()
        if wait is not None and (wait <= 0 or not select.select([fd], [], [], wait)[0]):
            raise TimeoutError
        part = os.read(fd, min(left, 1 << 20))
        if not part:
            return b""
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


_runtime = {}


def asan_runtime():
    """The ASan runtime of the emulator's compiler (asked once per process)."""
    if "path" not in _runtime:
        _runtime["path"] = emu_toolchain.asan_runtime()
    return _runtime["path"]


# ------------------------------------------------------------ the child process
class ChildDied(Exception):
    """The child exited (a sanitizer report) or was killed (a timeout) during a request."""
    def __init__(self, report, timed_out=False):
        super().__init__(report)
        self.report, self.timed_out = report, timed_out


class Child:
    """The child process, its pipes, and the file its stderr goes to (the sanitizer
    writes its report there; a pipe could fill up and block the dying child)."""

    def __init__(self, runtime):
        self.folder = tempfile.mkdtemp(prefix="tinygrad_cu_bounds_")
        self.stderr_path = os.path.join(self.folder, "stderr.txt")
        self.modules = set()          # keys of the modules this child has built
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env.pop("TINYGRAD_CU_EMU_CHECK", None)     # the child asks for check="bounds" itself
        variable = emu_toolchain.PRELOAD_VARIABLE
        env[variable] = ":".join(p for p in (runtime, env.get(variable)) if p)   # ASan must come first
        env["ASAN_OPTIONS"] = ":".join(p for p in (ASAN_OPTIONS, env.get("ASAN_OPTIONS")) if p)
        env["UBSAN_OPTIONS"] = ":".join(p for p in (UBSAN_OPTIONS, env.get("UBSAN_OPTIONS")) if p)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        replies, child_end = os.pipe()
        try:
            # O_APPEND: the child writes at the end whatever this process reads
            with open(self.stderr_path, "ab") as stderr:
                # stdout is this process's, so a kernel's printf shows where it would in-process
                self.process = subprocess.Popen([sys.executable, "-m", CHILD_MODULE, str(child_end)],
                                                stdin=subprocess.PIPE, stderr=stderr, env=env,
                                                pass_fds=(child_end,))
        except BaseException:
            os.close(replies)
            raise
        finally:
            os.close(child_end)
        self.replies = replies
        self.read_from = 0

    def alive(self):
        return self.process.poll() is None

    def request(self, message, timeout):
        """Send one request and return the child's reply; ChildDied if it exits, or if it
        has not answered within `timeout` seconds (0: wait as long as it takes)."""
        self.read_from = os.path.getsize(self.stderr_path)
        deadline = time.monotonic() + timeout if timeout else None
        try:
            send(self.process.stdin, message)
            header = _read_exactly(self.replies, _HEADER.size, deadline)
            data = _read_exactly(self.replies, _HEADER.unpack(header)[0], deadline) if header else b""
        except TimeoutError:
            self.close(kill=True)
            raise ChildDied(f"the launch did not finish within {timeout:g} s (the module's timeout: "
                            "SourceModule(timeout=...) or TINYGRAD_CU_EMU_TIMEOUT); the child process was "
                            "killed.\n" + self.new_stderr(), timed_out=True) from None
        except (BrokenPipeError, ConnectionResetError):
            data = b""
        except BaseException:   # Ctrl-C mid-launch: a late reply would answer the next request
            self.close(kill=True)
            raise
        if not data:
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.close(kill=True)
            code = self.process.returncode
            how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
            raise ChildDied(f"(the child process {how})\n" + self.new_stderr())
        self.forward_stderr()
        return pickle.loads(data)

    def new_stderr(self):
        """What the child wrote to stderr since the last request began."""
        with open(self.stderr_path, "rb") as f:
            f.seek(self.read_from)
            return f.read().decode(errors="replace")

    def forward_stderr(self):
        """A launch that went well may still have written to stderr (a kernel's fprintf,
        a compiler warning): pass it on to this process's stderr."""
        text = self.new_stderr()
        if text:
            sys.stderr.write(text)
            sys.stderr.flush()

    def close(self, kill=False):
        try:
            if kill:
                self.process.kill()
            else:
                self.process.stdin.close()   # the child's loop ends at end of input
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        if self.replies is not None:
            os.close(self.replies)
            self.replies = None
        if self.process.stdin and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except OSError:
                pass

    def discard_files(self):
        for path in (self.stderr_path, self.folder):
            try:
                os.rmdir(path) if path == self.folder else os.remove(path)
            except OSError:
                pass


_child = {"current": None}
_lock = threading.Lock()   # one conversation with the child at a time


def _running_child(runtime):
    child = _child["current"]
    if child is None or not child.alive():
        if child is not None:   # it died at a report, which was read when it died
            child.close()
            child.discard_files()
        child = _child["current"] = Child(runtime)
    return child


@atexit.register
def _stop_child():
    child = _child.pop("current", None)
    if child is not None:
        child.close()
        child.discard_files()


def _forget_child_after_fork():
    # a forked process must not talk on its parent's pipes; it starts its own child if needed
    global _lock
    _child["current"], _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_child_after_fork)


# ------------------------------------------------------------ reports
def trim_report(text):
    """The sanitizer's report, cut to what names the bug: its first line ("ERROR:
    AddressSanitizer ..." or "<file>.cu:LINE: runtime error: ..."), the stack of the bad
    access with its frames in a .cu file (the kernel's name and line; the emulator's and
    Python's frames are counted, not shown), where the address lies ("0 bytes to the
    right of 4000-byte region") and the SUMMARY. Left out: where the child allocated its
    copy, which threads started which, and ASan's shadow-byte map."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines)
                  if "ERROR: AddressSanitizer" in line or "runtime error:" in line), None)
    if start is None:
        return "\n".join(lines[-40:])   # no report: the end of what the child wrote
    kept, dropped, in_first_stack, frames = [], 0, True, 0
    for line in lines[start:]:
        frame = line.lstrip().startswith("#")
        frames += frame
        if in_first_stack and frame and not line.lstrip().startswith("#0 ") and ".cu:" not in line:
            dropped += 1
            continue
        if dropped:
            kept.append(f"    ... ({dropped} frame{'s' * (dropped > 1)} of the emulator, libraries and Python)")
            dropped = 0
        if in_first_stack and not frame and frames:
            in_first_stack = False   # the first stack ended
        if in_first_stack or "is located" in line or line.startswith("SUMMARY:"):
            kept.append(line)
    if dropped:
        kept.append(f"    ... ({dropped} frame{'s' * (dropped > 1)} of the emulator, libraries and Python)")
    return "\n".join(kept).rstrip()


# ------------------------------------------------------------ what a launch touches
def _own_region(arg):
    """(address, size) of the memory an argument object itself names, or None."""
    if isinstance(arg, emu_memory.In):
        arg = arg.array
    if isinstance(arg, np.ndarray):
        return arg.__array_interface__["data"][0], arg.nbytes
    if isinstance(arg, (emu_memory.DeviceAllocation, PooledDeviceAllocation)):
        return int(arg), arg.size   # a pooled one: its requested size, not its block's
    return None


def _constant_regions(module):
    """name -> (address, size) of each __constant__ variable of the module (this process's)."""
    return {name: module.get_global(name) for name in module._meta["constants"]}


def find_buffers(function, values, args, constants):
    """The distinct buffers a launch's pointer arguments point into, as [(address, size)],
    and for each pointer argument, (its buffer's index, its offset in it)."""
    known = sorted(emu_memory.live_allocations.items())
    starts = [address for address, _ in known]
    arrays = [r for r in map(_own_region, args) if r is not None]
    wanted = {}
    for p, value, arg in zip(function.params, values, args):
        if p.kind != POINTER or value == 0:
            continue   # NULL stays NULL
        own = _own_region(arg)
        if own is not None and own[0] <= value < own[0] + max(own[1], 1):
            wanted[p.index] = own
            continue
        i = bisect.bisect_right(starts, value) - 1
        if i >= 0 and value < known[i][0] + known[i][1]:
            wanted[p.index] = known[i]
            continue
        inside = [r for r in arrays if r[0] <= value < r[0] + r[1]]
        if inside:
            wanted[p.index] = inside[0]
            continue
        what = next((f"the __constant__ `{name}`" for name, (a, n) in constants.items() if a <= value < a + n),
                    "no mem_alloc allocation and no numpy array of this launch")
        raise LaunchError(
            f"{p.where()}: check='bounds' runs this launch in a child process (AddressSanitizer is not "
            f"preloaded in this one), which can only check pointer arguments into mem_alloc allocations or "
            f"numpy arrays passed to the launch; {value:#x} is in {what}. Pass the array or allocation "
            f"itself, or run Python with the preload: {emu_toolchain.asan_preload_hint()}")
    # overlapping buffers (a view and its base, a pointer inside an allocation) become one
    merged = []
    for address, size in sorted(set(wanted.values())):
        if merged and address < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], address + size)
        else:
            merged.append([address, address + size])
    buffers = [(start, end - start) for start, end in merged]
    firsts = [start for start, _ in buffers]
    pointers = {}
    for index, (address, _) in wanted.items():
        b = bisect.bisect_right(firsts, address) - 1
        pointers[index] = (b, values[index] - buffers[b][0])
    return buffers, pointers


# ------------------------------------------------------------ the module
class ChildModule:
    """The child-process half of a bounds-mode SourceModule (see the module docstring).
    Launches come from emu.Function._launch, already checked and converted."""

    def __init__(self, source, options=None, no_extern_c=False, include_dirs=(), cache_dir=None):
        self.runtime = asan_runtime()
        if self.runtime is None:
            raise RuntimeError(
                f"check='bounds' is unavailable with {emu_toolchain.compiler()}: it has no AddressSanitizer "
                f"runtime ({', '.join(emu_toolchain.asan_runtime_names())}). Install it (Debian/Ubuntu: the "
                "libasan package of your g++ version, e.g. `apt-get install libasan8`; with clang: "
                "compiler-rt), or pick another compiler with CXX=...")
        # cwd: relative include folders mean what they meant here when the child builds
        self.spec = dict(source=source, options=list(options) if options else None, no_extern_c=no_extern_c,
                         include_dirs=list(include_dirs or ()), cache_dir=cache_dir, cwd=os.getcwd())
        self.key = hashlib.sha256(pickle.dumps(sorted(self.spec.items()))).hexdigest()

    def launch(self, function, dims, shared, values, args):
        """Run one launch of `function` (the emu Function of this process) in the child."""
        constants = _constant_regions(function.module)
        buffers, pointers = find_buffers(function, values, args, constants)
        sent = [ctypes.string_at(address, size) for address, size in buffers]
        constant_bytes = {name: ctypes.string_at(a, n) for name, (a, n) in constants.items()}
        with _lock:
            child = _running_child(self.runtime)
            # the module's launch timeout (emu_guard: SourceModule(timeout=), TINYGRAD_CU_EMU_TIMEOUT)
            timeout = getattr(function.module, "timeout", 0)
            try:
                if self.key not in child.modules:
                    build_timeout = timeout and max(timeout, BUILD_TIMEOUT)
                    self._reply(child.request(("build", self.key, self.spec), build_timeout))
                    child.modules.add(self.key)
                reply = child.request(("launch", self.key, function.name, dims, shared, list(values), pointers,
                                       sent, constant_bytes), timeout)
            except ChildDied as died:
                if died.timed_out:   # LaunchTimeout (a LaunchError) where this emulator has it
                    raise getattr(emu_launch, "LaunchTimeout", LaunchError)(
                        f"kernel {function.name!r}: {died.report}") from None
                raise LaunchError(self._found(function.name, died.report)) from None
        received = self._reply(reply)
        for (address, size), before, after in zip(buffers, sent, received):
            if after != before:   # unchanged buffers are not written (a read-only array stays untouched)
                ctypes.memmove(address, after, size)

    @staticmethod
    def _reply(reply):
        """A reply's payload; an exception the child raised (a device assert, a compile
        error) is raised here, as the same class where it is one of the emulator's."""
        status, payload = reply
        if status == "ok":
            return payload
        from . import emu
        kind, message = payload
        cls = getattr(emu, kind, None)
        if not (isinstance(cls, type) and issubclass(cls, Exception)):
            cls = {"TypeError": TypeError, "ValueError": ValueError}.get(kind, LaunchError)
        raise cls(f"{message} (in the bounds-mode child process)")

    @staticmethod
    def _found(name, report):
        what = ("an out-of-bounds access" if "out of bounds" in report or "overflow" in report
                else "a memory error" if "Sanitizer" in report or "runtime error" in report else "a crash")
        return (f"kernel {name!r}: check='bounds' found {what}. The launch ran in a child process with "
                f"AddressSanitizer, which stopped there; the buffers in this process are as they were before "
                f"the launch, and the next launch starts a new child. The sanitizer's report:\n"
                f"{trim_report(report)}")
