"""Devices: `cpu` (numpy), `emu` (CUDA C on the CPU emulator), `cuda` (PyCUDA).

`get_device(name)` creates each device once, on first use, so that importing
tinygrad_cu never compiles kernels or touches a GPU driver.
"""
import os

from .cpu import CPUDevice
from .gpu import DeviceArray, GPUDevice, UnavailableDevice

NAMES = ("cpu", "emu", "cuda")
_devices = {}
_default = [os.environ.get("TINYGRAD_CU_DEVICE", "cpu")]


def _make(name):
    if name == "cpu":
        return CPUDevice()
    if name == "emu":
        import shutil
        from ..runtime import emu, emu_build
        if shutil.which(emu_build.compiler()) is None:
            return UnavailableDevice("emu", f"the emulator needs a C++ compiler and "
                                     f"{emu_build.compiler()!r} is not on PATH "
                                     "(install g++, or set TINYGRAD_CU_EMU_CXX)")
        return GPUDevice("emu", emu, emu.SourceModule)
    if name == "cuda":
        return _make_cuda()
    raise ValueError(f"unknown device {name!r}; choose one of {NAMES}")


def _make_cuda():
    try:
        import pycuda.driver as driver
        driver.init()
        if driver.Device.count() == 0:
            return UnavailableDevice("cuda", "no NVIDIA GPU found by the CUDA driver")
        import pycuda.autoinit  # noqa: F401  (creates the context on GPU 0)
        from pycuda.compiler import SourceModule
    except ImportError as e:
        return UnavailableDevice("cuda", f"PyCUDA is not installed ({e}); pip install '.[cuda]'")
    except Exception as e:  # driver present but unusable: no GPU, no libcuda, ...
        return UnavailableDevice("cuda", f"the CUDA driver could not start: {e}")
    return GPUDevice("cuda", driver, SourceModule)


def get_device(name=None):
    """The device object for `name` ('cpu', 'emu', 'cuda'; None = the default)."""
    if name is None:
        name = _default[0]
    if not isinstance(name, str):
        name = getattr(name, "name", name)
    name = str(name).split(":")[0]
    if name not in _devices:
        _devices[name] = _make(name)
    dev = _devices[name]
    if not dev.available:
        raise RuntimeError(f"device {name!r} is not available: {dev.reason}")
    return dev


def device_status(name):
    """(available, reason) without raising: for `tg.devices()` and test skips."""
    try:
        get_device(name)
    except RuntimeError:
        return False, _devices[name].reason if name in _devices else "not available"
    except Exception as e:  # e.g. the emulator cannot find a compiler
        return False, str(e)
    return True, _devices[name].reason


def set_default_device(name):
    get_device(name)
    _default[0] = name


def default_device():
    return _default[0]
