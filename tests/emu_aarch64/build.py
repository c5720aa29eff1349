"""Build and run the emulator's C++ runtime for another architecture, without Python there.

    python tests/emu_aarch64/build.py                 # aarch64 under qemu + x86-64 controls
    python tests/emu_aarch64/build.py aarch64 --keep /tmp/emu_aarch64

The loader's own code makes the generated translation units (emu_source: `g++ -E`,
analysis, rewrites, one CUDA_EMU_KERNEL entry per kernel: what it stores as
<key>.emu.cpp) for tests/emu_kernels/shared_memory.cu, elementwise.cu and extra.cu here;
driver.cpp includes them and calls emu_launch_<kernel> directly, checking every result.
The flags are the loader's (emu_build.flags_for) as computed *on the target machine*:
emu_build is loaded once more with platform.machine() reporting the target, so an
x86-only flag such as -mfma would show up here if emu_build passed it on aarch64.
"-shared" is dropped (the driver is an executable).

Targets:
  aarch64          aarch64-linux-gnu-g++, run with qemu-aarch64 -L /usr/aarch64-linux-gnu
                   (Debian: apt-get install g++-aarch64-linux-gnu qemu-user)
  native           the host g++ (x86-64: the assembly fiber switch)
  native-ucontext  the host g++ with -DCUDA_EMU_UCONTEXT (the switch aarch64 uses)
  aarch64-ucontext aarch64 with -DCUDA_EMU_UCONTEXT (only differs if aarch64 has its own switch)
"""
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUNTIME = os.path.join(ROOT, "tinygrad_cu", "runtime")
SOURCES = [os.path.join(ROOT, "tests", "emu_kernels", "shared_memory.cu"),
           os.path.join(ROOT, "tests", "emu_kernels", "elementwise.cu"),
           os.path.join(HERE, "extra.cu")]
CROSS_CXX = "aarch64-linux-gnu-g++"
QEMU = "qemu-aarch64"
SYSROOT = "/usr/aarch64-linux-gnu"

TARGETS = {  # name: (compiler, machine as platform.machine() reports it there, extra flags, runner)
    "aarch64": (CROSS_CXX, "aarch64", [], [QEMU, "-L", SYSROOT]),
    "aarch64-ucontext": (CROSS_CXX, "aarch64", ["-DCUDA_EMU_UCONTEXT"], [QEMU, "-L", SYSROOT]),
    "native": ("g++", platform.machine(), [], []),
    "native-ucontext": ("g++", platform.machine(), ["-DCUDA_EMU_UCONTEXT"], []),
}


def _load(name, machine):
    """A private copy of one runtime module; emu_build sees `machine` as the platform."""
    if name == "emu_build":  # inside the package: it imports emu_toolchain
        spec = importlib.util.spec_from_file_location(f"tinygrad_cu.runtime._emu_build_{machine}",
                                                      os.path.join(RUNTIME, "emu_build.py"))
        module = importlib.util.module_from_spec(spec)
        module.__package__ = "tinygrad_cu.runtime"
        with mock.patch("platform.machine", return_value=machine):
            spec.loader.exec_module(module)
        return module
    spec = importlib.util.spec_from_file_location(f"_{name}", os.path.join(RUNTIME, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def loader_flags(machine, cxx=None):
    """The flags emu.SourceModule passes to `cxx` on `machine` (normal mode), minus -shared.
    The compiler's own probe decides OpenMP and the half type (aarch64 g++ < 13: __fp16)."""
    return [f for f in _load("emu_build", machine).flags_for(None, [], cxx=cxx) if f != "-shared"]


def missing_tools(target):
    cxx, _, _, runner = TARGETS[target]
    return [t for t in [cxx] + runner[:1] if shutil.which(t) is None]


def generate_units(directory, cxx):
    """Write <name>.emu.cpp for each kernel source, as emu.SourceModule._build makes it,
    and emu_units.inc that includes them all."""
    emu_source = _load("emu_source", None)
    includes = []
    for path in SOURCES:
        with open(path) as f:
            source = f.read()
        analysis = emu_source.analyse(emu_source.preprocess(source, cxx, [], [], os.path.join(RUNTIME, "include")))
        unit = emu_source.translation_unit(source, analysis, False, path)
        name = os.path.splitext(os.path.basename(path))[0] + ".emu.cpp"
        with open(os.path.join(directory, name), "w") as f:
            f.write(unit)
        includes.append(f'#include "{name}"\n')
    with open(os.path.join(directory, "emu_units.inc"), "w") as f:
        f.writelines(includes)


def build(target, directory, flags=None):
    """Compile driver.cpp for `target` into `directory`; returns (executable, command).
    From threads, pass `flags` computed beforehand: loader_flags patches the global
    platform.machine while it runs, which must not overlap another thread's loading."""
    cxx, machine, extra, _ = TARGETS[target]
    os.makedirs(directory, exist_ok=True)
    generate_units(directory, cxx)
    exe = os.path.join(directory, "driver-" + target)
    flags = loader_flags(machine, cxx) if flags is None else flags
    cmd = [cxx] + flags + extra + ["-I", directory, os.path.join(HERE, "driver.cpp"), "-o", exe]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"{target}: compiling failed:\n{' '.join(cmd)}\n{result.stderr[-6000:]}")
    return exe, cmd


def build_all(targets, directory):
    """build() for each target in parallel (g++ runs in subprocesses); {target: (exe, cmd)}."""
    flags = {t: loader_flags(TARGETS[t][1], TARGETS[t][0]) for t in targets}  # before any thread starts
    with ThreadPoolExecutor(max_workers=max(1, min(len(targets), os.cpu_count() or 1))) as pool:
        futures = {t: pool.submit(build, t, os.path.join(directory, t), flags[t]) for t in targets}
        return {t: f.result() for t, f in futures.items()}


def run(target, exe, threads=4, timeout=120):
    """Run the driver; returns (ok, output)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    result = subprocess.run(TARGETS[target][3] + [exe], capture_output=True, text=True, env=env, timeout=timeout)
    out = result.stdout + result.stderr
    return result.returncode == 0 and out.rstrip().endswith("ALL OK"), out


def main(argv):
    keep = None
    if "--keep" in argv:
        i = argv.index("--keep")
        keep = argv[i + 1]
        argv = argv[:i] + argv[i + 2:]
    targets = argv or ["aarch64", "aarch64-ucontext", "native", "native-ucontext"]
    status = 0
    for target in [t for t in targets if missing_tools(t)]:
        print(f"== {target}: skipped, not on PATH: {', '.join(missing_tools(target))}")
    targets = [t for t in targets if not missing_tools(t)]
    with tempfile.TemporaryDirectory(prefix="emu_cross_") as tmp:
        built = build_all(targets, keep or tmp)
        for target in targets:
            exe, cmd = built[target]
            print(f"== {target}: {' '.join(cmd)}")
            ok, out = run(target, exe)
            print(out, end="")
            status |= not ok
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
