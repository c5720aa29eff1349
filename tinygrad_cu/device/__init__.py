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
        return _make_emu()
    if name == "cuda":
        return _make_cuda()
    raise ValueError(f"unknown device {name!r}; choose one of {NAMES}")


def _make_emu():
    """The emulator, if a C++ compiler is here; its reason names the compiler and whether
    OpenMP spreads the blocks (tg.devices() shows it)."""
    import shutil
    import sys
    from ..runtime import emu, emu_toolchain
    cxx = emu_toolchain.compiler()
    if sys.platform.startswith("win"):
        return UnavailableDevice("emu", "the emulator runs on Linux and macOS; on Windows, run tinygrad_cu "
                                 "inside WSL (wsl --install, then sudo apt-get install g++)")
    if shutil.which(cxx) is None:
        return UnavailableDevice("emu", f"the emulator needs a C++ compiler and {cxx!r} is not on PATH. "
                                 + emu_toolchain.how_to_get_a_compiler())
    try:
        described = emu_toolchain.toolchain(cxx).describe()
    except emu_toolchain.ToolchainError as e:
        return UnavailableDevice("emu", str(e))
    device = GPUDevice("emu", emu, emu.SourceModule)
    device.reason = f"ready: {described}"
    return device


def _make_cuda():
    """The PyCUDA device, or an UnavailableDevice that names every missing part
    (PyCUDA, libcuda.so.1, a GPU, nvcc: tinygrad_cu/device/cuda_probe.py)."""
    from . import cuda_probe
    found = cuda_probe.probe()
    if found.missing():
        return UnavailableDevice("cuda", found.describe())
    try:
        import pycuda.driver as driver
        driver.init()
        # GPU 0's primary context, the one the CUDA runtime uses: PyTorch or CuPy in the
        # same process then share it instead of switching between two contexts.
        import pycuda.autoprimaryctx  # noqa: F401
        from pycuda.compiler import SourceModule
    except Exception as e:  # every part is there, yet PyCUDA cannot start (context creation, ...)
        return UnavailableDevice("cuda", f"PyCUDA could not start the device ({type(e).__name__}: {e}) "
                                 f"-- found: {', '.join(found.found())}")
    device = GPUDevice("cuda", driver, SourceModule)
    device.reason = found.describe()            # "ready: GPU 0 <name> (compute capability ...)"
    return device


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
    reason = _devices[name].reason
    if name == "emu":   # the fault guard is built at the first kernel load, so asked each time
        from ..runtime import emu_guard
        guard = emu_guard.status()
        reason += ", fault guard " + ("on" if guard == "on" else
                                      "not built yet (at the first kernel load)" if guard == "not built yet"
                                      else f"off: {guard}")
    return True, reason


def set_default_device(name):
    get_device(name)
    _default[0] = name


def default_device():
    return _default[0]
