"""The tensor factories of issue 11 with PyTorch's signatures: linspace, from_numpy,
empty, the *_like family and randint; constants are filled on the device (no upload)."""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.device.gpu import GPUDevice

from conftest import device_or_skip


@pytest.fixture(params=["cpu", "emu"])
def device(request):
    return device_or_skip(request.param)


def test_linspace_values_ends_and_dtypes(device):
    np.testing.assert_array_equal(tg.linspace(0, 1, 5, device=device).numpy(), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(tg.linspace(-1, 1, 1).numpy(), [-1.0])          # one step: start
    assert tg.linspace(0, 1, 0).shape == (0,)
    t = tg.linspace(0.1, 0.7, 7, device=device)
    assert t.dtype == tg.float32 and t.device == device
    assert t.numpy()[-1] == np.float32(0.7)                     # both ends exact
    assert tg.linspace(0, 10, 3, dtype=tg.int64).tolist() == [0, 5, 10]
    with pytest.raises(ValueError, match="linspace: number of steps"):
        tg.linspace(0, 1, -1)


def test_from_numpy_keeps_the_dtype_and_shares_nothing():
    array = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = tg.from_numpy(array)
    assert t.dtype == tg.float64 and t.shape == (2, 3)          # tg.tensor would make float32
    array[0, 0] = 100.0                                         # the tensor has its own copy
    assert t.numpy()[0, 0] == 0.0
    for dtype in (np.int32, np.int64, np.uint8, np.bool_, np.float32):
        assert tg.from_numpy(np.zeros(2, dtype)).dtype == np.dtype(dtype)
    with pytest.raises(TypeError, match="from_numpy: expected np.ndarray, got list"):
        tg.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="float16"):
        tg.from_numpy(np.zeros(2, np.float16))


def test_like_factories_take_shape_dtype_and_device_from_their_input(device):
    ints = tg.tensor([[1, 2, 3]], device=device)
    floats = tg.ones(2, 2, device=device)
    assert tg.zeros_like(ints).tolist() == [[0, 0, 0]] and tg.zeros_like(ints).dtype == tg.int64
    assert tg.ones_like(floats).tolist() == [[1, 1], [1, 1]] and tg.ones_like(floats).device == device
    assert tg.full_like(ints, 2.7).tolist() == [[2, 2, 2]]                  # input's dtype: truncated
    assert tg.full_like(ints, 2.5, dtype=tg.float32).tolist() == [[2.5, 2.5, 2.5]]
    assert tg.empty_like(floats).shape == (2, 2) and tg.empty_like(ints).dtype == tg.int64
    r = tg.rand_like(floats, requires_grad=True)
    assert r.requires_grad and r.shape == (2, 2) and (0 <= r.numpy()).all() and (r.numpy() < 1).all()
    assert tg.randn_like(floats).shape == (2, 2)
    assert tg.zeros_like(floats, device="cpu").device == "cpu"
    with pytest.raises(TypeError, match="random floats cannot have dtype int64"):
        tg.rand_like(ints)


def test_empty_and_full_dtypes(device):
    e = tg.empty(2, 3, device=device)
    assert e.shape == (2, 3) and e.dtype == tg.float32 and e.device == device
    assert tg.empty((4,), dtype=tg.int64, device=device).dtype == tg.int64
    assert tg.empty(0, device=device).shape == (0,)
    assert tg.full((2,), 3).dtype == tg.int64 and tg.full((2,), True).dtype == tg.bool_
    assert tg.full(3, 1.5, device=device).tolist() == [1.5, 1.5, 1.5]


def test_randint_signatures():
    tg.manual_seed(3)
    a = tg.randint(10, (50,))                                   # randint(high, size)
    assert a.dtype == tg.int64 and a.shape == (50,) and 0 <= a.numpy().min() and a.numpy().max() < 10
    b = tg.randint(-3, 3, (4, 5), device="cpu")                 # randint(low, high, size)
    assert b.shape == (4, 5) and -3 <= b.numpy().min() and b.numpy().max() < 3
    assert tg.randint(0, 2, size=(3,), dtype=tg.int32).dtype == tg.int32
    assert tg.randint(5, size=(2,)).numpy().max() < 5
    f = tg.randint(0, 4, (3,), dtype=tg.float32, requires_grad=True)
    assert f.requires_grad and set(f.tolist()) <= {0.0, 1.0, 2.0, 3.0}
    with pytest.raises(RuntimeError, match="only floating point tensors can require gradients"):
        tg.randint(0, 10, (2,), requires_grad=True)
    with pytest.raises(ValueError, match="randint: low must be less than high"):
        tg.randint(5, 5, (2,))
    tg.manual_seed(7)
    first = tg.randint(0, 100, (8,)).tolist()
    tg.manual_seed(7)
    assert tg.randint(0, 100, (8,), device=device_or_skip("emu")).tolist() == first   # same seed, same numbers


def test_constant_factories_fill_on_the_device_without_an_upload(monkeypatch):
    device_or_skip("emu")
    uploads = []
    real = GPUDevice.memcpy_htod
    monkeypatch.setattr(GPUDevice, "memcpy_htod", lambda self, dest, host: (uploads.append(host.shape),
                                                                           real(self, dest, host)))
    like = tg.zeros(3, device="emu")
    made = [tg.ones(2, 3, device="emu"), tg.full((4,), 2.5, device="emu"), tg.empty(5, device="emu"),
            tg.zeros_like(like), tg.ones_like(like), tg.full_like(like, -1.0), tg.empty_like(like)]
    assert uploads == []
    assert made[0].tolist() == [[1.0] * 3] * 2 and made[1].tolist() == [2.5] * 4 and made[5].tolist() == [-1.0] * 3


def test_linspace_refuses_bool_and_negative_steps_as_pytorch():
    with pytest.raises(RuntimeError, match="linspace: not supported for bool"):
        tg.linspace(5, 10, 3, dtype=np.bool_)
    with pytest.raises(ValueError, match="linspace: number of steps must be non-negative, got -1"):
        tg.linspace(1, 2, -1)


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_negative_or_fractional_sizes_are_refused_on_every_device(device):
    """A device fill of (2, -3, 0) has no elements, so nothing would notice: the sizes are
    checked before (PyTorch: RuntimeError 'negative dimension'; here OpError, also a ValueError)."""
    tg.device_status(device)[0] or pytest.skip(f"{device} unavailable: {tg.device_status(device)[1]}")
    for make in (lambda: tg.full((2, -3, 0), 4.0, device=device), lambda: tg.zeros(2, -1, device=device),
                 lambda: tg.empty(3, -2, device=device), lambda: tg.ones((-3, 2), device=device)):
        with pytest.raises(ValueError, match="negative dimension") as caught:
            make()
        assert isinstance(caught.value, RuntimeError)
    with pytest.raises(TypeError, match="ones: sizes must be ints, got float 1.5"):
        tg.ones((2, 1.5), device=device)
    assert tg.zeros(2, 0, device=device).shape == (2, 0)
