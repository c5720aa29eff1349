"""The PyTorch forms of the losses against float64 numpy formulas written out here (and
hand-computed values at extreme logits), on cpu and emu; gradients of the composite
cross_entropy forms against central differences. The pointwise loss ops themselves are
also in the registry tests (tests/reference64.py)."""
import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F
from tinygrad_cu import nn

from conftest import device_or_skip

DEVICES = ["cpu", "emu"]


def on(device, a):
    return tg.Tensor(np.asarray(a), dtype=tg.float64 if device == "cpu" else tg.float32, device=device)


def tol(device):
    return dict(rtol=1e-9, atol=1e-12) if device == "cpu" else dict(rtol=2e-5, atol=2e-5)


def log_softmax64(x):
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))


def cross_entropy64(x, y, w, ignore, eps, reduction):
    """PyTorch's documented formula, row by row."""
    c = x.shape[1]
    logp = log_softmax64(x)
    losses, weights = [], []
    for n, label in enumerate(y):
        if label == ignore:
            losses.append(0.0)
            weights.append(0.0)
            continue
        nll = -w[label] * logp[n, label]
        smooth = -sum(w[k] * logp[n, k] for k in range(c))
        losses.append((1 - eps) * nll + eps / c * smooth)
        weights.append(w[label])
    losses = np.array(losses)
    return {"none": losses, "sum": losses.sum(), "mean": losses.sum() / sum(weights)}[reduction]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_weight_ignore_index_label_smoothing(device, reduction):
    device_or_skip(device)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((6, 4)) * 3, rng.uniform(0.5, 2, 4)
    y = np.array([0, 3, 7, 2, 3, 7])                       # 7: ignored
    for eps, weight in [(0.0, None), (0.25, None), (0.1, w)]:
        got = F.cross_entropy(on(device, x), y, weight=None if weight is None else on(device, weight),
                              ignore_index=7, reduction=reduction, label_smoothing=eps)
        want = cross_entropy64(x, y, np.ones(4) if weight is None else weight, 7, eps, reduction)
        np.testing.assert_allclose(got.numpy(), want, **tol(device), err_msg=f"eps {eps} weight {weight}")


@pytest.mark.parametrize("device", DEVICES)
def test_cross_entropy_class_probabilities_and_extra_dims(device):
    device_or_skip(device)
    rng = np.random.default_rng(1)
    x, p, w = rng.standard_normal((5, 3)), rng.dirichlet(np.ones(3), 5), rng.uniform(0.5, 2, 3)
    smoothed = p * 0.8 + 0.2 / 3
    want = -(log_softmax64(x) * smoothed * w).sum(axis=1)
    got = F.cross_entropy(on(device, x), on(device, p), weight=on(device, w), label_smoothing=0.2, reduction="none")
    np.testing.assert_allclose(got.numpy(), want, **tol(device))
    np.testing.assert_allclose(F.cross_entropy(on(device, x), on(device, p), weight=on(device, w),
                                               label_smoothing=0.2).numpy(), want.mean(), **tol(device))
    # (N, C, L): the class dim second, one loss per (n, l)
    x3, y3 = rng.standard_normal((2, 3, 4)), np.array([[0, 1, 2, 1], [2, 2, 0, 1]])
    rows = x3.transpose(0, 2, 1).reshape(-1, 3)
    want3 = cross_entropy64(rows, y3.ravel(), np.ones(3), -100, 0.0, "none").reshape(2, 4)
    np.testing.assert_allclose(F.cross_entropy(on(device, x3), y3, reduction="none", ignore_index=5).numpy(),
                               want3, **tol(device))


@pytest.mark.parametrize("device", DEVICES)
def test_nll_loss_with_weight(device):
    device_or_skip(device)
    logp = log_softmax64(np.random.default_rng(2).standard_normal((4, 3)))
    y, w = np.array([2, 0, 0, 1]), np.array([0.5, 2.0, 3.0])
    picked = -logp[np.arange(4), y] * w[y]
    got = F.nll_loss(on(device, logp), y, weight=on(device, w))
    np.testing.assert_allclose(got.numpy(), picked.sum() / w[y].sum(), **tol(device))
    np.testing.assert_allclose(F.nll_loss(on(device, logp), y, weight=on(device, w), reduction="sum").numpy(),
                               picked.sum(), **tol(device))


@pytest.mark.parametrize("device", DEVICES)
def test_losses_at_extreme_logits(device):
    device_or_skip(device)
    z = on(device, [-1e4, -100.0, 0.0, 100.0, 1e4])
    z.requires_grad_(True)
    t = on(device, [1.0, 1.0, 1.0, 0.0, 0.3])
    loss = F.binary_cross_entropy_with_logits(z, t, reduction="none")
    # by hand: -log sigmoid(-1e4) = 1e4; log(1 + e^-100) + 100 = 100; log 2; 100; (1 - 0.3) * 1e4
    np.testing.assert_allclose(loss.numpy(), [1e4, 100.0, np.log(2), 100.0, 7e3], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [-1.0, -1.0, -0.5, 1.0, 0.7], rtol=1e-6)   # sigmoid(z) - t
    # softmax cross-entropy with logits 1e4 apart: exact and finite
    logits = on(device, [[1e4, 0.0, -1e4], [1e4, 0.0, -1e4]])
    logits.requires_grad_(True)
    ce = F.cross_entropy(logits, np.array([0, 2]), reduction="none", label_smoothing=0.0, weight=on(device, [1, 1, 1]))
    np.testing.assert_allclose(ce.numpy(), [0.0, 2e4], rtol=1e-6)
    ce.sum().backward()
    np.testing.assert_allclose(logits.grad.numpy(), [[0, 0, 0], [1, 0, -1]], atol=1e-6)
    # binary cross-entropy at probabilities 0 and 1: each log clamped at -100, gradients finite
    x = on(device, [0.0, 1.0, 1.0])
    x.requires_grad_(True)
    bce = F.binary_cross_entropy(x, on(device, [1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(bce.numpy(), [100.0, 100.0, 0.0])
    bce.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("device", DEVICES)
def test_binary_cross_entropy_refuses_values_outside_0_1_as_pytorch(device):
    """PyTorch: RuntimeError 'all elements of input (target) should be between 0 and 1',
    the input checked first, NaN refused too; emu checks on the device and raises at
    the next synchronisation, and the device is fine afterwards."""
    device_or_skip(device)
    for x, t, which in [([0.5, 1.25], [0.0, 1.0], "input"), ([-0.1], [2.0], "input"),
                        ([np.nan], [0.5], "input"), ([0.5, 0.5], [0.5, -1.0], "target")]:
        with pytest.raises(RuntimeError, match=f"all elements of {which} should be between 0 and 1"):
            F.binary_cross_entropy(on(device, x), on(device, t), reduction="none").numpy()
    ok = F.binary_cross_entropy(on(device, [0.25, 0.0, 1.0]), on(device, [1.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(ok.numpy(), [np.log(4), 0.0, 0.0], **tol(device))


@pytest.mark.parametrize("device", DEVICES)
def test_pointwise_losses_and_reductions(device):
    device_or_skip(device)
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal(12), rng.standard_normal(12)
    d = x - t
    huber = lambda d, k: np.where(np.abs(d) < k, 0.5 * d * d, k * (np.abs(d) - 0.5 * k))
    cases = [(F.l1_loss, {}, np.abs(d)), (F.smooth_l1_loss, dict(beta=0.5), huber(d, 0.5) / 0.5),
             (F.huber_loss, dict(delta=0.7), huber(d, 0.7)), (F.mse_loss, {}, d * d)]
    for fn, kw, want in cases:
        for reduction, reduce in (("none", lambda a: a), ("sum", np.sum), ("mean", np.mean)):
            np.testing.assert_allclose(fn(on(device, x), on(device, t), reduction=reduction, **kw).numpy(),
                                       reduce(want), **tol(device), err_msg=f"{fn.__name__} {reduction}")
    p, q = rng.dirichlet(np.ones(4), 3), rng.dirichlet(np.ones(4), 3)
    kl = (q * (np.log(q) - np.log(p))).sum() / 3
    np.testing.assert_allclose(F.kl_div(on(device, np.log(p)), on(device, q), reduction="batchmean").numpy(), kl,
                               **tol(device))
    np.testing.assert_allclose(F.kl_div(on(device, np.log(p)), on(device, np.log(q)), reduction="batchmean",
                                        log_target=True).numpy(), kl, **tol(device))
    prob, target, w = rng.uniform(0.05, 0.95, 6), rng.uniform(0, 1, 6), rng.uniform(0.5, 2, 6)
    bce = -(target * np.log(prob) + (1 - target) * np.log(1 - prob)) * w
    got = F.binary_cross_entropy(on(device, prob), on(device, target), weight=on(device, w))
    np.testing.assert_allclose(got.numpy(), bce.mean(), **tol(device))
    with pytest.raises(ValueError, match="l1_loss: reduction must be one of"):
        F.l1_loss(on(device, x), on(device, t), reduction="avg")
    with pytest.raises(ValueError, match=r"huber_loss: input \(12,\) and target \(11,\) must have the same shape"):
        F.huber_loss(on(device, x), on(device, t[:11]))


def test_composite_cross_entropy_gradients():
    rng = np.random.default_rng(4)
    x = tg.Tensor(rng.standard_normal((4, 3)), dtype=tg.float64, requires_grad=True)
    w = tg.Tensor(rng.uniform(0.5, 2, 3), dtype=tg.float64, requires_grad=True)
    p = tg.Tensor(rng.dirichlet(np.ones(3), 4), dtype=tg.float64, requires_grad=True)
    y = np.array([0, 2, -1, 1])
    assert tg.gradcheck(lambda x, w: F.cross_entropy(x, y, weight=w, ignore_index=-1, label_smoothing=0.3), x, w)
    assert tg.gradcheck(lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1), x, p)
    assert tg.gradcheck(lambda x: F.nll_loss(x, np.array([1, 1, 0, 2]), weight=w.detach()), x)


def test_loss_modules():
    x, y = tg.randn(4, 3), np.array([0, 1, 2, 1])
    assert nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=1)(x, y).shape == ()
    assert nn.NLLLoss(reduction="none")(x, y).shape == (4,)
    assert nn.BCEWithLogitsLoss()(x, tg.zeros(4, 3)).shape == ()
    assert nn.SmoothL1Loss(beta=0.5)(x, tg.zeros(4, 3)).shape == ()
    assert nn.KLDivLoss(reduction="batchmean", log_target=True)(x, x).item() == 0.0
