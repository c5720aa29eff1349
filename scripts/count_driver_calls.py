"""Driver calls per training step on `emu`, and training img/s, for the examples' models.

    python scripts/count_driver_calls.py                 # larger MLP and LeNet-5, batch 64
    python scripts/count_driver_calls.py --steps 20      # more timed steps for img/s

Every driver entry point of the emulator (the names GPUDevice calls on PyCUDA) is
wrapped and counted over ONE training step after warm-up: zero_grad, forward, loss,
backward, optimiser step (SGD, momentum 0.9), no `.item()`. On a GPU each allocation
can wait for the device, each device-to-host copy and synchronisation is a stall,
and each host-to-device copy is a transfer: a step should make only the two uploads
of its batch and labels. img/s: the best of --repeats runs of --steps further steps
(each ending with `.item()`, so the work is finished); the best, because other work on
the machine only ever slows a run down.
"""
import argparse
import collections
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))

import tinygrad_cu as tg                    # noqa: E402
from tinygrad_cu import nn                  # noqa: E402
from tinygrad_cu.runtime import emu         # noqa: E402

DRIVER_FUNCTIONS = ("mem_alloc", "memcpy_htod", "memcpy_dtoh", "memcpy_dtod", "memset_d8", "memset_d32")
COLUMNS = ("launches", "mem_alloc", "memcpy_htod", "memcpy_dtoh", "memcpy_dtod", "memset", "synchronize")


class DriverCounter:
    """Counts calls of the emulator's driver functions and kernel launches while active."""

    def __init__(self):
        self.counts = collections.Counter()
        self._saved = []

    def _wrap(self, owner, name, label, static=False):
        real = getattr(owner, name)
        counts = self.counts

        def counted(*args, **kwargs):
            counts[label] += 1
            return real(*args, **kwargs)
        self._saved.append((owner, name, owner.__dict__[name] if static else real))
        setattr(owner, name, staticmethod(counted) if static else counted)

    def __enter__(self):
        for name in DRIVER_FUNCTIONS:
            self._wrap(emu, name, "memset" if name.startswith("memset") else name)
        self._wrap(emu.Context, "synchronize", "synchronize", static=True)
        self._wrap(emu.Function, "__call__", "launches")
        self._wrap(emu.Function, "prepared_call", "launches")
        return self

    def __exit__(self, *exc):
        for owner, name, real in reversed(self._saved):
            setattr(owner, name, real)


def larger_mlp():
    import mlp
    return mlp.build("large"), (784,)


def lenet5():
    import lenet5 as lenet
    return lenet.lenet5(), (1, 28, 28)


MODELS = {"larger MLP 784-256-128-10": larger_mlp, "LeNet-5": lenet5}


def measure(build, batch, steps, repeats=3, device="emu"):
    tg.manual_seed(0)
    model, sample_shape = build()
    model.to(device)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch,) + sample_shape).astype(np.float32)
    labels = rng.integers(0, 10, batch)

    def step():
        x, y = tg.Tensor(images, device=device), tg.Tensor(labels, device=device)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    for _ in range(3):                          # warm-up: kernels compiled, state and pool filled
        step().item()
    with DriverCounter() as counter:
        loss = step()
    counts = dict(counter.counts)
    loss.item()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            loss = step()
        loss.item()
        best = min(best, time.perf_counter() - start)
    return counts, batch * steps / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per run, for img/s")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is shown")
    args = parser.parse_args()
    rows = [(name, *measure(build, args.batch, args.steps, args.repeats)) for name, build in MODELS.items()]
    width = max(len(r[0]) for r in rows)
    print(f"per training step on emu after warm-up (batch {args.batch}, SGD momentum 0.9, no .item())")
    print(f"{'model':<{width}}  " + "  ".join(f"{c:>11}" for c in COLUMNS) + "   emu img/s")
    for name, counts, speed in rows:
        print(f"{name:<{width}}  " + "  ".join(f"{counts.get(c, 0):>11}" for c in COLUMNS) + f"   {speed:9,.0f}")


if __name__ == "__main__":
    main()
