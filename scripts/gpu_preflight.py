"""Before the GPU check spends device minutes: is everything there that building PyCUDA
and running the tests need? Names each missing piece and exits 1 if any is.

    python scripts/gpu_preflight.py [--sdist-dir .gpu] [--libcuda PATH]

Checks: nvcc (runs, version), cuda.h (the real CUDA install, scripts/cuda_toolkit.py),
Python.h of this interpreter, the C and C++ compilers setuptools will call, a
libcuda.so.1 to link against, numpy (PyCUDA's build reads its headers), setuptools and
wheel (installed, or as wheels in --sdist-dir), the test tools (pytest, hypothesis,
networkx); with --sdist-dir also the PyCUDA sdist and its dependencies' wheels (or an
already built PyCUDA wheel).
"""
import argparse
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuda_toolkit  # noqa: E402
from pycuda_build import BUILD_TOOLS, RUNTIME_DEPS  # noqa: E402

TEST_TOOLS = ("numpy", "networkx", "pytest", "hypothesis")


def wheel_in(folder, name):
    """A wheel (or sdist) of `name` in folder, whatever the spelling (mako / Mako, - / _)."""
    want = re.sub(r"[-_.]+", "_", name).lower()
    for path in glob.glob(os.path.join(folder, "*")):
        base = os.path.basename(path)
        if base.endswith((".whl", ".tar.gz")) and re.sub(r"[-_.]+", "_", base).lower().startswith(want + "_"):
            return path
    return None


def checks(sdist_dir=None, libcuda=None):
    """[(what, ok, detail)] in the order a person would fix them."""
    out = []
    nvcc = cuda_toolkit.find_nvcc()
    if nvcc:
        try:
            text = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=60).stdout
            m = re.search(r"release (\d+\.\d+)", text)
            out.append(("nvcc", bool(m), f"{nvcc}, release {m.group(1)}" if m else f"{nvcc} printed no release"))
        except (OSError, subprocess.TimeoutExpired) as e:
            out.append(("nvcc", False, f"{nvcc} does not run: {e}"))
    else:
        out.append(("nvcc", False, "not on PATH (install the CUDA toolkit, or add its bin/ to PATH)"))
    root, include, how = cuda_toolkit.find_cuda_root()
    out.append(("cuda.h", include is not None,
                f"{include}/cuda.h (CUDA {cuda_toolkit.cuda_version(include)}, CUDA_ROOT {root}, by {how})"
                if include else how))
    inc, has = cuda_toolkit.python_include()
    out.append(("Python.h", has, f"{inc}/Python.h" if has else
                f"not in {inc} (install the Python development headers, e.g. python3-dev)"))
    cc = (sysconfig.get_config_var("CC") or "gcc").split()[0]
    out.append(("C compiler", shutil.which(cc) is not None, shutil.which(cc) or f"{cc!r} (sysconfig CC) not on PATH"))
    cxx_path, cxx = cuda_toolkit.find_cxx()
    out.append(("g++", cxx_path is not None, cxx_path or f"{cxx!r} not on PATH (apt-get install g++)"))
    found = libcuda or cuda_toolkit.find_libcuda(root)
    out.append(("libcuda.so.1", found is not None and os.path.exists(found),
                found or "no driver library (ldconfig -p, " + ", ".join(cuda_toolkit.DRIVER_FOLDERS)
                + ") and no stubs/libcuda.so in the toolkit"))
    for mod in TEST_TOOLS:
        spec = importlib.util.find_spec(mod)
        out.append((mod, spec is not None, spec.origin if spec else f"not importable by {sys.executable}"))
    for tool in BUILD_TOOLS:
        spec = importlib.util.find_spec(tool)
        carried = wheel_in(sdist_dir, tool) if sdist_dir else None
        out.append((tool, bool(spec or carried), (spec.origin if spec else carried) or
                    f"not importable and no wheel in {sdist_dir or '(no --sdist-dir)'}"))
    if sdist_dir:
        built = glob.glob(os.path.join(sdist_dir, "**", "pycuda-*.whl"), recursive=True)
        sdist = sorted(glob.glob(os.path.join(sdist_dir, "pycuda-*.tar.gz")))
        out.append(("PyCUDA sdist", bool(sdist or built), (sdist or built or
                    [f"no pycuda-*.tar.gz in {sdist_dir} (scripts/gpu_prepare.sh)"])[-1]))
        for dep in RUNTIME_DEPS:
            path = wheel_in(sdist_dir, dep)
            spec = importlib.util.find_spec(dep)
            out.append((dep, bool(path or spec), path or (spec.origin if spec else f"no wheel in {sdist_dir}")))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist-dir", help="the carried folder: PyCUDA's sdist and the wheels it needs")
    parser.add_argument("--libcuda", help="the libcuda.so.1 to link against (default: found)")
    args = parser.parse_args()
    results = checks(args.sdist_dir, args.libcuda)
    width = max(len(w) for w, _, _ in results)
    for what, ok, detail in results:
        print(f"{what:{width}s}  {'ok     ' if ok else 'MISSING'}  {detail}")
    missing = [w for w, ok, _ in results if not ok]
    print("preflight: " + ("all found" if not missing else "missing: " + ", ".join(missing)))
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
