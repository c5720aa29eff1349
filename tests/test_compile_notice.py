"""The first compile of a kernel file says so, once; a cached file is silent; tg.warmup
compiles every kernel file of a device up front (tinygrad_cu/device/compile_notice.py,
warmup.py). A small test kernel file stands in for ops/ so that compiling it into an
empty cache takes seconds, not minutes."""
import os

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.device import gpu, warmup

KERNELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "emu_kernels")


@pytest.fixture
def emu_device_on_test_kernels(monkeypatch, tmp_path):
    ok, reason = tg.device_status("emu")
    if not ok:
        pytest.skip(f"emu is not available here: {reason}")
    from tinygrad_cu.runtime import emu
    monkeypatch.setenv("TINYGRAD_CU_CACHE", str(tmp_path / "cache"))      # an empty cache: a real compile
    monkeypatch.setattr(gpu, "ops_dir", lambda: KERNELS)
    monkeypatch.setattr(warmup, "ops_dir", lambda: KERNELS)
    return lambda: gpu.GPUDevice("emu", emu, emu.SourceModule)


def test_first_compile_is_announced_once_then_cached_silently(emu_device_on_test_kernels, capsys):
    device = emu_device_on_test_kernels()
    device.function("elementwise.cu", "vector_add")
    device.function("elementwise.cu", "square_forward")          # same file: no second notice
    err = capsys.readouterr().err
    assert err.count("compiling ops/elementwise.cu") == 1, err
    assert "first use; cached afterwards in" in err and "ready in" in err, err
    # a new process's device (a fresh GPUDevice) finds the file in the disk cache: silent
    emu_device_on_test_kernels().function("elementwise.cu", "vector_add")
    assert "compiling" not in capsys.readouterr().err


def test_the_compiled_kernel_still_runs(emu_device_on_test_kernels, capsys):
    device = emu_device_on_test_kernels()
    a, b = np.arange(5, dtype=np.float32), np.full(5, 2.0, np.float32)
    da, db, dc = device.from_numpy(a), device.from_numpy(b), device.empty((5,), np.float32)
    device.launch("elementwise.cu", "vector_add", (1,), (32,), da, db, dc, np.int32(5))
    assert device.to_numpy(dc).tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]


def test_warmup_compiles_every_kernel_file_without_per_file_notices(emu_device_on_test_kernels, capsys,
                                                                     monkeypatch):
    device = emu_device_on_test_kernels()
    monkeypatch.setattr(tg.device, "get_device", lambda name=None: device)
    seconds = tg.warmup("emu")
    assert sorted(seconds) == ["elementwise.cu", "shared_memory.cu"]
    assert set(device._modules) == {"elementwise.cu", "shared_memory.cu"}
    err = capsys.readouterr().err
    assert "emu: ops/elementwise.cu ready in" in err and "compiling ops/" not in err, err   # not a terminal: a line per file


def test_warmup_on_cpu_has_nothing_to_compile():
    assert tg.warmup("cpu") == {}


def test_a_driver_that_cannot_say_whether_it_compiles_is_announced_at_first_load(monkeypatch, capsys):
    """PyCUDA's SourceModule has no on_compile: `cuda` says it is loading (nvcc may run)
    and how long it took, once per file in a process. A stand-in module class shows it
    here without a GPU."""
    made = []

    class SourceModuleWithoutHook:          # PyCUDA's signature: no on_compile keyword
        def __init__(self, source, options=None, include_dirs=()):
            made.append(source)

        def get_function(self, name):
            return name

    monkeypatch.setattr(gpu, "ops_dir", lambda: KERNELS)
    device = gpu.GPUDevice("cuda", driver=None, source_module=SourceModuleWithoutHook, memory_pool=object())
    assert device.function("elementwise.cu", "vector_add") == "vector_add"
    device.function("elementwise.cu", "square_forward")
    err = capsys.readouterr().err
    assert len(made) == 1 and err.count("cuda: loading ops/elementwise.cu") == 1, err
    assert "nvcc compiles it" in err and "cuda: ops/elementwise.cu ready in" in err, err
