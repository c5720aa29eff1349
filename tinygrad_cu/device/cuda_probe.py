"""What the `cuda` device needs, each part checked on its own, so that `tg.devices()` can
say exactly which is missing: PyCUDA, the driver library libcuda.so.1, a GPU, nvcc.

The driver is asked directly through ctypes (cuInit, cuDeviceGetCount, cuDeviceGetName,
the compute capability attributes, cuDeviceTotalMem), not through PyCUDA: so a machine
with a GPU but no PyCUDA still learns that it has a GPU, and which one. Nothing here
creates a CUDA context; `_make_cuda` does that, through PyCUDA, once all parts are there.
"""
import ctypes
import importlib.util
import re
import shutil
import subprocess

MIN_PYCUDA = (2025, 1, 2)            # the first release that builds against CUDA 13
PYCUDA_HINT = "pip install 'tinygrad_cu[cuda]' (pycuda>=2025.1.2), or scripts/pycuda_build.py offline"
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 75, 76
# The driver's own cuGetErrorName may be missing or fail (an old or stub driver): the codes
# a probe meets, from cuda.h's CUresult.
ERROR_NAMES = {1: "CUDA_ERROR_INVALID_VALUE", 2: "CUDA_ERROR_OUT_OF_MEMORY", 3: "CUDA_ERROR_NOT_INITIALIZED",
               4: "CUDA_ERROR_DEINITIALIZED", 100: "CUDA_ERROR_NO_DEVICE", 101: "CUDA_ERROR_INVALID_DEVICE",
               304: "CUDA_ERROR_OPERATING_SYSTEM", 803: "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
               804: "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE", 999: "CUDA_ERROR_UNKNOWN"}


class CudaProbe:
    """Each part: a found value (version, path, GPU list) or a `*_problem` string."""

    def __init__(self):
        self.pycuda_version = self.pycuda_problem = None
        self.libcuda_path = self.libcuda_problem = None
        self.driver_version = None
        self.gpus, self.gpu_problem = [], None
        self.nvcc_path = self.nvcc_version = self.nvcc_problem = None

    def missing(self):
        """['PyCUDA (...)', 'a GPU (...)', ...]: what stops the device, with why."""
        out = []
        if self.pycuda_problem:
            out.append(f"PyCUDA ({self.pycuda_problem})")
        if self.libcuda_problem:
            out.append(f"the driver library libcuda.so.1 ({self.libcuda_problem})")
        if self.gpu_problem:
            out.append(f"a GPU ({self.gpu_problem})")
        if self.nvcc_problem:
            out.append(f"nvcc ({self.nvcc_problem})")
        return out

    def found(self):
        out = []
        if self.gpus:
            out.append("; ".join(f"GPU {i} {g['name']} (compute capability {g['compute_capability']}, "
                                 f"{g['memory_bytes'] / 2**30:.1f} GiB)" for i, g in enumerate(self.gpus)))
        if self.libcuda_path:
            driver = f", CUDA {self.driver_version}" if self.driver_version else ""
            out.append(f"libcuda.so.1 at {self.libcuda_path}{driver}")
        if self.pycuda_version:
            out.append(f"PyCUDA {self.pycuda_version}")
        if self.nvcc_path:
            out.append(f"nvcc {self.nvcc_version or '(version unknown)'} at {self.nvcc_path}")
        return out

    def describe(self):
        """One line for tg.devices(): what is missing first, then what was found."""
        missing, found = self.missing(), self.found()
        head = ("ready: " if not missing else "missing: " + "; ".join(missing))
        tail = ", ".join(found)
        if not missing:
            return head + tail
        return head + (f" -- found: {tail}" if tail else "")


def _version_tuple(text):
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def probe_pycuda(p):
    if importlib.util.find_spec("pycuda") is None:
        p.pycuda_problem = f"not installed; {PYCUDA_HINT}"
        return
    try:
        from importlib.metadata import version
        p.pycuda_version = version("pycuda")
    except Exception:
        p.pycuda_version = "(version unknown)"
    try:
        import pycuda.driver  # noqa: F401  (loads PyCUDA's _driver extension and, through it, libcuda.so.1)
    except Exception as e:
        p.pycuda_problem = f"{p.pycuda_version} is installed but `import pycuda.driver` failed: {e}"
        return
    ver = _version_tuple(p.pycuda_version)
    if ver and ver < MIN_PYCUDA:
        p.pycuda_version += " (older than 2025.1.2: may not work with CUDA 13)"


def _library_path(lib, symbol):
    """The file a loaded library came from, by dladdr() on one of its symbols."""
    class DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]
    try:
        libc = ctypes.CDLL(None)
        info = DlInfo()
        if libc.dladdr(ctypes.cast(getattr(lib, symbol), ctypes.c_void_p), ctypes.byref(info)):
            return info.dli_fname.decode()
    except Exception:
        pass
    return "libcuda.so.1"


def _error_name(lib, code):
    name = ctypes.c_char_p()
    try:
        if lib.cuGetErrorName(code, ctypes.byref(name)) == 0 and name.value:
            return f"{name.value.decode()} ({code})"
    except Exception:
        pass
    return f"{ERROR_NAMES.get(code, 'CUresult')} ({code})"


def probe_driver(p, library="libcuda.so.1"):
    try:
        lib = ctypes.CDLL(library)
    except OSError as e:
        p.libcuda_problem = "not found: no NVIDIA driver is installed, or its folder is not on the loader path"
        p.gpu_problem = "cannot be looked for without the driver library"
        return
    p.libcuda_path = _library_path(lib, "cuInit")
    version = ctypes.c_int()
    if lib.cuDriverGetVersion(ctypes.byref(version)) == 0 and version.value:
        p.driver_version = f"{version.value // 1000}.{version.value % 1000 // 10}"
    rc = lib.cuInit(0)
    if rc != 0:
        p.gpu_problem = (f"cuInit: {_error_name(lib, rc)}"
                         + (", the driver sees no GPU" if rc == 100 else ", the driver could not start"))
        return
    count = ctypes.c_int()
    rc = lib.cuDeviceGetCount(ctypes.byref(count))
    if rc != 0 or count.value == 0:
        p.gpu_problem = f"cuDeviceGetCount: {_error_name(lib, rc) if rc else '0 devices'}"
        return
    lib.cuDeviceTotalMem_v2.argtypes = [ctypes.POINTER(ctypes.c_size_t), ctypes.c_int]
    for ordinal in range(count.value):
        dev, name, major, minor, mem = ctypes.c_int(), ctypes.create_string_buffer(256), ctypes.c_int(), \
            ctypes.c_int(), ctypes.c_size_t()
        rcs = [lib.cuDeviceGet(ctypes.byref(dev), ordinal),
               lib.cuDeviceGetName(name, len(name), dev),
               lib.cuDeviceGetAttribute(ctypes.byref(major), CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev),
               lib.cuDeviceGetAttribute(ctypes.byref(minor), CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev),
               lib.cuDeviceTotalMem_v2(ctypes.byref(mem), dev)]
        bad = [rc for rc in rcs if rc != 0]
        if bad:
            p.gpu_problem = f"GPU {ordinal} could not be queried: {_error_name(lib, bad[0])}"
            return
        p.gpus.append(dict(name=name.value.decode(errors="replace"), compute_capability=f"{major.value}.{minor.value}",
                           memory_bytes=mem.value))


def probe_nvcc(p):
    p.nvcc_path = shutil.which("nvcc")
    if p.nvcc_path is None:
        p.nvcc_path = None
        p.nvcc_problem = "not on PATH; PyCUDA compiles the .cu kernels with it (install the CUDA toolkit)"
        return
    try:
        out = subprocess.run([p.nvcc_path, "--version"], capture_output=True, text=True, timeout=60).stdout
        m = re.search(r"release (\d+\.\d+)", out)
        p.nvcc_version = m.group(1) if m else None
    except (OSError, subprocess.TimeoutExpired) as e:
        p.nvcc_problem = f"{p.nvcc_path} does not run: {e}"


def probe(library="libcuda.so.1"):
    p = CudaProbe()
    probe_pycuda(p)
    probe_driver(p, library)
    probe_nvcc(p)
    return p
