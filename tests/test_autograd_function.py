"""tg.autograd.Function (PyTorch's shape): values and gradients against hand-computed
ones and central finite differences, ctx's parts, its errors, and the same Function on
the emulator."""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.autograd import Function

from conftest import device_or_skip


class ScaledCube(Function):
    """k x^3, with the derivative written by hand: 3 k x^2 (k a plain number)."""
    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return x * x * x * k

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * x * x * (3 * ctx.k), None


class MulAdd(Function):
    """a * b + c: three inputs, gradients only where needs_input_grad says."""
    seen = []

    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(a, b)
        return a * b + c

    @staticmethod
    def backward(ctx, grad):
        MulAdd.seen.append(ctx.needs_input_grad)
        a, b = ctx.saved_tensors
        return (grad * b if ctx.needs_input_grad[0] else None,
                grad * a if ctx.needs_input_grad[1] else None,
                grad if ctx.needs_input_grad[2] else None)


def test_values_and_gradients_are_the_hand_computed_ones():
    x = tg.tensor([1.0, -2.0, 0.5], requires_grad=True)
    y = ScaledCube.apply(x, 2.0)
    np.testing.assert_allclose(y.numpy(), [2.0, -16.0, 0.25])
    assert y.grad_fn.name() == "ScaledCubeBackward" and y.requires_grad
    (y * tg.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 48.0, 4.5])    # 3 k x^2 * upstream


def test_gradcheck_through_a_function_inside_a_graph():
    rng = np.random.default_rng(0)
    a, b, c = (tg.Tensor(rng.standard_normal((3, 4)), dtype=np.float64, requires_grad=True) for _ in range(3))
    assert tg.gradcheck(lambda a, b, c: (MulAdd.apply(a.tanh(), b, c) * a).sum(axis=1), a, b, c)


def test_needs_input_grad_and_no_gradient_for_constant_inputs():
    MulAdd.seen.clear()
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b, c = tg.tensor([3.0, 4.0]), tg.tensor([5.0, 6.0], requires_grad=True)
    MulAdd.apply(a, b, c).sum().backward()
    assert MulAdd.seen == [(True, False, True)]
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(c.grad.numpy(), [1.0, 1.0])
    assert b.grad is None


def test_nothing_is_recorded_without_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        y = ScaledCube.apply(x, 1.0)
    assert not y.requires_grad and y.grad_fn is None
    assert ScaledCube.apply(tg.tensor([1.0]), 1.0).grad_fn is None


class Argsort(Function):
    """An output without gradient, marked so."""
    @staticmethod
    def forward(ctx, x):
        out = tg.tensor(np.argsort(x.numpy()).astype(np.float32))
        ctx.mark_non_differentiable(out)
        return out


def test_mark_non_differentiable_output_does_not_require_grad():
    y = Argsort.apply(tg.tensor([3.0, 1.0, 2.0], requires_grad=True))
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), [1, 2, 0])


class Identity(Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, grad):
        return grad * 2.0


def test_a_forward_returning_its_input_leaves_that_tensor_alone():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


class WrongCount(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, grad):
        return grad


class NotATensor(Function):
    @staticmethod
    def forward(ctx, a):
        return a.numpy()


def test_mistakes_are_errors_that_name_the_function():
    a, b = tg.tensor([1.0], requires_grad=True), tg.tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"WrongCount.backward returned 1 gradient\(s\), expected 2"):
        WrongCount.apply(a, b).sum().backward()
    with pytest.raises(TypeError, match="NotATensor.forward returned a ndarray"):
        NotATensor.apply(a)
    with pytest.raises(TypeError, match="at least one Tensor"):
        ScaledCube.apply(1.0, 2.0)


def test_a_second_backward_needs_retain_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = ScaledCube.apply(x, 1.0).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 24.0])          # twice 3 x^2
    with pytest.raises(RuntimeError, match="a second time"):
        y.backward()


def test_the_same_function_on_the_emulator_matches_cpu():
    device_or_skip("emu")
    values = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], np.float32)
    grads = {}
    for device in ("cpu", "emu"):
        x = tg.Tensor(values, device=device, requires_grad=True)
        y = ScaledCube.apply(x, 0.5)
        assert y.device == device
        (y * y).sum().backward()
        grads[device] = (y.numpy(), x.grad.numpy())
    np.testing.assert_allclose(grads["emu"][0], grads["cpu"][0], rtol=1e-6)
    np.testing.assert_allclose(grads["emu"][1], grads["cpu"][1], rtol=1e-5)
    np.testing.assert_allclose(grads["cpu"][1], 2 * (0.5 * values**3) * 1.5 * values**2, rtol=1e-5)


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_a_jitted_step_through_a_function_replays_its_ops(device):
    """tg.jit records the ops inside the Function's forward and backward, not the
    Function's backward as one step (which would need the call's ctx on replay)."""
    device_or_skip(device)
    w = tg.nn.Parameter(np.array([1.0, 2.0, 3.0]), device=device)
    opt = tg.optim.SGD([w], lr=0.01)

    @tg.jit
    def step(x):
        opt.zero_grad()
        loss = ScaledCube.apply(w * x, 1.0).sum()
        loss.backward()
        opt.step()
        return loss

    expected = np.array([1.0, 2.0, 3.0])
    for i in range(4):                       # capture, then replays
        c = 0.5 + 0.1 * i
        step(tg.Tensor(np.full(3, c, np.float32), device=device))
        expected = expected - 0.01 * 3 * (expected * c) ** 2 * c      # d/dw (w c)^3
        np.testing.assert_allclose(w.numpy(), expected, rtol=1e-5)
