"""A training step on emu calls the driver only for the batch and its labels.

Every driver entry point of the emulator is wrapped and counted over one training
step after warm-up (zero_grad, forward, loss, backward, SGD with momentum; no .item()),
for the examples' larger MLP (784-256-128-10, ReLU) and LeNet-5 at batch 64. On a GPU
an allocation or free can wait for the device, and a device-to-host copy or a
synchronisation always does; the only uploads are the batch and its labels."""
import collections
import gc
import os
import sys

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu import nn
from tinygrad_cu.runtime import emu

from conftest import device_or_skip

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))
import lenet5  # noqa: E402
import mlp     # noqa: E402

DRIVER = ("mem_alloc", "memcpy_htod", "memcpy_dtoh", "memcpy_dtod", "memset_d8", "memset_d32")


@pytest.fixture
def counts(monkeypatch):
    """Counter of driver calls, active once `counts.start()` is called."""
    counter = collections.Counter()
    counter.active = False

    def wrap(owner, name, label):
        real = getattr(owner, name)

        def counted(*args, **kwargs):
            if counter.active:
                counter[label] += 1
            return real(*args, **kwargs)
        return counted
    for name in DRIVER:
        monkeypatch.setattr(emu, name, wrap(emu, name, name))
    monkeypatch.setattr(emu.Context, "synchronize", staticmethod(wrap(emu.Context, "synchronize", "synchronize")))
    monkeypatch.setattr(emu.Function, "prepared_call", wrap(emu.Function, "prepared_call", "launch"))
    monkeypatch.setattr(emu.Function, "__call__", wrap(emu.Function, "__call__", "launch"))
    return counter


def training_step(model, sample_shape, batch=64, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((batch,) + sample_shape).astype(np.float32)
    labels = rng.integers(0, classes, batch)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        x, y = tg.Tensor(images, device="emu"), tg.Tensor(labels, device="emu")
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss
    return step


MODELS = {"larger MLP": (lambda: mlp.build("large"), (784,)),
          "LeNet-5": (lambda: lenet5.lenet5(), (1, 28, 28))}


@pytest.mark.parametrize("name", MODELS)
def test_a_training_step_allocates_copies_and_waits_for_nothing(name, counts):
    device_or_skip("emu")
    tg.manual_seed(0)
    build, shape = MODELS[name]
    model = build().to("emu")
    step = training_step(model, shape)
    for _ in range(2):                       # warm-up: kernels compiled, pool and tables filled
        step().item()
    gc.collect()
    counts.active = True
    loss = step()
    counts.active = False
    assert counts["launch"] > 0                               # the counter sees the step
    assert counts["mem_alloc"] == 0, dict(counts)
    assert counts["memcpy_dtoh"] == 0, dict(counts)
    assert counts["synchronize"] == 0, dict(counts)
    assert counts["memcpy_htod"] <= 2, dict(counts)           # the batch and its labels
    assert np.isfinite(loss.item())


def test_a_thousand_steps_hold_the_pools_memory_flat(counts):
    device_or_skip("emu")
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).to("emu")
    step = training_step(model, (8,), batch=4, classes=3)
    for _ in range(5):       # warm up as the loop runs: the last loss stays alive while the
        loss = step()        # next step runs (its graph was freed by its backward)
    loss.item()
    gc.collect()
    first = tg.memory_stats("emu")
    counts.active = True
    highest = 0
    for i in range(1000):
        loss = step()
        if i % 100 == 99:
            loss.item()
            highest = max(highest, tg.memory_stats("emu")["managed_bytes"])
    counts.active = False
    gc.collect()
    last = tg.memory_stats("emu")
    assert counts["mem_alloc"] == 0, dict(counts)             # every buffer came from the pool
    assert highest == first["managed_bytes"] == last["managed_bytes"]
    assert last["active_bytes"] <= first["active_bytes"] + 64   # nothing accumulates (the last loss)
