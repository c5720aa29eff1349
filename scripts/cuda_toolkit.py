"""Where the CUDA toolkit and the NVIDIA driver library really are on this machine.

Shared by scripts/gpu_preflight.py, scripts/pycuda_build.py and scripts/stub_libcuda.py
(and through them by scripts/gpu_check.sh and tests/test_gpu_check.py), so that the GPU
check and its CI test find things the same way.

Why not PyCUDA's own guess: PyCUDA's setup.py takes CUDA_ROOT as the folder above the
first `nvcc` on PATH. On many machines that `nvcc` is a wrapper script (here
/usr/local/bin/nvcc runs /usr/local/cuda-13.0/bin/nvcc), so the guess is /usr/local and
`cuda.h` is not found. nvcc itself knows its install: `nvcc --dryrun` prints the TOP
folder and the -I folder it compiles against, whatever wrapper or symlink launched it.
"""
import glob
import os
import re
import shutil
import subprocess
import sysconfig
import tempfile

ROOT_VARIABLES = ("CUDA_ROOT", "CUDA_HOME", "CUDA_PATH")
ROOT_GUESSES = ("/usr/local/cuda", "/opt/cuda", "/usr")
DRIVER_FOLDERS = ("/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu",
                  "/usr/lib64", "/usr/lib", "/usr/lib/wsl/lib")


def find_nvcc():
    """The nvcc that PATH gives (maybe a wrapper), or None."""
    return shutil.which("nvcc")


def _nvcc_dryrun(nvcc):
    """nvcc's own view of its install: {'TOP': ..., 'INCLUDES': [...]} from `--dryrun`."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "empty.cu")
        open(src, "w").close()
        try:
            out = subprocess.run([nvcc, "--dryrun", "-c", src, "-o", os.path.join(tmp, "empty.o")],
                                 capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return {}
    found = {}
    for line in (out.stdout + out.stderr).splitlines():
        m = re.match(r"#\$ (TOP|INCLUDES)=(.*)", line.strip())
        if m and m.group(1) not in found:
            value = m.group(2).strip()
            found[m.group(1)] = re.findall(r'-I"?([^"\s]+)"?', value) if m.group(1) == "INCLUDES" else value
    return found


def _has_cuda_h(folder):
    return bool(folder) and os.path.isfile(os.path.join(folder, "cuda.h"))


def find_cuda_root():
    """(CUDA_ROOT, the folder holding cuda.h, how it was found), or (None, None, why not).

    Order: $CUDA_ROOT / $CUDA_HOME / $CUDA_PATH, then what `nvcc --dryrun` says, then
    the real path of nvcc, then the usual install folders."""
    for var in ROOT_VARIABLES:
        root = os.environ.get(var)
        if root and _has_cuda_h(os.path.join(root, "include")):
            return os.path.realpath(root), os.path.realpath(os.path.join(root, "include")), f"${var}"
    nvcc = find_nvcc()
    if nvcc:
        info = _nvcc_dryrun(nvcc)
        top = info.get("TOP")
        includes = [d for d in info.get("INCLUDES", []) if _has_cuda_h(d)]
        if top and (includes or _has_cuda_h(os.path.join(top, "include"))):
            inc = includes[0] if includes else os.path.join(top, "include")
            return os.path.realpath(top), os.path.realpath(inc), f"`{nvcc} --dryrun`"
        real = os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
        if _has_cuda_h(os.path.join(real, "include")):
            return real, os.path.join(real, "include"), f"the real path of {nvcc}"
    for root in list(ROOT_GUESSES) + sorted(glob.glob("/usr/local/cuda-*"), reverse=True):
        if _has_cuda_h(os.path.join(root, "include")):
            return os.path.realpath(root), os.path.realpath(os.path.join(root, "include")), root
    why = "nvcc is not on PATH" if nvcc is None else f"{nvcc} --dryrun names no folder with cuda.h"
    return None, None, f"no cuda.h found ({why}; $CUDA_ROOT/$CUDA_HOME unset; none in {', '.join(ROOT_GUESSES)})"


def cuda_version(include_dir):
    """'13.0' from cuda.h's CUDA_VERSION (13000), or None."""
    try:
        with open(os.path.join(include_dir, "cuda.h")) as f:
            m = re.search(r"#define\s+CUDA_VERSION\s+(\d+)", f.read())
    except OSError:
        return None
    return f"{int(m.group(1)) // 1000}.{int(m.group(1)) % 1000 // 10}" if m else None


def find_libcuda(cuda_root=None):
    """Path of the driver library libcuda.so.1 (the loader's cache first, then the usual
    driver folders), else the toolkit's link-time stub lib64/stubs/libcuda.so; or None."""
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        out = ""
    for line in out.splitlines():
        m = re.match(r"\s*libcuda\.so\.1 \(([^)]*)\) => (\S+)", line)
        if m and ("x86-64" in m.group(1) or "64" in m.group(1)) and os.path.exists(m.group(2)):
            return m.group(2)
    folders = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if d] + list(DRIVER_FOLDERS)
    for folder in folders:
        path = os.path.join(folder, "libcuda.so.1")
        if os.path.exists(path):
            return path
    if cuda_root:
        for sub in ("lib64/stubs", "lib/stubs", "targets/x86_64-linux/lib/stubs"):
            path = os.path.join(cuda_root, sub, "libcuda.so")
            if os.path.exists(path):
                return path
    return None


def make_link_folder(libcuda, parent=None):
    """A temp folder whose libcuda.so links to `libcuda`: the linker's -lcuda needs the
    unversioned name, which a driver install (libcuda.so.1 only) often lacks."""
    folder = tempfile.mkdtemp(prefix="libcuda-link-", dir=parent)
    os.symlink(os.path.realpath(libcuda), os.path.join(folder, "libcuda.so"))
    return folder


def python_include():
    """(folder, True if Python.h is there) for the running interpreter."""
    inc = sysconfig.get_paths()["include"]
    return inc, os.path.isfile(os.path.join(inc, "Python.h"))


def find_cxx():
    """The C++ compiler that setuptools will call (g++ unless $CXX says otherwise)."""
    cxx = os.environ.get("CXX", "g++").split()[0]
    return shutil.which(cxx), cxx
