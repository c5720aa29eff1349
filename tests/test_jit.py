"""tg.jit: a captured and replayed step gives the eager step's results, on every device;
it captures again when it must, and refuses what it cannot replay.

The reference is the same step run eagerly on an identically initialised model: losses
and parameters must agree to 1e-6 after several replays (eager and replay run the same
kernels or numpy calls on the same buffers, so they agree exactly in practice)."""
import warnings

import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn as nn
import tinygrad_cu.nn.functional as F
from tinygrad_cu.device import recording

from conftest import device_or_skip

DEVICES = ["cpu", "emu", "cuda"]
STEPS = 6


def mlp():
    return nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))


def lenet_like():
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 3))


MODELS = {"mlp": (mlp, (5, 12)), "conv": (lenet_like, (5, 1, 8, 8))}
OPTIMIZERS = {"sgd_momentum": lambda p: tg.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3),
              "adam": lambda p: tg.optim.Adam(p, lr=0.01)}


def batches(shape, n, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape).astype(np.float32), rng.integers(0, 3, shape[0])) for _ in range(n)]


def train(device, model_name, opt_name, jitted, data, between=None):
    build, _ = MODELS[model_name]
    tg.manual_seed(0)
    model = build().to(device)
    opt = OPTIMIZERS[opt_name](model.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    run = tg.jit(step) if jitted else step
    losses = []
    for i, (x, y) in enumerate(data):
        losses.append(run(tg.tensor(x, device=device), tg.tensor(y, device=device)).item())
        if between is not None:
            between(i, model, opt)
    return np.array(losses), {k: np.array(v) for k, v in model.state_dict().items()}, run


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("model_name", sorted(MODELS))
@pytest.mark.parametrize("opt_name", sorted(OPTIMIZERS))
def test_replay_equals_eager(device, model_name, opt_name):
    device_or_skip(device)
    data = batches(MODELS[model_name][1], STEPS)
    eager_losses, eager_params, _ = train(device, model_name, opt_name, False, data)
    jit_losses, jit_params, run = train(device, model_name, opt_name, True, data)
    assert run.captured == 1
    np.testing.assert_allclose(jit_losses, eager_losses, rtol=1e-6, atol=1e-6)
    for name in eager_params:
        np.testing.assert_allclose(jit_params[name], eager_params[name], rtol=1e-6, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_a_new_learning_rate_reaches_the_replay(device):
    """A scheduler changes lr between steps: the replayed optimiser step must use it."""
    device_or_skip(device)
    data = batches((5, 12), STEPS)

    def decay(i, model, opt):
        opt.lr = opt.lr * 0.5

    eager, _, _ = train(device, "mlp", "sgd_momentum", False, data, between=decay)
    replayed, _, _ = train(device, "mlp", "sgd_momentum", True, data, between=decay)
    np.testing.assert_allclose(replayed, eager, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_new_shapes_are_captured_again(device):
    device_or_skip(device)
    w = tg.tensor(np.arange(6, dtype=np.float32).reshape(3, 2), device=device)
    f = tg.jit(lambda x: (x @ w).relu().sum())
    for n in (2, 2, 2, 4, 4, 4, 2):
        x = np.random.default_rng(n).standard_normal((n, 3)).astype(np.float32)
        got = f(tg.tensor(x, device=device)).item()
        assert got == pytest.approx(np.maximum(x @ np.arange(6).reshape(3, 2), 0).sum(), rel=1e-5)
    assert f.captured == 2


def test_replayed_outputs_carry_no_graph_and_are_reused():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    f = tg.jit(lambda a: (a * x).sum())
    outs = [f(tg.tensor([3.0, 4.0])) for _ in range(3)]
    assert outs[2].grad_fn is None and not outs[2].requires_grad
    assert outs[2].item() == 11.0


def test_reading_a_value_inside_is_refused():
    def f(x):
        if (x.sum() > 0).item():
            return x * 2.0
        return x

    g = tg.jit(f)
    g(tg.tensor([1.0]))                      # the eager first call is fine
    with pytest.raises(tg.JitError, match="reads tensor values"):
        g(tg.tensor([1.0]))


def test_host_data_inside_is_refused():
    g = tg.jit(lambda x: x * tg.tensor(np.random.default_rng(0).random(2)))
    g(tg.tensor([1.0, 2.0]))
    with pytest.raises(tg.JitError, match="copies host data"):
        g(tg.tensor([1.0, 2.0]))


def test_gradients_accumulating_from_before_are_refused():
    w = tg.tensor([1.0, 2.0], requires_grad=True)

    @tg.jit
    def step(x):
        loss = (w * x).sum()
        loss.backward()                        # no zero_grad: .grad keeps growing
        return loss

    step(tg.tensor([1.0, 1.0]))
    with pytest.raises(tg.JitError, match="zero_grad"):
        step(tg.tensor([1.0, 1.0]))


def test_a_parameter_given_new_data_is_captured_again():
    """load_state_dict gives parameters new buffers: the tape must notice, not train
    the old ones silently."""
    data = batches((5, 12), STEPS)

    def reload(i, model, opt):
        if i == 3:
            model.load_state_dict({k: np.asarray(v) * 0.5 for k, v in model.state_dict().items()})

    eager, _, _ = train("cpu", "mlp", "sgd_momentum", False, data, between=reload)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        replayed, _, _ = train("cpu", "mlp", "sgd_momentum", True, data, between=reload)
    assert any("capturing the step again" in str(w.message) for w in caught)
    np.testing.assert_allclose(replayed, eager, rtol=1e-6, atol=1e-6)


def test_a_jitted_function_inside_a_capture_is_inlined():
    inner = tg.jit(lambda a: a * 2.0)
    outer = tg.jit(lambda a: inner(a) + 1.0)
    assert [outer(tg.tensor([float(i)])).item() for i in range(4)] == [1.0, 3.0, 5.0, 7.0]
    assert recording.current() is None
