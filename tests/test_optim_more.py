"""RMSprop, Adagrad, SGD's dampening, the schedulers MultiStepLR, ExponentialLR, LambdaLR,
OneCycleLR, ReduceLROnPlateau, and gradient clipping: against float64 numpy written here
from PyTorch's documented algorithms (independent of ops/optim.py) and hand values; the
update kernels on emu against the same references; every optimiser and scheduler resumed
from its state_dict (through tg.save / tg.load) equals the uninterrupted run."""
import math

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu import nn, optim
from tinygrad_cu.device.gpu import GPUDevice
from tinygrad_cu.nn import Parameter
from tinygrad_cu.tensor import Tensor

from conftest import device_or_skip

P0 = np.random.default_rng(7).standard_normal((4, 3))
GRADS = [np.random.default_rng(100 + i).standard_normal(P0.shape) for i in range(6)]


def rmsprop64(p, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    p, sq, ga, buf = p.copy(), np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = g + weight_decay * p
        sq = alpha * sq + (1 - alpha) * g ** 2
        if centered:
            ga = alpha * ga + (1 - alpha) * g
            avg = np.sqrt(sq - ga ** 2) + eps
        else:
            avg = np.sqrt(sq) + eps
        if momentum:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
    return p


def adagrad64(p, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    p, acc = p.copy(), np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        acc = acc + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(acc) + eps)
    return p


def sgd_dampened64(p, grads, lr, momentum, dampening, weight_decay=0.0):
    p, buf = p.copy(), None
    for g in grads:
        g = g + weight_decay * p
        buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
        p = p - lr * buf
    return p


CASES = [
    (optim.RMSprop, dict(lr=0.01), rmsprop64),
    (optim.RMSprop, dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.8, centered=True), rmsprop64),
    (optim.Adagrad, dict(lr=0.1), adagrad64),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.3, weight_decay=0.05, initial_accumulator_value=0.5), adagrad64),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01), sgd_dampened64),
]


def run(make, device, grads, p0=P0, dtype=tg.float64):
    p = Parameter(p0, device=device, dtype=dtype)
    opt = make([p])
    for g in grads:
        p.grad = Tensor(g, device=device, dtype=dtype)
        opt.step()
    return p, opt


@pytest.mark.parametrize("device", ["cpu", "emu"])
@pytest.mark.parametrize("cls, kwargs, reference", CASES)
def test_optimisers_match_float64_reference(device, cls, kwargs, reference):
    device_or_skip(device)
    dtype = tg.float64 if device == "cpu" else tg.float32
    p, _ = run(lambda ps: cls(ps, **kwargs), device, GRADS, dtype=dtype)
    want = reference(P0, GRADS, **kwargs)
    np.testing.assert_allclose(p.numpy(), want, **(dict(rtol=1e-12) if device == "cpu" else dict(rtol=1e-4, atol=1e-5)))


def test_first_steps_by_hand():
    # RMSprop step 1: sq = 0.01 g^2, p -= lr g / (0.1 |g| + eps) = lr * 10 sign(g)
    p, _ = run(lambda ps: optim.RMSprop(ps, lr=0.01), "cpu", [np.array([[2.0, -0.5]])], p0=np.zeros((1, 2)))
    np.testing.assert_allclose(p.numpy(), [[-0.1, 0.1]], rtol=1e-6)
    # Adagrad step 1: p -= lr g / |g| = lr sign(g)
    p, _ = run(lambda ps: optim.Adagrad(ps, lr=0.5), "cpu", [np.array([[3.0, -1.0]])], p0=np.zeros((1, 2)))
    np.testing.assert_allclose(p.numpy(), [[-0.5, 0.5]], rtol=1e-9)
    # SGD dampening: buf = g first (not (1 - d) g), then 0.9 buf + 0.5 g
    p, _ = run(lambda ps: optim.SGD(ps, lr=1.0, momentum=0.9, dampening=0.5), "cpu",
               [np.array([[1.0]]), np.array([[1.0]])], p0=np.zeros((1, 1)))
    assert p.numpy()[0, 0] == pytest.approx(-(1.0 + 0.9 + 0.5))


@pytest.mark.parametrize("make", [
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.1, initial_accumulator_value=0.2),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.2),
    lambda ps: optim.AdamW(ps, lr=0.01),
], ids=["rmsprop", "adagrad", "sgd-dampening", "adamw"])
def test_resumed_optimiser_equals_uninterrupted(make, tmp_path):
    straight, _ = run(make, "cpu", GRADS)
    first, opt = run(make, "cpu", GRADS[:3])
    tg.save(opt.state_dict(), str(tmp_path / "opt.npz"))
    p = Parameter(first.numpy(), dtype=tg.float64)
    resumed = make([p])
    resumed.load_state_dict(tg.load(str(tmp_path / "opt.npz")))
    for g in GRADS[3:]:
        p.grad = Tensor(g, dtype=tg.float64)
        resumed.step()
    np.testing.assert_allclose(p.numpy(), straight.numpy(), rtol=1e-12)


# --- schedulers --------------------------------------------------------------------------
def lrs(scheduler, steps):
    values = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        scheduler.step()
        values.append(scheduler.get_last_lr()[0])
    return values


def sgd(lr=1.0, **kw):
    return optim.SGD([Parameter(np.ones(1))], lr=lr, **kw)


def test_multistep_exponential_and_lambda_by_hand():
    assert lrs(optim.MultiStepLR(sgd(), milestones=[4, 2], gamma=0.5), 5) == pytest.approx([1, 1, .5, .5, .25, .25])
    assert lrs(optim.ExponentialLR(sgd(2.0), gamma=0.5), 3) == pytest.approx([2, 1, .5, .25])
    assert lrs(optim.LambdaLR(sgd(0.1), lambda e: 1 / (e + 1)), 3) == pytest.approx([.1, .05, .1 / 3, .025])


def one_cycle64(step, total, max_lr, pct, div, final_div):
    """Smith's 1cycle with cosine annealing, as PyTorch documents it."""
    up_end, initial = pct * total - 1, max_lr / div
    cos = lambda a, b, f: b + (a - b) / 2 * (math.cos(math.pi * f) + 1)
    if step <= up_end:
        return cos(initial, max_lr, step / up_end)
    return cos(max_lr, initial / final_div, (step - up_end) / (total - 1 - up_end))


def test_one_cycle_lr_and_momentum():
    opt = sgd(momentum=0.9)
    sched = optim.OneCycleLR(opt, max_lr=0.5, total_steps=10, pct_start=0.3, div_factor=10, final_div_factor=100)
    momenta = [opt.param_groups[0]["momentum"]]
    got = [opt.lr]
    for _ in range(9):
        sched.step()
        got.append(opt.lr)
        momenta.append(opt.param_groups[0]["momentum"])
    assert got == pytest.approx([one_cycle64(s, 10, 0.5, 0.3, 10, 100) for s in range(10)], rel=1e-12)
    assert got[0] == pytest.approx(0.05) and got[2] == pytest.approx(0.5) and got[9] == pytest.approx(0.0005)
    assert momenta[0] == pytest.approx(0.95) and momenta[2] == pytest.approx(0.85) and momenta[9] == pytest.approx(0.95)
    sched.step()                                      # step 10 of 10 is allowed; 11 is not, as PyTorch
    with pytest.raises(ValueError, match="OneCycleLR: tried to step 11 times"):
        sched.step()
    adam = optim.Adam([Parameter(np.ones(1))])
    optim.OneCycleLR(adam, max_lr=0.1, epochs=2, steps_per_epoch=5)
    assert adam.param_groups[0]["betas"] == (0.95, 0.999)


def test_reduce_lr_on_plateau_by_hand():
    opt = sgd()
    sched = optim.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1, cooldown=1, min_lr=0.2)
    seen = []
    for loss in [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]:
        sched.step(loss)
        seen.append(opt.lr)
    # bad epochs: 0,0,1,2 -> halve (cooldown 1), skip, 1, 2 -> halve, skip, 1, 2 -> 0.125 < min_lr: 0.2
    assert seen == pytest.approx([1, 1, 1, .5, .5, .5, .25, .25, .25])
    sched.step(0.9)
    assert opt.lr == pytest.approx(0.2)


@pytest.mark.parametrize("make", [
    lambda o: optim.OneCycleLR(o, max_lr=1.0, total_steps=8),
    lambda o: optim.MultiStepLR(o, milestones=[2, 5], gamma=0.3),
    lambda o: optim.ExponentialLR(o, gamma=0.8),
    lambda o: optim.LambdaLR(o, lambda e: 0.9 ** e),
], ids=["onecycle", "multistep", "exponential", "lambda"])
def test_resumed_scheduler_equals_uninterrupted(make, tmp_path):
    opt = sgd(momentum=0.9)
    straight = lrs(make(opt), 7)
    opt = sgd(momentum=0.9)
    sched = make(opt)
    lrs(sched, 3)
    tg.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, str(tmp_path / "s.npz"))
    saved = tg.load(str(tmp_path / "s.npz"))
    opt2 = sgd(momentum=0.9)
    sched2 = make(opt2)
    opt2.load_state_dict(saved["opt"])
    sched2.load_state_dict(saved["sched"])
    assert straight[3:] == pytest.approx(lrs(sched2, 4), rel=1e-12)


def test_resumed_plateau_equals_uninterrupted():
    metrics = [1.0, 0.95, 0.95, 0.96, 0.94, 0.94, 0.94, 0.97]
    opt = sgd()
    sched = optim.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    straight = []
    for m in metrics:
        sched.step(m)
        straight.append(opt.lr)
    opt, resumed = sgd(), []
    sched = optim.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    for m in metrics[:4]:
        sched.step(m)
    state, opt_state = sched.state_dict(), opt.state_dict()
    opt = sgd()
    opt.load_state_dict(opt_state)
    sched = optim.ReduceLROnPlateau(opt, patience=1, factor=0.5)
    sched.load_state_dict(state)
    for m in metrics[4:]:
        sched.step(m)
        resumed.append(opt.lr)
    assert resumed == pytest.approx(straight[4:])


# --- gradient clipping --------------------------------------------------------------------
@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_clip_grad_norm_and_value(device, monkeypatch):
    device_or_skip(device)
    rng = np.random.default_rng(5)
    gs = [rng.standard_normal((3, 4)) * 2, rng.standard_normal(5)]
    params = [Parameter(np.zeros(g.shape), device=device) for g in gs]
    for p, g in zip(params, gs):
        p.grad = Tensor(g, device=device)
    total = math.sqrt(sum((g ** 2).sum() for g in gs))
    if device == "emu":      # device-side: no host read of any gradient or of the norm
        monkeypatch.setattr(GPUDevice, "to_numpy", lambda *a: pytest.fail("clip_grad_norm_ read a device buffer"))
    norm = nn.utils.clip_grad_norm_(params, max_norm=1.0)
    monkeypatch.undo()
    assert norm.item() == pytest.approx(total, rel=1e-5)
    for p, g in zip(params, gs):
        np.testing.assert_allclose(p.grad.numpy(), g / (total + 1e-6), rtol=1e-5)
    # below max_norm nothing changes; the inf norm is the largest |g|
    assert nn.utils.clip_grad_norm_(params, max_norm=10.0).item() == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(params[1].grad.numpy(), gs[1] / (total + 1e-6), rtol=1e-5)
    for p, g in zip(params, gs):
        p.grad = Tensor(g, device=device)
    inf = nn.utils.clip_grad_norm_(params, max_norm=1.0, norm_type=math.inf)
    assert inf.item() == pytest.approx(max(np.abs(g).max() for g in gs), rel=1e-6)
    for p, g in zip(params, gs):
        p.grad = Tensor(g, device=device)
    nn.utils.clip_grad_value_(params, 0.5)
    np.testing.assert_allclose(params[0].grad.numpy(), np.clip(gs[0], -0.5, 0.5), rtol=1e-6)
    params[0].grad = Tensor(np.full((3, 4), np.inf), device=device)
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
