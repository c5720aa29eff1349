"""The GPU check (scripts/gpu_check.sh) kept honest on a machine without a GPU, and the
checks it runs on one.

Without a GPU: PyCUDA is built here from its sdist by the same scripts/pycuda_build.py
the GPU check uses, against a libcuda.so.1 generated from the installed cuda.h whose
every call says "no device" (scripts/stub_libcuda.py); `import pycuda.driver` must work,
`tg.devices()` must name what is missing, the preflight must pass, and gpu_check.sh
itself must run to its table and fail at "cuda ready". The build (several minutes on 2
cores) is cached under ~/.cache/tinygrad_cu/ci (or $TINYGRAD_CU_CI_CACHE), keyed by
PyCUDA, Python and CUDA version; the sdist and wheels come from PyPI once, through
scripts/gpu_prepare.sh, into the same cache. Nothing is installed into the running
environment: PyCUDA goes into a temp folder that only subprocesses put on PYTHONPATH.

On a GPU (gpu_check.sh runs these with TINYGRAD_CU_REQUIRE_CUDA=1): the update ops and a
short LeNet-5 training run on `cuda` against `cpu`, the same tests run on `emu` here.
"""
import glob
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu import nn, optim
from tinygrad_cu.device import cuda_probe
from tinygrad_cu.nn import Parameter
from tinygrad_cu.tensor import Tensor

import conftest
from conftest import device_or_skip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "scripts")
sys.path.insert(0, SCRIPTS)
sys.path.insert(0, os.path.join(ROOT, "examples"))
import cuda_toolkit  # noqa: E402
import pycuda_build  # noqa: E402
import stub_libcuda  # noqa: E402
from lenet5 import lenet5  # noqa: E402

CUDA_ROOT, CUDA_INCLUDE, HOW_FOUND = cuda_toolkit.find_cuda_root()
needs_toolkit = pytest.mark.skipif(CUDA_INCLUDE is None, reason=f"no CUDA toolkit here: {HOW_FOUND}")
GPU_DEVICES = ["emu", "cuda"]


def run(cmd, env=None, timeout=600, **kw):
    return subprocess.run(cmd, env=env, timeout=timeout, capture_output=True, text=True, **kw)


def env_with(**extra):
    env = dict(os.environ)
    env.pop("TINYGRAD_CU_REQUIRE_CUDA", None)
    env.update({k: v for k, v in extra.items() if v is not None})
    return env


def cuda_status_in_subprocess(env):
    """tg.devices()['cuda'] in a fresh process (a stub must not load into this one)."""
    code = "import json, tinygrad_cu as tg; print(json.dumps(tg.devices()['cuda']))"
    out = run([sys.executable, "-c", code], env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


# --- tg.devices() tells the truth -------------------------------------------------------
def test_status_names_missing_pycuda_driver_and_nvcc(monkeypatch):
    real_find_spec = cuda_probe.importlib.util.find_spec
    monkeypatch.setattr(cuda_probe.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pycuda" else real_find_spec(name, *a))
    monkeypatch.setattr(cuda_probe.shutil, "which", lambda name: None)
    p = cuda_probe.probe(library="libcuda-that-does-not-exist.so.1")
    text = p.describe()
    assert text.startswith("missing: PyCUDA (not installed; pip install 'tinygrad_cu[cuda]' (pycuda>=2025.1.2)")
    assert "the driver library libcuda.so.1 (not found" in text
    assert "a GPU (cannot be looked for without the driver library)" in text
    assert "nvcc (not on PATH" in text
    assert len(p.missing()) == 4 and p.gpus == []


def test_status_here_matches_what_this_machine_has():
    """The real probe, unpatched: each part it reports as found or missing is checked
    against the machine independently (find_spec, ctypes, which)."""
    import ctypes
    import importlib.util
    import shutil
    ok, reason = tg.devices()["cuda"]
    try:
        ctypes.CDLL("libcuda.so.1")
        has_driver = True
    except OSError:
        has_driver = False
    assert ("PyCUDA (not installed" in reason) == (importlib.util.find_spec("pycuda") is None)
    assert ("libcuda.so.1 (not found" in reason) == (not has_driver)
    assert ("nvcc (not on PATH" in reason) == (shutil.which("nvcc") is None)
    assert ok == reason.startswith("ready: GPU 0 ")


@needs_toolkit
def test_stub_libcuda_defines_every_driver_function(tmp_path):
    path, count = stub_libcuda.build(str(tmp_path), CUDA_INCLUDE)
    declared = stub_libcuda.declarations(stub_libcuda.preprocess(CUDA_INCLUDE))
    exported = run(["nm", "-D", "--defined-only", path]).stdout.split()
    assert count == len(declared) > 400
    for name in ("cuInit", "cuMemAlloc_v2", "cuDeviceTotalMem_v2", "cuProfilerStart", "cuLaunchKernel"):
        assert name in declared and name in exported
    assert "libcuda.so.1" in run(["readelf", "-d", path]).stdout      # its soname, as the driver's
    assert not os.path.exists(os.path.join(tmp_path, "libcuda.so"))   # no unversioned link


@needs_toolkit
def test_status_with_stub_libcuda_reports_no_gpu(tmp_path):
    stub_libcuda.build(str(tmp_path), CUDA_INCLUDE)
    ok, reason = cuda_status_in_subprocess(env_with(LD_LIBRARY_PATH=str(tmp_path)))
    assert not ok
    assert "a GPU (cuInit: CUDA_ERROR_NO_DEVICE (100), the driver sees no GPU)" in reason
    assert f"libcuda.so.1 at {tmp_path}/libcuda.so.1" in reason
    assert "the driver library libcuda.so.1 (" not in reason          # found, so not missing


@needs_toolkit
def test_status_reads_name_capability_and_memory_through_the_driver_abi(tmp_path):
    """A stub answering as one GPU: the ctypes probe must read back exactly these values
    (a wrong argument type, int for size_t, would truncate 150 GB)."""
    stub_libcuda.build(str(tmp_path), CUDA_INCLUDE, fake_gpu="Test GPU X9,9.0,150000000000")
    code = ("import json; from tinygrad_cu.device import cuda_probe; p = cuda_probe.CudaProbe(); "
            "cuda_probe.probe_driver(p); print(json.dumps([p.gpus, p.driver_version, p.gpu_problem]))")
    out = run([sys.executable, "-c", code], env=env_with(LD_LIBRARY_PATH=str(tmp_path)), cwd=ROOT)
    assert out.returncode == 0, out.stderr
    gpus, driver, problem = json.loads(out.stdout)
    assert gpus == [dict(name="Test GPU X9", compute_capability="9.0", memory_bytes=150_000_000_000)]
    assert driver == "13.0" and problem is None
    p = cuda_probe.CudaProbe()
    p.gpus, p.libcuda_path, p.pycuda_version, p.nvcc_path, p.nvcc_version = gpus, "/x/libcuda.so.1", "2026.1", "nvcc", "13.0"
    assert p.describe().startswith("ready: GPU 0 Test GPU X9 (compute capability 9.0, 139.7 GiB)")


def test_require_cuda_turns_a_cuda_skip_into_a_failure(monkeypatch):
    monkeypatch.setattr(conftest.tg, "device_status", lambda name: (False, "missing: a GPU (test)"))
    monkeypatch.delenv("TINYGRAD_CU_REQUIRE_CUDA", raising=False)
    with pytest.raises(pytest.skip.Exception, match="missing: a GPU"):
        device_or_skip("cuda")
    monkeypatch.setenv("TINYGRAD_CU_REQUIRE_CUDA", "1")
    with pytest.raises(pytest.fail.Exception, match="TINYGRAD_CU_REQUIRE_CUDA=1"):
        device_or_skip("cuda")
    with pytest.raises(pytest.skip.Exception):           # only cuda is required
        device_or_skip("emu")


# --- the build's configuration --------------------------------------------------------------
@needs_toolkit
def test_cuda_root_is_the_real_install_not_the_folder_above_a_wrapper(tmp_path, monkeypatch):
    real_nvcc = os.path.join(CUDA_ROOT, "bin", "nvcc")
    wrapper = tmp_path / "wrapper" / "bin" / "nvcc"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(f'#!/bin/sh\nexec {real_nvcc} "$@"\n')
    wrapper.chmod(0o755)
    for var in cuda_toolkit.ROOT_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")
    root, include, how = cuda_toolkit.find_cuda_root()
    assert root == os.path.realpath(CUDA_ROOT) and os.path.isfile(os.path.join(include, "cuda.h"))
    assert "--dryrun" in how and str(tmp_path) not in root


def test_siteconf_turns_curand_off_and_links_through_the_folder(tmp_path):
    text = pycuda_build.siteconf("/opt/cuda-x", "/opt/cuda-x/include", str(tmp_path))
    conf = {}
    exec(text, conf)
    assert conf["CUDA_ROOT"] == "/opt/cuda-x" and conf["CUDA_INC_DIR"] == ["/opt/cuda-x/include"]
    assert conf["CUDA_ENABLE_CURAND"] is False and conf["CUDA_ENABLE_GL"] is False
    assert conf["CUDADRV_LIB_DIR"] == [str(tmp_path)] and conf["CUDADRV_LIBNAME"] == ["cuda"]


@needs_toolkit
def test_link_folder_gives_the_unversioned_name(tmp_path):
    so, _ = stub_libcuda.build(str(tmp_path / "stub"), CUDA_INCLUDE)
    folder = cuda_toolkit.make_link_folder(so, str(tmp_path))
    assert os.path.realpath(os.path.join(folder, "libcuda.so")) == os.path.realpath(so)


def test_preflight_names_what_is_missing(tmp_path):
    env = env_with(PATH=str(tmp_path), CUDA_ROOT=None, CUDA_HOME=None, CUDA_PATH=None)
    out = run([sys.executable, os.path.join(SCRIPTS, "gpu_preflight.py"), "--sdist-dir", str(tmp_path)], env=env)
    assert out.returncode == 1
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("preflight: missing: nvcc") and "g++" in last and "PyCUDA sdist" in last


def test_summary_table_fails_on_any_failed_check(tmp_path):
    (tmp_path / "checks.tsv").write_text("preflight\tPASS\t1\tpreflight: all found\n"
                                         "cuda ready\tFAIL\t2\texit 1; last: cuda: missing: a GPU\n")
    out = run([sys.executable, os.path.join(SCRIPTS, "gpu_check_summary.py"), str(tmp_path)])
    assert out.returncode == 1
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("| check or benchmark |") and "| cuda ready | FAIL (2 s) |" in out.stdout
    assert lines[-1].startswith("| **GPU check** | **FAILED**")
    (tmp_path / "checks.tsv").write_text("preflight\tPASS\t1\tok\n")
    assert run([sys.executable, os.path.join(SCRIPTS, "gpu_check_summary.py"), str(tmp_path)]).returncode == 0


def test_bench_gpu_smoke_on_emu(tmp_path):
    device_or_skip("emu")
    out = run([sys.executable, os.path.join(SCRIPTS, "bench_gpu.py"), "--device", "emu",
               "--json", str(tmp_path / "b.json")], cwd=str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    assert [r["case"].split(" ")[0] for r in rows] == ["GEMM"] + ["LeNet"] * 4 + ["training"] * 2
    gemm = rows[0]
    assert gemm["rate"] == pytest.approx(2 * 64 ** 3 / gemm["seconds"] / 1e9)      # GFLOP/s of 64^3
    assert rows[-1]["rate"] == pytest.approx(2 * 8 / rows[-1]["seconds"])          # 2 steps of 8 images
    assert all(r["seconds"] > 0 for r in rows)
    table = out.stdout.strip().splitlines()
    assert table[-len(rows) - 2].startswith("| case |") and len(table[-len(rows):]) == len(rows)


# --- the CI test of the GPU check: PyCUDA from its sdist against a no-device libcuda -------
def ci_cache():
    return os.environ.get("TINYGRAD_CU_CI_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                                   "tinygrad_cu", "ci")


def prepared_dist(cache):
    """The sdist and wheels gpu_check.sh would carry, fetched once from PyPI."""
    dist = os.path.join(cache, "dist")
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    os.makedirs(cache, exist_ok=True)
    with pycuda_build.locked(os.path.join(cache, "dist.lock")):       # two test runs on one machine
        have = glob.glob(os.path.join(dist, "pycuda-*.tar.gz")) and glob.glob(
            os.path.join(dist, f"siphash24-*-cp{here.replace('.', '')}-*.whl"))
        if not have:
            out = run(["bash", os.path.join(SCRIPTS, "gpu_prepare.sh"), dist, here], timeout=900)
            assert out.returncode == 0, f"gpu_prepare.sh could not fetch from PyPI:\n{out.stdout}\n{out.stderr}"
    return dist


@needs_toolkit
def test_gpu_check_builds_pycuda_against_a_stub_driver(tmp_path):
    cache = ci_cache()
    dist = prepared_dist(cache)
    stub_dir = str(tmp_path / "stub")
    stub, _ = stub_libcuda.build(stub_dir, CUDA_INCLUDE)
    env = env_with(LD_LIBRARY_PATH=stub_dir)

    pre = run([sys.executable, os.path.join(SCRIPTS, "gpu_preflight.py"), "--sdist-dir", dist], env=env)
    assert pre.returncode == 0 and pre.stdout.strip().endswith("preflight: all found"), pre.stdout

    site = str(tmp_path / "site")
    t0 = time.perf_counter()
    build = run([sys.executable, os.path.join(SCRIPTS, "pycuda_build.py"), "--sdist-dir", dist,
                 "--wheel-cache", os.path.join(dist, "wheels"), "--target", site, "--libcuda", stub],
                env=env, timeout=1500)
    print(f"pycuda_build.py: {time.perf_counter() - t0:.0f} s "
          f"({'reused the cached wheel' if 'reusing' in build.stdout else 'built'})")
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    assert "PYCUDA_WHEEL=" in build.stdout

    (driver_so,) = glob.glob(os.path.join(site, "pycuda", "_driver*.so"))
    ldd = run(["ldd", driver_so], env=env).stdout
    assert f"libcuda.so.1 => {stub_dir}/libcuda.so.1" in ldd and "curand" not in ldd
    wanted = {s for s in run(["nm", "-D", "--undefined-only", driver_so]).stdout.split() if s.startswith("cu")}
    have = set(run(["nm", "-D", "--defined-only", stub]).stdout.split())
    assert wanted and wanted <= have, f"driver symbols PyCUDA needs that the stub lacks: {wanted - have}"

    env_run = env_with(LD_LIBRARY_PATH=stub_dir, PYTHONPATH=os.pathsep.join([site, ROOT]))
    code = ("import pycuda.driver as d\n"
            "print('version', d.get_version())\n"
            "try:\n    d.init()\nexcept d.Error as e:\n    print('init:', e)\n")
    imp = run([sys.executable, "-c", code], env=env_run)
    assert imp.returncode == 0, imp.stderr
    assert "init: cuInit failed: no CUDA-capable device is detected" in imp.stdout
    ok, reason = cuda_status_in_subprocess(env_run)
    assert not ok and reason.startswith("missing: a GPU (cuInit: CUDA_ERROR_NO_DEVICE (100)")
    assert "PyCUDA 2026.1" in reason and f"libcuda.so.1 at {stub_dir}/libcuda.so.1" in reason

    # The whole script, as on a GPU machine: preflight and PyCUDA pass (the cached wheel),
    # then "cuda ready" fails, and the table still comes last.
    out_dir = tmp_path / "out"
    check = run(["bash", os.path.join(SCRIPTS, "gpu_check.sh")],
                env=env_with(LD_LIBRARY_PATH=stub_dir, OUT=str(out_dir), GPU_DIR=dist,
                             WORK=str(tmp_path / "work"), PYTHON=sys.executable), timeout=900)
    assert check.returncode == 1, check.stdout[-4000:]
    table = check.stdout.strip().splitlines()
    assert table[-1].startswith("| **GPU check** | **FAILED**")
    body = "\n".join(table[-8:])
    assert "| preflight | PASS" in body and "| PyCUDA built and installed | PASS" in body
    assert "| cuda ready | FAIL" in body and "CUDA_ERROR_NO_DEVICE" in body
    assert (out_dir / "summary.md").exists() and (out_dir / "gpu_check.log").exists()
    assert glob.glob(str(out_dir / "pycuda-*" / "pycuda-*.whl"))          # kept for the next run


# --- on a GPU device: the update ops and a short LeNet-5 run, against cpu ---------------------
@pytest.mark.parametrize("device", GPU_DEVICES)
@pytest.mark.parametrize("make,state_name", [
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), "momentum_buffer"),
    (lambda ps: optim.Adam(ps, lr=0.05), "exp_avg"),
    (lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.1), "exp_avg_sq"),
], ids=["sgd_step", "adam_step", "adamw"])
def test_update_op_on_gpu_device_matches_cpu(make, state_name, device):
    device_or_skip(device)
    rng = np.random.default_rng(7)
    p0 = rng.standard_normal((37, 5)).astype(np.float32)
    grads = [rng.standard_normal(p0.shape).astype(np.float32) for _ in range(3)]
    results = {}
    for dev in ("cpu", device):
        p = Parameter(p0, device=dev)
        opt = make([p])
        for g in grads:
            p.grad = Tensor(g, device=dev)
            opt.step()
        assert opt.state[p][state_name].device == dev
        results[dev] = (p.numpy(), opt.state[p][state_name].numpy())
    for got, want in zip(results[device], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def train_losses(device, x, y, steps):
    tg.manual_seed(0)
    model = lenet5().to(device)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    xs, ys = tg.tensor(x, device=device), tg.tensor(y, device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(xs), ys)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses)


@pytest.mark.parametrize("device", GPU_DEVICES)
def test_lenet5_training_on_gpu_device_same_losses_as_cpu(device):
    device_or_skip(device)
    rng = np.random.default_rng(3)
    x = rng.random((16, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    cpu = train_losses("cpu", x, y, 8)
    got = train_losses(device, x, y, 8)
    np.testing.assert_allclose(got, cpu, rtol=1e-4)
    assert cpu[-1] < cpu[0]
