"""device.full: a filled buffer made on the device. Checked bit for bit against np.full,
and on emu by counting the driver calls it makes: never a host-to-device copy."""
import numpy as np
import pytest

from tinygrad_cu.device import get_device
from tinygrad_cu.runtime import emu

from conftest import device_or_skip

VALUES = [(np.float32, 1.5), (np.float32, -0.0), (np.float32, np.inf), (np.float32, 0.0),
          (np.int32, -7), (np.int32, 0), (np.int64, 2**40 + 3), (np.int64, -1),
          (np.uint8, 200), (np.bool_, True), (np.bool_, False)]


@pytest.mark.parametrize("device", ["cpu", "emu"])
@pytest.mark.parametrize("dtype,value", VALUES)
def test_full_matches_numpy_bit_for_bit(device, dtype, value):
    dev = get_device(device_or_skip(device))
    for shape in [(3, 5), (1,), (), (0, 4), (70_001,)]:
        host = dev.to_numpy(dev.full(shape, value, dtype))
        ref = np.full(shape, value, dtype)
        assert host.dtype == ref.dtype and host.shape == ref.shape
        assert host.tobytes() == ref.tobytes()


def test_full_on_emu_uploads_nothing(monkeypatch):
    dev = get_device(device_or_skip("emu"))
    dev.full((4,), 2.0, np.float32)                 # compile the fill kernel first
    calls = []
    for name in ("memcpy_htod", "memset_d8"):
        real = getattr(emu, name)
        monkeypatch.setattr(emu, name, lambda *a, _real=real, _name=name: (calls.append(_name), _real(*a))[1])
    ones = dev.full((1000,), 1.0, np.float32)
    zeros = dev.zeros((1000,), np.int64)
    assert calls == ["memset_d8"]                   # zeros: one memset; ones: a kernel, no copy
    assert (dev.to_numpy(ones) == 1.0).all() and (dev.to_numpy(zeros) == 0).all()
