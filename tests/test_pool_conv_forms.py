"""The F-level forms around the pool and conv ops: conv padding 'same'/'valid', tinygrad's
per-side padding and negative padding (a pad-or-crop composite, tinygrad_cu/nn/conv_padding.py),
max pooling's return_indices and max_unpool (a scatter composite), integer max pooling,
and PyTorch's half-kernel padding rule. References: tests/reference64.py's direct
convolution on an input padded or cropped by numpy, and hand-computed values."""
import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn as nn
import tinygrad_cu.nn.functional as F

import reference64
from conftest import device_or_skip

DEVICES = ["cpu", "emu"]


def on(device, a, requires_grad=False):
    return tg.Tensor(a, dtype=a.dtype, device=device, requires_grad=requires_grad)


# (padding as F.conv*d takes it, the same padding as numpy pad widths of the spatial dims)
CONV_FORMS = [
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=(0, 1, 2, 1)), [(2, 1), (0, 1)]),     # per side, last dim first
    ((1, 2, 10, 9), (3, 2, 3, 3), dict(padding=-1), [(-1, -1), (-1, -1)]),         # cropping
    ((1, 2, 10, 9), (3, 2, 3, 2), dict(padding=(-1, 0, -2, 1)), [(-2, 1), (-1, 0)]),
    ((2, 3, 8, 7), (2, 3, 4, 3), dict(padding="same"), [(1, 2), (1, 1)]),          # even kernel: far side +1
    ((2, 3, 8, 7), (2, 3, 3, 3), dict(padding="same", dilation=(2, 1)), [(2, 2), (1, 1)]),
    ((2, 3, 8, 7), (2, 3, 4, 3), dict(padding="valid", stride=2), [(0, 0), (0, 0)]),
    ((2, 2, 9), (3, 2, 2), dict(padding=(2, 0)), [(2, 0)]),                        # 1-D per side
    ((1, 2, 4, 5, 4), (2, 2, 3, 3, 3), dict(padding=[1, 1, 0, 2, 1, 0]), [(1, 0), (0, 2), (1, 1)]),  # 3-D
]


def pad_or_crop(x, widths):
    x = np.pad(x, [(0, 0), (0, 0)] + [(max(b, 0), max(a, 0)) for b, a in widths])
    return x[(slice(None),) * 2 + tuple(slice(-min(b, 0), n + min(a, 0)) for (b, a), n in zip(widths, x.shape[2:]))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("x_shape, w_shape, attrs, widths", CONV_FORMS)
def test_conv_padding_forms_match_a_padded_or_cropped_input(x_shape, w_shape, attrs, widths, device, rng):
    device_or_skip(device)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    conv = getattr(F, f"conv{len(x_shape) - 2}d")
    dtype = np.float64 if device == "cpu" else np.float32
    got = conv(on(device, x.astype(dtype)), on(device, w.astype(dtype)), **attrs).numpy()
    rest = {k: v for k, v in attrs.items() if k != "padding"}
    want = reference64.conv(pad_or_crop(x, widths), w, **rest)
    tol = 1e-4 if device == "emu" else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", [0, 2, 3])
def test_conv_padding_forms_gradients_by_finite_differences(case, rng):
    x_shape, w_shape, attrs, _ = CONV_FORMS[case]
    x, w = on("cpu", rng.standard_normal(x_shape), True), on("cpu", rng.standard_normal(w_shape), True)
    assert tg.gradcheck(lambda a, b: F.conv2d(a, b, **attrs), x, w, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_conv_padding_strings_are_checked_as_pytorch():
    x, w = tg.ones(1, 1, 6, 6), tg.ones(1, 1, 3, 3)
    with pytest.raises(RuntimeError, match="conv2d: padding='same' is not supported for strided"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(RuntimeError, match="conv2d: invalid padding string 'full'"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(RuntimeError, match="crops all of the input"):
        F.conv2d(x, w, padding=-3)


PLANE = np.array([[1, 5, 2, 0],
                  [3, 4, 8, 8],
                  [7, 0, 6, 1],
                  [2, 9, 1, 3]], np.float32)


@pytest.mark.parametrize("device", DEVICES)
def test_return_indices_are_flat_plane_indices(device):
    device_or_skip(device)
    x = on(device, np.stack([PLANE, -PLANE])[None])                  # (1, 2, 4, 4)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert idx.dtype == tg.int64
    np.testing.assert_array_equal(y.numpy()[0, 0], [[5, 8], [9, 6]])
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[1, 6], [13, 10]])   # 8 ties: the first (row 1, col 2)
    np.testing.assert_array_equal(idx.numpy()[0, 1], [[0, 3], [9, 11]])    # -1 twice: the first
    ones = on(device, np.ones((1, 1, 4, 4), np.float32))
    _, idx = F.max_pool2d(ones, 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 1, 2], [4, 5, 6], [8, 9, 10]])
    # rows -1..1 and 2..4 (padding 1, stride 3), columns 0 and 2 (dilation 2)
    _, idx = F.max_pool2d(x, (3, 2), dilation=(1, 2), padding=(1, 0), return_indices=True)
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[6], [8]])


@pytest.mark.parametrize("device", DEVICES)
def test_max_unpool_puts_each_value_back_at_its_index(device):
    device_or_skip(device)
    x = on(device, PLANE[None, None], requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    back = nn.MaxUnpool2d(2)(y, idx)
    want = np.zeros((4, 4), np.float32)
    want.flat[[1, 6, 13, 10]] = [5, 8, 9, 6]
    np.testing.assert_array_equal(back.numpy()[0, 0], want)
    wide = F.max_unpool2d(y, idx, 2, output_size=(9, 9, 5, 5))           # batch and channel entries ignored
    assert wide.shape == (1, 1, 5, 5) and wide.numpy().sum() == 28
    (back * on(device, np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4))).sum().backward()
    want_grad = np.zeros((4, 4), np.float32)
    want_grad.flat[[1, 6, 13, 10]] = [1, 6, 13, 10]                       # through unpool, then the pool
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], want_grad)
    with pytest.raises(RuntimeError, match="max_unpool2d: output_size"):
        F.max_unpool2d(y, idx, 2, output_size=(7, 7))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_max_pooling(device, dtype):
    device_or_skip(device)
    low = np.iinfo(dtype).min                 # the dtype's lowest is a value, not padding
    x = on(device, np.array([[low, low, 3], [low, low, 1], [7, 2, low]], dtype)[None, None])
    y, idx = F.max_pool2d(x, 2, stride=1, padding=1, return_indices=True)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.numpy()[0, 0], [[low, low, 3, 3], [low, low, 3, 3], [7, 7, 2, 1],
                                                    [7, 7, 2, low]])
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[0, 0, 2, 2], [0, 0, 2, 2], [6, 6, 7, 5], [6, 6, 7, 8]])


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_padding_beyond_half_the_kernel_raises_as_pytorch(pool):
    x = tg.ones(1, 1, 6, 6)
    with pytest.raises(RuntimeError, match=f"{pool}: pad should be at most half of kernel size"):
        getattr(F, pool)(x, 3, padding=2)
    assert getattr(F, pool)(x, 3, padding=(2, 2, 0, 0)).shape == (1, 1, 2, 3)   # tinygrad's per side: no limit


@pytest.mark.parametrize("device", DEVICES)
def test_1d_and_3d_layers_match_the_reference(device, rng):
    device_or_skip(device)
    x1, x3 = rng.standard_normal((2, 3, 11)), rng.standard_normal((1, 2, 5, 6, 4))
    cast = lambda a: on(device, a.astype(np.float32))
    for layer, x, kind, attrs in [(nn.MaxPool1d(3, 2, 1, dilation=2), x1, "max", dict(dilation=2)),
                                  (nn.AvgPool1d(4, 3, 2, ceil_mode=True), x1, "avg", dict(ceil_mode=True)),
                                  (nn.MaxPool3d((2, 3, 2), 2, ceil_mode=True), x3, "max", dict(ceil_mode=True)),
                                  (nn.AvgPool3d(2, 1, 1, count_include_pad=False), x3, "avg",
                                   dict(count_include_pad=False))]:
        want = reference64.pool(kind, x, layer.kernel_size, layer.stride, layer.padding, **attrs)
        np.testing.assert_allclose(layer(cast(x)).numpy(), want, rtol=1e-5, atol=1e-6, err_msg=repr(layer))
    y, idx = nn.MaxPool1d(3, return_indices=True)(cast(x1))
    np.testing.assert_array_equal(idx.numpy(), reference64.pool("idx", x1, 3))
    assert nn.MaxUnpool1d(3)(y, idx).shape == (2, 3, 9)


def test_unbatched_inputs_are_a_batch_of_one(rng):
    x = rng.standard_normal((3, 6, 7)).astype(np.float32)
    y, idx = F.max_pool2d(tg.Tensor(x), 2, return_indices=True)
    y1, idx1 = F.max_pool2d(tg.Tensor(x[None]), 2, return_indices=True)
    assert y.shape == idx.shape == (3, 3, 3)
    np.testing.assert_array_equal(y.numpy(), y1.numpy()[0])
    np.testing.assert_array_equal(idx.numpy(), idx1.numpy()[0])
    assert F.max_unpool2d(y, idx, 2, output_size=(6, 7)).shape == (3, 6, 7)
    np.testing.assert_allclose(F.avg_pool1d(tg.Tensor(x[0]), 3).numpy(), reference64.pool("avg", x[:1], 3)[0],
                               rtol=1e-6)
