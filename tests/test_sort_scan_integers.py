"""Sorting and running sums of integer tensors (issue t2), as PyTorch: sort / argsort /
topk of int32, int64, uint8 and bool keep the values' dtype and compare exactly (no float
round trip: 2^24 + 1 and 2^24 stay apart); cumsum / cumprod of integers and bool return
int64 and wrap on overflow. Against Python's sorted() and plain loops over Python ints,
on cpu and on emu (the integer kernels of ops/sort.cu and ops/scan.cu, also under the
emulator's race-checking mode)."""
import functools

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.device.gpu import GPUDevice

from conftest import device_or_skip

DEVICES = ["cpu", "emu"]


def on(device):
    return device if device == "cpu" else device_or_skip(device)


def python_order(row, descending):
    """Stable order of a row of Python ints (ties keep their positions)."""
    return sorted(range(len(row)), key=lambda r: -row[r] if descending else row[r])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_sort_is_exact_and_stable(device, dtype, rng):
    a = rng.integers(-2**30, 2**30, size=(3, 9)).astype(dtype)
    a[0, :3] = [2**24 + 1, 2**24, 2**24 + 1]          # equal in float32; a tie
    for descending in (False, True):
        values, indices = tg.Tensor(a, device=on(device)).sort(1, descending=descending)
        assert values.dtype == dtype and indices.dtype == np.int64
        for r in range(3):
            order = python_order([int(v) for v in a[r]], descending)
            assert indices.numpy()[r].tolist() == order
            assert values.numpy()[r].tolist() == [int(a[r, i]) for i in order]
    top, where = tg.Tensor(a, device=on(device)).topk(2, dim=0, largest=False)
    for c in range(9):
        order = python_order([int(v) for v in a[:, c]], False)[:2]
        assert where.numpy()[:, c].tolist() == order and top.numpy()[:, c].tolist() == [int(a[i, c]) for i in order]


@pytest.mark.parametrize("device", DEVICES)
def test_uint8_and_bool_sort_as_their_values(device):
    u = np.array([200, 3, 255, 3, 0], np.uint8)
    values, indices = tg.Tensor(u, device=on(device)).sort(descending=True)
    assert values.dtype == np.uint8 and values.numpy().tolist() == [255, 200, 3, 3, 0]
    assert indices.numpy().tolist() == [2, 0, 1, 3, 4]
    b = tg.Tensor(np.array([True, False, True, False]), device=on(device))
    assert b.argsort().numpy().tolist() == [1, 3, 0, 2]
    assert b.sort()[0].dtype == np.bool_


@pytest.mark.parametrize("device", DEVICES)
def test_integer_cumsum_and_cumprod_are_int64_and_wrap(device, rng):
    a = rng.integers(-5, 6, size=(2, 40)).astype(np.int32)
    a[0, 0] = 2**31 - 1                                 # the int64 result holds int32 overflow
    x = tg.Tensor(a, device=on(device))
    for name, step in (("cumsum", lambda s, v: s + v), ("cumprod", lambda s, v: s * v)):
        got = getattr(x, name)(1)
        assert got.dtype == np.int64
        for r in range(2):
            acc, want = None, []
            for v in a[r]:
                acc = int(v) if acc is None else step(acc, int(v))
                acc = (acc + 2**63) % 2**64 - 2**63       # int64 wrap-around, as PyTorch
                want.append(acc)
            assert got.numpy()[r].tolist() == want
    big = tg.Tensor(np.array([2**62, 4, 3], np.int64), device=on(device))
    assert big.cumprod(0).numpy().tolist() == [2**62, 0, 0]
    flags = tg.Tensor(np.array([True, False, True]), device=on(device))
    assert flags.cumsum(0).dtype == np.int64 and flags.cumsum(0).numpy().tolist() == [1, 1, 2]
    assert x.cumsum(1, dtype=tg.float32).dtype == np.float32


def test_integer_kernels_pass_race_mode(rng, monkeypatch):
    """Shared memory poisoned and threads run in several orders (the int64 scan and
    the integer bitonic network keep their barriers)."""
    device_or_skip("emu")
    from tinygrad_cu.device import _devices
    from tinygrad_cu.runtime import emu
    monkeypatch.setitem(_devices, "emu", GPUDevice("emu", emu, functools.partial(emu.SourceModule, check="race")))
    a = rng.integers(-100, 100, size=(2, 37)).astype(np.int64)
    x = tg.Tensor(a, device="emu")
    assert (x.argsort(1).numpy() == np.argsort(a, 1, kind="stable")).all()
    assert (x.cumsum(1).numpy() == np.cumsum(a, 1)).all()
    assert (tg.Tensor(a.astype(np.int32), device="emu").argsort(0, descending=True).numpy()
            == np.argsort(-a, 0, kind="stable")).all()
