"""Edge cases of the reduction and softmax kernels (ops/reduce.cu, ops/softmax.cu) on emu:
non-contiguous axis sets (several passes), rows longer than a block, several rows per
block (tiny grids), ties for max/min/argmax, extreme logits, label and dtype errors."""
import functools

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.autograd import apply
from tinygrad_cu.device.gpu import GPUDevice

from conftest import device_or_skip
from test_ops_emu import check_op_on_emu


@pytest.fixture
def emu(monkeypatch):
    """The emu device, grids capped at 2 blocks so every kernel loops over its outputs."""
    device_or_skip("emu")
    monkeypatch.setattr(GPUDevice, "MAX_BLOCKS", 2)


def f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def reduce_cases(rng):
    x4 = f32(rng, 2, 3, 4, 5)
    return [([x4], dict(axis=(0, 2), keepdims=False)),        # two passes
            ([x4], dict(axis=(1, 3), keepdims=True)),
            ([x4], dict(axis=(0, 1, 3), keepdims=False)),
            ([f32(rng, 3, 1, 4)], dict(axis=(0, 1), keepdims=False)),   # size-1 dim merged away
            ([f32(rng, 1, 1)], dict(axis=None, keepdims=True)),         # nothing left to reduce
            ([f32(rng, 600)], dict(axis=0, keepdims=False)),            # R > 256 threads
            ([f32(rng, 700, 3)], dict(axis=0, keepdims=True))]          # strided, R > 256


@pytest.mark.parametrize("name", ["sum", "max", "min"])
def test_reduce_any_axes(name, rng, emu):
    check_op_on_emu(name, rng, reduce_cases(rng))


@pytest.mark.parametrize("name", ["max", "min"])
def test_ties_split_the_gradient(name, rng, emu):
    x = rng.integers(0, 3, size=(4, 300)).astype(np.float32)   # many equal extremes
    check_op_on_emu(name, rng, [([x], dict(axis=-1, keepdims=False)), ([x], dict(axis=(0, 1), keepdims=False)),
                                ([x], dict(axis=0, keepdims=True))])


@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_first_index_on_ties(name, rng, emu):
    x = rng.integers(0, 3, size=(5, 700)).astype(np.float32)
    x[1] = 1.0                                   # a constant row: index 0
    x[2, 650] = -9.0 if name == "argmin" else 9.0   # unique extreme far from thread 0
    for attrs in (dict(axis=None, keepdims=False), dict(axis=1, keepdims=False), dict(axis=0, keepdims=True)):
        got = apply(name, tg.Tensor(x, device="emu"), **attrs).numpy()
        want = apply(name, tg.Tensor(x), **attrs).numpy()
        np.testing.assert_array_equal(got, want, err_msg=str(attrs))
        assert got.dtype == np.int64


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_long_and_strided_rows(name, rng, emu):
    check_op_on_emu(name, rng, [([f32(rng, 3, 600)], dict(axis=-1)), ([f32(rng, 3, 300, 4)], dict(axis=1)),
                                ([f32(rng, 5, 2, 3)], dict(axis=0))])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_extreme_logits_stay_finite(name, emu):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0]], np.float32)
    got = apply(name, tg.Tensor(x, device="emu"), axis=-1).numpy()
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, apply(name, tg.Tensor(x), axis=-1).numpy(), rtol=1e-5, atol=1e-6)


def test_cross_entropy_long_rows(rng, emu):
    for reduction in ("mean", "sum", "none"):
        check_op_on_emu("cross_entropy", rng, [([f32(rng, 9, 400), rng.integers(0, 400, 9)],
                                                dict(reduction=reduction))])


def test_cross_entropy_label_errors(rng, emu):
    logits = tg.Tensor(f32(rng, 3, 4), device="emu")
    # labels are checked on the device: the error comes at the next read (tests/test_device_errors.py)
    with pytest.raises(ValueError, match="cross_entropy: label 4 is out of range for 4 classes"):
        apply("cross_entropy", logits, tg.Tensor(np.array([0, 4, 1]), device="emu")).item()
    with pytest.raises(ValueError, match="cross_entropy: label -1 is out of range"):
        apply("cross_entropy", logits, tg.Tensor(np.array([0, -1, 1]), device="emu")).item()
    with pytest.raises(TypeError, match="cross_entropy.*emu.*int32"):
        apply("cross_entropy", logits, tg.Tensor(np.array([0, 1, 1], np.int32), dtype=np.int32, device="emu"))


def test_gpu_dtype_errors_name_the_op(emu):
    x = tg.Tensor(np.arange(6).reshape(2, 3), device="emu")      # int64
    with pytest.raises(TypeError, match="softmax: expected floating point.*int64"):   # on every device
        apply("softmax", x, axis=-1)            # (argmax, max, min take integers: tests/test_integer_ops.py)


def test_zero_size(emu):
    x = tg.Tensor(np.zeros((0, 3), np.float32), device="emu", requires_grad=True)
    s = apply("sum", x, axis=0, keepdims=False)
    np.testing.assert_array_equal(s.numpy(), np.zeros(3, np.float32))
    s.backward(tg.Tensor(np.ones(3, np.float32), device="emu"))
    assert x.grad.numpy().shape == (0, 3)
    assert apply("sum", x, axis=1, keepdims=False).numpy().shape == (0,)
    assert apply("softmax", x, axis=-1).numpy().shape == (0, 3)


@pytest.mark.parametrize("name", ["sum", "max", "argmax", "softmax", "log_softmax", "cross_entropy"])
def test_race_mode_multi_row_blocks(name, rng, monkeypatch, emu):
    """Race mode on rows longer than a block and several rows per block: the shared
    buffers are reused between rows without a trailing barrier (see block_reduce in ops/reduce.cu)."""
    from tinygrad_cu.device import _devices
    from tinygrad_cu.runtime import emu as emu_driver
    monkeypatch.setitem(_devices, "emu", GPUDevice("emu", emu_driver,
                                                   functools.partial(emu_driver.SourceModule, check="race")))
    cases = {"sum": [([f32(rng, 5, 300)], dict(axis=-1, keepdims=False))],
             "max": [([rng.integers(0, 3, (5, 300)).astype(np.float32)], dict(axis=-1, keepdims=False))],
             "softmax": [([f32(rng, 5, 300)], dict(axis=-1))],
             "log_softmax": [([f32(rng, 5, 70, 2)], dict(axis=1))],
             "cross_entropy": [([f32(rng, 5, 300), rng.integers(0, 300, 5)], dict(reduction="mean"))]}
    if name == "argmax":
        x = rng.integers(0, 3, (5, 300)).astype(np.float32)
        got = apply(name, tg.Tensor(x, device="emu"), axis=-1).numpy()
        np.testing.assert_array_equal(got, x.argmax(axis=-1))
        return
    check_op_on_emu(name, rng, cases[name])
