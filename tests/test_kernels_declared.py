"""Every op really runs CUDA kernels on the GPU devices: its declared kernel names exist
in its .cu file, and on emu its forward and backward launch kernels (none computes on the
host behind the registry's back). reshape is the one op that moves no data."""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.autograd import apply
from tinygrad_cu.device import get_device
from tinygrad_cu.device.gpu import GPUDevice
from tinygrad_cu.op import REGISTRY
from tinygrad_cu.ops.optim import UpdateOp

from conftest import device_or_skip
from op_cases import cases_for

VIEWS = {"reshape"}                           # a view of the same buffer: no kernel by design
OPS = sorted(set(REGISTRY) - {n for n, op in REGISTRY.items() if isinstance(op, UpdateOp)} - VIEWS)
# the GPU's only float dtype is float32, so cast's gradient is a float32 -> float32 copy
COPY_BACKWARD = {"cast"}
# gradient 0 for every input: the backward is a device fill (memset) at each input's shape
ZERO_BACKWARD = {"div_floor", "div_trunc"}


def source_of(op):
    return type(op).__module__.rsplit(".", 1)[-1] + ".cu"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_declared_kernels_exist_in_the_ops_cu_file(name):
    device_or_skip("emu")
    op = REGISTRY[name]
    if name in VIEWS:
        assert op.kernels == ()
        return
    assert op.kernels, f"{name} declares no kernels"
    gpu = get_device("emu")
    for kernel in op.kernels:
        gpu.function(source_of(op), kernel)          # raises if the kernel is not in the file


@pytest.mark.parametrize("name", OPS)
def test_forward_and_backward_launch_kernels_on_emu(name, monkeypatch):
    device_or_skip("emu")
    launched = []
    real = GPUDevice.launch


    def spy(self, source_file, kernel_name, *args, **kwargs):
        launched.append(kernel_name)
        return real(self, source_file, kernel_name, *args, **kwargs)
    monkeypatch.setattr(GPUDevice, "launch", spy)
    op = REGISTRY[name]
    cases = cases_for(name, np.random.default_rng(0), dtype=np.float32)
    if name == "cast":                   # float32 -> float32 is a plain copy: convert too
        cases = cases + [([np.arange(6, dtype=np.float32)], dict(dtype=np.dtype(np.int64)))]
    forward_kernels, backward_kernels = set(), set()
    for arrays, attrs in cases:
        tensors = [tg.Tensor(a, dtype=a.dtype, device="emu",
                             requires_grad=op.differentiable and a.dtype.kind == "f") for a in arrays]
        launched.clear()
        out = apply(name, *tensors, **attrs)
        forward_kernels |= set(launched)
        if out.requires_grad:
            launched.clear()
            out.backward(tg.Tensor(np.ones(out.shape, np.float32), device="emu"))
            backward_kernels |= set(launched)
    assert forward_kernels, f"{name}: no forward case launched a kernel on emu"
    if op.differentiable and name not in COPY_BACKWARD | ZERO_BACKWARD:
        assert backward_kernels, f"{name}: no backward case launched a kernel on emu"
    # the kernels an op launches are the ones it declares (plus shared helpers of its family)
    helpers = {"strided_copy", "strided_store", "sum_to_shape", "sum_forward", "cast_forward"}
    undeclared = (forward_kernels | backward_kernels) - set(op.kernels) - helpers
    assert not undeclared, f"{name} launched kernels it does not declare: {sorted(undeclared)}"
