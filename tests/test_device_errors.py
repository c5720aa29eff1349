"""Errors found by kernels: cross_entropy checks its labels on the device.

A label outside [0, C) is found by cross_entropy_forward, which writes it to the
device's error record; the ValueError (the cpu's message, naming cross_entropy, the
first bad label and the number of classes) comes at the next read from the device
(.item(), .numpy(), .tolist()), before any value can be seen, or right after the
launch with TINYGRAD_CU_SYNC=1. Expected messages are written out by hand."""
import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F
from tinygrad_cu.device import get_device
from tinygrad_cu.device.gpu import GPUDevice
from tinygrad_cu.runtime import emu

from conftest import device_or_skip


def logits(device, n=5, c=3):
    return tg.Tensor(np.linspace(-1, 1, n * c, dtype=np.float32).reshape(n, c), device=device,
                     requires_grad=True)


@pytest.mark.parametrize("device", ["cpu", "emu"])
@pytest.mark.parametrize("labels,message", [
    ([0, 1, 7, -2, 9], "cross_entropy: label 7 is out of range for 3 classes (labels must be in [0, 3))"),      # the first bad one
    ([0, 1, 2, 0, -(2**40) - 3], "cross_entropy: label -1099511627779 is out of range for 3 classes (labels must be in [0, 3))"),
    ([3, 0, 0, 0, 0], "cross_entropy: label 3 is out of range for 3 classes (labels must be in [0, 3))"),
])
def test_bad_label_message_is_the_same_on_every_device(device, labels, message):
    device_or_skip(device)
    x = logits(device)
    with pytest.raises(ValueError) as info:
        loss = F.cross_entropy(x, tg.tensor(labels, device=device))
        loss.item()
    assert str(info.value) == message


def test_on_emu_the_error_comes_at_the_next_read_not_before(monkeypatch):
    device_or_skip("emu")
    x = logits("emu")
    downloads = []
    real = emu.memcpy_dtoh
    monkeypatch.setattr(emu, "memcpy_dtoh", lambda *a: (downloads.append(a[0].nbytes), real(*a))[1])
    loss = F.cross_entropy(x, tg.tensor([0, 5, 1, 1, 1], device="emu"))   # no host copy of the labels
    loss.backward()                                                       # the step goes on ...
    assert downloads == []
    with pytest.raises(ValueError, match="cross_entropy: label 5 is out of range for 3 classes"):
        loss.item()                                                       # ... and stops at the read
    assert downloads == [32]                                              # only the error record
    # the record is cleared: good labels work again, and the pending loss can be read now
    good = F.cross_entropy(x, tg.tensor([0, 1, 2, 1, 0], device="emu"))
    np.testing.assert_allclose(good.item(), F.cross_entropy(logits("cpu"), tg.tensor([0, 1, 2, 1, 0])).item(),
                               rtol=1e-6)


@pytest.mark.parametrize("read", ["numpy", "tolist", "item_of_other"])
def test_no_value_can_be_read_from_the_device_before_the_error(read):
    device_or_skip("emu")
    x = logits("emu")
    other = tg.ones(3, device="emu") * 2                    # an unrelated tensor on the same device
    per_row = F.cross_entropy(x, tg.tensor([0, 1, 4, 1, 1], device="emu"), reduction="none")
    with pytest.raises(ValueError, match="label 4 is out of range for 3 classes"):
        if read == "numpy":
            per_row.numpy()
        elif read == "tolist":
            per_row.tolist()
        else:
            other.sum().item()
    assert np.isnan(per_row.numpy()[2])                      # the bad row's loss is NaN, not garbage


def test_sync_mode_raises_right_after_the_launch(monkeypatch):
    device_or_skip("emu")
    monkeypatch.setenv("TINYGRAD_CU_SYNC", "1")
    gpu = GPUDevice("emu", emu, emu.SourceModule)
    x = gpu.from_numpy(np.zeros((2, 3), np.float32))
    labels = gpu.from_numpy(np.array([1, -1], np.int64))
    op = tg.REGISTRY["cross_entropy"]

    class Ctx:
        def save(self, **kw):
            pass
    with pytest.raises(ValueError, match="cross_entropy: label -1 is out of range for 3 classes"):
        op.gpu_forward(gpu, Ctx(), x, labels, reduction="none")


def test_the_error_record_is_allocated_once():
    device_or_skip("emu")
    gpu = get_device("emu")
    x = logits("emu")
    F.cross_entropy(x, tg.tensor([0, 1, 2, 1, 0], device="emu")).item()
    record = gpu._error_record
    for _ in range(3):
        F.cross_entropy(x, tg.tensor([0, 1, 2, 1, 0], device="emu")).item()
    assert gpu._error_record is record
