"""Edge cases of the copy kernels (ops/movement.cu), pooling (ops/pool.cu) and the
optimiser kernels (ops/optim.cu) on `emu`, against the numpy references.

tests/test_ops_emu.py covers the float32 cases every op gets; here: the other dtypes the
copy kernels move, casts between them, empty tensors, pooling ties and -inf, and a few
optimiser steps of every configuration compared with the numpy `update`.
"""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.autograd import apply
from tinygrad_cu.device import get_device
from tinygrad_cu.device.gpu import GPUDevice
from tinygrad_cu.op import REGISTRY

from conftest import device_or_skip


@pytest.fixture
def emu(monkeypatch):
    device_or_skip("emu")
    monkeypatch.setattr(GPUDevice, "MAX_BLOCKS", 2)    # exercise the grid-stride loops
    return get_device("emu")


def both(name, arrays, **attrs):
    """The op's output on cpu and on emu (no gradients)."""
    outs = []
    for device in ("cpu", "emu"):
        ts = [tg.Tensor(a, dtype=a.dtype, device=device) for a in arrays]
        outs.append(apply(name, *ts, **attrs).numpy())
    return outs


def assert_same(want, got):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


INT_ARRAYS = {
    "int64": lambda rng, s: rng.integers(-5, 5, s).astype(np.int64),
    "int32": lambda rng, s: rng.integers(-5, 5, s).astype(np.int32),
    "uint8": lambda rng, s: rng.integers(0, 255, s).astype(np.uint8),
    "bool": lambda rng, s: rng.integers(0, 2, s).astype(bool),
}


@pytest.mark.parametrize("kind", sorted(INT_ARRAYS))
def test_copy_kernels_move_every_gpu_dtype(kind, rng, emu):
    make = lambda *s: INT_ARRAYS[kind](rng, s)
    x = make(3, 4, 5)
    for name, arrays, attrs in [
            ("permute", [x], dict(dims=(2, 0, 1))),
            ("expand", [make(4, 1)], dict(shape=(2, 4, 300))),
            ("getitem", [x], dict(index=(np.array([2, 0, 2]), slice(None, None, -1)))),
            ("getitem", [x], dict(index=(x.astype(bool) if kind == "bool" else x > 0,))),
            ("cat", [make(3, 2), make(3, 7), make(3, 1)], dict(axis=1)),
            ("pad", [x], dict(pad_width=((1, 0), (0, 2), (3, 1)), value=1))]:
        want, got = both(name, arrays, **attrs)
        assert_same(want, got)


@pytest.mark.parametrize("src", ["float32", "int32", "int64", "uint8", "bool"])
@pytest.mark.parametrize("dst", ["float32", "int32", "int64", "uint8", "bool"])
def test_cast_between_gpu_dtypes(src, dst, rng, emu):
    x = rng.uniform(-300, 300, 600)
    x[:4] = [0.0, -0.0, 0.7, -0.7]
    if src == "uint8":
        x = np.abs(x) % 256
    x = x.astype(src)
    want, got = both("cast", [x], dtype=np.dtype(dst))
    if src == "float32" and dst == "uint8":    # C leaves out-of-range float -> uint8 undefined
        keep = (x >= 0) & (x < 256)
        want, got = want[keep], got[keep]
    assert_same(want, got)


def test_cast_to_float64_names_op_and_device(emu):
    x = tg.Tensor(np.ones(3, np.float32), device="emu")
    with pytest.raises(TypeError, match="cast.*float64.*emu"):
        apply("cast", x, dtype=np.float64)


@pytest.mark.parametrize("name, shape, attrs", [
    ("permute", (0, 3), dict(dims=(1, 0))),
    ("expand", (0, 1), dict(shape=(0, 4))),
    ("getitem", (4, 3), dict(index=(slice(2, 2),))),
    ("cat", (0, 3), dict(axis=0)),
    ("pad", (0, 2), dict(pad_width=((0, 0), (1, 1)), value=0.0)),
    ("cast", (0,), dict(dtype=np.dtype(np.int64)))])
def test_empty_tensors_launch_nothing(name, shape, attrs, emu):
    x = np.zeros(shape, np.float32)
    want, got = both(name, [x], **attrs)
    assert_same(want, got)


def grads_on(device, name, x, out_grad, **attrs):
    t = tg.Tensor(x, device=device, requires_grad=True)
    out = apply(name, t, **attrs)
    out.backward(tg.Tensor(out_grad, device=device))
    return out.numpy(), t.grad.numpy()


def test_getitem_backward_adds_repeated_indices(rng, emu):
    x = rng.standard_normal((50, 3)).astype(np.float32)
    index = (rng.integers(0, 5, 4000),)                 # every row hit hundreds of times
    out_grad = rng.standard_normal((4000, 3)).astype(np.float32)
    want = grads_on("cpu", "getitem", x, out_grad, index=index)
    got = grads_on("emu", "getitem", x, out_grad, index=index)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("attrs", [dict(kernel_size=3, stride=1, padding=1),
                                   dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 0)),
                                   dict(kernel_size=4, stride=3, padding=2),
                                   dict(kernel_size=1, stride=2, padding=0)])
def test_pooling_overlapping_and_strided_windows(name, attrs, rng, emu):
    x = rng.standard_normal((2, 3, 13, 11)).astype(np.float32)
    if name == "max_pool2d":
        x = np.round(x * 2) / 2                         # many ties: the first maximum wins
        x[0, 0, :3, :3] = -np.inf                        # a window of -inf only
    out_shape = apply(name, tg.Tensor(x), **attrs).shape
    out_grad = rng.standard_normal(out_shape).astype(np.float32)
    want = grads_on("cpu", name, x, out_grad, **attrs)
    got = grads_on("emu", name, x, out_grad, **attrs)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


SGD_CONFIGS = [dict(lr=0.1), dict(lr=0.05, weight_decay=0.01), dict(lr=0.1, momentum=0.9),
               dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.02, momentum=0.5, weight_decay=0.1),
               dict(lr=0.02, momentum=0.8, weight_decay=0.1, nesterov=True)]
ADAM_CONFIGS = [dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0),
                dict(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.05),
                dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, decoupled=True),
                dict(lr=3e-3, beta1=0.0, beta2=0.5, eps=1e-3, weight_decay=0.1, decoupled=True)]


def run_updates(emu, name, n_state, hyper, rng, steps=4, shape=(37, 29)):
    """`steps` updates with fresh gradients on numpy and on emu; compare every buffer."""
    op = REGISTRY[name]
    host = [rng.standard_normal(shape).astype(np.float32)] + [np.zeros(shape, np.float32)] * n_state
    host = [a.copy() for a in host]
    dev = [emu.from_numpy(a) for a in host]
    for step in range(1, steps + 1):
        g = rng.standard_normal(shape).astype(np.float32)
        extra = dict(step=step) if name == "adam_step" else {}
        op.update(host[0], g, *host[1:], **hyper, **extra)
        op.gpu_update(emu, dev[0], emu.from_numpy(g), *dev[1:], **hyper, **extra)
        for want, buf in zip(host, dev):
            np.testing.assert_allclose(emu.to_numpy(buf), want, rtol=2e-5, atol=1e-6,
                                       err_msg=f"{name} {hyper} step {step}")


@pytest.mark.parametrize("hyper", SGD_CONFIGS)
def test_sgd_step_kernel_matches_numpy(hyper, rng, emu):
    run_updates(emu, "sgd_step", 1, hyper, rng)


def test_sgd_without_momentum_leaves_the_buffer_alone(rng, emu):
    """The optimiser passes the gradient as the buffer when momentum is 0."""
    p, g = rng.standard_normal((2, 1000)).astype(np.float32)
    dp, dg = emu.from_numpy(p), emu.from_numpy(g)
    REGISTRY["sgd_step"].gpu_update(emu, dp, dg, dg, lr=0.5)
    np.testing.assert_array_equal(emu.to_numpy(dg), g)
    np.testing.assert_allclose(emu.to_numpy(dp), p - np.float32(0.5) * g, rtol=1e-6)


@pytest.mark.parametrize("hyper", ADAM_CONFIGS)
def test_adam_step_kernel_matches_numpy(hyper, rng, emu):
    run_updates(emu, "adam_step", 2, hyper, rng)


def test_update_kernels_handle_empty_parameters(emu):
    e = emu.from_numpy(np.zeros((0, 3), np.float32))
    REGISTRY["sgd_step"].gpu_update(emu, e, e, e, lr=0.1, momentum=0.9)
    REGISTRY["adam_step"].gpu_update(emu, e, e, e, e, **ADAM_CONFIGS[0], step=1)
