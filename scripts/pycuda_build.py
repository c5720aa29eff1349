"""Configure and build PyCUDA from its sdist, offline, and install it into a folder of its own.

    python scripts/pycuda_build.py --sdist-dir .gpu --wheel-cache .gpu/wheels --target /tmp/site
        [--libcuda PATH] [--jobs N] [--keep-wheel-in $OUT]

One code path for scripts/gpu_check.sh (a GPU machine, maybe without a package
registry) and tests/test_gpu_check.py (CI, against a stub libcuda.so.1). The steps, each
one of the ways a plain `pip install pycuda` fails on such a machine:

1. CUDA_ROOT from the real CUDA install (scripts/cuda_toolkit.py: `nvcc --dryrun`), not
   PyCUDA's guess, the folder above the `nvcc` on PATH, which may be a wrapper script.
2. `-lcuda` needs an unversioned libcuda.so; a driver install has libcuda.so.1 only.
   We link from a temp folder holding libcuda.so -> the driver's libcuda.so.1.
3. curand off (PyCUDA turns it on by default; tinygrad_cu draws random numbers itself and
   a machine may have no libcurand), OpenGL off, PyCUDA's shipped Boost subset.
4. The configuration goes into the unpacked sdist's siteconf.py. PyCUDA reads
   /etc/aksetup-defaults.py, then ~/.aksetup-defaults.py, then siteconf.py, the last one
   winning: so an old file in the home folder cannot override us, and we write nothing
   into anyone's home (which a CI test must not do).
5. `pip wheel --no-build-isolation --no-index`: no registry needed. The build tools
   (setuptools, wheel) and numpy must then be importable; missing ones are installed
   from --find-links into a private folder on PYTHONPATH ("invalid command 'bdist_wheel'"
   is what a missing `wheel` looks like).
6. The wheel is kept in --wheel-cache under a key of PyCUDA version, Python and CUDA
   version; a later run with the same key installs it without compiling.

Prints the wheel used, the cache key and the build time; the last line is
`PYCUDA_WHEEL=<path>`.
"""
import argparse
import contextlib
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cuda_toolkit  # noqa: E402

BUILD_TOOLS = ("setuptools", "wheel", "packaging")        # packaging: wheel's one dependency
# PyCUDA's run-time dependencies (pytools needs platformdirs, siphash24 and
# typing_extensions; mako needs markupsafe): what .gpu/ must hold besides the sdist.
RUNTIME_DEPS = ("pytools", "platformdirs", "siphash24", "typing_extensions", "mako", "markupsafe")


def find_sdist(sdist_dir):
    found = sorted(glob.glob(os.path.join(sdist_dir, "pycuda-*.tar.gz")))
    if not found:
        raise SystemExit(f"pycuda_build: no pycuda-*.tar.gz in {sdist_dir!r}; prepare it with "
                         f"scripts/gpu_prepare.sh (pip download --no-binary pycuda ...)")
    return found[-1]


def sdist_version(path):
    m = re.match(r"pycuda-(.+)\.tar\.gz$", os.path.basename(path))
    return m.group(1)


def cache_key(version, cuda):
    return f"pycuda-{version}-cuda{cuda}-{sys.implementation.cache_tag}-{sysconfig.get_platform()}"


def siteconf(cuda_root, include_dir, link_folder):
    """PyCUDA's configuration (keys of its setup.py's config schema), as siteconf.py text."""
    lib_dirs = [d for d in (os.path.join(cuda_root, "lib64"), os.path.join(cuda_root, "lib")) if os.path.isdir(d)]
    conf = dict(CUDA_ROOT=cuda_root, CUDA_INC_DIR=[include_dir],
                CUDADRV_LIB_DIR=[link_folder], CUDADRV_LIBNAME=["cuda"],
                CUDART_LIB_DIR=lib_dirs, CUDA_ENABLE_CURAND=False, CUDA_ENABLE_GL=False,
                USE_SHIPPED_BOOST=True)
    return ("# Written by tinygrad_cu's scripts/pycuda_build.py\n"
            + "".join(f"{k} = {v!r}\n" for k, v in conf.items()))


def importable(name, env):
    probe = subprocess.run([sys.executable, "-c", f"import {name}"], env=env, capture_output=True)
    return probe.returncode == 0


def pip(*args, env=None):
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def with_path(env, folder):
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (folder, env.get("PYTHONPATH")) if p)
    return env


def install_missing(names, find_links, target, env):
    """Install into `target`, from wheels only, those of `names` that `env` cannot import.

    One by one and --no-deps: a package the environment already has (numpy, or
    markupsafe on the GPU machine's image) is used as it is, not shadowed."""
    missing = [n for n in names if not importable(n, with_path(env, target))]
    if missing:
        if not find_links:
            raise SystemExit(f"pycuda_build: {', '.join(missing)} missing and no --find-links to install from")
        pip("install", "-q", "--no-index", "--no-deps", "--find-links", find_links, "--target", target,
            "--upgrade", *missing, env=env)
    return missing


def build_env(find_links, workdir):
    """os.environ plus, where setuptools or wheel is missing, a folder holding them."""
    if not importable("numpy", os.environ):
        raise SystemExit("pycuda_build: numpy is not importable by "
                         f"{sys.executable}; PyCUDA's build needs its headers")
    tools = os.path.join(workdir, "build-tools")
    install_missing(BUILD_TOOLS, find_links, tools, os.environ)
    return with_path(os.environ, tools)


def build_wheel(sdist, wheel_dir, libcuda, find_links, jobs, workdir):
    """Configure and build in `workdir`; the wheel lands in `wheel_dir`."""
    cuda_root, include_dir, how = cuda_toolkit.find_cuda_root()
    if cuda_root is None:
        raise SystemExit(f"pycuda_build: {how}")
    print(f"CUDA_ROOT={cuda_root} (found by {how}), cuda.h in {include_dir}")
    libcuda = libcuda or cuda_toolkit.find_libcuda(cuda_root)
    if libcuda is None:
        raise SystemExit("pycuda_build: no libcuda.so.1 found (ldconfig -p, "
                         + ", ".join(cuda_toolkit.DRIVER_FOLDERS) + ", the toolkit's stubs/)")
    link_folder = cuda_toolkit.make_link_folder(libcuda, workdir)
    print(f"linking against {libcuda} through {link_folder}/libcuda.so")
    with tarfile.open(sdist) as tar:
        tar.extractall(workdir, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(workdir)
    src = os.path.join(workdir, os.path.basename(sdist)[:-len(".tar.gz")])
    with open(os.path.join(src, "siteconf.py"), "w") as f:
        f.write(siteconf(cuda_root, include_dir, link_folder))
    env = build_env(find_links, workdir)
    if jobs > 1:
        env = with_path(env, parallel_compile_folder(workdir))
        env["TINYGRAD_CU_BUILD_JOBS"] = str(jobs)
    t0 = time.perf_counter()
    built_dir = os.path.join(workdir, "wheel")
    pip("wheel", "-q", "--no-build-isolation", "--no-index", "--no-deps", "--wheel-dir", built_dir, src, env=env)
    print(f"PyCUDA built in {time.perf_counter() - t0:.0f} s with {jobs} compile jobs")
    built = newest_wheel(built_dir)
    if built is None:
        raise SystemExit(f"pycuda_build: pip reported success but left no wheel in {built_dir}")
    # Into the cache in one rename, so a reader never sees half a wheel.
    partial = os.path.join(wheel_dir, "." + os.path.basename(built) + ".partial")
    shutil.copy2(built, partial)
    final = os.path.join(wheel_dir, os.path.basename(built))
    os.replace(partial, final)
    return final


@contextlib.contextmanager
def locked(path):
    """An exclusive lock on `path` (a file beside the cache entry): two runs sharing a
    cache (two test runs on one machine) build once, the second reuses the wheel."""
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def newest_wheel(folder):
    found = sorted(glob.glob(os.path.join(folder, "pycuda-*.whl")), key=os.path.getmtime)
    return found[-1] if found else None


# setuptools compiles one extension's sources one after another: PyCUDA's _driver has
# about 40, so on a 16-core GPU machine a serial build wastes most of its minutes. This
# sitecustomize.py, on PYTHONPATH for the build only, makes CCompiler.compile use a
# thread pool (numpy.distutils did the same), then runs the environment's own
# sitecustomize, if there is one, so nothing it set up is lost.
PARALLEL_SITECUSTOMIZE = '''\
import importlib.machinery, importlib.util, os, sys
from concurrent.futures import ThreadPoolExecutor

_JOBS = int(os.environ.get("TINYGRAD_CU_BUILD_JOBS", "1"))


def _parallel(ccompiler_class):
    if getattr(ccompiler_class.compile, "_tinygrad_cu_parallel", False):
        return
    serial = ccompiler_class.compile

    def compile(self, sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                extra_preargs=None, extra_postargs=None, depends=None):
        if _JOBS <= 1 or len(sources) < 2:
            return serial(self, sources, output_dir, macros, include_dirs, debug,
                          extra_preargs, extra_postargs, depends)
        macros, objects, extra_postargs, pp_opts, build = self._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = self._get_cc_args(pp_opts, debug, extra_preargs)

        def one(obj):
            src, ext = build[obj]
            self._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

        with ThreadPoolExecutor(_JOBS) as pool:
            list(pool.map(one, [o for o in objects if o in build]))
        return objects

    compile._tinygrad_cu_parallel = True
    ccompiler_class.compile = compile


class _PatchOnImport:
    """Patch CCompiler as soon as setuptools' (or the stdlib's) ccompiler module loads."""
    NAMES = ("setuptools._distutils.ccompiler", "distutils.ccompiler",
             "setuptools._distutils.compilers.C.base", "distutils.compilers.C.base")

    def find_spec(self, name, path=None, target=None):
        if name not in self.NAMES:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            cls = getattr(module, "CCompiler", None) or getattr(module, "Compiler", None)
            if cls is not None:
                _parallel(cls)
        loader.exec_module = exec_and_patch
        return spec


sys.meta_path.insert(0, _PatchOnImport())

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here])
if _spec is not None:
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
'''


def parallel_compile_folder(workdir):
    """A folder whose sitecustomize.py makes the build compile its sources in parallel."""
    folder = os.path.join(workdir, "parallel-compile")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "sitecustomize.py"), "w") as f:
        f.write(PARALLEL_SITECUSTOMIZE)
    return folder


def install(wheel, target, find_links):
    """PyCUDA and those of its run-time dependencies that are missing into `target`
    (a folder for PYTHONPATH, so that no environment, shared or not, is changed)."""
    pip("install", "-q", "--no-index", "--no-deps", "--target", target, "--upgrade", wheel)
    added = install_missing(RUNTIME_DEPS, find_links, target, os.environ)
    print(f"installed {os.path.basename(wheel)}" + (f" and {', '.join(added)}" if added else "") + f" into {target}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist-dir", required=True, help="folder with pycuda-*.tar.gz (and the wheels it needs)")
    parser.add_argument("--wheel-cache", required=True, help="where built wheels are kept, by cache key")
    parser.add_argument("--target", help="install PyCUDA and its dependencies here (for PYTHONPATH)")
    parser.add_argument("--find-links", help="folder of wheels for build tools and dependencies "
                                             "(default: --sdist-dir)")
    parser.add_argument("--libcuda", help="the libcuda.so.1 to link against (default: the driver's)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel compile jobs")
    parser.add_argument("--keep-wheel-in", help="also copy the wheel to DIR/<cache key>/ (e.g. $OUT, which "
                                                "comes back from the GPU machine)")
    args = parser.parse_args()
    find_links = args.find_links or args.sdist_dir
    sdist = find_sdist(args.sdist_dir)
    _, include_dir, how = cuda_toolkit.find_cuda_root()
    if include_dir is None:
        raise SystemExit(f"pycuda_build: {how}")
    key = cache_key(sdist_version(sdist), cuda_toolkit.cuda_version(include_dir))
    wheel_dir = os.path.join(args.wheel_cache, key)
    os.makedirs(wheel_dir, exist_ok=True)
    with locked(wheel_dir + ".lock"):
        wheel = newest_wheel(wheel_dir)
        if wheel:
            print(f"reusing {wheel} (cache key {key})")
        else:
            print(f"building {sdist} (cache key {key})")
            with tempfile.TemporaryDirectory(prefix="pycuda-build-") as workdir:
                wheel = build_wheel(sdist, wheel_dir, args.libcuda, find_links, args.jobs, workdir)
    if args.keep_wheel_in:          # as DIR/<cache key>/: copied into --wheel-cache, it is reused
        keep = os.path.join(args.keep_wheel_in, key)
        os.makedirs(keep, exist_ok=True)
        shutil.copy2(wheel, keep)
    if args.target:
        install(wheel, args.target, find_links)
    print(f"PYCUDA_WHEEL={wheel}")


if __name__ == "__main__":
    main()
