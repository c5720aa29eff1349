"""Every kernel file must compile for real GPUs: the emulator's g++ accepts code that nvcc
rejects, so each .cu in ops/ (and the emulator's test kernels) is compiled
with nvcc for sm_75 and sm_90. Any error or warning fails, and so does a register spill
in a kernel its file declares hot (`// hot: kernel_a kernel_b`)."""
import glob
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_ptxas():  # by path: the rest of the package need not import cleanly
    path = os.path.join(ROOT, "tinygrad_cu", "runtime", "ptxas.py")
    spec = importlib.util.spec_from_file_location("ptxas", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ptxas = load_ptxas()
OP_FILES = sorted(glob.glob(os.path.join(ROOT, "ops", "*.cu")))     # ops/ is installed as tinygrad_cu.ops
FILES = OP_FILES + sorted(glob.glob(os.path.join(ROOT, "tests", "emu_kernels", "*.cu")))


@pytest.fixture(scope="module")
def nvcc():
    path = ptxas.nvcc_path()
    if path is None:
        pytest.skip("nvcc is not on PATH: the GPU compile check cannot run here")
    return path


def registers_ops(path):
    """An op family is a module of ops/ that registers ops; the others (cpu_parallel,
    im2col) are helpers of the numpy references and have no kernels."""
    with open(path) as f:
        return any(line.startswith("@register") for line in f)


def test_every_op_family_has_its_kernel_file():
    modules = [f for f in sorted(os.listdir(os.path.join(ROOT, "ops"))) if f.endswith(".py") and f != "__init__.py"]
    families = [f[:-3] for f in modules if registers_ops(os.path.join(ROOT, "ops", f))]
    assert {"binary", "conv", "matmul"} <= set(families), "the op-family detection found too little"
    assert [os.path.basename(f)[:-3] for f in OP_FILES] == families


@pytest.mark.parametrize("arch", ptxas.ARCHITECTURES)
@pytest.mark.parametrize("path", FILES, ids=[os.path.relpath(f, ROOT) for f in FILES])
def test_compiles_cleanly_for_gpu(nvcc, path, arch):
    result = ptxas.compile_for(path, arch, nvcc)
    assert result.returncode == 0, f"nvcc failed on {path} for {arch}:\n{result.messages}"
    assert not result.problems, f"nvcc warnings on {path} for {arch}:\n" + "\n".join(result.problems)
    with open(path) as f:
        hot = ptxas.hot_kernels(f.read())
    compiled = {k.kernel for k in result.kernels}
    assert hot <= compiled, f"{path}: `// hot:` names kernels that do not exist: {sorted(hot - compiled)}"
    spilling = [k for k in result.kernels if k.kernel in hot and (k.spill_stores or k.spill_loads)]
    assert not spilling, f"hot kernels spill registers to local memory on {arch}: " + ", ".join(
        f"{k.kernel} ({k.spill_stores} B stores, {k.spill_loads} B loads)" for k in spilling)


def test_spill_report_is_parsed():
    """Without nvcc too: the parser finds the spills the hot-kernel check relies on."""
    report = """ptxas info    : Compiling entry function 'conv_forward' for 'sm_75'
ptxas info    : Function properties for conv_forward
    48 bytes stack frame, 12 bytes spill stores, 8 bytes spill loads
ptxas info    : Used 255 registers, 4096 bytes smem, 380 bytes cmem[0]
"""
    (k,) = ptxas.parse_resources(report, "sm_75")
    assert (k.kernel, k.registers, k.shared_bytes, k.spill_stores, k.spill_loads) == ("conv_forward", 255, 4096, 12, 8)
    assert ptxas.hot_kernels("// hot: a b\n__global__ void a() {}\n// hot: c\n") == {"a", "b", "c"}
