"""tg.autograd.grad: PyTorch's torch.autograd.grad semantics (messages and behaviours
checked side by side with PyTorch 2.13 once), gradients against hand values and
central finite differences, on cpu and emu."""
import numpy as np
import pytest

import tinygrad_cu as tg

from conftest import device_or_skip

DEVICES = ["cpu", "emu"]


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_are_returned_and_grad_is_left_alone(device):
    device_or_skip(device)
    x = tg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    w = tg.tensor([0.5, -1.0, 2.0], device=device, requires_grad=True)
    y = x * w
    loss = (y * y).sum()                               # d/dx = 2 x w^2, d/dw = 2 w x^2
    gx, gw, gy = tg.autograd.grad(loss, [x, w, y], retain_graph=True)
    assert gx.tolist() == [0.5, 4.0, 24.0] and gw.tolist() == [1.0, -8.0, 36.0]
    assert gy.tolist() == [1.0, -4.0, 12.0]            # a non-leaf input: 2 y
    assert x.grad is None and w.grad is None and not gx.requires_grad
    loss.backward()                                     # the graph was retained
    assert x.grad.tolist() == [0.5, 4.0, 24.0]


@pytest.mark.parametrize("device", DEVICES)
def test_several_outputs_with_grad_outputs(device):
    device_or_skip(device)
    x = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    a, b = x * 3.0, x.exp()
    (g,) = tg.autograd.grad([a, b], x, grad_outputs=[tg.tensor([1.0, 2.0], device=device),
                                                      tg.tensor([0.5, 0.0], device=device)])
    np.testing.assert_allclose(g.numpy(), [3.0 + 0.5 * np.e, 6.0], rtol=1e-6)


def test_matches_finite_differences():
    rng = np.random.default_rng(5)
    x = tg.tensor(rng.standard_normal((3, 4)), dtype=tg.float64, requires_grad=True)
    w = tg.tensor(rng.standard_normal((4, 2)), dtype=tg.float64, requires_grad=True)
    f = lambda x, w: ((x @ w).tanh() ** 2.0).sum()
    gx, gw = tg.autograd.grad(f(x, w), (x, w))
    for t, g in ((x, gx), (w, gw)):
        numeric = np.zeros(t.shape)
        for i in np.ndindex(t.shape):
            for sign in (1, -1):
                arr = t.numpy().copy()
                arr[i] += sign * 1e-6
                args = [tg.tensor(arr, dtype=tg.float64) if s is t else tg.tensor(s.numpy(), dtype=tg.float64)
                        for s in (x, w)]
                numeric[i] += sign * f(*args).item() / 2e-6
        np.testing.assert_allclose(g.numpy(), numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_pytorchs_errors(device):
    device_or_skip(device)
    x = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    unused = tg.tensor([5.0], device=device, requires_grad=True)
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph. Set allow_unused=True"):
        tg.autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = tg.autograd.grad(y, [x, unused], allow_unused=True)
    assert gx.tolist() == [2.0, 4.0] and gu is None
    with pytest.raises(RuntimeError, match="a second time"):           # retain_graph defaults to False
        tg.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.autograd.grad((x * 2).sum(), tg.tensor([1.0], device=device))
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        tg.autograd.grad(x * 2, x)
    with pytest.raises(NotImplementedError, match="create_graph=True"):
        tg.autograd.grad((x * 2).sum(), x, create_graph=True)
