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


@pytest.mark.parametrize("device", ["cpu", "emu"])
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
def test_only_the_batch_may_be_empty_as_pytorch(pool, device):
    """PyTorch's pool2d_shape_check: an empty batch gives an empty output (and gradient);
    an empty C, H or W is refused, even where ceil_mode and padding would leave a window."""
    device_or_skip(device)
    x = tg.zeros(0, 3, 8, 9, device=device, requires_grad=True)
    y = getattr(F, pool)(x, 3, stride=2, padding=1)
    y.sum().backward()
    assert y.shape == (0, 3, 4, 5) and y.numpy().shape == (0, 3, 4, 5) and x.grad.shape == (0, 3, 8, 9)
    for shape in [(2, 0, 8, 9), (2, 3, 0, 9), (2, 3, 8, 0)]:
        with pytest.raises(RuntimeError, match=f"{pool}: expected input .* optional 0 batch size"):
            getattr(F, pool)(tg.zeros(*shape, device=device), 3, stride=2, padding=(0, 1), ceil_mode=True).numpy()
