"""Pooling's ceil_mode / count_include_pad / divisor_override by hand, AdaptiveAvgPool2d
and interpolate / Upsample (nearest, linear, bilinear, align_corners) against float64
formulas written out here (one output at a time), on cpu and emu; gradients against
central differences."""
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


@pytest.mark.parametrize("device", DEVICES)
def test_pool_options_by_hand(device):
    device_or_skip(device)
    x = on(device, np.array([1.0, 2, 3, 4, 5]).reshape(1, 1, 1, 5))
    # ceil_mode: a third window [5] over the end of the input
    np.testing.assert_allclose(F.max_pool2d(x, (1, 2), ceil_mode=True).numpy().ravel(), [2, 4, 5])
    np.testing.assert_allclose(F.avg_pool2d(x, (1, 2), ceil_mode=True).numpy().ravel(), [1.5, 3.5, 5])
    # padding 1: windows [pad, 1], [2, 3], [4, 5]; the pad counted or not
    np.testing.assert_allclose(F.avg_pool2d(x, (1, 2), padding=(0, 1)).numpy().ravel(), [0.5, 2.5, 4.5])
    np.testing.assert_allclose(F.avg_pool2d(x, (1, 2), padding=(0, 1), count_include_pad=False).numpy().ravel(),
                               [1, 2.5, 4.5])
    np.testing.assert_allclose(F.avg_pool2d(x, (1, 2), divisor_override=4).numpy().ravel(), [0.75, 1.75])
    x.requires_grad_(True)
    F.avg_pool2d(x, (1, 2), ceil_mode=True).sum().backward()
    np.testing.assert_allclose(x.grad.numpy().ravel(), [0.5, 0.5, 0.5, 0.5, 1.0])
    layer = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    assert layer(tg.ones(1, 1, 6, 6, device=device)).numpy().tolist() == np.ones((1, 1, 4, 4)).tolist()


def bilinear64(x, out, align_corners, scales):
    """Each output pixel from its four neighbours, PyTorch's source coordinates."""
    n, c, h, w = x.shape
    y = np.zeros((n, c) + out)
    def source(d, n_in, n_out, scale):
        if align_corners:
            return d * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        return max((d + 0.5) * scale - 0.5, 0.0)
    for i in range(out[0]):
        for j in range(out[1]):
            sy, sx = source(i, h, out[0], scales[0]), source(j, w, out[1], scales[1])
            y0, x0 = int(sy), int(sx)
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            ly, lx = sy - y0, sx - x0
            y[:, :, i, j] = ((1 - ly) * (1 - lx) * x[:, :, y0, x0] + (1 - ly) * lx * x[:, :, y0, x1] +
                             ly * (1 - lx) * x[:, :, y1, x0] + ly * lx * x[:, :, y1, x1])
    return y


@pytest.mark.parametrize("device", DEVICES)
def test_interpolate_and_upsample(device):
    device_or_skip(device)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    for align in (False, True):
        got = F.interpolate(on(device, x), size=(7, 9), mode="bilinear", align_corners=align)
        np.testing.assert_allclose(got.numpy(), bilinear64(x, (7, 9), align, (5 / 7, 4 / 9)), **tol(device))
    got = nn.Upsample(scale_factor=2, mode="bilinear")(on(device, x))
    np.testing.assert_allclose(got.numpy(), bilinear64(x, (10, 8), False, (0.5, 0.5)), **tol(device))
    # nearest: output (i, j) copies input (floor(i * 5 / 3), floor(j * 4 / 7))
    near = F.interpolate(on(device, x), size=(3, 7)).numpy()
    for i in range(3):
        for j in range(7):
            np.testing.assert_array_equal(near[:, :, i, j], on(device, x).numpy()[:, :, i * 5 // 3, j * 4 // 7])
    signal = np.array([[[0.0, 10.0, 20.0]]])
    np.testing.assert_allclose(F.interpolate(on(device, signal), size=5, mode="linear", align_corners=True).numpy(),
                               [[[0, 5, 10, 15, 20]]], **tol(device))
    np.testing.assert_allclose(F.interpolate(on(device, signal), scale_factor=2, mode="nearest").numpy(),
                               [[[0, 0, 10, 10, 20, 20]]])
    with pytest.raises(ValueError, match="align_corners can only be set"):
        F.interpolate(on(device, x), size=3, align_corners=True)


@pytest.mark.parametrize("device", DEVICES)
def test_adaptive_avg_pool2d(device):
    device_or_skip(device)
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 5))
    got = nn.AdaptiveAvgPool2d((3, 2))(on(device, x)).numpy()
    for i in range(3):
        for j in range(2):
            rows = slice(math.floor(i * 7 / 3), math.ceil((i + 1) * 7 / 3))
            cols = slice(math.floor(j * 5 / 2), math.ceil((j + 1) * 5 / 2))
            np.testing.assert_allclose(got[:, :, i, j], x[:, :, rows, cols].mean(axis=(2, 3)), **tol(device))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(on(device, x), 1).numpy(), x.mean(axis=(2, 3), keepdims=True),
                               **tol(device))
    assert F.adaptive_avg_pool2d(on(device, x), (None, 2)).shape == (2, 3, 7, 2)


@pytest.mark.parametrize("fn", [
    lambda x: F.interpolate(x, size=(4, 5), mode="bilinear"),
    lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True),
    lambda x: F.interpolate(x, size=(5, 2), mode="nearest"),
    lambda x: F.adaptive_avg_pool2d(x, (2, 2)),
    lambda x: F.avg_pool2d(x, 2, ceil_mode=True, count_include_pad=False, padding=1),
    lambda x: F.max_pool2d(x, 2, ceil_mode=True),
], ids=["bilinear", "bilinear-align", "nearest", "adaptive", "avg-ceil", "max-ceil"])
def test_gradients(fn):
    x = tg.Tensor(np.random.default_rng(2).standard_normal((1, 2, 3, 3)), dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(fn, x)
