"""The lecture's formulas, checked by hand-computed values."""
import numpy as np

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F


def test_one_sgd_step_of_a_linear_layer_is_the_delta_rule():
    """y = W x + b, E = (y - t)^2 / 2  =>  W <- W - eps (W x + b - t) x^T, b <- b - eps (W x + b - t)."""
    rng = np.random.default_rng(3)
    W0, b0 = rng.standard_normal((3, 4)), rng.standard_normal(3)
    x, t, eps = rng.standard_normal(4), rng.standard_normal(3), 0.1
    W = tg.tensor(W0, dtype=tg.float64, requires_grad=True)
    b = tg.tensor(b0, dtype=tg.float64, requires_grad=True)
    y = W @ tg.tensor(x, dtype=tg.float64) + b
    E = ((y - tg.tensor(t, dtype=tg.float64)) ** 2).sum() / 2
    E.backward()
    with tg.no_grad():
        W_new = W - eps * W.grad
        b_new = b - eps * b.grad
    err = W0 @ x + b0 - t
    np.testing.assert_allclose(W_new.numpy(), W0 - eps * np.outer(err, x), rtol=1e-12)
    np.testing.assert_allclose(b_new.numpy(), b0 - eps * err, rtol=1e-12)


def test_perceptron_sign_has_zero_gradient():
    w = tg.tensor([0.5, -1.0], requires_grad=True)
    (tg.tensor([1.0, 2.0]) * w).sum().sign().backward()
    assert w.grad.tolist() == [0.0, 0.0]


def test_sigmoid_derivative_is_s_times_one_minus_s():
    x = tg.tensor([-2.0, 0.0, 1.5], dtype=tg.float64, requires_grad=True)
    x.sigmoid().sum().backward()
    s = 1 / (1 + np.exp(-np.array([-2.0, 0.0, 1.5])))
    np.testing.assert_allclose(x.grad.numpy(), s * (1 - s), rtol=1e-12)


def test_softmax_cross_entropy_gradient_is_p_minus_onehot_over_n():
    z = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 3.0]])
    t = tg.tensor(z, dtype=tg.float64, requires_grad=True)
    F.cross_entropy(t, tg.tensor([0, 1])).backward()
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p[[0, 1], [0, 1]] -= 1
    np.testing.assert_allclose(t.grad.numpy(), p / 2, rtol=1e-12)


def test_two_layer_mlp_drives_its_loss_near_zero():
    """XOR-like problem with a hidden sigmoid layer, trained by full-batch gradient descent."""
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = tg.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=tg.float32)
    y = tg.tensor([[0], [1], [1], [0]], dtype=tg.float32)
    W1 = tg.tensor(rng.standard_normal((2, 8)), requires_grad=True)
    b1 = tg.zeros(8, requires_grad=True)
    W2 = tg.tensor(rng.standard_normal((8, 1)), requires_grad=True)
    b2 = tg.zeros(1, requires_grad=True)
    params = [W1, b1, W2, b2]
    for step in range(2000):
        out = ((x @ W1 + b1).sigmoid() @ W2 + b2).sigmoid()
        loss = F.mse_loss(out, y)
        for p in params:
            p.grad = None
        loss.backward()
        with tg.no_grad():
            for p in params:
                p.assign(p - 2.0 * p.grad)
    assert loss.item() < 0.01, loss.item()
