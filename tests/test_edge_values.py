"""Edge values with documented answers."""
import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F


def test_relu_gradient_at_exactly_zero_is_zero():
    x = tg.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]


def test_amax_with_ties_splits_the_gradient_evenly():
    x = tg.tensor([[1.0, 3.0, 3.0], [5.0, 5.0, 5.0]], requires_grad=True)
    x.amax(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    y = tg.tensor([2.0, 7.0, 7.0, 1.0], requires_grad=True)
    y.min().backward()
    np.testing.assert_allclose(y.grad.numpy(), [0, 0, 0, 1])


def test_argmax_picks_the_first_of_tied_values():
    assert tg.tensor([1.0, 4.0, 4.0]).argmax().item() == 1


def test_log_of_zero_is_minus_infinity_without_an_exception():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tg.tensor([0.0]).log().item() == -np.inf


@pytest.mark.parametrize("scale", [1000.0, -1000.0])
def test_softmax_family_is_finite_and_correct_on_huge_logits(scale):
    logits = np.array([[1.0, 0.0, -1.0], [0.5, 0.5, 0.0]]) * scale
    t = tg.tensor(logits, requires_grad=True)
    # exact: softmax of x * 1000 puts all mass on the arg max (ties split evenly)
    expected = np.array([[1, 0, 0], [0.5, 0.5, 0]]) if scale > 0 else np.array([[0, 0, 1], [0, 0, 1.0]])
    np.testing.assert_allclose(F.softmax(t, dim=1).numpy(), expected, atol=1e-6)
    ls = F.log_softmax(t, dim=1).numpy()
    assert np.all(np.isfinite(ls))
    row0_max = logits[0].max()
    np.testing.assert_allclose(ls[0], logits[0] - row0_max - np.log(np.exp(logits[0] - row0_max).sum()), rtol=1e-6)
    loss = F.cross_entropy(t, tg.tensor([2, 0]))
    assert np.isfinite(loss.item())
    # -log p[0, 2] = 2 * |scale| (for +1000) ; the second row: log 2 (+) or 1000.5*... computed exactly:
    ref = np.mean([-(logits[i] - logits[i].max() - np.log(np.exp(logits[i] - logits[i].max()).sum()))[c]
                   for i, c in enumerate([2, 0])])
    np.testing.assert_allclose(loss.item(), ref, rtol=1e-6)
    loss.backward()
    assert np.all(np.isfinite(t.grad.numpy()))


def test_sigmoid_and_softplus_do_not_overflow():
    x = tg.tensor([-100.0, 100.0])
    np.testing.assert_allclose(x.sigmoid().numpy(), [0.0, 1.0], atol=1e-30)
    np.testing.assert_allclose(x.softplus().numpy(), [0.0, 100.0], atol=1e-30)


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_edge_values_on_every_device(device):
    """The documented edge values hold on the kernels too, not only on numpy."""
    from conftest import device_or_skip
    device_or_skip(device)
    x = tg.tensor([-1.0, 0.0, 2.0], device=device, requires_grad=True)
    x.relu().sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]
    m = tg.tensor([[1.0, 3.0, 3.0]], device=device, requires_grad=True)
    m.amax(1).sum().backward()
    np.testing.assert_allclose(m.grad.numpy(), [[0, 0.5, 0.5]])
    assert tg.tensor([1.0, 4.0, 4.0], device=device).argmax().item() == 1
    assert tg.tensor([0.0], device=device).log().item() == -np.inf
    big = tg.tensor([[1000.0, 0.0, -1000.0]], device=device, requires_grad=True)
    np.testing.assert_allclose(F.softmax(big, dim=1).numpy(), [[1, 0, 0]], atol=1e-6)
    loss = F.cross_entropy(big, tg.tensor([2], device=device))
    np.testing.assert_allclose(loss.item(), 2000.0, rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(big.grad.numpy(), [[1, 0, -1]], atol=1e-6)
    a = tg.tensor([0.0, 0.0], device=device, requires_grad=True)
    (a ** tg.tensor([0.0, 2.0], device=device)).sum().backward()
    assert a.grad.tolist() == [0.0, 0.0]                 # 0 ** 0: gradient 0, as PyTorch


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_integer_arithmetic_and_int32_labels_on_every_device(device):
    from conftest import device_or_skip
    device_or_skip(device)
    labels = tg.tensor([1, 2, 3], device=device)
    assert (labels * 3 + labels - 1).tolist() == [3, 7, 11]
    logits = tg.zeros(3, 4, device=device)
    np.testing.assert_allclose(F.cross_entropy(logits, tg.tensor([0, 1, 3], dtype=tg.int32, device=device)).item(),
                               np.log(4), rtol=1e-6)
    with pytest.raises(TypeError, match="softmax: axis must be an int"):
        F.softmax(logits, dim=(0, 1))
