"""The backward engine: its order, its checks, what it frees, and grad mode per thread.

Backward walks nodes newest first (their creation numbers) and checks every edge; the
networkx export and check run once per graph structure, or always in debug mode. These
tests show that a malformed graph is still caught, that the expensive check is not paid
per step, and that gradients stay right (against numpy float64)."""
import gc
import threading
import weakref

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu import autograd, computation_graph


@pytest.fixture
def count_checks(monkeypatch):
    calls = []
    real = computation_graph.check_graph
    monkeypatch.setattr(computation_graph, "check_graph", lambda g, order=None: (calls.append(1), real(g, order)))
    monkeypatch.setattr(autograd, "_checked_structures", set())
    return calls


def test_a_cycle_made_by_hand_is_caught():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    z = y * 3.0
    y._node.inputs = (z, y._node.inputs[1])       # y now reads z, which was made after it
    with pytest.raises(RuntimeError, match="cycle"):
        z.sum().backward()


def test_a_missing_input_is_caught_by_the_networkx_check(count_checks):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    loss = (x * w).sum()
    w.requires_grad = False                        # the mul still expects w's gradient
    with pytest.raises(RuntimeError, match="missing inputs of MulBackward"):
        loss.backward()


def _step(model, x, y):
    loss = tg.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss


def test_networkx_checks_each_structure_once(count_checks):
    tg.manual_seed(0)
    model = tg.nn.Sequential(tg.nn.Linear(6, 5), tg.nn.ReLU(), tg.nn.Linear(5, 3))
    x, y = tg.randn(4, 6), tg.tensor([0, 1, 2, 1])
    for _ in range(5):
        _step(model, x, y)
    assert len(count_checks) == 1
    (model(x) ** 2).sum().backward()               # a new structure is checked once more
    assert len(count_checks) == 2


def test_debug_mode_checks_every_backward(count_checks, monkeypatch):
    monkeypatch.setattr(autograd, "CHECK_EVERY_GRAPH", True)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(3):
        (x * x).sum().backward()
    assert len(count_checks) == 3


def test_gradients_of_a_diamond_match_float64():
    """A node used on two paths, with broadcasting: each input's gradient must gather
    every path (checked against the derivative written out in numpy float64)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    h = ta * tb
    loss = (h * h + h.exp() * tb).sum()
    loss.backward()
    h64 = a * b
    dh = 2 * h64 + np.exp(h64) * b
    np.testing.assert_allclose(ta.grad.numpy(), dh * b, rtol=1e-5)
    np.testing.assert_allclose(tb.grad.numpy(), (dh * a).sum(0) + np.exp(h64).sum(0), rtol=1e-5)


def test_intermediates_die_after_backward_without_the_garbage_collector():
    x = tg.tensor(np.ones((2, 3)), requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        h = (x * 2.0).exp()
        alive = weakref.ref(h)
        loss = (h * 3.0).sum()
        del h
        loss.backward()
        del loss
        assert alive() is None
    finally:
        gc.enable()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.exp(2.0) * np.ones((2, 3)), rtol=1e-5)


def test_grad_mode_belongs_to_each_thread():
    """One thread evaluates under no_grad while another records: the recording thread
    must see grad mode on for every one of its steps."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    start, failures = threading.Barrier(2), []

    def evaluate():
        start.wait()
        for _ in range(300):
            with tg.no_grad():
                assert (x * 2.0).grad_fn is None

    def train():
        start.wait()
        for _ in range(300):
            if (x * 2.0).grad_fn is None:
                failures.append("recording was off")

    threads = [threading.Thread(target=evaluate), threading.Thread(target=train)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert tg.is_grad_enabled()
