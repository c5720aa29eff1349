"""The emulator's C++ runtime on aarch64, checked from this x86-64 machine: the
kernels' generated translation units and tests/emu_aarch64/driver.cpp are cross-compiled
with the loader's flags and run under qemu-aarch64 (user-mode emulation), with the
aarch64 assembly fiber switch and with the ucontext fallback; the same driver built
natively is the control. See tests/emu_aarch64/build.py, and docs/emulator.md.

Needs aarch64-linux-gnu-g++ and qemu-aarch64 (Debian: apt-get install
g++-aarch64-linux-gnu qemu-user); skipped, with the reason printed, without them."""
import importlib.util
import os
import shutil

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("emu_cross_build", os.path.join(HERE, "emu_aarch64", "build.py"))
cross = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cross)

TARGETS = ["aarch64", "aarch64-ucontext", "native"]


def test_loader_flags_on_aarch64_have_no_x86_options():
    """emu_build's flags as computed on an aarch64 machine: FMA contraction as nvcc does,
    but no -mfma (an x86 option aarch64 g++ rejects; aarch64 always has FMA)."""
    flags = cross.loader_flags("aarch64")
    assert "-ffp-contract=fast" in flags
    assert not [f for f in flags if f.startswith("-m")], flags


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    missing = [t for t in (cross.CROSS_CXX, cross.QEMU, "g++") if shutil.which(t) is None]
    if missing or not os.path.isdir(cross.SYSROOT):
        why = f"not on PATH: {', '.join(missing)}" if missing else f"no aarch64 sysroot at {cross.SYSROOT}"
        msg = f"aarch64 cross check skipped ({why}; apt-get install g++-aarch64-linux-gnu qemu-user)"
        print(msg)
        pytest.skip(msg)
    return cross.build_all(TARGETS, str(tmp_path_factory.mktemp("emu_cross")))


@pytest.mark.parametrize("target", TARGETS)
def test_runtime_driver(built, target):
    exe, cmd = built[target]
    ok, out = cross.run(target, exe, threads=4, timeout=60)
    assert ok, f"{' '.join(cmd)}\n{out}"
    fibers = "ucontext" if target.endswith("ucontext") else "assembly-switch"
    arch = "aarch64" if target.startswith("aarch64") else None
    first = out.splitlines()[0]
    assert fibers + " fibers" in first and (arch is None or arch in first), first
