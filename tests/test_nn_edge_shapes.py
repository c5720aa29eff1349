"""Empty and 0-d shapes through the new ops (norm, pointwise losses, conv_transpose, grouped
conv) on every device: no kernel may crash, and the values are what the formulas give."""
import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F

from conftest import device_or_skip


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_empty_and_0d_shapes(device):
    device_or_skip(device)
    t = lambda a, grad=True: tg.Tensor(np.asarray(a, np.float32), device=device, requires_grad=grad)
    x, w, b = t(np.zeros((0, 5))), t(np.ones(5)), t(np.zeros(5))
    y = F.layer_norm(x, 5, w, b)
    y.sum().backward()
    assert y.shape == (0, 5) and w.grad.numpy().tolist() == [0] * 5 and x.grad.shape == (0, 5)
    z = t(0.25)                                     # 0-d: -log(0.25), gradient -1/0.25
    loss = F.binary_cross_entropy(z, t(1.0, False))
    loss.backward()
    assert loss.item() == pytest.approx(np.log(4), rel=1e-6) and z.grad.item() == pytest.approx(-4, rel=1e-6)
    e = t(np.zeros(0))
    F.huber_loss(e, t(np.zeros(0), False), reduction="sum").backward()
    assert e.grad.shape == (0,)
    c, k = t(np.zeros((0, 2, 3, 3))), t(np.ones((2, 3, 2, 2)))
    out = F.conv_transpose2d(c, k, stride=2)
    out.sum().backward()
    assert out.shape == (0, 3, 6, 6) and not k.grad.numpy().any()
    g, gw = t(np.ones((2, 4, 3))), t(np.ones((4, 1, 2)))
    out = F.conv1d(g, gw, groups=4)
    out.sum().backward()
    assert out.numpy().tolist() == np.full((2, 4, 2), 2.0).tolist() and gw.grad.numpy().tolist() == [[[4, 4]]] * 4
