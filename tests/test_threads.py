"""Two Python threads at once: grad mode belongs to each thread (tinygrad_cu/grad_mode.py),
and the cpu references' shared thread pool (ops/cpu_parallel.py) serves both.

The reference for every threaded run is the same work run alone, in one thread: the cpu
references give the same bits for any thread count, so the losses must agree."""
import sys
import threading

import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F
from tinygrad_cu import nn
from tinygrad_cu.ops import cpu_parallel

STEPS = 200


@pytest.fixture(autouse=True)
def busy_switching(monkeypatch):
    """Switch threads every 10 us instead of every 5 ms, and split even small batches
    over the pool, so that the two threads really interleave inside ops."""
    monkeypatch.setattr(cpu_parallel, "MIN_ELEMENTS_PER_THREAD", 1)
    cpu_parallel.set_num_threads(2)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)
    cpu_parallel.set_num_threads(cpu_parallel.default_num_threads())


def small_convnet(seed):
    tg.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(27, 4))


def batches(seed, n=4):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((6, 1, 8, 8)).astype(np.float32), rng.integers(0, 4, 6)) for _ in range(n)]


def train(model, data, steps=STEPS):
    """SGD steps; the losses as floats."""
    opt = tg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for i in range(steps):
        x, y = data[i % len(data)]
        opt.zero_grad()
        loss = F.cross_entropy(model(tg.Tensor(x)), tg.Tensor(y))
        loss.backward()          # raises if this thread's recording was switched off
        opt.step()
        losses.append(loss.item())
    return losses


def evaluate_and_train(model, data, steps=STEPS):
    """Each step evaluates under no_grad (nothing may be recorded), then trains one
    step outside it (everything must be): grad mode goes off and on hundreds of times."""
    opt = tg.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for i in range(steps):
        x, y = data[i % len(data)]
        with tg.no_grad():
            out = model(tg.Tensor(x))
            assert out.grad_fn is None, "no_grad recorded a graph"
            losses.append(F.cross_entropy(out, tg.Tensor(y)).item())
        opt.zero_grad()
        loss = F.cross_entropy(model(tg.Tensor(x)), tg.Tensor(y))
        loss.backward()
        opt.step()
    return losses


def run_in_threads(*jobs):
    """Run fn(*args) for each (fn, args) in its own thread, started together;
    their results, or the first error raised in a thread."""
    start = threading.Barrier(len(jobs))
    results, errors = [None] * len(jobs), []

    def body(i, fn, args):
        try:
            start.wait()
            results[i] = fn(*args)
        except BaseException as e:      # a thread's error must fail the test, not just print
            errors.append(e)

    threads = [threading.Thread(target=body, args=(i, fn, args)) for i, (fn, args) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


def test_two_models_train_at_once_as_they_train_alone():
    data_a, data_b = batches(1), batches(2)
    alone_a = train(small_convnet(10), data_a)
    alone_b = evaluate_and_train(small_convnet(20), data_b)
    model_a, model_b = small_convnet(10), small_convnet(20)    # built here: the seed is global
    together_a, together_b = run_in_threads((train, (model_a, data_a)), (evaluate_and_train, (model_b, data_b)))
    np.testing.assert_allclose(together_a, alone_a, rtol=0, atol=1e-6)
    np.testing.assert_allclose(together_b, alone_b, rtol=0, atol=1e-6)
    assert alone_a[-1] < alone_a[0] and alone_b[-1] < alone_b[0]      # they did learn
    assert tg.is_grad_enabled()


SHARED_NO_GRAD = tg.no_grad()


@SHARED_NO_GRAD
def decorated_by_a_shared_instance():
    return tg.is_grad_enabled()


def switch_grad_mode(rounds, seen_wrong):
    """Every way in and out of no_grad, many times; records any moment the mode is not
    what this thread set."""
    for i in range(rounds):
        with SHARED_NO_GRAD:                    # one instance, entered by both threads
            if tg.is_grad_enabled():
                seen_wrong.append("on inside no_grad")
            with tg.enable_grad():
                if not tg.is_grad_enabled():
                    seen_wrong.append("off inside enable_grad")
            with SHARED_NO_GRAD:                # nested re-entry of the same instance
                pass
            if tg.is_grad_enabled():
                seen_wrong.append("on after the nested exit")
        if decorated_by_a_shared_instance():
            seen_wrong.append("on inside the decorated function")
        with tg.set_grad_enabled(i % 2 == 0):
            if tg.is_grad_enabled() != (i % 2 == 0):
                seen_wrong.append("set_grad_enabled did not set")
        try:
            with tg.no_grad():
                raise KeyError("leave by an exception")
        except KeyError:
            pass
        if not tg.is_grad_enabled():
            seen_wrong.append("off outside every block")
    return seen_wrong


def test_no_grad_in_two_threads_never_turns_off_another_threads_mode():
    stop = threading.Event()

    def watch():
        # stands in for the main thread's work: it never switches, so it must see
        # recording on throughout
        x, wrong = tg.ones(2, requires_grad=True), []
        while not stop.is_set():
            if not tg.is_grad_enabled() or (x * 2.0).grad_fn is None:
                wrong.append("recording was off")
        return wrong

    def switcher(rounds):
        try:
            return switch_grad_mode(rounds, [])
        finally:                 # the watcher stops once both switchers are done
            done.append(1)
            if len(done) == 2:
                stop.set()

    done = []
    wrong_a, wrong_b, wrong_main = run_in_threads((switcher, (2000,)), (switcher, (2000,)), (watch, ()))
    assert not wrong_a and not wrong_b, (wrong_a[:3], wrong_b[:3])
    assert not wrong_main, wrong_main[:3]
    assert tg.is_grad_enabled()


def test_grad_mode_api_matches_pytorch():
    x = tg.ones(3, requires_grad=True)
    tg.set_grad_enabled(False)              # a plain call switches at once
    try:
        assert not tg.is_grad_enabled() and (x * 2.0).grad_fn is None
        with tg.enable_grad():
            assert (x * 2.0).grad_fn is not None
    finally:
        tg.set_grad_enabled(True)

    @tg.no_grad                             # without parentheses too
    def f():
        return (x * 2.0).grad_fn

    @tg.set_grad_enabled(False)
    def g():
        return tg.is_grad_enabled()
    assert tg.is_grad_enabled()             # decorating switched nothing
    assert f() is None and g() is False and tg.is_grad_enabled()
    assert f.__name__ == "f"
    with pytest.raises(TypeError, match="set_grad_enabled: mode must be a bool"):
        tg.set_grad_enabled(1)
    with pytest.raises(TypeError, match="no_grad"):
        tg.no_grad(3)


def test_the_cpu_pool_serves_two_threads_while_a_third_resizes_it():
    """for_batch from two threads while set_num_threads shuts the pool down and rebuilds
    it: every call must cover its range exactly once and raise nothing."""
    stop = threading.Event()

    def resize():
        i = 0
        while not stop.is_set():
            cpu_parallel.set_num_threads(2 + i % 3)
            i += 1

    def use(n):
        for _ in range(300):
            seen = np.zeros(n, int)

            def work(start, stop_):
                seen[start:stop_] += 1
            cpu_parallel.for_batch(n, work, elements_per_item=1)
            assert seen.tolist() == [1] * n
        return True

    resizer = threading.Thread(target=resize)
    resizer.start()
    try:
        assert run_in_threads((use, (7,)), (use, (11,))) == [True, True]
    finally:
        stop.set()
        resizer.join()
