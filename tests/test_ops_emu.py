"""Every registered op on the GPU devices (`emu`: its CUDA kernels run by the emulator;
`cuda`: the same kernels on an NVIDIA GPU through PyCUDA, skipped where there is none)
against the `cpu` reference, forward and backward, driven by the registry.

Also: sizes beyond one grid (grid-stride loops) and every kernel with barriers once
under the emulator's race-checking mode.
"""
import functools
import re

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.autograd import apply
from tinygrad_cu.device.gpu import GPUDevice
from tinygrad_cu.op import REGISTRY
from tinygrad_cu.ops.optim import UpdateOp

from conftest import device_or_skip
from op_cases import cases_for

UPDATE_OPS = {n for n, op in REGISTRY.items() if isinstance(op, UpdateOp)}   # tests/test_optim.py runs them on emu
OPS = sorted(set(REGISTRY) - UPDATE_OPS)
RTOL, ATOL = 2e-4, 2e-5


def run_on(device, name, arrays, attrs, out_grad):
    op = REGISTRY[name]
    tensors = [tg.Tensor(a, dtype=a.dtype, device=device,
                         requires_grad=op.differentiable and a.dtype.kind == "f") for a in arrays]
    out = apply(name, *tensors, **attrs)
    grads = []
    if out.requires_grad:
        out.backward(tg.Tensor(out_grad, dtype=out.dtype, device=device))
        grads = [None if t.grad is None else t.grad.numpy() for t in tensors]
    return out.numpy(), grads


GPU_DEVICES = ["emu", "cuda"]


def check_op_on_emu(name, rng, cases=None, device="emu"):
    for arrays, attrs in cases or cases_for(name, rng, dtype=np.float32):
        out_grad = rng.standard_normal(np.shape(apply(name, *[tg.Tensor(a, dtype=a.dtype) for a in arrays],
                                                      **attrs).numpy())).astype(np.float32)
        want, want_grads = run_on("cpu", name, arrays, attrs, out_grad)
        got, got_grads = run_on(device, name, arrays, attrs, out_grad)
        where = f"{name} {attrs} shapes {[a.shape for a in arrays]}"
        assert got.shape == want.shape and got.dtype == want.dtype, where
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg="forward " + where)
        for i, (g, w) in enumerate(zip(got_grads, want_grads)):
            assert (g is None) == (w is None), where
            if w is not None:
                np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL, err_msg=f"grad {i} " + where)


@pytest.mark.parametrize("device", GPU_DEVICES)
@pytest.mark.parametrize("name", OPS)
def test_op_on_gpu_device_matches_cpu(name, device, rng):
    device_or_skip(device)
    check_op_on_emu(name, rng, device=device)


@pytest.fixture
def tiny_grids(monkeypatch):
    """Cap grids at 2 blocks so modest sizes exercise the kernels' grid-stride loops."""
    monkeypatch.setattr(GPUDevice, "MAX_BLOCKS", 2)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "mul", "add", "sum", "max", "softmax", "getitem",
                                  "permute", "cross_entropy", "avg_pool2d", "max_pool3d"])
def test_sizes_beyond_one_grid(name, rng, tiny_grids):
    device_or_skip("emu")
    big = {"relu": [([rng.standard_normal((5, 301)).astype(np.float32)], {})],
           "sigmoid": [([rng.standard_normal(2000).astype(np.float32)], {})],
           "mul": [([rng.standard_normal((40, 61)).astype(np.float32),
                     rng.standard_normal((61,)).astype(np.float32)], {})],
           "add": [([rng.standard_normal((3, 700)).astype(np.float32),
                     rng.standard_normal((3, 1)).astype(np.float32)], {})],
           "sum": [([rng.standard_normal((900, 7)).astype(np.float32)], dict(axis=0, keepdims=False))],
           "max": [([rng.standard_normal((5, 800)).astype(np.float32)], dict(axis=None, keepdims=False))],
           "softmax": [([rng.standard_normal((600, 9)).astype(np.float32)], dict(axis=-1))],
           "getitem": [([rng.standard_normal((700, 3)).astype(np.float32)],
                        dict(index=(rng.integers(0, 700, 900),)))],
           "permute": [([rng.standard_normal((30, 40)).astype(np.float32)], dict(dims=(1, 0)))],
           "cross_entropy": [([rng.standard_normal((700, 5)).astype(np.float32), rng.integers(0, 5, 700)],
                              dict(reduction="mean"))],
           "avg_pool2d": [([rng.standard_normal((4, 3, 20, 22)).astype(np.float32)],
                           dict(kernel_size=2, stride=None, padding=0))],
           "max_pool3d": [([rng.standard_normal((2, 3, 6, 9, 10)).astype(np.float32)],
                           dict(kernel_size=(2, 3, 2), stride=1, padding=1, dilation=(2, 1, 1)))]}
    check_op_on_emu(name, rng, big[name])


def barrier_ops():
    """Ops whose kernels use __syncthreads or warp shuffles (scanned from ops/*.cu)."""
    import os
    from tinygrad_cu.device.gpu import ops_dir
    names = []
    for name in OPS:
        op = REGISTRY[name]
        source = os.path.join(ops_dir(), type(op).__module__.rsplit(".", 1)[-1] + ".cu")
        if os.path.exists(source):
            text = open(source).read()
            for header in re.findall(r'#include "([^"]+)"', text):   # ops/*.cuh helpers
                text += open(os.path.join(ops_dir(), header)).read()
            if "__syncthreads" in text or "_sync(" in text:
                names.append(name)
    return names


@pytest.mark.parametrize("name", barrier_ops())
def test_barrier_kernels_pass_race_mode(name, rng, monkeypatch):
    """Shared memory poisoned and threads run in several orders: a missing
    __syncthreads or a read of unwritten shared memory raises."""
    device_or_skip("emu")
    from tinygrad_cu.device import _devices
    from tinygrad_cu.runtime import emu
    racy = GPUDevice("emu", emu, functools.partial(emu.SourceModule, check="race"))
    monkeypatch.setitem(_devices, "emu", racy)
    check_op_on_emu(name, rng, cases_for(name, rng, dtype=np.float32)[:2])


def test_geometry_tables_are_uploaded_once_and_shared():
    device_or_skip("emu")
    from tinygrad_cu.device import get_device
    gpu = get_device("emu")
    table = np.array([3, 4, 4, 1], np.int64)
    first, second = gpu.table(table), gpu.table(table.copy())
    assert first is second
    np.testing.assert_array_equal(gpu.to_numpy(first), table)
    assert gpu.table(np.array([3, 4, 4, 2], np.int64)) is not first
