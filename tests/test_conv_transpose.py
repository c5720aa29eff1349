"""Grouped and dilated convolutions and the transposed convolution.

conv_transpose is checked as the adjoint of conv, <conv(x), y> == <x, conv_transpose(y)>
for every stride, padding, dilation and groups (output_padding picks the x size), on
cpu (float64) and on emu (the CUDA kernels, float32); shapes against PyTorch's formula
written out by hand; the layers' gradients against central differences. Forward values
against plain loops are in the registry tests (tests/reference64.py)."""
import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F
from tinygrad_cu import nn

from conftest import device_or_skip
from test_nn_layers import assert_layer_gradients

ADJOINT_CASES = [  # x shape (conv input), weight shape (O, C/G, *k), attrs
    ((2, 3, 9), (4, 3, 3), dict(stride=2, padding=1)),
    ((1, 4, 10), (6, 2, 4), dict(stride=3, padding=2, dilation=2, groups=2)),
    ((2, 3, 7, 8), (5, 3, 3, 3), dict(stride=2, padding=1)),                  # the tuned 2-D kernels
    ((1, 4, 9, 7), (4, 1, 3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(2, 2), groups=4)),
    ((1, 2, 5, 6, 5), (2, 1, 2, 3, 2), dict(stride=(1, 2, 2), padding=(0, 1, 1), groups=2)),
]


def conv_transpose_attrs(x_shape, w_shape, attrs):
    """The output_padding that makes conv_transpose's output exactly x's shape."""
    d = len(x_shape) - 2
    tup = lambda v: (v,) * d if isinstance(v, int) else tuple(v)
    st, pd, dl = tup(attrs.get("stride", 1)), tup(attrs.get("padding", 0)), tup(attrs.get("dilation", 1))
    k = w_shape[2:]
    out = [(x_shape[2 + i] + 2 * pd[i] - dl[i] * (k[i] - 1) - 1) // st[i] + 1 for i in range(d)]
    op = tuple(x_shape[2 + i] - ((out[i] - 1) * st[i] - 2 * pd[i] + dl[i] * (k[i] - 1) + 1) for i in range(d))
    return dict(attrs, output_padding=op)


@pytest.mark.parametrize("device", ["cpu", "emu"])
@pytest.mark.parametrize("x_shape, w_shape, attrs", ADJOINT_CASES)
def test_conv_transpose_is_the_adjoint_of_conv(device, x_shape, w_shape, attrs):
    device_or_skip(device)
    rng = np.random.default_rng(0)
    dtype = np.float64 if device == "cpu" else np.float32
    d = len(x_shape) - 2
    conv, transpose = getattr(F, f"conv{d}d"), getattr(F, f"conv_transpose{d}d")
    x = tg.Tensor(rng.standard_normal(x_shape), dtype=dtype, device=device)
    w = tg.Tensor(rng.standard_normal(w_shape), dtype=dtype, device=device)
    y_np = rng.standard_normal(conv(tg.Tensor(x.numpy()), tg.Tensor(w.numpy()), **attrs).shape)
    y = tg.Tensor(y_np, dtype=dtype, device=device)
    back = transpose(y, w, **conv_transpose_attrs(x_shape, w_shape, attrs))
    assert back.shape == x_shape
    lhs = float((conv(x, w, **attrs).numpy().astype(np.float64) * y_np).sum())
    rhs = float((x.numpy().astype(np.float64) * back.numpy()).sum())
    assert lhs == pytest.approx(rhs, rel=1e-10 if device == "cpu" else 1e-4)


def test_output_shapes_follow_pytorchs_formula():
    # H_out = (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
    x = tg.ones(2, 6, 5, 4)
    w = tg.ones(6, 2, 3, 2)          # groups 3: out_channels = 2 * 3
    y = F.conv_transpose2d(x, w, stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=3, dilation=(2, 1))
    assert y.shape == (2, 6, (5 - 1) * 2 - 2 + 2 * 2 + 1 + 1, (4 - 1) * 3 + 1 + 2 + 1)
    assert F.conv2d(tg.ones(1, 4, 9, 9), tg.ones(8, 1, 3, 3), dilation=3, groups=4).shape == (1, 8, 3, 3)


def test_depthwise_conv_by_hand():
    # groups = channels: channel 0 is multiplied by 2, channel 1 by -1 (1x1 kernels)
    x = tg.tensor(np.arange(8.0).reshape(1, 2, 2, 2))
    y = F.conv2d(x, tg.tensor([[[[2.0]]], [[[-1.0]]]]), groups=2)
    np.testing.assert_array_equal(y.numpy()[0], [[[0, 2], [4, 6]], [[-4, -5], [-6, -7]]])
    # dilation 2 on [0..6] with kernel [1, 1]: x[i] + x[i + 2]
    z = F.conv1d(tg.tensor(np.arange(7.0).reshape(1, 1, 7)), tg.ones(1, 1, 2), dilation=2)
    np.testing.assert_array_equal(z.numpy().ravel(), [2, 4, 6, 8, 10])
    # stride-2 transposed conv of [1, 2] with kernel [1, 10, 100]: [1, 10, 102, 20, 200]
    t = F.conv_transpose1d(tg.tensor([[[1.0, 2.0]]]), tg.tensor([[[1.0, 10.0, 100.0]]]), stride=2)
    np.testing.assert_array_equal(t.numpy().ravel(), [1, 10, 102, 20, 200])


@pytest.mark.parametrize("layer, x_shape", [
    (lambda: nn.ConvTranspose1d(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2), (2, 2, 4)),
    (lambda: nn.ConvTranspose2d(3, 2, (2, 3), stride=(2, 1), padding=(0, 1), dilation=(1, 2)), (1, 3, 3, 3)),
    (lambda: nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2), (1, 4, 5, 4)),
    (lambda: nn.Conv1d(3, 3, 2, dilation=3, groups=3), (2, 3, 7)),
])
def test_layer_gradients(layer, x_shape):
    assert_layer_gradients(layer(), x_shape)


def test_layers_shapes_and_errors():
    up = nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, bias=False)
    assert up.weight.shape == (8, 4, 4, 4) and up.bias is None
    assert up(tg.ones(1, 8, 7, 7)).shape == (1, 4, 14, 14)
    assert nn.Conv2d(4, 6, 3, groups=2).weight.shape == (6, 2, 3, 3)
    with pytest.raises(ValueError, match="Conv2d: in_channels \\(3\\) must be divisible by groups \\(2\\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="ConvTranspose1d: output_padding \\(2,\\) must be smaller"):
        nn.ConvTranspose1d(1, 1, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="conv: input has 4 channels but weight \\(6, 3, 3, 3\\) with groups=2"):
        F.conv2d(tg.ones(1, 4, 5, 5), tg.ones(6, 3, 3, 3), groups=2)
    with pytest.raises(ValueError, match="conv_transpose: output_padding"):
        F.conv_transpose2d(tg.ones(1, 1, 3, 3), tg.ones(1, 1, 3, 3), stride=1, output_padding=1)
    with pytest.raises(ValueError, match="conv_transpose: input has 2 channels"):
        F.conv_transpose2d(tg.ones(1, 2, 3, 3), tg.ones(3, 1, 3, 3))
