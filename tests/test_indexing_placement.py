"""Issue 11, bug 3: advanced indexing puts the index dimensions where PyTorch does.

PyTorch applies integers first (a select removes the dim), then the index arrays; numpy
counts an integer as an advanced index, so an integer and an array separated by a slice
sent the array's dim to the front. Shapes and values below are PyTorch 2.13's
(compared side by side once, written down here) and follow by hand from an arange."""
import numpy as np
import pytest

import tinygrad_cu as tg

from conftest import device_or_skip


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_integer_and_array_separated_by_a_slice_keep_the_array_dim_in_place(device):
    device_or_skip(device)
    x = tg.tensor(np.arange(2 * 5 * 6 * 5 * 3 * 4, dtype=np.float32).reshape(2, 5, 6, 5, 3, 4), device=device)
    assert x[1, :, 3:11:2, [0, 1], 0:2].shape == (5, 2, 2, 2, 4)       # numpy: (2, 5, 2, 2, 4)
    y = tg.tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4), device=device)
    got = y[1, :, [0, 3]]                                              # numpy would give (2, 3)
    np.testing.assert_array_equal(got.numpy(), [[12, 15], [16, 19], [20, 23]])
    # separated even without the integer: the index dims go first, as in numpy
    assert y[[0, 1], 1:, [2, 3]].shape == (2, 2)
    np.testing.assert_array_equal(y[[0, 1], 1:, [2, 3]].numpy(), [[6, 10], [19, 23]])


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_gradient_lands_where_the_selected_elements_were(device):
    device_or_skip(device)
    y = tg.tensor(np.zeros((2, 3, 4), np.float32), device=device, requires_grad=True)
    out = y[1, :, [0, 3, 0]]                                          # (3, 3): rows of y[1], cols 0, 3, 0
    out.backward(tg.tensor(np.arange(9, dtype=np.float32).reshape(3, 3), device=device))
    want = np.zeros((2, 3, 4), np.float32)
    for r in range(3):
        want[1, r, 0] = 3 * r + 0 + 3 * r + 2                        # column 0 picked twice: adds up
        want[1, r, 3] = 3 * r + 1
    np.testing.assert_array_equal(y.grad.numpy(), want)
