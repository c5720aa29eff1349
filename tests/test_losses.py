"""Losses against hand-computed values, numpy float64 formulas and central differences.

The lecture's error functions on softmax probabilities k and target class T:
E = 1 - k[T] and E = sum_j k[j] (j - T)^2, averaged over the batch."""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu import nn
from tinygrad_cu.tensor import Tensor

f64 = tg.float64
PROBS = np.array([[0.7, 0.2, 0.1],
                  [0.1, 0.3, 0.6]])
TARGET = np.array([0, 1])


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_one_minus_target_prob_by_hand():
    # (1 - 0.7) and (1 - 0.3): mean 0.5
    loss = nn.one_minus_target_prob_loss(Tensor(PROBS, dtype=f64), TARGET, apply_softmax=False)
    assert loss.item() == pytest.approx(0.5, abs=1e-12)
    per_sample = nn.one_minus_target_prob_loss(Tensor(PROBS, dtype=f64), TARGET, False, reduction="none")
    np.testing.assert_allclose(per_sample.numpy(), [0.3, 0.7])


def test_quadratic_class_distance_by_hand():
    # sample 0, T=0: 0.7*0 + 0.2*1 + 0.1*4 = 0.6;  sample 1, T=1: 0.1*1 + 0.3*0 + 0.6*1 = 0.7
    loss = nn.quadratic_class_distance_loss(Tensor(PROBS, dtype=f64), TARGET, apply_softmax=False)
    assert loss.item() == pytest.approx(0.65, abs=1e-12)
    total = nn.QuadraticClassDistanceLoss(apply_softmax=False, reduction="sum")(Tensor(PROBS, dtype=f64), TARGET)
    assert total.item() == pytest.approx(1.3, abs=1e-12)


def test_lecture_losses_from_scores_match_numpy():
    rng = np.random.default_rng(0)
    z, t = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    k = softmax(z)
    expected_1 = np.mean(1 - k[np.arange(5), t])
    expected_q = np.mean((k * (np.arange(4)[None] - t[:, None]) ** 2).sum(1))
    zt = Tensor(z, dtype=f64)
    assert nn.OneMinusTargetProbLoss()(zt, t).item() == pytest.approx(expected_1, rel=1e-12)
    assert nn.quadratic_class_distance_loss(zt, tg.tensor(t)).item() == pytest.approx(expected_q, rel=1e-12)


def test_one_minus_target_prob_gradient_by_hand():
    """dE/dz_j = -(1/N) k_T (delta_jT - k_j) for E = mean(1 - softmax(z)[T])."""
    rng = np.random.default_rng(1)
    z, t = rng.standard_normal((3, 4)), np.array([2, 0, 3])
    zt = Tensor(z, dtype=f64, requires_grad=True)
    nn.one_minus_target_prob_loss(zt, t).backward()
    k = softmax(z)
    kt = k[np.arange(3), t][:, None]
    expected = -kt * (np.eye(4)[t] - k) / 3
    np.testing.assert_allclose(zt.grad.numpy(), expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("loss", [nn.one_minus_target_prob_loss, nn.quadratic_class_distance_loss])
def test_lecture_losses_gradcheck(loss):
    z = np.random.default_rng(2).standard_normal((3, 5))
    t = np.array([4, 0, 2])
    assert tg.gradcheck(lambda s: loss(s, t), Tensor(z, dtype=f64, requires_grad=True))


def test_cross_entropy_loss_matches_numpy():
    rng = np.random.default_rng(3)
    z, t = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    per_sample = -np.log(softmax(z)[np.arange(6), t])
    zt = Tensor(z, dtype=f64, requires_grad=True)
    loss = nn.CrossEntropyLoss()(zt, t)
    assert loss.item() == pytest.approx(per_sample.mean(), rel=1e-10)
    loss.backward()
    np.testing.assert_allclose(zt.grad.numpy(), (softmax(z) - np.eye(5)[t]) / 6, rtol=1e-8, atol=1e-12)
    assert nn.CrossEntropyLoss(reduction="sum")(Tensor(z, dtype=f64), t).item() == pytest.approx(per_sample.sum())


def test_mse_loss_matches_numpy():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    at = Tensor(a, dtype=f64, requires_grad=True)
    loss = nn.MSELoss()(at, Tensor(b, dtype=f64))
    assert loss.item() == pytest.approx(((a - b) ** 2).mean(), rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(at.grad.numpy(), 2 * (a - b) / a.size)
    assert "reduction='sum'" in repr(nn.MSELoss(reduction="sum"))


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="labels"):
        nn.one_minus_target_prob_loss(tg.randn(3, 4), np.array([0.5, 1, 2]))
    with pytest.raises(ValueError, match="labels"):
        nn.quadratic_class_distance_loss(tg.randn(3, 4), np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        nn.one_minus_target_prob_loss(tg.randn(3, 4), np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        nn.quadratic_class_distance_loss(tg.randn(4), np.array([0]))
