"""The 2-D pools check kernel_size, stride and padding in `infer`, on every device, with
the op's name in the error (issue 11, bug 4: a 3-element padding computed something on
cpu and reached the emu kernel as an extra argument)."""
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F

from conftest import device_or_skip


@pytest.mark.parametrize("device", ["cpu", "emu"])
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("what, args, error", [
    ("padding", dict(kernel_size=2, padding=(1, 1, 1)), ValueError),
    ("kernel_size", dict(kernel_size=(2, 2, 2)), ValueError),
    ("stride", dict(kernel_size=2, stride=(1,)), ValueError),
    ("kernel_size", dict(kernel_size=2.5), TypeError),
    ("stride", dict(kernel_size=2, stride=(1, True)), TypeError),
])
def test_pool_arguments_are_checked_before_any_kernel(pool, device, what, args, error):
    device_or_skip(device)
    x = tg.ones(1, 1, 6, 6, device=device)
    with pytest.raises(error, match=rf"{pool}: {what} must be"):
        getattr(F, pool)(x, **args)


def test_valid_pair_forms_still_work():
    x = tg.ones(1, 1, 6, 6)
    assert F.avg_pool2d(x, [2, 3], stride=(2, 3), padding=[1, 1]).shape == (1, 1, 4, 2)   # (6+2-2)//2+1, (6+2-3)//3+1
