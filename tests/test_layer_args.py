"""Layer constructors refuse bad sizes with an error naming the layer and the argument,
never a ZeroDivisionError from the initialiser's 1/sqrt(fan_in) or numpy's "negative
dimensions" (expected messages written out by hand)."""
import re
import warnings

import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F
from tinygrad_cu import nn

CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}

BAD_CONV = [  # constructor arguments, error type, message
    (dict(in_channels=1, out_channels=1, kernel_size=0), ValueError, "kernel_size must be >= 1, got 0"),
    (dict(in_channels=1, out_channels=1, kernel_size=-2), ValueError, "kernel_size must be >= 1, got -2"),
    (dict(in_channels=0, out_channels=1, kernel_size=3), ValueError, "in_channels must be >= 1, got 0"),
    (dict(in_channels=1, out_channels=0, kernel_size=3), ValueError, "out_channels must be >= 1, got 0"),
    (dict(in_channels=-1, out_channels=1, kernel_size=3), ValueError, "in_channels must be >= 1, got -1"),
    (dict(in_channels=1, out_channels=1, kernel_size=3, stride=0), ValueError, "stride must be >= 1, got 0"),
    (dict(in_channels=1, out_channels=1, kernel_size=3, stride=-1), ValueError, "stride must be >= 1, got -1"),
    (dict(in_channels=1, out_channels=1, kernel_size=3, padding=-1), ValueError, "padding must be >= 0, got -1"),
    (dict(in_channels=1, out_channels=1, kernel_size=3, dilation=0), ValueError, "dilation must be >= 1, got 0"),
    (dict(in_channels=1, out_channels=1, kernel_size=3, groups=0), ValueError,
     "groups must be a positive integer, got 0"),
    (dict(in_channels=1, out_channels=1, kernel_size=2.5), TypeError, "kernel_size must be an int or a tuple"),
    (dict(in_channels=1.0, out_channels=1, kernel_size=3), TypeError, "in_channels must be an int, got 1.0"),
    (dict(in_channels=1, out_channels=1, kernel_size=True), TypeError, "kernel_size must be an int or a tuple"),
]


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("kwargs,error,message", BAD_CONV)
def test_conv_layers_refuse_bad_sizes_naming_the_argument(d, kwargs, error, message):
    layer = CONVS[d]
    with pytest.raises(error, match=re.escape(f"{layer.__name__}: {message}")):
        layer(**kwargs)


@pytest.mark.parametrize("d", [2, 3])
def test_one_bad_entry_of_a_tuple_is_named(d):
    kernel = (3,) * (d - 1) + (0,)
    with pytest.raises(ValueError, match=re.escape(f"Conv{d}d: kernel_size must be >= 1, got {kernel}")):
        CONVS[d](1, 1, kernel)
    with pytest.raises(ValueError, match=re.escape(f"Conv{d}d: stride (1,) must be one int or {d} ints")):
        CONVS[d](1, 1, 3, stride=(1,))


def test_the_smallest_valid_conv_still_works():
    layer = nn.Conv2d(1, 1, 1)
    x = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)
    out = layer(tg.Tensor(x)).numpy()
    w, b = layer.weight.numpy().item(), layer.bias.numpy().item()
    np.testing.assert_allclose(out, x * w + b, rtol=1e-6)


def test_functional_conv_refuses_an_empty_kernel_and_a_fractional_stride():
    x = tg.randn(1, 1, 5, 5)
    with pytest.raises(ValueError, match=re.escape("conv: the weight (1, 1, 0, 0) has an empty kernel_size")):
        F.conv2d(x, tg.randn(1, 1, 0, 0))
    with pytest.raises(TypeError, match="conv: stride must be an int or 2 ints, got 1.5"):
        F.conv2d(x, tg.randn(1, 1, 3, 3), stride=1.5)


def test_linear_refuses_negative_and_fractional_sizes_and_allows_zero_like_pytorch():
    with pytest.raises(ValueError, match="Linear: in_features must be >= 0, got -1"):
        nn.Linear(-1, 2)
    with pytest.raises(TypeError, match="Linear: out_features must be an int, got 2.5"):
        nn.Linear(3, 2.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = nn.Linear(0, 3)                  # an empty weight: PyTorch warns and allows it
    assert any("zero-element" in str(w.message) for w in caught)
    np.testing.assert_array_equal(layer.bias.numpy(), np.zeros(3))     # bound 0, as PyTorch
    assert layer(tg.zeros(2, 0)).shape == (2, 3)
