"""After backward the graph is freed by reference counting alone, as in PyTorch: every
node that ran drops its saved tensors and its inputs, so the intermediates die at once
(with the garbage collector off) even while the loss and its grad_fn live on, and a
training loop's device memory stays flat. retain_graph=True keeps the graph for another
backward; a second backward without it is a RuntimeError that says so."""
import gc
import weakref

import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F
from tinygrad_cu import nn

from conftest import device_or_skip


@pytest.fixture
def no_gc():
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def mlp(device):
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)


def batch(device):
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    return tg.Tensor(x, device=device), tg.Tensor(np.array([0, 1, 2, 0, 1]), device=device)


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_intermediates_die_at_backward_while_the_loss_lives(device, no_gc):
    device_or_skip(device)
    model = mlp(device)
    x, y = batch(device)
    hidden = model[0](x)
    activated = model[1](hidden)
    logits = model[2](activated)
    loss = F.cross_entropy(logits, y)
    alive = [weakref.ref(t) for t in (hidden, activated, logits)]
    del hidden, activated, logits
    assert all(r() is not None for r in alive)           # the graph holds them until backward
    loss.backward()
    assert all(r() is None for r in alive)
    assert loss.grad_fn is not None and np.isfinite(loss.item())   # the loss itself lives on
    assert all(p.grad is not None for p in model.parameters())


def test_after_backward_the_device_holds_only_parameters_gradients_and_the_loss(no_gc):
    device_or_skip("emu")
    model = mlp("emu")
    x, y = batch("emu")
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    with_loss = tg.memory_stats("emu")["active_bytes"]
    del loss
    # all that died with the loss is its own 4-byte value: nothing of the graph was left
    assert with_loss - tg.memory_stats("emu")["active_bytes"] == 4


def test_a_thousand_steps_keep_device_memory_flat_without_the_garbage_collector(no_gc):
    device_or_skip("emu")
    model = mlp("emu")
    opt = tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = batch("emu")

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss                 # kept alive while the next step runs, as a loop does

    for _ in range(3):                                   # warm-up: the pool fills
        loss = step()
    losses = [loss.item()]
    gc.collect()     # one-time garbage of the warm-up (first calls into networkx, ctypes types)
    first = tg.memory_stats("emu")
    seen = set()
    for i in range(1000):
        loss = step()
        if i % 50 == 49:
            stats = tg.memory_stats("emu")
            seen.add((stats["active_bytes"], stats["managed_bytes"]))
    losses.append(loss.item())
    assert seen == {(first["active_bytes"], first["managed_bytes"])}
    assert losses[-1] < losses[0]
    assert gc.collect() == 0            # the loop left nothing for the collector either


def test_retain_graph_keeps_the_graph_for_a_second_backward():
    rng = np.random.default_rng(1)
    a = rng.standard_normal(4)
    x = tg.tensor(a, requires_grad=True)
    h = x.exp()
    alive = weakref.ref(h)
    loss = (h * x).sum()
    del h
    loss.backward(retain_graph=True)
    assert alive() is not None                   # kept for the second backward
    loss.backward(retain_graph=True)
    loss.backward()                               # the last one frees
    assert alive() is None
    np.testing.assert_allclose(x.grad.numpy(), 3 * (np.exp(a) * (1 + a)), rtol=1e-5)
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        loss.backward()


def test_a_graph_shared_by_two_losses_needs_retain_graph_like_pytorch():
    x = tg.tensor([0.5, -1.0], requires_grad=True)
    h = x.tanh()
    first, second = (h * 2.0).sum(), (h * h).sum()
    first.backward()
    with pytest.raises(RuntimeError, match=r"TanhBackward a second time.*retain_graph=True"):
        second.backward()
    x.grad = None
    h = x.tanh()
    first, second = (h * 2.0).sum(), (h * h).sum()
    first.backward(retain_graph=True)
    second.backward()
    t = np.tanh([0.5, -1.0])
    np.testing.assert_allclose(x.grad.numpy(), (2 + 2 * t) * (1 - t * t), rtol=1e-5)


def test_the_networkx_check_and_module_walks_leave_no_cycles(no_gc, monkeypatch):
    """The full graph check (run on a new graph structure, or always with
    CHECK_EVERY_GRAPH) and Module.named_modules used to leave cyclic garbage: the
    networkx DiGraph with its cached views, and a recursive closure."""
    from tinygrad_cu import autograd
    monkeypatch.setattr(autograd, "CHECK_EVERY_GRAPH", True)
    model = mlp("cpu")
    x, y = batch("cpu")

    def step():
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return [name for name, _ in model.named_parameters()]

    step()
    gc.collect()                 # networkx compiles its dispatchers on their first call
    assert step() == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert gc.collect() == 0
