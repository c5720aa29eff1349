"""Custom ops (tg.custom_op) and tg.check_op, with the fused bias + ReLU of
examples/custom_kernel.py: in a model trained on cpu and emu, and deliberately broken
(a wrong backward kernel, a wrong reference, a missing barrier, a compile error)."""
import importlib
import os
import re
import sys

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.custom_op import CustomOpCompileError
from tinygrad_cu.op import REGISTRY

from conftest import device_or_skip

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


@pytest.fixture(scope="module")
def example():
    """examples/custom_kernel.py, imported here (not at collection: the registry-driven
    tests list the registered ops when they are collected) and unregistered after."""
    sys.path.insert(0, EXAMPLES)
    try:
        module = importlib.import_module("custom_kernel")
    finally:
        sys.path.remove(EXAMPLES)
    yield module
    tg.custom_op.unregister("bias_relu")
    sys.modules.pop("custom_kernel", None)


@pytest.fixture
def registered():
    """Names of custom ops a test registers, removed afterwards."""
    names = []
    yield names
    for name in names:
        if name in REGISTRY:
            tg.custom_op.unregister(name)


def variant(example, registered, name, source, **overrides):
    """The example's op under another name, with another source or reference methods."""
    cls = type(name, (type(example.BiasReLU).__mro__[1],), overrides)
    registered.append(name)
    return tg.custom_op(name, source=source, kernels=example.BiasReLU.kernels)(cls)


def test_the_op_is_registered_and_recorded_like_a_built_in(example):
    op = REGISTRY["bias_relu"]
    assert op is example.BiasReLU and op.n_inputs == 2 and op.source.barrier_kernels == ["bias_relu_backward_bias"]
    x, b = tg.tensor([[1.0, -2.0], [-0.5, 3.0]], requires_grad=True), tg.tensor([0.25, 1.0], requires_grad=True)
    y = example.BiasReLU(x, b)
    assert y.grad_fn.name() == "BiasReluBackward" and "bias_relu" in str(list(tg.graph(y).nodes(data=True)))
    np.testing.assert_allclose(y.numpy(), [[1.25, 0.0], [0.0, 4.0]])             # by hand
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[1, 0], [0, 1]])
    np.testing.assert_allclose(b.grad.numpy(), [1, 1])
    with pytest.raises(ValueError, match=r"bias_relu: x of shape \(2, 2\) and bias of shape \(3,\)"):
        example.BiasReLU(x, tg.zeros(3))
    with pytest.raises(ValueError, match="already a built-in op"):
        tg.custom_op("relu", source=example.SOURCE, kernels=example.BiasReLU.kernels)(type("R", (), {}))


def test_gradcheck_of_the_reference_and_check_op_pass(example):
    rng = np.random.default_rng(3)
    x = tg.Tensor(rng.uniform(0.1, 1, (4, 3)) * rng.choice([-1, 1], (4, 3)), dtype=np.float64, requires_grad=True)
    b = tg.Tensor(rng.uniform(-0.05, 0.05, 3), dtype=np.float64, requires_grad=True)
    assert tg.gradcheck(lambda x, b: example.BiasReLU(x, b), x, b)
    device_or_skip("emu")
    report = tg.check_op("bias_relu", (37, 10), (10,), bounds=False)
    assert "race mode" in str(report) and "kernels match the reference on emu" in str(report)


def test_a_model_with_the_custom_op_trains_to_the_same_losses_on_cpu_and_emu(example):
    device_or_skip("emu")
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((5, 32, 784)).astype(np.float32), rng.integers(0, 10, (5, 32))
    losses = {}
    for device in ("cpu", "emu"):
        tg.manual_seed(0)
        model = example.lecture_mlp().to(device)
        optimizer = tg.optim.SGD(model.parameters(), lr=0.5)
        losses[device] = []
        for xb, yb in zip(x, labels):
            optimizer.zero_grad()
            loss = tg.nn.functional.cross_entropy(model(tg.Tensor(xb, device=device)), tg.Tensor(yb, device=device))
            loss.backward()
            optimizer.step()
            losses[device].append(loss.item())
    assert losses["cpu"][-1] < losses["cpu"][0]                # it learns
    np.testing.assert_allclose(losses["emu"], losses["cpu"], rtol=1e-4, atol=1e-5)


def test_a_wrong_backward_kernel_is_caught_and_the_input_named(example, registered):
    device_or_skip("emu")
    wrong = example.SOURCE.replace("db[c] = partial[0];", "db[c] = 2.f * partial[0];")
    assert wrong != example.SOURCE
    variant(example, registered, "bias_relu_wrong_db", wrong)
    with pytest.raises(AssertionError, match=r"backward kernel's gradient of input 1 \(shape \(10,\)\) differs "
                                             r"from the reference at index \(0,\)"):
        tg.check_op("bias_relu_wrong_db", (37, 10), (10,), bounds=False)


def test_a_wrong_reference_backward_is_caught_by_gradcheck_and_check_op(example, registered):
    def backward(self, ctx, grad):                 # forgets that ReLU blocks the gradient
        return (grad, grad.reshape(-1, grad.shape[-1]).sum(axis=0))
    op = variant(example, registered, "bias_relu_wrong_ref", example.SOURCE, backward=backward)
    x = tg.Tensor(np.array([[0.5, -1.0], [-0.7, 2.0]]), dtype=np.float64, requires_grad=True)
    b = tg.Tensor(np.array([0.1, -0.2]), dtype=np.float64, requires_grad=True)
    with pytest.raises(AssertionError, match="gradcheck: input 0 of shape"):
        tg.gradcheck(lambda x, b: op(x, b), x, b)
    with pytest.raises(AssertionError, match="reference backward disagrees with finite differences: gradcheck: "
                                             "input 0"):
        tg.check_op("bias_relu_wrong_ref", (4, 3), (3,))


def test_a_missing_barrier_is_caught_by_check_op_in_race_mode(example, registered):
    device_or_skip("emu")
    racy = example.SOURCE.replace("__syncthreads();                               // this step",
                                  "                                               // this step")
    assert racy != example.SOURCE
    variant(example, registered, "bias_relu_racy", racy)
    with pytest.raises(AssertionError) as caught:
        tg.check_op("bias_relu_racy", (37, 10), (10,), bounds=False)
    message = str(caught.value)
    assert "race mode" in message and "bias_relu_backward_bias" in message and "__syncthreads() is missing" in message


BROKEN = r"""
__global__ void broken_forward(const float* x, float* y, int n) {
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        y[i] = x[i] * scale_that_was_never_declared;
}
__global__ void broken_backward(const float* g, const float* x, float* dx, int n) {}
"""


class Doubling:
    def forward(self, ctx, x):
        return x * 2

    def backward(self, ctx, grad):
        return (grad * 2,)

    def gpu_forward(self, gpu, ctx, x):
        y = gpu.empty(x.shape, x.dtype)
        self.launch(gpu, self.kernels[0], (1, 1, 1), (32, 1, 1), x, y, np.int32(y.size))
        return y

    def gpu_backward(self, gpu, ctx, grad):
        raise AssertionError("not reached")


def test_a_compile_error_shows_the_users_file_and_line(registered):
    device_or_skip("emu")
    registered.append("broken")
    op = tg.custom_op("broken", source=BROKEN, kernels=("broken_forward", "broken_backward"))(Doubling)
    with open(__file__) as f:
        line = next(i for i, text in enumerate(f, 1) if "scale_that_was_never_declared;" in text)
    with pytest.raises(CustomOpCompileError) as caught:
        op(tg.ones(3, device="emu"))
    message = str(caught.value)
    assert f"{os.path.abspath(__file__)}:{line}:" in message and "scale_that_was_never_declared" in message, message


def test_a_source_file_is_compiled_under_its_own_name(registered, tmp_path):
    device_or_skip("emu")
    path = tmp_path / "my_kernels.cu"
    path.write_text(BROKEN)
    registered.append("broken_file")
    op = tg.custom_op("broken_file", source=path, kernels=("broken_forward", "broken_backward"))(Doubling)
    with pytest.raises(CustomOpCompileError, match=re.escape(f"{path}:4:")):
        op(tg.ones(3, device="emu"))


def test_the_example_and_walkthrough_kernels_compile_with_nvcc(example, tmp_path):
    """What g++ accepts nvcc may not: the kernels a student copies from the example and
    docs/custom_ops.md compile for sm_75 and sm_90 (tests/test_nvcc.py does ops/)."""
    from tinygrad_cu.runtime import ptxas
    nvcc = ptxas.nvcc_path()
    if nvcc is None:
        print("nvcc is not on PATH: the GPU compile check of the custom kernels cannot run here")
        pytest.skip("nvcc is not on PATH: the GPU compile check of the custom kernels cannot run here")
    with open(os.path.join(os.path.dirname(__file__), os.pardir, "docs", "custom_ops.md")) as f:
        page = f.read()
    sources = {"bias_relu": example.SOURCE,
               "swish": page.split('SWISH = r"""')[1].split('"""')[0],
               "row_sum": page.split('ROW_SUM = r"""')[1].split('"""')[0].replace("BARRIER", "__syncthreads();")}
    for name, source in sources.items():
        path = tmp_path / f"{name}.cu"
        path.write_text('extern "C" {\n' + source + "\n}\n")
        for arch in ptxas.ARCHITECTURES:
            result = ptxas.compile_for(str(path), arch, nvcc)
            assert result.returncode == 0 and not result.problems, f"{name} for {arch}:\n{result.messages}"
