"""The integer group (issue 11): `& | ^ ~ << >>` on integer and bool tensors, and max /
min / argmax / argmin (max/min(dim), sort, topk, cummax) and comparisons on integer
tensors, on cpu and emu.

Expected values are PyTorch 2.13's for the same inputs (run side by side once and
written down here), which a reader can check by hand."""
import functools

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.autograd import apply

from conftest import device_or_skip

DEVICES = ["cpu", "emu"]


@pytest.mark.parametrize("device", DEVICES)
def test_operators_on_integers_and_bools(device):
    device_or_skip(device)
    a = tg.tensor([12, 10, -3], device=device)                     # int64
    b = tg.tensor([10, 6, 5], device=device)
    assert (a & b).tolist() == [8, 2, 5] and (a | b).tolist() == [14, 14, -3]
    assert (a ^ b).tolist() == [6, 12, -8] and (~a).tolist() == [-13, -11, 2]
    assert (a & 6).tolist() == [4, 2, 4] and (1 << b).tolist() == [1024, 64, 32]
    assert (a >> 1).tolist() == [6, 5, -2]                            # arithmetic for signed
    t, f = tg.tensor([True, True, False, False], device=device), tg.tensor([True, False, True, False], device=device)
    assert (t & f).tolist() == [True, False, False, False] and (t | f).tolist() == [True, True, True, False]
    assert (t ^ f).tolist() == [False, True, True, False] and (~t).tolist() == [False, False, True, True]
    assert (t & f).dtype == tg.bool_
    u = tg.tensor(np.array([1, 200, 255], np.uint8), device=device)
    assert (~u).tolist() == [254, 55, 0] and (u << 1).tolist() == [2, 144, 254]


@pytest.mark.parametrize("device", DEVICES)
def test_shift_counts_outside_the_bit_width_give_pytorchs_values(device):
    device_or_skip(device)
    for dt, bits in ((np.int64, 64), (np.int32, 32)):
        a = tg.tensor(np.array([1, -8, 5, -1], dt), device=device)
        left = tg.tensor(np.array([bits, bits + 1, -1, 3], dt), device=device)
        right = tg.tensor(np.array([bits, bits + 6, -1, 2], dt), device=device)
        assert (a << left).tolist() == [0, 0, 0, -8]
        assert (a >> right).tolist() == [0, -1, 0, -1]
    assert (tg.tensor(np.array([-8], np.int32), device=device) << 31).tolist() == [0]   # wraps
    u = tg.tensor(np.array([1, 200, 255], np.uint8), device=device)
    assert (u << tg.tensor(np.array([8, 1, 7], np.uint8), device=device)).tolist() == [0, 144, 128]
    assert (u >> tg.tensor(np.array([8, 1, 9], np.uint8), device=device)).tolist() == [0, 100, 0]


@pytest.mark.parametrize("device", DEVICES)
def test_bitwise_ops_refuse_floats_and_shifts_refuse_bools(device):
    device_or_skip(device)
    x = tg.tensor([1.0, 2.0], device=device)
    with pytest.raises(TypeError, match="bitwise_and.*float32"):
        x & x
    with pytest.raises(TypeError, match="bitwise_not.*float32"):
        ~x
    t = tg.tensor([True], device=device)
    with pytest.raises(TypeError, match="bitwise_left_shift.*bool"):
        t << t
    mixed = tg.tensor([1 << 40], device=device) | tg.tensor(np.array([2], np.int32), device=device)
    assert mixed.dtype == tg.int64 and mixed.tolist() == [(1 << 40) | 2]       # promoted, as PyTorch


@pytest.mark.parametrize("device", DEVICES)
def test_maximum_minimum_of_int32_uint8_and_bool_keep_the_dtype_and_the_extremes(device):
    device_or_skip(device)
    hi, lo = 2 ** 31 - 1, -2 ** 31
    x = tg.tensor(np.array([-1234, 0, 1234, hi, lo], np.int32), device=device)
    assert x.maximum(hi).tolist() == [hi] * 5 and x.minimum(hi).tolist() == [-1234, 0, 1234, hi, lo]
    assert x.minimum(lo).tolist() == [lo] * 5 and x.maximum(lo).dtype == tg.int32
    u = tg.tensor(np.array([0, 7, 255], np.uint8), device=device)
    v = tg.tensor(np.array([3, 7, 254], np.uint8), device=device)
    assert u.maximum(v).tolist() == [3, 7, 255] and u.minimum(v).tolist() == [0, 7, 254]
    t, f = tg.tensor([True, False, False], device=device), tg.tensor([True, True, False], device=device)
    assert t.maximum(f).tolist() == [True, True, False] and t.minimum(f).tolist() == [True, False, False]
    assert t.maximum(f).dtype == tg.bool_


@pytest.mark.parametrize("device", DEVICES)
def test_matmul_of_integers_is_exact_and_wraps_as_pytorch(device):
    device_or_skip(device)
    a = tg.tensor([[1, 2], [3, 4]], device=device)
    assert (a @ tg.tensor([[5], [6]], device=device)).tolist() == [[17], [39]] and (a @ a).dtype == tg.int64
    big = tg.tensor([2 ** 40, 3], device=device) @ tg.tensor([2 ** 20, 1], device=device)   # a 1-D dot
    assert big.shape == () and big.item() == 2 ** 60 + 3                 # beyond float64's 2^53
    i32 = lambda v: tg.tensor(np.array(v, np.int32), device=device)
    wrapped = i32([[2 ** 31 - 1, 2]]) @ i32([[2], [1]])                 # 2^32 wraps to 0 (PyTorch 2.13)
    assert wrapped.dtype == tg.int32 and wrapped.tolist() == [[0]]
    u8 = lambda v: tg.tensor(np.array(v, np.uint8), device=device)
    assert (u8([[200, 100]]) @ u8([[2], [1]])).tolist() == [[244]]        # 500 mod 256, as PyTorch
    with pytest.raises(TypeError, match="matmul_int.*int32, int64"):
        i32([1, 2]) @ tg.tensor([1, 2], device=device)
    with pytest.raises(TypeError, match="matmul_int.*bool"):
        tg.tensor([True], device=device) @ tg.tensor([True], device=device)


@pytest.mark.parametrize("device", DEVICES)
def test_max_min_argmax_argmin_of_int64_are_exact_beyond_float32(device):
    device_or_skip(device)
    big = 2 ** 60
    x = tg.tensor([[big + 1, 3, big, big + 1], [-big, 9, -big - 1, 9]], device=device)
    assert x.max().item() == big + 1 and x.min().item() == -big - 1
    # the ops themselves (Tensor.max(dim) returns (values, indices) where PyTorch's does)
    assert apply("max", x, axis=1).tolist() == [big + 1, 9]
    assert apply("min", x, axis=0).tolist() == [-big, 3, -big - 1, 9]
    assert x.argmax(dim=1).tolist() == [0, 1]            # ties: the first, as PyTorch
    assert x.argmin().item() == 6 and x.max().dtype == tg.int64
    b = tg.tensor([[False, True], [False, False]], device=device)
    assert apply("max", b, axis=1).tolist() == [True, False] and b.argmax(dim=1).tolist() == [1, 0]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_max_min_of_dim_of_integers_return_exact_values_and_indices(device, dtype):
    """Tensor.max(dim) / min(dim) read their values with values_at, which has int32 and
    int64 kernels (forward only: an integer output has no gradient)."""
    device_or_skip(device)
    x = tg.tensor(np.array([[3, -7, 3, 1], [0, 5, 9, 9]], dtype), device=device)
    top, low = x.max(1), x.min(dim=0, keepdim=True)
    assert top.values.dtype == x.dtype and top.values.tolist() == [3, 9] and top.indices.tolist() == [0, 2]
    assert low.values.tolist() == [[0, -7, 3, 1]] and low.indices.tolist() == [[1, 0, 0, 0]]
    assert not top.values.requires_grad
    assert tg.tensor(np.array(4, dtype), device=device).min(0).values.tolist() == 4      # 0-d
    picked = apply("values_at", x, tg.tensor([[3, 1], [2, 0]], device=device), axis=1, unique=True)
    assert picked.dtype == x.dtype and picked.tolist() == [[1, -7], [9, 0]]
    if dtype == np.int64:                         # exact beyond float32 / float64's 53 bits
        big = tg.tensor([[2 ** 62 + 1, 2 ** 62], [-(2 ** 62) - 1, 5]], device=device)
        assert big.max(1).values.tolist() == [2 ** 62 + 1, 5]
        assert big.min(1).values.tolist() == [2 ** 62, -(2 ** 62) - 1]
    with pytest.raises(IndexError, match="out of"):
        apply("values_at", x, tg.tensor([[4], [0]], device=device), axis=1).numpy()

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_sort_argsort_topk_of_integers_are_exact_and_stable(device, dtype):
    device_or_skip(device)
    low = np.iinfo(dtype).min                     # -low overflows: the descending order must not negate
    x = tg.tensor(np.array([[5, low, -1, low, 7], [2, 2, 0, 9, 2]], dtype), device=device)
    up, down = x.sort(1), x.sort(dim=1, descending=True)
    assert up.values.dtype == x.dtype and up.values.tolist() == [[low, low, -1, 5, 7], [0, 2, 2, 2, 9]]
    assert up.indices.tolist() == [[1, 3, 2, 0, 4], [2, 0, 1, 4, 3]]            # ties keep their order
    assert down.values.tolist() == [[7, 5, -1, low, low], [9, 2, 2, 2, 0]]
    assert down.indices.tolist() == [[4, 0, 2, 1, 3], [3, 0, 1, 4, 2]]
    assert x.argsort(dim=0).tolist() == [[1, 0, 0, 0, 1], [0, 1, 1, 1, 0]]
    top = x.topk(2, dim=1)
    assert top.values.tolist() == [[7, 5], [9, 2]] and top.indices.tolist() == [[4, 0], [3, 0]]
    assert x.topk(1, dim=1, largest=False).values.tolist() == [[low], [0]]
    # a row longer than the shared-memory network (1024): the global-memory kernels
    row = (np.arange(1500) * 7919 % 1500 - 750).astype(dtype)
    got = tg.tensor(row, device=device).sort(descending=True)
    np.testing.assert_array_equal(got.values.numpy(), np.arange(749, -751, -1))
    np.testing.assert_array_equal(row[got.indices.numpy()], got.values.numpy())

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_cummax_cummin_of_integers_are_exact_ties_taking_the_later_index(device, dtype):
    device_or_skip(device)
    x = tg.tensor(np.array([[1, 3, 2, 3, 0, 5], [-4, -4, -9, 0, -9, 1]], dtype), device=device)
    top, low = x.cummax(1), x.cummin(dim=1)
    assert top.values.dtype == x.dtype and top.values.tolist() == [[1, 3, 3, 3, 3, 5], [-4, -4, -4, 0, 0, 1]]
    assert top.indices.tolist() == [[0, 1, 1, 3, 3, 5], [0, 1, 1, 3, 3, 5]]
    assert low.values.tolist() == [[1, 1, 1, 1, 0, 0], [-4, -4, -9, -9, -9, -9]]
    assert low.indices.tolist() == [[0, 0, 0, 0, 4, 4], [0, 1, 2, 2, 4, 4]]
    # a row longer than a block: the carry between chunks; runs of ties across their borders
    steps = tg.tensor((np.arange(3000) // 700).astype(dtype), device=device)
    assert steps.cummax(0).indices.tolist() == list(range(3000))                 # every tie is the later one
    assert steps.cummin(0).indices.tolist() == list(range(700)) + [699] * 2300
    if dtype == np.int64:
        big = tg.tensor([2 ** 60 + 1, 2 ** 60, 2 ** 60 + 1], device=device)
        assert big.cummax(0).indices.tolist() == [0, 0, 2] and big.cummin(0).indices.tolist() == [0, 1, 1]

@pytest.mark.parametrize("device", DEVICES)
def test_comparisons_of_int32_uint8_and_bool(device):
    device_or_skip(device)
    a = tg.tensor(np.array([[3, 1, 7]], np.int32), device=device)
    b = tg.tensor(np.array([[1], [7]], np.int32), device=device)
    assert (a < b).tolist() == [[False, False, False], [True, True, False]]
    assert (a >= 3).tolist() == [[True, False, True]]
    u = tg.tensor(np.array([0, 255], np.uint8), device=device)
    assert (u > 128).tolist() == [False, True]
    t = tg.tensor([True, False], device=device)
    assert (t > tg.tensor([False, False], device=device)).tolist() == [True, False]


def test_integer_reduction_kernels_pass_race_mode(monkeypatch):
    """Their (value, index) tree in shared memory, with shared memory poisoned and
    threads in several orders: a missing barrier raises."""
    device_or_skip("emu")
    from tinygrad_cu.device import _devices
    from tinygrad_cu.device.gpu import GPUDevice
    from tinygrad_cu.runtime import emu
    monkeypatch.setitem(_devices, "emu", GPUDevice("emu", emu, functools.partial(emu.SourceModule, check="race")))
    rng = np.random.default_rng(0)
    x = rng.integers(-50, 50, size=(3, 300)).astype(np.int32)
    t = tg.tensor(x, device="emu")
    np.testing.assert_array_equal(apply("max", t, axis=1).numpy(), x.max(axis=1))
    np.testing.assert_array_equal(t.argmin(dim=1).numpy(), x.argmin(axis=1))
    # the integer sort network and running-extremum scan: the same shared-memory patterns
    np.testing.assert_array_equal(t.argsort(dim=1).numpy(), np.argsort(x, axis=1, kind="stable"))
    np.testing.assert_array_equal(t.cummax(1).values.numpy(), np.maximum.accumulate(x, axis=1))
