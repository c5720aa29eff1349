"""F.nll_loss against a float64 numpy formula, and its label check: a label outside
[0, C) is a ValueError naming nll_loss, the label and the range, on every device (as
cross_entropy's, whose device-side check now names the range too). Expected messages
are written out by hand."""
import re

import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F

from conftest import device_or_skip

LOGP = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.25, 0.25, 0.5], [0.2, 0.2, 0.6]]))


@pytest.mark.parametrize("device", ["cpu", "emu"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_matches_numpy_and_its_gradient(device, reduction):
    device_or_skip(device)
    labels = np.array([0, 2, 1, 2])
    x = tg.Tensor(LOGP, device=device, requires_grad=True)
    loss = F.nll_loss(x, tg.Tensor(labels, device=device), reduction=reduction)
    picked = -LOGP[np.arange(4), labels]
    expected = {"mean": picked.mean(), "sum": picked.sum(), "none": picked}[reduction]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6)
    (loss.sum() if reduction == "none" else loss).backward()
    grad = np.zeros_like(LOGP)
    grad[np.arange(4), labels] = -1 / 4 if reduction == "mean" else -1
    np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-6)


BAD = [([0, -1, 1, 2], -1), ([0, 1, 3, 2], 3), ([0, 1, 2, -(2**40)], -(2**40)), ([9, -1, 0, 0], 9)]


@pytest.mark.parametrize("device", ["cpu", "emu"])
@pytest.mark.parametrize("labels,first_bad", BAD)
@pytest.mark.parametrize("as_tensor", [True, False])
def test_nll_loss_refuses_a_label_out_of_range(device, labels, first_bad, as_tensor):
    device_or_skip(device)
    x = tg.Tensor(LOGP, device=device, requires_grad=True)
    given = tg.Tensor(np.array(labels), device=device) if as_tensor else labels
    message = f"nll_loss: label {first_bad} is out of range for 3 classes (labels must be in [0, 3))"
    with pytest.raises(ValueError, match=re.escape(message)):
        F.nll_loss(x, given).item()


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_cross_entropy_names_the_label_range_on_every_device(device):
    device_or_skip(device)
    x = tg.Tensor(LOGP.astype(np.float32), device=device)
    message = "cross_entropy: label -1 is out of range for 3 classes (labels must be in [0, 3))"
    with pytest.raises(ValueError, match=re.escape(message)):
        F.cross_entropy(x, tg.Tensor(np.array([0, 1, -1, 2]), device=device)).item()


def test_nll_loss_refuses_bad_shapes_and_dtypes():
    x = tg.Tensor(LOGP)
    with pytest.raises(TypeError, match="nll_loss: labels must be integers, got float64"):
        F.nll_loss(x, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"nll_loss: expected labels of shape \(4,\)"):
        F.nll_loss(x, np.array([0, 1]))
    # one sample (C,) takes a 0-d label, as PyTorch
    with pytest.raises(ValueError, match=r"nll_loss: expected labels of shape \(\) for log-probabilities \(3,\)"):
        F.nll_loss(tg.Tensor(LOGP[0]), np.array([0]))
