"""tg.profiler: its totals against the step's wall time measured here, its counts of op
calls and launches against counts taken below it (the devices' methods, the emulator's
prepared_call), the Chrome trace as JSON, the table, and TINYGRAD_CU_DEBUG=1."""
import collections
import importlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu import nn
from tinygrad_cu.device.cpu import CPUDevice
from tinygrad_cu.device import profiling
from tinygrad_cu.device.profiling import state

from conftest import device_or_skip

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, "examples")


def lenet5():
    sys.path.insert(0, EXAMPLES)
    try:
        return importlib.import_module("lenet5").lenet5()
    finally:
        sys.path.remove(EXAMPLES)


def training_step(model, device, x, y):
    optimizer = tg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(tg.Tensor(x, device=device)), tg.Tensor(y, device=device))
        loss.backward()
        optimizer.step()
        return loss.item()
    return step


def profiled(step):
    step()                                     # warm-up: kernels compiled, pool filled
    start = time.perf_counter_ns()
    with tg.profiler.profile() as prof:
        step()
    return prof, time.perf_counter_ns() - start


def check_totals(prof, wall_ns):
    s = prof.summary()
    rows = prof.key_averages()
    assert abs(s["wall_ns"] - wall_ns) <= 0.1 * wall_ns                       # the profile's own clock
    top_copies = sum(c.end - c.start for c in prof.copies if c.op is None)
    assert abs(s["ops_ns"] + top_copies + s["outside_ops_ns"] - wall_ns) <= 0.1 * wall_ns
    # self times add up to the top-level ops' totals: no call counted twice, none lost
    assert sum(r["self_ns"] for r in rows) == pytest.approx(s["ops_ns"], rel=0.01)
    assert s["numpy_ns"] + s["kernel_ns"] + s["copy_ns"] <= s["wall_ns"] and s["framework_ns"] >= 0
    assert all(r["compute_ns"] <= r["self_ns"] for r in rows)
    return s


def test_lenet5_step_on_cpu_totals_within_10_percent_of_wall_time(monkeypatch):
    rng = np.random.default_rng(0)
    tg.manual_seed(0)
    step = training_step(lenet5(), "cpu", rng.standard_normal((8, 1, 28, 28)).astype(np.float32),
                         rng.integers(0, 10, 8))
    step()
    calls = collections.Counter()
    for method in ("forward", "backward", "update"):             # counted below the profiler
        original = getattr(CPUDevice, method)

        def counting(self, op, *args, _original=original, _method=method):
            calls[_method] += 1
            return _original(self, op, *args)
        monkeypatch.setattr(CPUDevice, method, counting)
    prof, wall = profiled(step)
    s = check_totals(prof, wall)
    phases = collections.Counter(e.phase for e in prof.ops)
    assert phases == {k: v // 2 for k, v in calls.items()}       # warm-up + profiled step were counted
    assert s["launches"] == 0 and s["numpy_ns"] > 0 and {"conv", "conv backward", "sgd_step update"} <= \
        {r["name"] for r in prof.key_averages()}
    table = prof.table()
    print(table)
    assert "conv backward" in table and "Wall time" in table and "numpy" in table


def test_emu_step_one_trace_event_per_launch(monkeypatch, tmp_path):
    device_or_skip("emu")
    from tinygrad_cu.runtime import emu
    rng = np.random.default_rng(1)
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4)).to("emu")
    step = training_step(model, "emu", rng.standard_normal((8, 20)).astype(np.float32), rng.integers(0, 4, 8))
    step()
    launched = []                                               # the emulator's own count
    original = emu.Function.prepared_call

    def counting(self, *args, **kwargs):
        launched.append(self.name)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(emu.Function, "prepared_call", counting)
    prof, wall = profiled(step)
    launched = launched[len(launched) // 2:]                    # the profiled step's half
    s = check_totals(prof, wall)
    assert s["launches"] == len(launched) > 5 and s["kernel_ns"] > 0
    assert s["htod_bytes"] >= 8 * 20 * 4 and s["dtoh_bytes"] >= 4     # the batch up, the loss down
    trace = json.loads(open(prof.export_chrome_trace(tmp_path / "trace.json")).read())
    kernels = [e for e in trace["traceEvents"] if e.get("cat") == "kernel"]
    assert sorted(e["name"] for e in kernels) == sorted(launched)
    assert all(e["ph"] == "X" and e["dur"] >= 0 and e["ts"] >= 0 and e["args"]["clock"] == "emulator time"
               for e in kernels)
    assert sum(r["launches"] for r in prof.key_averages()) <= len(launched)
    assert sum(r["calls"] for r in prof.kernel_averages()) == len(launched)
    table = prof.table(sort_by="calls")
    print(table)
    assert "emulator time" in table and "Launched by" in table


class Square(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        x, = ctx.saved_tensors
        return grad * x * 2.0


def test_ops_inside_a_function_backward_are_nested_not_counted_twice():
    x = tg.randn(50, requires_grad=True)
    start = time.perf_counter_ns()
    with tg.profiler.profile() as prof:
        Square.apply(x).sum().backward()
    check_totals(prof, time.perf_counter_ns() - start)
    rows = {r["name"]: r for r in prof.key_averages()}
    outer = rows["square backward"]
    assert outer["calls"] == 1 and outer["self_ns"] < outer["total_ns"] and rows["mul"]["calls"] == 3


def test_table_sorting_errors_and_the_off_state():
    assert state.profiler is None and not profiling.watched
    with tg.profiler.profile() as prof:
        with pytest.raises(RuntimeError, match="already open"):
            tg.profiler.profile().__enter__()
        with pytest.raises(RuntimeError, match="after the `with profile"):
            prof.table()
        a = tg.ones(3)
        for _ in range(3):
            a = a * 2
        a.sum()
    assert state.profiler is None and not profiling.watched      # off again: the devices' one test fails
    body = [line for line in prof.table(sort_by="calls").splitlines()[3:] if line and line[0] != "-"]
    assert body[0].startswith("mul ") and body[0].split()[2] == "3"
    assert prof.table(sort_by="name").splitlines()[3].startswith("mul")
    with pytest.raises(ValueError, match="sort_by='gpu'"):
        prof.table(sort_by="gpu")


def test_debug_env_prints_each_launch():
    device_or_skip("emu")
    code = "import tinygrad_cu as tg; (tg.ones(5, device='emu') * 3.0).numpy()"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, TINYGRAD_CU_DEBUG="1"))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if " launch " in line]
    assert any("mul_forward" in line and "grid=(1, 1, 1) block=(256, 1, 1)" in line and "emulator time" in line
               for line in lines), result.stderr
