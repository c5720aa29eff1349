"""Compiling a module for the emulator, and the on-disk cache of compiled modules.

A module is compiled once: the shared library and what the analysis found are stored
under a key that hashes everything the result depends on (the source and the files it
includes with "...", the emulator's headers, the flags, the compiler binary and the
machine). Files appear under their final name only by an atomic rename, so parallel
test processes building the same module cannot see, or leave, a half-written file.
Which compiler, and what it can do (OpenMP, the half type), is emu_toolchain.py's job;
each compiler has its own cache folder.
"""
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time

from . import emu_toolchain
from .emu_toolchain import compiler, compiler_identity  # noqa: F401  (part of this module's API)

INCLUDE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")
HEADER = os.path.join(INCLUDE_DIR, "cuda_emu.h")
FORMAT_VERSION = "2"  # bump when the generated code or the metadata changes meaning

# OpenMP's flags and the half type come from the compiler's probe (flags_for).
BASE_FLAGS = ["-std=c++17"] + emu_toolchain.SHARED_FLAGS + [
    "-fvisibility=hidden",
    # CUDA code type-puns shared memory ((int*)&floats[n]); CUDA math never sets errno
    "-fno-strict-aliasing", "-fno-math-errno"]
# A function with a frame larger than a page touches each page as it grows the stack, so a
# fiber whose locals are too big hits its guard page (a LaunchError) instead of jumping
# past it into the next fiber's stack. (g++ >= 8 and clang >= 11 on Linux; Apple's clang
# is not relied on for it.)
if not emu_toolchain.IS_MACOS:
    BASE_FLAGS.append("-fstack-clash-protection")


def _cpu_has_fma():
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " fma " in line + " " for line in f)
    except OSError:
        return False


# nvcc contracts a * b + c into one fused multiply-add by default; so does the emulator
# (closer to the GPU's rounding, and it halves the latency of a dot product's chain).
# -mfma only where this x86-64 CPU has FMA (aarch64 always does); the flags are part of
# the cache key, so a library built with it is never loaded on a machine without it.
FP_FLAGS = ["-ffp-contract=fast"] + (["-mfma"] if platform.machine() in ("x86_64", "AMD64")
                                     and _cpu_has_fma() else [])
OPTIMISE = ["-O2"] + FP_FLAGS
DEBUG = ["-O0", "-g"]                            # TINYGRAD_CU_EMU_DEBUG=1: for gdb
BOUNDS = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,bounds",
          "-fno-sanitize-recover=bounds"]


class CompileError(RuntimeError):
    """The compiler rejected the source (PyCUDA raises pycuda.driver.CompileError)."""


def cache_dir(cxx=None):
    """$TINYGRAD_CU_CACHE as given, else <cache root>/tinygrad_cu/emu/<compiler>, the root
    being $XDG_CACHE_HOME, ~/Library/Caches on macOS, ~/.cache elsewhere."""
    return emu_toolchain.cache_folder(cxx)


_header_digest = None


def header_digest():
    global _header_digest
    if _header_digest is None:
        h = hashlib.sha256()
        for name in sorted(os.listdir(INCLUDE_DIR)):
            with open(os.path.join(INCLUDE_DIR, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
        _header_digest = h.hexdigest()
    return _header_digest


def included_files_digest(source, include_dirs):
    """Contents of the files the source includes with quotes (one level deep)."""
    h = hashlib.sha256()
    for name in sorted(set(_quoted_includes(source))):
        for d in list(include_dirs) + [os.getcwd()]:
            path = os.path.join(d, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    h.update(name.encode() + b"\0" + f.read())
                break
    return h.hexdigest()


def _quoted_includes(source):
    for line in source.splitlines():
        s = line.strip()
        if s.startswith("#") and "include" in s and '"' in s:
            yield s.split('"')[1]


def flags_for(check, user_flags, cxx=None):
    """Everything `cxx` (default: compiler()) is given besides the file names."""
    mode = BOUNDS if check == "bounds" else DEBUG if os.environ.get("TINYGRAD_CU_EMU_DEBUG") == "1" else OPTIMISE
    try:
        tools = emu_toolchain.toolchain(cxx)
    except emu_toolchain.ToolchainError as e:
        raise CompileError(str(e)) from None
    return (BASE_FLAGS + list(tools.openmp_flags) + [f"-DCUDA_EMU_HALF={tools.half}"] + mode
            + ["-include", HEADER, "-I", INCLUDE_DIR] + list(user_flags))


def cache_key(source, flags, no_extern_c, include_dirs, cxx):
    parts = [FORMAT_VERSION, source, "\0".join(flags), str(no_extern_c), header_digest(),
             included_files_digest(source, include_dirs), compiler_identity(cxx), platform.machine()]
    return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()[:32]


def _write_atomically(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(data)
    os.replace(tmp, path)


def file_digest(path):
    """(size, sha256) of a file, as recorded when it was built."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return os.path.getsize(path), h.hexdigest()


def _intact(path, size, digest):
    """Whether a cached library is the file that was built: a truncated or damaged one
    would crash the process when loaded (SIGBUS on a truncated mapping), so it is built again."""
    try:
        return (size, digest) == file_digest(path)
    except OSError:
        return False


def load_cached(directory, key):
    """The (library path, metadata) of a cached build, or None (also when the library's
    size or hash differs from what its build recorded: it is then rebuilt)."""
    meta, lib = os.path.join(directory, key + ".json"), os.path.join(directory, key + emu_toolchain.LIBRARY_SUFFIX)
    try:
        with open(meta) as f:  # written last, so its presence means the library is complete
            info = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not _intact(lib, info.get("library_size"), info.get("library_sha256")):
        return None
    return lib, info


def compile_module(directory, key, source, unit, flags, cxx, meta):
    """Compile `unit` (the generated C++ file) into <key>.so, keep the original source
    as <key>.cu (its lines are what debuggers and error reports show) and store `meta`."""
    os.makedirs(directory, exist_ok=True)
    _write_atomically(os.path.join(directory, key + ".cu"), source)
    cpp = os.path.join(directory, key + ".emu.cpp")
    _write_atomically(cpp, unit)
    library = os.path.join(directory, key + emu_toolchain.LIBRARY_SUFFIX)
    started = time.perf_counter()
    _compile(cxx, flags, cpp, library, "the kernel source")
    size, digest = file_digest(library)
    meta = dict(meta, compile_seconds=round(time.perf_counter() - started, 3), library_size=size,
                library_sha256=digest)
    _write_atomically(os.path.join(directory, key + ".json"), json.dumps(meta))
    return library, meta


def _compile(cxx, flags, cpp, library, what):
    """cxx ... cpp -o library, through a temporary name and an atomic rename."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(library), prefix=".tmp-", suffix=emu_toolchain.LIBRARY_SUFFIX)
    os.close(fd)
    result = subprocess.run([cxx] + flags + ["-x", "c++", cpp, "-o", tmp], capture_output=True, text=True)
    if result.returncode:
        os.unlink(tmp)
        raise CompileError(f"{cxx} failed to compile {what} (as {cpp}):\n{result.stderr[-6000:]}")
    os.replace(tmp, library)


def build_helper(name, source, extra_flags, cxx=None):
    """A small shared library of the runtime's own (the thread pool), compiled once per
    compiler and cached like a module: the path of <cache>/<name>-<key><suffix>."""
    cxx = cxx or compiler()
    flags = BASE_FLAGS + list(extra_flags) + ["-I", INCLUDE_DIR]
    key = cache_key(source, flags, True, [INCLUDE_DIR], cxx)
    directory = cache_dir(cxx)
    library = os.path.join(directory, f"{name}-{key}{emu_toolchain.LIBRARY_SUFFIX}")
    record = library + ".sha256"   # "<size> <sha256>", written after the library
    try:
        with open(record) as f:
            size, digest = f.read().split()
        intact = _intact(library, int(size), digest)
    except (OSError, ValueError):
        intact = False
    if not intact:
        os.makedirs(directory, exist_ok=True)
        cpp = os.path.join(directory, f"{name}-{key}.cpp")
        _write_atomically(cpp, source)
        _compile(cxx, flags, cpp, library, f"the emulator's {name} library")
        _write_atomically(record, "%d %s" % file_digest(library))
    return library


def prepare_library(lib):
    """After loading a module: one without OpenMP gets the runtime's thread pool."""
    emu_toolchain.attach_pool(lib, build_helper)
