"""Optimisers against updates computed here in plain numpy float64, and hand values.

The numpy references follow PyTorch's documented algorithms (torch.optim.SGD, Adam,
AdamW) written independently of ops/optim.py, e.g. Adam as
p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
import math

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu import nn, optim
from tinygrad_cu.nn import Parameter
from tinygrad_cu.tensor import Tensor

f64 = tg.float64


def grads_sequence(shape, steps, seed=0):
    return [np.random.default_rng(seed + i).standard_normal(shape) for i in range(steps)]


def run(opt_factory, p0, grads, dtype=f64):
    p = Parameter(p0, dtype=dtype)
    opt = opt_factory([p])
    for g in grads:
        p.grad = Tensor(g, dtype=dtype)
        opt.step()
    return p.numpy(), opt


def sgd_reference(p, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    p, buf = p.copy(), None
    for g in grads:
        d = g + weight_decay * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + d     # PyTorch: buf = g at step 1
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
    return p


def adam_reference(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    b1, b2 = betas
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - (lr / (1 - b1 ** t)) * m / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + eps)
    return p


P0 = np.random.default_rng(42).standard_normal((3, 2))


@pytest.mark.parametrize("kwargs", [
    dict(lr=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.02, momentum=0.5, nesterov=True, weight_decay=0.1),
])
def test_sgd_matches_numpy(kwargs):
    grads = grads_sequence(P0.shape, 4)
    got, _ = run(lambda ps: optim.SGD(ps, **kwargs), P0, grads)
    np.testing.assert_allclose(got, sgd_reference(P0, grads, **kwargs), rtol=1e-12, atol=1e-14)


def test_sgd_by_hand():
    # p = 1, g = 0.5, lr = 0.1: 1 - 0.05 = 0.95
    assert run(lambda ps: optim.SGD(ps, lr=0.1), np.array([1.0]), [np.array([0.5])])[0][0] == pytest.approx(0.95)
    # constant g = 1, momentum 0.9: buf 1 -> p 0.9; buf 1.9 -> p 0.71
    ones = [np.array([1.0])] * 2
    assert run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), np.array([1.0]), ones)[0][0] == pytest.approx(0.71)
    # nesterov: step 1 uses 1 + 0.9*1 = 1.9 -> 0.81; step 2 uses 1 + 0.9*1.9 = 2.71 -> 0.539
    assert run(lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True), np.array([1.0]), ones)[0][0] == \
        pytest.approx(0.539)
    # weight decay 0.5 with g = 0: p -= 0.1 * 0.5 * 2 -> 1.9
    assert run(lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.5), np.array([2.0]), [np.array([0.0])])[0][0] == \
        pytest.approx(1.9)


@pytest.mark.parametrize("cls,kwargs,decoupled", [
    (optim.Adam, dict(lr=0.01), False),
    (optim.Adam, dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), False),
    (optim.AdamW, dict(lr=0.01), True),
    (optim.AdamW, dict(lr=0.05, weight_decay=0.3), True),
])
def test_adam_family_matches_numpy(cls, kwargs, decoupled):
    grads = grads_sequence(P0.shape, 5, seed=7)
    got, opt = run(lambda ps: cls(ps, **kwargs), P0, grads)
    ref_kwargs = dict(kwargs, weight_decay=kwargs.get("weight_decay", 0.01 if decoupled else 0.0))
    np.testing.assert_allclose(got, adam_reference(P0, grads, decoupled=decoupled, **ref_kwargs),
                               rtol=1e-12, atol=1e-14)
    assert opt.state[opt.params[0]]["step"] == 5


def test_adam_first_step_by_hand():
    # step 1: m_hat = g, v_hat = g^2, so p -= lr * g / (|g| + eps) = lr * sign(g)
    got, _ = run(lambda ps: optim.Adam(ps, lr=0.1), np.array([1.0, 1.0]), [np.array([2.0, -0.5])])
    np.testing.assert_allclose(got, [0.9, 1.1], atol=1e-7)
    # AdamW's decay: p (1 - lr wd) = 1 * (1 - 0.1 * 0.5) = 0.95, then -0.1
    got, _ = run(lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5), np.array([1.0]), [np.array([3.0])])
    assert got[0] == pytest.approx(0.85, abs=1e-7)


def test_float32_parameters_are_updated_in_float32():
    grads = grads_sequence(P0.shape, 3)
    got, opt = run(lambda ps: optim.Adam(ps, lr=0.01), P0, grads, dtype=tg.float32)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, adam_reference(P0, grads, lr=0.01), rtol=1e-5, atol=1e-6)
    state = opt.state[opt.params[0]]
    assert state["exp_avg"].dtype == np.float32 and state["exp_avg"].device == "cpu"


def test_params_without_grad_are_skipped_and_get_no_state():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = tg.ones(2)
    opt.step()
    np.testing.assert_allclose(a.numpy(), 0.9)
    np.testing.assert_array_equal(b.numpy(), 1)
    assert b not in opt.state and "momentum_buffer" in opt.state[a]
    plain = optim.SGD([a], lr=0.1)
    plain.step()
    assert a not in plain.state          # plain SGD keeps no momentum buffer


def test_zero_grad_and_lr_property_and_param_groups():
    layer = nn.Linear(2, 1)
    opt = optim.SGD([{"params": [layer.weight]}, {"params": [layer.bias], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5] and opt.lr == 0.1
    layer(tg.randn(3, 2)).sum().backward()
    before = layer.bias.numpy()
    expected = before - 0.5 * layer.bias.grad.numpy()
    opt.step()
    np.testing.assert_allclose(layer.bias.numpy(), expected, rtol=1e-6)
    opt.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None
    opt.lr = 0.01
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.01]


def test_invalid_hyperparameters():
    p = [Parameter(np.ones(1))]
    with pytest.raises(ValueError):
        optim.SGD(p, lr=-1)
    with pytest.raises(ValueError):
        optim.SGD(p, lr=0.1, nesterov=True)
    with pytest.raises(ValueError):
        optim.Adam(p, betas=(1.0, 0.9))
    with pytest.raises(ValueError):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        q = Parameter(np.ones(2))
        q.grad = tg.ones(3)
        optim.SGD([q], lr=0.1).step()


def test_optimizer_state_dict_resumes_exactly():
    grads = grads_sequence(P0.shape, 6, seed=3)
    straight, _ = run(lambda ps: optim.Adam(ps, lr=0.02), P0, grads)
    first, opt = run(lambda ps: optim.Adam(ps, lr=0.02), P0, grads[:3])
    saved = opt.state_dict()
    p = Parameter(first, dtype=f64)
    resumed = optim.Adam([p], lr=0.02)
    resumed.load_state_dict(saved)
    for g in grads[3:]:
        p.grad = Tensor(g, dtype=f64)
        resumed.step()
    np.testing.assert_allclose(p.numpy(), straight, rtol=1e-12)


def test_training_reduces_loss():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    x = np.random.default_rng(0).standard_normal((64, 2))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(Tensor(x)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# --- learning-rate schedulers ------------------------------------------------------------
def lrs(scheduler, steps):
    values = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        scheduler.step()
        values.append(scheduler.get_last_lr()[0])
    return values


def test_step_lr():
    opt = optim.SGD([Parameter(np.ones(1))], lr=1.0)
    assert lrs(optim.StepLR(opt, step_size=2, gamma=0.5), 5) == pytest.approx([1, 1, 0.5, 0.5, 0.25, 0.25])
    assert opt.lr == pytest.approx(0.25)


def test_cosine_annealing_lr():
    opt = optim.SGD([Parameter(np.ones(1))], lr=1.0)
    # 0.1 + 0.9 (1 + cos(pi t / 4)) / 2 for t = 0..4: cos = 1, 0.70711, 0, -0.70711, -1
    expected = [1.0, 0.868198, 0.55, 0.231802, 0.1]
    assert lrs(optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.1), 4) == pytest.approx(expected, abs=1e-6)


# --- the same update on emu, once the device and its optim kernels exist ------------------
@pytest.mark.parametrize("make,state_name", [
    (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01), "momentum_buffer"),
    (lambda ps: optim.AdamW(ps, lr=0.1), "exp_avg"),
])
def test_optimizer_step_on_emu_matches_cpu(make, state_name):
    available, reason = tg.devices()["emu"]
    if not available:
        pytest.skip(f"emu device unavailable: {reason}")
    p0 = P0.astype(np.float32)
    g = grads_sequence(P0.shape, 1)[0].astype(np.float32)
    results = {}
    for device in ("cpu", "emu"):
        p = Parameter(p0, device=device)
        opt = make([p])
        for _ in range(2):
            p.grad = Tensor(g, device=device)
            try:
                opt.step()
            except RuntimeError as e:
                if "no CUDA kernel" in str(e):
                    pytest.skip(f"optimiser kernels not written yet: {e}")
                raise
        assert opt.state[p][state_name].device == device
        results[device] = p.numpy()
    np.testing.assert_allclose(results["emu"], results["cpu"], rtol=1e-5, atol=1e-6)
