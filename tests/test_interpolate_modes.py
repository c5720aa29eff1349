"""interpolate's nearest / nearest-exact on 3-, 4- and 5-D input, trilinear, bicubic,
area and uint8 bilinear / bicubic, against float64 formulas written out here one output
at a time (PyTorch's index and weight rules), on cpu and emu; gradients by central
differences. tests/test_resample.py covers nearest, linear and bilinear on 3-/4-D."""
import itertools
import math

import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F
from tinygrad_cu import nn

from conftest import device_or_skip

DEVICES = ["cpu", "emu"]


def on(device, a):
    return tg.Tensor(np.asarray(a), dtype=tg.float64 if device == "cpu" else tg.float32, device=device)


def tol(device):
    return dict(rtol=1e-10, atol=1e-12) if device == "cpu" else dict(rtol=1e-5, atol=1e-5)


def nearest64(x, out, exact):
    """Output position d of each spatial dim reads floor(d * in / out), or
    floor((d + 0.5) * in / out) for nearest-exact, at most in - 1."""
    y = np.zeros(x.shape[:2] + out)
    for pos in itertools.product(*(range(o) for o in out)):
        src = tuple(min(int(math.floor((d + (0.5 if exact else 0.0)) * n / o)), n - 1)
                    for d, n, o in zip(pos, x.shape[2:], out))
        y[(...,) + pos] = x[(...,) + src]
    return y


def linear_taps(d, n_in, n_out, align_corners):
    """[(index, weight)] of output d: two neighbours of PyTorch's source coordinate."""
    src = d * (n_in - 1) / (n_out - 1) if align_corners else max((d + 0.5) * n_in / n_out - 0.5, 0.0)
    i0 = min(int(src), n_in - 1)
    return [(i0, 1 - (src - i0)), (min(i0 + 1, n_in - 1), src - i0)]


def cubic_taps(d, n_in, n_out, align_corners):
    """[(index, weight)] of output d: four taps of Keys' cubic (A = -0.75), clamped to the border."""
    src = d * (n_in - 1) / (n_out - 1) if align_corners else (d + 0.5) * n_in / n_out - 0.5
    i0 = math.floor(src)
    taps = []
    for k in range(-1, 3):
        x, a = abs(src - (i0 + k)), -0.75
        w = (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1 if x <= 1 else a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a
        taps.append((min(max(i0 + k, 0), n_in - 1), w))
    return taps


def separable64(x, out, taps_of, align_corners):
    """Each output as the sum over all tap combinations of the product of the per-dim weights."""
    y = np.zeros(x.shape[:2] + out)
    for pos in itertools.product(*(range(o) for o in out)):
        per_dim = [taps_of(d, n, o, align_corners) for d, n, o in zip(pos, x.shape[2:], out)]
        for combo in itertools.product(*per_dim):
            y[(...,) + pos] += math.prod(w for _, w in combo) * x[(...,) + tuple(i for i, _ in combo)]
    return y


@pytest.mark.parametrize("device", DEVICES)
def test_nearest_and_nearest_exact_on_3d_4d_5d(device):
    device_or_skip(device)
    rng = np.random.default_rng(0)
    for shape, out in [((2, 3, 13), (9,)), ((1, 2, 9, 11), (10, 13)), ((2, 1, 5, 2, 8), (3, 6, 4))]:
        x = rng.standard_normal(shape)
        for mode in ("nearest", "nearest-exact"):
            got = F.interpolate(on(device, x), size=out, mode=mode).numpy()
            np.testing.assert_array_equal(got, nearest64(on(device, x).numpy(), out, mode == "nearest-exact"))
    # by hand: 3 -> 5, nearest reads [0, 0, 1, 1, 2], nearest-exact floor((d + 0.5) * 0.6) = [0, 0, 1, 2, 2]
    s = on(device, [[[10.0, 20.0, 30.0]]])
    assert F.interpolate(s, size=5).numpy().ravel().tolist() == [10, 10, 20, 20, 30]
    assert F.interpolate(s, size=5, mode="nearest-exact").numpy().ravel().tolist() == [10, 10, 20, 30, 30]
    u = tg.Tensor(np.arange(12, dtype=np.uint8).reshape(1, 1, 3, 4), device=device)
    assert F.interpolate(u, size=(2, 2), mode="nearest-exact").dtype == tg.uint8
    # rows floor((d + 0.5) * 1.5) = [0, 2], columns floor((d + 0.5) * 2) = [1, 3]
    assert F.interpolate(u, size=(2, 2), mode="nearest-exact").numpy().ravel().tolist() == [1, 3, 9, 11]


@pytest.mark.parametrize("device", DEVICES)
def test_trilinear_bicubic_and_area(device):
    device_or_skip(device)
    rng = np.random.default_rng(1)
    x5 = rng.standard_normal((2, 2, 4, 2, 5))
    for align in (False, True):
        got = F.interpolate(on(device, x5), size=(3, 5, 4), mode="trilinear", align_corners=align).numpy()
        np.testing.assert_allclose(got, separable64(x5, (3, 5, 4), linear_taps, align), **tol(device))
        x4 = rng.standard_normal((1, 2, 5, 4))
        got = F.interpolate(on(device, x4), size=(7, 3), mode="bicubic", align_corners=align).numpy()
        np.testing.assert_allclose(got, separable64(x4, (7, 3), cubic_taps, align), **tol(device))
    x3 = rng.standard_normal((2, 3, 7))
    got = nn.Upsample(size=3, mode="area")(on(device, x3)).numpy()
    want = np.stack([x3[..., 0:3].mean(-1), x3[..., 2:5].mean(-1), x3[..., 4:7].mean(-1)], -1)
    np.testing.assert_allclose(got, want, **tol(device))


def uint8_fixed_point64(x, out, taps_of, align_corners):
    """PyTorch's uint8 resampling: the last dim first, then the one before; each pass rounds
    the weights to integers of p fraction bits (the most that keep 2 * max|w| * 2^p below
    2^15), sums, adds 2^(p-1), shifts right by p and clamps to [0, 255]."""
    y = x.astype(np.int64)
    for axis in (3, 2):
        n_in, n_out = y.shape[axis], out[axis - 2]
        if n_in == n_out:
            continue
        rows = [taps_of(d, n_in, n_out, align_corners) for d in range(n_out)]
        biggest = max(abs(sum(w for i, w in row if i == j)) for row in rows for j in range(n_in))
        p = 0
        while p < 22 and int(0.5 + biggest * 2 ** (p + 1)) < 2 ** 15:
            p += 1
        moved = np.moveaxis(y, axis, -1)
        res = np.zeros(moved.shape[:-1] + (n_out,), np.int64)
        for d, row in enumerate(rows):
            merged = {}
            for i, w in row:
                merged[i] = merged.get(i, 0.0) + w
            for i, w in merged.items():
                res[..., d] += int(math.copysign(math.floor(abs(w) * 2 ** p + 0.5), w)) * moved[..., i]
        y = np.moveaxis(np.clip((res + 2 ** (p - 1)) >> p, 0, 255), -1, axis)
    return y.astype(np.uint8)


@pytest.mark.parametrize("device", DEVICES)
def test_uint8_bilinear_and_bicubic_in_fixed_point(device):
    device_or_skip(device)
    # by hand: [0, 101] to 4 wide reads 0, 0.75 * 0 + 0.25 * 101 = 25.25 -> 25, 75.75 -> 76, 101
    row = tg.Tensor(np.array([[[[0, 101]]]], np.uint8), device=device)
    got = F.interpolate(row, size=(1, 4), mode="bilinear")
    assert got.dtype == tg.uint8 and got.numpy().ravel().tolist() == [0, 25, 76, 101]
    x = np.random.default_rng(2).integers(0, 256, size=(1, 2, 9, 7)).astype(np.uint8)
    for mode, taps in (("bilinear", linear_taps), ("bicubic", cubic_taps)):
        for out, align in (((4, 10), False), ((13, 3), True)):
            got = F.interpolate(tg.Tensor(x, device=device), size=out, mode=mode, align_corners=align).numpy()
            np.testing.assert_array_equal(got, uint8_fixed_point64(x, out, taps, align), err_msg=f"{mode} {out}")


def test_mode_rank_and_dtype_errors_name_the_problem():
    with pytest.raises(NotImplementedError, match="'trilinear' takes 5-D"):
        F.interpolate(tg.zeros(1, 1, 4, 4), size=2, mode="trilinear")
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(tg.zeros(1, 1, 4), size=2, mode="nearest-exact", align_corners=False)
    with pytest.raises(TypeError, match="'linear' takes floating point.*uint8"):
        F.interpolate(tg.zeros(1, 1, 4, dtype=tg.uint8), size=2, mode="linear")
    with pytest.raises(ValueError, match="'cubic' is not one of"):
        F.interpolate(tg.zeros(1, 1, 4, 4), size=2, mode="cubic")


@pytest.mark.parametrize("fn", [
    lambda x: F.interpolate(x.reshape(1, 1, 2, 3, 2), size=(3, 2, 3), mode="trilinear"),
    lambda x: F.interpolate(x.reshape(1, 1, 3, 4), scale_factor=(1.5, 0.75), mode="bicubic", align_corners=True),
    lambda x: F.interpolate(x.reshape(1, 2, 6), size=4, mode="nearest-exact"),
    lambda x: F.interpolate(x.reshape(1, 1, 3, 2, 2), size=(2, 3, 3), mode="nearest"),
    lambda x: F.interpolate(x.reshape(1, 1, 3, 4), size=(2, 3), mode="area"),
], ids=["trilinear", "bicubic-align", "nearest-exact", "nearest-5d", "area"])
def test_gradients(fn):
    x = tg.Tensor(np.random.default_rng(3).standard_normal(12), dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(fn, x)
