"""The emulator's driver: PyCUDA's API, running CUDA C kernels on the CPU.

    mod = SourceModule(cuda_source)                  # g++, cached on disk
    f = mod.get_function("vadd")
    f(a, b, c, np.int32(n), block=(256, 1, 1), grid=((n + 255) // 256, 1))

The names are PyCUDA's (`pycuda.compiler.SourceModule`, `pycuda.driver.mem_alloc`,
`memcpy_htod`, `In`/`Out`/`InOut`, ...), so code written for the `cuda` device runs
here with only the module swapped. Additions: `check=` on SourceModule (or
TINYGRAD_CU_EMU_CHECK in the environment):
    "race"    each launch runs under three thread orders with poisoned shared memory;
              differing results raise RaceError naming the kernel (emu_race.py)
    "bounds"  compiled with AddressSanitizer and bounds checks; an out-of-bounds access
              is reported with the kernel and source line. The Python process must be
              started with LD_PRELOAD=$(g++ -print-file-name=libasan.so) and
              ASAN_OPTIONS=detect_leaks=0 (see docs/emulator.md).
How a module is built: emu_source.py (analysis, rewrites) and emu_build.py (g++, cache);
how a launch is checked and packed: emu_launch.py; the C++ side: include/cuda_emu.h.
"""
import ctypes
import itertools
import os
import threading

import numpy as np

from . import emu_build, emu_guard, emu_memory, emu_race, emu_source, emu_toolchain
from . import emu_launch as launch_limits
from .emu_build import CompileError
from .emu_launch import (LaunchConfigError, LaunchError, LaunchTimeout, Parameter, RaceError, SlotBuffer,
                         check_shared, launch_dims)
from .emu_memory import (Context, DeviceAllocation, DevicePointer, In, InOut, LogicError, Out, mem_alloc,
                         memcpy_dtod, memcpy_dtoh, memcpy_htod, memset_d8, memset_d32)

__all__ = ["SourceModule", "Function", "mem_alloc", "memcpy_htod", "memcpy_dtoh", "memcpy_dtod",
           "memset_d8", "memset_d32", "In", "Out", "InOut", "Context", "DeviceAllocation",
           "CompileError", "LogicError", "LaunchError", "LaunchConfigError", "LaunchTimeout", "RaceError",
           "reset", "faulted"]

CHECK_MODES = (None, "race", "bounds")
ERROR_DEVICE_ASSERT = 2

# One launch at a time: a library's error state and the OpenMP pool are process-wide.
_launch_lock = threading.Lock()
_libraries = {}      # path -> ctypes.CDLL (dlopen returns the same handle anyway)
_seeds = itertools.count(1)
# Set by an illegal memory access, as a CUDA context's sticky error: (kernel, message).
_fault = None


def faulted():
    """None, or the message of the fault that left the emulated device unusable."""
    return _fault[1] if _fault else None


def reset():
    """End the faulted state an illegal memory access left (cudaDeviceReset's role). The
    emulator cannot undo the wild writes a faulting kernel may have made before it
    faulted: buffers that kernel could reach should be rewritten before they are trusted."""
    global _fault
    _fault = None


def _refuse_if_faulted(kernel):
    if _fault:
        raise LaunchError(f"kernel {kernel!r}: the emulated device is faulted since kernel {_fault[0]!r} "
                          f"made an illegal memory access ({_fault[1]}); as with CUDA's sticky errors, no "
                          "launch runs until tinygrad_cu.runtime.emu.reset()")


def _reset_lock_in_child():
    global _launch_lock
    _launch_lock = threading.Lock()  # another thread may have held it at fork()


os.register_at_fork(after_in_child=_reset_lock_in_child)


def _split_options(options):
    """nvcc options that mean something to g++: -D and -I; the rest is GPU-only."""
    defines, includes, options = [], [], list(options or [])
    for i, opt in enumerate(options):
        for prefix, out in (("-D", defines), ("-I", includes)):
            if opt == prefix and i + 1 < len(options):
                out.append(options[i + 1])
            elif opt.startswith(prefix) and len(opt) > 2:
                out.append(opt[2:])
    return defines, includes


def _asan_preloaded():
    return emu_toolchain.asan_preloaded()  # LD_PRELOAD on Linux, DYLD_INSERT_LIBRARIES on macOS


def _open_library(path):
    lib = _libraries.get(path)
    if lib is None:
        lib = ctypes.CDLL(path)
        lib.emu_error_text.restype = ctypes.c_char_p
        lib.emu_set_max_workers.argtypes = [ctypes.c_int]
        lib.emu_error_address.restype = ctypes.c_ulonglong
        emu_build.prepare_library(lib)  # built without OpenMP: hand it the runtime's thread pool
        if not _asan_preloaded():       # AddressSanitizer handles faults itself, and reports them
            emu_guard.attach(lib)
        _libraries[path] = lib
    return lib


def _set_max_workers(n):
    """Benchmarks only: how many OS threads run blocks (0: all cores)."""
    for lib in _libraries.values():
        lib.emu_set_max_workers(n)



def _library_for(source, options, no_extern_c, include_dirs, check, cache_dir, on_compile):
    """((library path, metadata), whether it was cached) for this source and these flags:
    from the cache, else compiled into it (on_compile is called first, with the folder)."""
    defines, includes = _split_options(options)
    include_dirs = list(include_dirs or ()) + includes
    cxx = emu_build.compiler()
    flags = emu_build.flags_for(check, [f"-D{d}" for d in defines] + [f"-I{d}" for d in include_dirs])
    directory = cache_dir or emu_build.cache_dir()
    if cache_dir is False:
        import tempfile
        directory = tempfile.mkdtemp(prefix="tinygrad_cu_emu_")
    key = emu_build.cache_key(source, flags, no_extern_c, include_dirs, cxx)
    found = emu_build.load_cached(directory, key) if cache_dir is not False else None
    if found is not None and any("max_threads" not in k for k in found[1]["kernels"].values()):
        found = None   # built before launch bounds were recorded: analyse again
    if found is not None:
        return found, True
    if on_compile is not None:
        on_compile(directory)
    return _build(source, directory, key, flags, cxx, defines, include_dirs, no_extern_c), False


def _build(source, directory, key, flags, cxx, defines, include_dirs, no_extern_c):
    preprocessed = emu_source.preprocess(source, cxx, defines, include_dirs, emu_build.INCLUDE_DIR)
    analysis = emu_source.analyse(preprocessed)
    shown = os.path.join(directory, key + ".cu")
    unit = emu_source.translation_unit(source, analysis, no_extern_c, shown)
    meta = {"kernels": {k.name: {"params": k.params, "needs_fibers": k.needs_fibers,
                                 "max_threads": k.max_threads or launch_limits.MAX_THREADS_PER_BLOCK}
                        for k in analysis.kernels.values()},
            "templates": analysis.templates, "constants": analysis.constants}
    return emu_build.compile_module(directory, key, source, unit, flags, cxx, meta)


class SourceModule:
    """PyCUDA's SourceModule: compile CUDA C source, then get_function / get_global.

    Positional parameters follow PyCUDA; nvcc, keep, arch and code are accepted and
    ignored. Of `options`, -D and -I are passed to g++. cache_dir=False disables the
    cache (it defaults to $TINYGRAD_CU_CACHE, else ~/.cache/tinygrad_cu/emu).
    on_compile (an addition): called with the cache folder just before a module that is
    not in the cache is compiled, so that the caller can say why the wait is coming
    (GPUDevice prints it once per kernel file: device/compile_notice.py)."""
    REPORTS_COMPILES = True     # accepts on_compile (PyCUDA's SourceModule does not)

    def __init__(self, source, nvcc="nvcc", options=None, keep=False, no_extern_c=False, arch=None,
                 code=None, cache_dir=None, include_dirs=(), check=None, timeout=None, on_compile=None):
        check = check if check is not None else (os.environ.get("TINYGRAD_CU_EMU_CHECK") or None)
        if check not in CHECK_MODES:
            raise ValueError(f"check={check!r}: use None, 'race' or 'bounds'")
        self.check = check
        self.timeout = emu_guard.default_timeout() if timeout is None else float(timeout)
        if not self.timeout >= 0:
            raise ValueError(f"SourceModule(timeout={timeout!r}): seconds >= 0 (0: no timeout)")
        # Bounds mode without AddressSanitizer loaded in this process: the launches run in a
        # child process started with the preload (emu_bounds.py); this process builds the
        # module normally, for its kernels' signatures and launch checks.
        self._bounds_child = None
        if check == "bounds" and not _asan_preloaded():
            from . import emu_bounds
            self._bounds_child = emu_bounds.ChildModule(source, options=options, no_extern_c=no_extern_c,
                                                        include_dirs=include_dirs, cache_dir=cache_dir)
        found, self.cached = _library_for(source, options, no_extern_c, include_dirs,
                                          None if self._bounds_child else check, cache_dir, on_compile)
        path, self._meta = found
        self._lib = _open_library(path)
        self._functions = {}

    @staticmethod
    def precompile(source, options=None, no_extern_c=False, include_dirs=(), cache_dir=None, on_compile=None):
        """Compile `source` into the cache without loading it (an addition to PyCUDA's
        API): tg.warmup builds several kernel files at once this way, one compiler process
        per core, and then loads them one by one. Returns True if it was cached already."""
        return _library_for(source, options, no_extern_c, include_dirs, None, cache_dir, on_compile)[1]

    @property
    def kernel_names(self):
        return list(self._meta["kernels"])

    def needs_fibers(self, name):
        """Whether the kernel runs its threads as fibers (it waits at barriers)."""
        return self._meta["kernels"][name]["needs_fibers"]

    def get_function(self, name):
        if name not in self._functions:
            if name not in self._meta["kernels"]:
                why = ("is a template (only kernels with one address can be launched)"
                       if name in self._meta["templates"] else "is not a __global__ function of this module")
                raise LogicError(f"cuModuleGetFunction failed: named symbol not found: {name!r} {why}; "
                                 f"kernels: {', '.join(sorted(self._meta['kernels'])) or 'none'}")
            self._functions[name] = Function(self, name)
        return self._functions[name]

    def get_global(self, name):
        """(address, size in bytes) of a __constant__ variable, as in PyCUDA."""
        if name not in self._meta["constants"]:
            raise LogicError(f"cuModuleGetGlobal failed: named symbol not found: no __constant__ {name!r}")
        accessor = getattr(self._lib, "emu_global_" + name)
        accessor.restype = ctypes.c_void_p
        nbytes = ctypes.c_size_t()
        return DevicePointer(accessor(ctypes.byref(nbytes))), nbytes.value


class Function:
    """A kernel of a SourceModule: call it, or prepare() then prepared_call().

    What PyCUDA refuses, this refuses too, so that a mistake in launch code shows on
    the emulator before it reaches a GPU:
      - __call__ takes numpy scalars only (np.int32(n), not n): PyCUDA packs a scalar
        by its dtype, and a Python int has none ("invalid type on parameter");
      - prepared_call packs its arguments by the prepared format, as PyCUDA's struct
        packing does: any integer (an int, np.int64, an allocation's address) for an
        integer or "P", any real number for a float, nothing else;
      - the argument count must match (PyCUDA would pack a wrong-sized buffer);
      - a block may not have more threads than the kernel's __launch_bounds__ allow
        (`max_threads_per_block`), nor CUDA's 1024.
    The emulator also checks what PyCUDA cannot see: each argument against the
    kernel's C signature (an int64 scalar for an `int`, a float64 array for a `float*`)."""

    def __init__(self, module, name):
        self.module, self.name = module, name
        self.max_threads_per_block = module._meta["kernels"][name]["max_threads"]
        lib = module._lib
        self._entry = getattr(lib, "emu_launch_" + name)
        self._entry.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int]
        self._entry.restype = ctypes.c_int
        describe = getattr(lib, "emu_signature_" + name)
        codes = (ctypes.c_int * (4 * 256))()
        count = describe(codes, 256)
        texts = module._meta["kernels"][name]["params"]
        texts = texts + ["?"] * (count - len(texts))
        self.params = [Parameter(i, tuple(codes[4 * i:4 * i + 4]), texts[i], name) for i in range(count)]
        self._slots = SlotBuffer(self.params)
        self._dims = {}          # (block, grid) -> (ctypes array, address): checked once
        self._prepared = None

    # ------------------------------------------------------------ PyCUDA API
    def __call__(self, *args, block=(1, 1, 1), grid=(1, 1), shared=0, stream=None, time_kernel=False,
                 texrefs=()):
        if len(args) != len(self.params):
            raise TypeError(f"kernel {self.name!r} takes {len(self.params)} arguments "
                            f"({', '.join(p.text for p in self.params)}), got {len(args)}")
        values = [p.value(a) for p, a in zip(self.params, args)]
        # (bounds mode in a child copies arrays at their exact size itself)
        staged = [] if self.module._bounds_child is not None else emu_memory.stage_host_arrays(self.params, args, values)
        if not staged:
            self._launch(block, grid, shared, values, args)
            return
        launch_args = list(args)
        for s in staged:
            values[s.index] = int(s.allocation)
            launch_args[s.index] = s.argument
        try:
            self._launch(block, grid, shared, values, launch_args)
        except RaceError:
            emu_memory.unstage(staged)   # race mode leaves the last run's results, as documented
            raise
        emu_memory.unstage(staged)

    def prepare(self, arg_types, texrefs=()):
        """PyCUDA's prepare (CUDA >= 4: no block or shared here): one struct character per
        argument, from a string ("PPi"), numpy scalar types or dtypes; anything else
        stands for a pointer (np.uintp), as in PyCUDA. Returns the function."""
        chars = list("".join(t if isinstance(t, str) else
                             np.dtype(t).char if isinstance(t, np.dtype) or (isinstance(t, type) and issubclass(t, np.number))
                             else np.dtype(np.uintp).char for t in arg_types))
        if len(chars) != len(self.params):
            raise TypeError(f"kernel {self.name!r}: prepare({arg_types!r}) names {len(chars)} types, "
                            f"the kernel takes {len(self.params)}")
        for p, c in zip(self.params, chars):
            if not p.matches_prepared(c):
                raise TypeError(f"{p.where()}: prepared type {c!r} does not match the C parameter")
        self._prepared = chars
        return self

    def prepared_call(self, grid, block, *args, shared_size=0):
        if self._prepared is None:
            raise LogicError(f"kernel {self.name!r}: prepared_call before prepare")
        if len(args) != len(self.params):
            raise TypeError(f"kernel {self.name!r} takes {len(self.params)} arguments, got {len(args)}")
        values = [p.prepared_value(a) for p, a in zip(self.params, args)]
        self._launch(block, grid, shared_size, values, args)

    def prepared_timed_call(self, grid, block, *args, shared_size=0):
        import time
        start = time.perf_counter()
        self.prepared_call(grid, block, *args, shared_size=shared_size)
        elapsed = time.perf_counter() - start
        return lambda: elapsed

    def bind(self, grid, block, *args, shared_size=0):
        """An emulator extension, in the spirit of a CUDA graph's kernel node: a launch whose
        arguments are checked and packed once (as prepared_call would), to be run many
        times by calling it. `set_address(i, address)` points pointer argument i elsewhere,
        which is how tg.jit swaps a new batch into a recorded step."""
        if self._prepared is None:
            raise LogicError(f"kernel {self.name!r}: bind before prepare")
        if len(args) != len(self.params):
            raise TypeError(f"kernel {self.name!r} takes {len(self.params)} arguments, got {len(args)}")
        values = [p.prepared_value(a) for p, a in zip(self.params, args)]
        return BoundLaunch(self, self._dims_of(block, grid), check_shared(self.name, shared_size)
                           if shared_size else 0, values, args)

    # --------------------------------------------------------------- launch
    def _dims_of(self, block, grid):
        """(ctypes array, address) of a checked launch configuration, cached."""
        key = (tuple(block), tuple(grid))
        dims = self._dims.get(key)
        if dims is None:
            checked = launch_dims(self.name, block, grid)
            threads = checked[3] * checked[4] * checked[5]
            if threads > self.max_threads_per_block:
                raise LaunchConfigError(
                    f"kernel {self.name!r}: block={tuple(checked[3:])} has {threads} threads, more than its "
                    f"__launch_bounds__({self.max_threads_per_block}) allows (the launch fails on a GPU: "
                    "too many resources requested for launch)")
            array = (ctypes.c_uint * 6)(*checked)
            if len(self._dims) > 256:
                self._dims.clear()
            dims = self._dims[key] = (array, ctypes.addressof(array))
        return dims

    def _launch(self, block, grid, shared, values, args):
        dims = self._dims_of(block, grid)
        shared = check_shared(self.name, shared) if shared else 0
        if _fault:
            _refuse_if_faulted(self.name)
        emu_guard.set_timeout(self.module.timeout)
        if self.module._bounds_child is not None:
            self.module._bounds_child.launch(self, tuple(dims[0]), shared, values, args)
            return
        with _launch_lock:
            slots = self._slots.fill(values)
            if self.module.check == "race":
                addresses = [v if p.kind == 0 else 0 for p, v in zip(self.params, values)]
                buffers = emu_race.buffers_of(self.params, args, addresses)
                emu_race.run_checked(self.name, lambda flags: self._run(dims[1], shared, slots, flags, values, args),
                                     buffers, next(_seeds))
            else:
                self._run(dims[1], shared, slots, 0, values, args)

    def _run(self, dims, shared, slots, flags, values, args):
        try:
            code = self._entry(dims, shared, slots, flags)
        except KeyboardInterrupt:
            # Ctrl-C during the launch: the watchdog stopped it (or it ended first), and Python's
            # own SIGINT handler raised as the call returned, before this could name the kernel
            raise KeyboardInterrupt(f"kernel {self.name!r}: interrupted (Ctrl-C) during its launch; "
                                    "its outputs may be incomplete") from None
        if code:
            self._raise(code, values, args)

    def _raise(self, code, values, args):
        """The launch's error as the exception CUDA's error code would become in PyCUDA."""
        global _fault
        lib = self.module._lib
        text = lib.emu_error_text().decode(errors="replace")
        if code == launch_limits.E_MEMORY_FAULT:
            text += "; " + emu_guard.describe_address(lib.emu_error_address(), self.params, values, args,
                                                      emu_memory.live_allocations)
        if code in launch_limits.STICKY_ERRORS:
            _fault = (self.name, text)
            text += (". The emulated device is now faulted, as a CUDA context after such an error: the kernel "
                     "may have written elsewhere before it faulted, so later launches raise until "
                     "tinygrad_cu.runtime.emu.reset()")
        if code == launch_limits.E_TIMEOUT:
            raise LaunchTimeout(f"kernel {self.name!r}: {text} (timeout: {self.module.timeout:g} s; set it with "
                                "SourceModule(timeout=...) or TINYGRAD_CU_EMU_TIMEOUT)")
        if code == launch_limits.E_INTERRUPTED:
            raise KeyboardInterrupt(f"kernel {self.name!r}: {text}")
        raise LaunchError(f"kernel {self.name!r}: {text}")


class BoundLaunch:
    """One launch of a kernel with its arguments packed in slots of its own (Function.bind).
    Calling it launches; in race mode it takes the checked path with the current values."""
    __slots__ = ("function", "dims", "shared", "values", "args", "slots", "address")

    def __init__(self, function, dims, shared, values, args):
        self.function, self.dims, self.shared, self.values, self.args = function, dims, shared, values, list(args)
        self.slots = SlotBuffer(function.params)
        self.address = self.slots.fill(values)

    def set_address(self, index, address):
        """Point pointer argument `index` at `address` (an int) for the next launches."""
        if self.function.params[index].kind != launch_limits.POINTER:
            raise TypeError(f"{self.function.params[index].where()} is not a pointer")
        self.slots.buffer[index] = self.values[index] = self.args[index] = int(address)

    def __call__(self):
        f = self.function
        if f.module.check in ("race", "bounds"):
            block, grid = tuple(self.dims[0][3:]), tuple(self.dims[0][:3])
            f._launch(block, grid, self.shared, self.values, self.args)
            return
        if _fault:
            _refuse_if_faulted(f.name)
        emu_guard.set_timeout(f.module.timeout)
        with _launch_lock:
            f._run(self.dims[1], self.shared, self.address, 0, self.values, self.args)
