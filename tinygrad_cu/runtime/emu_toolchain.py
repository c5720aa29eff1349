"""Which C++ compiler the emulator uses, and what it can do on this platform.

The emulator runs wherever a C++17 compiler does: g++ or clang++ (clang 14 up) on
Linux, Apple's clang (`g++` and `clang++` on a Mac are both Apple clang) or Homebrew's
on macOS, and either one inside WSL on Windows. What differs is found out, not assumed
from the compiler's name:

  - the half type (`_Float16`, `__fp16`, or the headers' software type): a few lines are
    compiled with each candidate;
  - OpenMP: a small shared library with an `omp parallel` region is compiled and linked
    with `-fopenmp` (and, on macOS, with Homebrew's or MacPorts' libomp as their
    instructions give it). When none works, blocks run on the runtime's own thread pool
    (include/cuda_emu_pool.h). TINYGRAD_CU_EMU_OPENMP=0 forces that path, =1 makes a
    missing OpenMP an error. TINYGRAD_CU_EMU_HALF=software forces the software half type
    (what clang 14 on x86-64 gets) with any compiler.

The probe runs once per compiler (a second or two, at the first build) and is stored
next to the kernel cache, under a key that changes when the compiler binary does.
Platform conventions (the shared-library flag, the library suffix, the cache folder,
how AddressSanitizer's runtime is preloaded) are written as each platform documents
them; see docs/emulator.md for what has been verified where.
"""
import ctypes
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

FORMAT_VERSION = "1"                       # bump when what the probe stores changes meaning
CANDIDATES = ("g++", "clang++", "c++")     # tried in this order when TINYGRAD_CU_EMU_CXX is unset
HALF_TYPES = ((1, "_Float16"), (2, "__fp16"))  # CUDA_EMU_HALF values (include/cuda_emu_half.h); 3: software
IS_MACOS = sys.platform == "darwin"
LIBRARY_SUFFIX = ".dylib" if IS_MACOS else ".so"
# Apple's linker builds a loadable library with -dynamiclib (ld64: "-dylib"); ELF
# systems with -shared, from position-independent code.
SHARED_FLAGS = ["-dynamiclib"] if IS_MACOS else ["-fPIC", "-shared"]

HALF_PROBE = """
static T twice(T a) { return a + a; }
float probe_half(float x) { T h = (T)x; return (float)twice(h); }
"""
OPENMP_PROBE = """
#include <omp.h>
extern "C" int probe_openmp() {
  int n = 0;
#pragma omp parallel reduction(+:n)
  n += 1;
  return n + 0 * omp_get_max_threads();
}
"""


class ToolchainError(RuntimeError):
    """No usable C++ compiler, or OpenMP was required (TINYGRAD_CU_EMU_OPENMP=1) and is missing."""


def compiler():
    """TINYGRAD_CU_EMU_CXX, else the first of g++, clang++, c++ on PATH (else 'g++', so
    that the error names what to install)."""
    chosen = os.environ.get("TINYGRAD_CU_EMU_CXX")
    if chosen:
        return chosen
    return next((c for c in CANDIDATES if shutil.which(c)), CANDIDATES[0])


def how_to_get_a_compiler():
    """One line per platform: the command that installs a C++ compiler."""
    return ("macOS: xcode-select --install (Apple clang); Debian/Ubuntu: sudo apt-get install g++ "
            "(or clang); Fedora: sudo dnf install gcc-c++; Windows: inside WSL (wsl --install), "
            "then sudo apt-get install g++; or set TINYGRAD_CU_EMU_CXX to a C++17 compiler")


_identities = {}


def compiler_identity(cxx):
    """Which compiler this is, without running it (a cached load must stay fast):
    its resolved path, size and modification time change when it is upgraded."""
    if cxx not in _identities:
        path = shutil.which(cxx)
        if path is None:
            raise ToolchainError(f"the emulator needs a C++ compiler: {cxx!r} is not on PATH. "
                                 + how_to_get_a_compiler())
        real = os.path.realpath(path)
        st = os.stat(real)
        _identities[cxx] = f"{real}:{st.st_size}:{st.st_mtime_ns}"
    return _identities[cxx]


def default_cache_root():
    """$XDG_CACHE_HOME if set (on any platform), else ~/Library/Caches on macOS (Apple's
    place for regenerable files), else ~/.cache (the XDG default)."""
    if os.environ.get("XDG_CACHE_HOME"):
        return os.environ["XDG_CACHE_HOME"]
    home = os.path.expanduser("~")
    return os.path.join(home, "Library", "Caches") if IS_MACOS else os.path.join(home, ".cache")


def compiler_folder_name(cxx):
    """A folder name per compiler (`g++`, `clang++-14`): caches of two compilers never mix."""
    name = os.path.basename(cxx) or "cxx"
    return "".join(c if c.isalnum() or c in "+-._" else "_" for c in name)


def cache_folder(cxx=None):
    """$TINYGRAD_CU_CACHE as given, else <cache root>/tinygrad_cu/emu/<compiler>."""
    if os.environ.get("TINYGRAD_CU_CACHE"):
        return os.environ["TINYGRAD_CU_CACHE"]
    return os.path.join(default_cache_root(), "tinygrad_cu", "emu", compiler_folder_name(cxx or compiler()))


@dataclass(frozen=True)
class Toolchain:
    cxx: str
    version: str              # the first line of `cxx --version`
    half: int                 # CUDA_EMU_HALF
    openmp_flags: tuple       # flags that enable OpenMP; () when it is off
    openmp_note: str          # why it is off ("" when on)
    pool_threads: int

    @property
    def openmp(self):
        return bool(self.openmp_flags)

    @property
    def half_name(self):
        return dict(HALF_TYPES).get(self.half, "software half")

    def describe(self):
        """One line: the compiler, and how blocks are spread over the cores."""
        if self.openmp:
            how = "OpenMP on"
        else:
            how = (f"OpenMP off ({self.openmp_note}): blocks run on the emulator's own thread pool "
                   f"({self.pool_threads} threads)")
        return f"{self.cxx} ({self.short_version}), {how}, __half is {self.half_name}"

    @property
    def short_version(self):
        """'GCC 12.2.0', 'clang 14.0.6', 'Apple clang 15.0.0': for people, not for decisions."""
        number = re.search(r"\d+\.\d+(?:\.\d+)?", self.version)
        family = ("Apple clang" if "Apple" in self.version else "clang" if "clang" in self.version
                  else "GCC" if "g++" in self.version or "gcc" in self.version.lower() else self.version.split(" ")[0])
        return f"{family} {number.group(0)}" if number else self.version


def _compiles(cxx, flags, source, directory, link=False):
    out = os.path.join(directory, "probe" + LIBRARY_SUFFIX if link else "probe.o")
    cmd = [cxx, "-std=c++17", "-x", "c++", "-"] + (SHARED_FLAGS if link else ["-c"]) + list(flags) + ["-o", out]
    try:
        result = subprocess.run(cmd, input=source, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return result.returncode == 0, (result.stderr.strip().splitlines() or ["failed"])[0]


def openmp_candidates():
    """The ways to turn OpenMP on, in order. macOS: Apple clang has no -fopenmp of its
    own; Homebrew's libomp (keg-only: `brew info libomp`) and MacPorts' are used as their
    instructions say, `-Xpreprocessor -fopenmp` with the include and library folders."""
    yield ["-fopenmp"]
    if IS_MACOS:
        for include, lib in (("/opt/homebrew/opt/libomp/include", "/opt/homebrew/opt/libomp/lib"),  # Apple silicon
                             ("/usr/local/opt/libomp/include", "/usr/local/opt/libomp/lib"),        # Intel Homebrew
                             ("/opt/local/include/libomp", "/opt/local/lib/libomp")):              # MacPorts
            if os.path.isdir(include):
                yield ["-Xpreprocessor", "-fopenmp", "-I" + include, "-L" + lib, "-lomp"]


def _probe(cxx):
    try:
        version = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60).stdout
        version = (version.strip().splitlines() or ["unknown version"])[0]
    except (OSError, subprocess.TimeoutExpired):
        version = "unknown version"
    with tempfile.TemporaryDirectory(prefix="tinygrad_cu_probe_") as tmp:
        half = next((n for n, t in HALF_TYPES if _compiles(cxx, [f"-DT={t}"], HALF_PROBE, tmp)[0]), 3)
        flags, why = (), ""
        for candidate in openmp_candidates():
            ok, why = _compiles(cxx, candidate, OPENMP_PROBE, tmp, link=True)
            if ok:
                flags, why = tuple(candidate), ""
                break
    return {"version": version, "half": half, "openmp_flags": list(flags),
            "openmp_note": f"-fopenmp failed: {why}"[:200] if not flags else ""}


_toolchains = {}


def toolchain(cxx=None):
    """What `cxx` (default: compiler()) can do here: probed once, then read from disk."""
    cxx = cxx or compiler()
    mode = os.environ.get("TINYGRAD_CU_EMU_OPENMP", "").strip().lower()
    software_half = os.environ.get("TINYGRAD_CU_EMU_HALF", "").strip().lower() == "software"
    memo = (cxx, mode, software_half, os.environ.get("TINYGRAD_CU_CACHE"))
    if memo in _toolchains:
        return _toolchains[memo]
    identity = compiler_identity(cxx)
    key = hashlib.sha256("\x1e".join([FORMAT_VERSION, identity, platform.machine(), sys.platform]).encode())
    folder = cache_folder(cxx)
    path = os.path.join(folder, f"toolchain-{key.hexdigest()[:24]}.json")
    found = None
    try:
        with open(path) as f:
            found = json.load(f)
    except (OSError, ValueError):
        pass
    if found is None:
        found = _probe(cxx)
        try:
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            with os.fdopen(fd, "w") as f:
                json.dump(found, f)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home: probe again next time
        if not found["openmp_flags"] and mode not in ("0", "off"):
            print(f"tinygrad_cu emu: {cxx} has no OpenMP ({found['openmp_note']}); blocks run on the "
                  "emulator's own thread pool", file=sys.stderr)
    flags, note = tuple(found["openmp_flags"]), found["openmp_note"]
    if mode in ("0", "off"):
        flags, note = (), "forced off by TINYGRAD_CU_EMU_OPENMP=0"
    elif mode in ("1", "on") and not flags:
        raise ToolchainError(f"TINYGRAD_CU_EMU_OPENMP=1 but {cxx} cannot build with OpenMP ({note}); on "
                             "Debian: apt-get install libomp-dev (clang) / libgomp is part of g++; on "
                             "macOS: brew install libomp")
    half = 3 if software_half else int(found["half"])
    result = Toolchain(cxx, found["version"], half, flags, note, pool_threads())
    _toolchains[memo] = result
    return result


def pool_threads():
    """The runtime pool's default size: OMP_NUM_THREADS if set (one knob for both ways),
    else all cores (as OpenMP's default)."""
    try:
        n = int(os.environ.get("OMP_NUM_THREADS", "0").split(",")[0])
    except ValueError:
        n = 0
    return n if n > 0 else (os.cpu_count() or 1)


# ------------------------------------------------------------ AddressSanitizer
# Its runtime must be in the process before Python starts. Linux: LD_PRELOAD (ld.so(8));
# macOS: DYLD_INSERT_LIBRARIES (dyld(1)), which macOS ignores for the system's own
# /usr/bin/python3 (System Integrity Protection): use a python.org, Homebrew or venv
# Python built outside /usr/bin.
PRELOAD_VARIABLE = "DYLD_INSERT_LIBRARIES" if IS_MACOS else "LD_PRELOAD"


def asan_runtime_names():
    arch = {"AMD64": "x86_64", "arm64": "aarch64"}.get(platform.machine(), platform.machine())
    if IS_MACOS:
        return ["libclang_rt.asan_osx_dynamic.dylib"]
    # clang's first: a clang finds g++'s libasan.so too, but its code needs its own runtime
    return [f"libclang_rt.asan-{arch}.so", "libasan.so"]


def _ask(cxx, option):
    try:
        return subprocess.run([cxx, option], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _sanitizer_headers(cxx):
    """Whether `cxx` compiles AddressSanitizer code with its interface headers (a clang
    without its compiler-rt development package has neither)."""
    key = ("asan-headers", cxx)
    if key not in _asan_probe:
        try:
            done = subprocess.run([cxx, "-fsanitize=address", "-x", "c++", "-fsyntax-only", "-"],
                                  input="#include <sanitizer/common_interface_defs.h>\nint main() {}\n",
                                  capture_output=True, text=True, timeout=60)
            _asan_probe[key] = done.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            _asan_probe[key] = False
    return _asan_probe[key]


_asan_probe = {}


def asan_runtime(cxx=None):
    """The path of the AddressSanitizer runtime `cxx` links against, or None (also when
    `cxx` cannot compile sanitizer code: its headers are missing): where
    `-print-file-name` finds it, else in clang's runtime folder (`-print-runtime-dir`;
    on macOS <resource dir>/lib/darwin, where Apple's clang keeps it)."""
    cxx = cxx or compiler()
    if not _sanitizer_headers(cxx):
        return None
    for name in asan_runtime_names():
        found = _ask(cxx, f"-print-file-name={name}")
        if os.path.isabs(found) and os.path.exists(found):
            return found
        for folder in (_ask(cxx, "-print-runtime-dir"),
                       os.path.join(_ask(cxx, "-print-resource-dir"), "lib", "darwin") if IS_MACOS else ""):
            if folder and os.path.isabs(folder) and os.path.exists(os.path.join(folder, name)):
                return os.path.join(folder, name)
    return None


def asan_preloaded():
    return any("asan" in os.path.basename(p) for p in os.environ.get(PRELOAD_VARIABLE, "").split(":") if p)


def asan_preload_hint(cxx=None):
    """How to start Python with the ASan runtime of `cxx` preloaded."""
    cxx = cxx or compiler()
    found = asan_runtime(cxx)
    if found is None:
        return (f"{PRELOAD_VARIABLE}=<the AddressSanitizer runtime> ASAN_OPTIONS=detect_leaks=0 python ... "
                f"({cxx} reports none of {', '.join(asan_runtime_names())})")
    return f"{PRELOAD_VARIABLE}={found} ASAN_OPTIONS=detect_leaks=0 python ..."


# ------------------------------------------------------------ the thread pool
_pool = {}


def attach_pool(lib, build):
    """Give a module built without OpenMP the runtime's thread pool (one per process).
    `build(name, source, flags)` compiles a shared library and returns its path."""
    if lib.emu_uses_openmp():
        return
    if "run" not in _pool:
        _pool["run"], _pool["threads"] = None, 1
        try:
            path = build("pool", '#include "cuda_emu_pool.h"\n', ["-O2", "-pthread"])
            pool = ctypes.CDLL(path)
            _pool["library"] = pool  # keep it loaded
            _pool["run"] = ctypes.cast(pool.emu_pool_run, ctypes.c_void_p).value
            _pool["threads"] = pool_threads()
        except Exception as e:  # no pool: blocks run serially, and devices() says so
            print(f"tinygrad_cu emu: the thread pool could not be built ({e}); blocks run serially",
                  file=sys.stderr)
    lib.emu_set_pool.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.emu_set_pool(_pool["run"], _pool["threads"])


def pool_state():
    """None before any module without OpenMP was loaded; else the pool's thread count
    (1: it could not be built, blocks run serially)."""
    return _pool.get("threads") if "run" in _pool else None
