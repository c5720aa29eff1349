"""`tg.profiler`: where a step's time goes, per op and per kernel (torch.profiler's shape).

    with tg.profiler.profile() as prof:
        loss = loss_fn(model(x), y); loss.backward(); opt.step()
    print(prof.table(sort_by="total"))          # torch: prof.key_averages().table()
    prof.export_chrome_trace("trace.json")      # Perfetto, chrome://tracing

What is measured, and with which clock:
  - every op call (forward, backward, optimiser update), at the device's dispatch
    (tinygrad_cu/device/profiling.py is the seam): calls, total and self time, on the
    host's perf_counter;
  - every kernel launch at GPUDevice.launch_prepared, the one launch seam. On `emu` the
    launch is synchronous: its time is the emulator's run of the CUDA C on this CPU,
    labelled "emulator time" (no GPU figure). On `cuda` a pair of CUDA events brackets
    each launch and is read when the profile closes, so no launch waits for the GPU
    (written with PyCUDA's Event API; no GPU was at hand to run it here);
  - every host<->device copy (bytes and time), at GPUDevice.memcpy_htod / memcpy_dtoh;
  - compute time: numpy on `cpu` (an op's self time), kernel time on `emu`/`cuda`.
    Framework time, the Python of the framework and of your script, is the profile's
    wall time less compute and copies; per op, "Python" is its self time less its
    kernels and copies (shape checks, launch code, allocation).

Off, it costs one module-attribute test per op dispatch, launch and copy. TINYGRAD_CU_DEBUG=1
prints every launch (kernel, grid, block, time), as tinygrad's DEBUG=1; on `cuda` that
waits for each kernel, so it slows a run down.
"""
import json
import os
import sys
import time

from .device.profiling import closed, opened, set_default, state

_now = time.perf_counter_ns
COMPUTE_CLOCK = {"cpu": "numpy", "emu": "emulator time", "cuda": "CUDA events"}


def _ms(ns):
    return ns / 1e6


def format_time(ns):
    """As torch's tables: 12.345ms, 123.456us, 1.234s."""
    if ns >= 1e9:
        return f"{ns / 1e9:.3f}s"
    if ns >= 1e6:
        return f"{ns / 1e6:.3f}ms"
    return f"{ns / 1e3:.3f}us"


def format_bytes(n):
    if n == 0:
        return "0"
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} B"


class OpEvent:
    """One op call: where it ran, when, and what it did inside (its own, not its children's)."""
    __slots__ = ("name", "phase", "device", "start", "end", "child_ns", "parent", "compute_self",
                 "launches", "kernel_ns", "copy_ns", "htod", "dtoh")

    def __init__(self, name, phase, device, start, parent, compute_self):
        self.name, self.phase, self.device, self.start, self.parent = name, phase, device, start, parent
        self.compute_self = compute_self          # cpu: its self time is numpy time
        self.end, self.child_ns, self.launches, self.kernel_ns, self.copy_ns = None, 0, 0, 0, 0
        self.htod = self.dtoh = 0

    @property
    def key(self):
        return f"{self.name} {self.phase}" if self.phase != "forward" else self.name

    @property
    def total_ns(self):
        return self.end - self.start

    @property
    def self_ns(self):
        return self.total_ns - self.child_ns

    @property
    def compute_ns(self):
        return self.self_ns if self.compute_self else self.kernel_ns


class LaunchEvent:
    __slots__ = ("kernel", "source", "device", "start", "end", "duration_ns", "grid", "block", "shared",
                 "op", "cuda_events")

    def __init__(self, kernel, source, device, start, end, grid, block, shared, op, cuda_events=None):
        self.kernel, self.source, self.device, self.start, self.end = kernel, source, device, start, end
        self.grid, self.block, self.shared, self.op, self.cuda_events = grid, block, shared, op, cuda_events
        self.duration_ns = end - start            # replaced by the GPU's time on cuda


class CopyEvent:
    __slots__ = ("direction", "device", "nbytes", "start", "end", "op")

    def __init__(self, direction, device, nbytes, start, end, op):
        self.direction, self.device, self.nbytes, self.start, self.end, self.op = \
            direction, device, nbytes, start, end, op


class _Watcher:
    """What the devices call while watched (device/profiling.py): time the work, then run
    it with this thread unwatched, so that it takes the plain path and comes back."""

    def _unwatched(self, fn, *args):
        previous = state.profiler
        state.profiler = None
        try:
            return fn(*args)
        finally:
            state.profiler = previous


class _DebugPrinter(_Watcher):
    """TINYGRAD_CU_DEBUG=1: one line per launch, as tinygrad's DEBUG."""

    def __init__(self, stream=None):
        self.stream = stream
        self.count = 0

    def op(self, device, phase, op, fn, args, attrs):
        return fn(*args, **attrs)

    def transfer(self, device, direction, nbytes, fn, *args):
        return fn(*args)

    def launch(self, device, kernel, grid, block, args, shared):
        events = _cuda_events(device)
        start = _now()
        self._unwatched(device.launch_prepared, kernel, grid, block, args, shared)
        if events:                                 # debugging: wait for the kernel to time it
            events[1].record()
            events[1].synchronize()
            took, clock = events[0].time_till(events[1]) * 1e6, "CUDA events"
        else:
            took, clock = _now() - start, "emulator time"
        self.count += 1
        print(f"{device.name} launch {self.count:5d} {kernel.name:<32} grid={grid} block={block} "
              f"shared={shared} {format_time(took)} ({clock})", file=self.stream or sys.stderr)


def _cuda_events(device):
    """A started pair of CUDA events on `cuda`, None on the emulator (which runs a launch
    to its end before returning: the host clock is its timer)."""
    if device.name != "cuda":
        return None
    start, end = device.driver.Event(), device.driver.Event()
    start.record()
    return start, end


class profile(_Watcher):
    """`with profile() as prof:` records this thread's op calls, launches and copies
    until the block ends; then `prof.table()`, `prof.key_averages()`,
    `prof.kernel_averages()`, `prof.export_chrome_trace(path)`, `prof.summary()`."""

    def __init__(self):
        self.ops, self.launches, self.copies = [], [], []
        self._stack = []
        self.start_ns = self.end_ns = None
        self._previous = None
        self._debug = _debug_printer

    # --- the context -----------------------------------------------------------------
    def __enter__(self):
        if isinstance(state.profiler, profile):
            raise RuntimeError("tg.profiler.profile: a profile is already open on this thread")
        self._previous = state.profiler
        opened(self)
        self.start_ns = _now()
        return self

    def __exit__(self, *exc):
        self.end_ns = _now()
        closed(self._previous)
        for launch in self.launches:              # cuda: the GPU's own times, read once now
            if launch.cuda_events is not None:
                start, end = launch.cuda_events
                end.synchronize()
                launch.duration_ns = int(start.time_till(end) * 1e6)
                launch.cuda_events = None
        for launch in self.launches:
            if launch.op is not None:
                self.ops[launch.op].kernel_ns += launch.duration_ns

    # --- what the devices call ---------------------------------------------------------------
    def op(self, device, phase, op, fn, args, attrs):
        parent = self._stack[-1] if self._stack else None
        compute_self = device.name == "cpu" and not op.runs_tensor_ops
        event = OpEvent(op.name, phase, device.name, _now(), parent, compute_self)
        index = len(self.ops)
        self.ops.append(event)
        self._stack.append(index)
        try:
            return fn(*args, **attrs)
        finally:
            self._stack.pop()
            event.end = _now()
            if parent is not None:
                self.ops[parent].child_ns += event.total_ns

    def launch(self, device, kernel, grid, block, args, shared):
        events = _cuda_events(device)
        start = _now()
        self._unwatched(device.launch_prepared, kernel, grid, block, args, shared)
        end = _now()
        if events:
            events[1].record()
        parent = self._stack[-1] if self._stack else None
        from .device.gpu import source_label
        self.launches.append(LaunchEvent(kernel.name, source_label(kernel.source_file), device.name, start, end,
                                         grid, block, shared, parent, events))
        if parent is not None:
            self.ops[parent].launches += 1
        if self._debug is not None:
            print(f"{device.name} launch {len(self.launches):5d} {kernel.name:<32} grid={grid} block={block} "
                  f"shared={shared} {format_time(end - start)} (host; cuda: events at the end)",
                  file=self._debug.stream or sys.stderr)

    def transfer(self, device, direction, nbytes, fn, *args):
        start = _now()
        result = self._unwatched(fn, *args)
        end = _now()
        parent = self._stack[-1] if self._stack else None
        self.copies.append(CopyEvent(direction, device.name, int(nbytes), start, end, parent))
        if parent is not None:
            event = self.ops[parent]
            event.copy_ns += end - start
            if direction == "HtoD":
                event.htod += int(nbytes)
            else:
                event.dtoh += int(nbytes)
        return result

    # --- results -------------------------------------------------------------------------
    def _closed(self):
        if self.end_ns is None:
            raise RuntimeError("tg.profiler: read the results after the `with profile()` block has ended")

    def key_averages(self):
        """One row per (op and phase, device): dicts with name, device, calls, total_ns,
        self_ns, mean_ns, compute_ns, python_ns, launches, htod_bytes, dtoh_bytes."""
        self._closed()
        rows = {}
        for e in self.ops:
            r = rows.setdefault((e.key, e.device), dict(name=e.key, device=e.device, calls=0, total_ns=0, self_ns=0,
                                                        compute_ns=0, copy_ns=0, launches=0, htod_bytes=0,
                                                        dtoh_bytes=0))
            r["calls"] += 1
            if not _nested_in_same_key(self.ops, e):     # recursion would count time twice
                r["total_ns"] += e.total_ns
            r["self_ns"] += e.self_ns
            r["compute_ns"] += e.compute_ns
            r["copy_ns"] += e.copy_ns
            r["launches"] += e.launches
            r["htod_bytes"] += e.htod
            r["dtoh_bytes"] += e.dtoh
        for r in rows.values():
            r["mean_ns"] = r["total_ns"] / r["calls"]
            r["python_ns"] = max(0, r["self_ns"] - r["compute_ns"] - r["copy_ns"])
        return list(rows.values())

    def kernel_averages(self):
        """One row per (kernel, device): calls, total_ns, mean_ns, the ops that launched
        it, the last grid and block."""
        self._closed()
        rows = {}
        for k in self.launches:
            r = rows.setdefault((k.kernel, k.device), dict(name=k.kernel, device=k.device, source=k.source, calls=0,
                                                           total_ns=0, ops=set(), grid=k.grid, block=k.block))
            r["calls"] += 1
            r["total_ns"] += k.duration_ns
            r["grid"], r["block"] = k.grid, k.block
            r["ops"].add(self.ops[k.op].key if k.op is not None else "(no op)")
        for r in rows.values():
            r["mean_ns"] = r["total_ns"] / r["calls"]
            r["ops"] = ", ".join(sorted(r["ops"]))
        return list(rows.values())

    def summary(self):
        """The profile's wall time split into compute (numpy / kernels), host<->device
        copies and framework (Python) time; totals of launches and bytes."""
        self._closed()
        wall = self.end_ns - self.start_ns
        numpy_ns = sum(e.self_ns for e in self.ops if e.compute_self)
        kernel_ns = sum(k.duration_ns for k in self.launches)
        copy_ns = sum(c.end - c.start for c in self.copies)
        top_level_ns = sum(e.total_ns for e in self.ops if e.parent is None)
        return dict(wall_ns=wall, numpy_ns=numpy_ns, kernel_ns=kernel_ns, copy_ns=copy_ns,
                    framework_ns=wall - numpy_ns - kernel_ns - copy_ns, ops_ns=top_level_ns,
                    outside_ops_ns=wall - top_level_ns - sum(c.end - c.start for c in self.copies if c.op is None),
                    op_calls=len(self.ops), launches=len(self.launches),
                    htod_bytes=sum(c.nbytes for c in self.copies if c.direction == "HtoD"),
                    dtoh_bytes=sum(c.nbytes for c in self.copies if c.direction == "DtoH"),
                    devices=sorted({e.device for e in self.ops} | {k.device for k in self.launches}))

    SORT_KEYS = {"total": "total_ns", "cpu_time_total": "total_ns", "self": "self_ns",
                 "self_cpu_time_total": "self_ns", "mean": "mean_ns", "calls": "calls", "count": "calls",
                 "compute": "compute_ns", "kernel": "compute_ns", "cuda_time_total": "compute_ns",
                 "python": "python_ns", "launches": "launches", "bytes": "bytes", "name": "name"}

    def table(self, sort_by="total", row_limit=None):
        """The per-op table, then the per-kernel table and the summary, as text.
        sort_by: total, self, mean, calls, compute, python, launches, bytes, name (or
        torch's cpu_time_total, self_cpu_time_total, cuda_time_total, count)."""
        if sort_by not in self.SORT_KEYS:
            raise ValueError(f"table: sort_by={sort_by!r}; choose one of {sorted(self.SORT_KEYS)}")
        field = self.SORT_KEYS[sort_by]

        def order(rows):
            if field == "name":
                return sorted(rows, key=lambda r: r["name"])
            if field == "bytes":
                return sorted(rows, key=lambda r: -(r.get("htod_bytes", 0) + r.get("dtoh_bytes", 0)))
            return sorted(rows, key=lambda r: -r.get(field, r["total_ns"]))

        ops = order(self.key_averages())[:row_limit]
        s = self.summary()
        lines = _grid(["Name", "Device", "Calls", "Total", "Mean", "Self", "Compute", "Python", "Launches",
                       "HtoD", "DtoH"],
                      [[r["name"], r["device"], r["calls"], format_time(r["total_ns"]), format_time(r["mean_ns"]),
                        format_time(r["self_ns"]), format_time(r["compute_ns"]), format_time(r["python_ns"]),
                        r["launches"], format_bytes(r["htod_bytes"]), format_bytes(r["dtoh_bytes"])] for r in ops])
        clocks = ", ".join(f"{d}: {COMPUTE_CLOCK.get(d, '?')}" for d in s["devices"]) or "none"
        lines.append(f"Compute = numpy on cpu, kernel time on emu/cuda ({clocks}); "
                     "Python = self time less compute and copies.")
        kernels = order(self.kernel_averages())[:row_limit] if self.launches else []
        if kernels:
            lines.append("")
            lines += _grid(["Kernel", "Device", "Calls", "Total", "Mean", "Grid", "Block", "Launched by"],
                           [[r["name"], r["device"], r["calls"], format_time(r["total_ns"]), format_time(r["mean_ns"]),
                             "x".join(map(str, r["grid"])), "x".join(map(str, r["block"])), r["ops"]]
                            for r in kernels])
            if "emu" in s["devices"]:
                lines.append("emu kernel times are emulator time: the CUDA C run on this CPU, not a GPU's time.")
        lines.append("")
        lines.append(f"Wall time {format_time(s['wall_ns'])} = compute {format_time(s['numpy_ns'] + s['kernel_ns'])}"
                     f" + host<->device copies {format_time(s['copy_ns'])} + framework (Python) "
                     f"{format_time(s['framework_ns'])}; {s['op_calls']} op calls, {s['launches']} launches, "
                     f"HtoD {format_bytes(s['htod_bytes'])}, DtoH {format_bytes(s['dtoh_bytes'])}")
        if "cuda" in s["devices"]:
            lines.append("cuda kernels run asynchronously: their time overlaps the host's, so framework time "
                         "there is an upper bound.")
        return "\n".join(lines)

    def export_chrome_trace(self, path):
        """The Chrome trace format (JSON; Perfetto and chrome://tracing open it): one
        complete ("X") event per op call, per kernel launch and per copy, in
        microseconds from the profile's start; ops on the host track, kernels and copies
        on their device's track."""
        self._closed()
        t0 = self.start_ns
        us = lambda ns: (ns - t0) / 1e3                                   # noqa: E731
        tracks = {"host": 0}
        for d in sorted({k.device for k in self.launches} | {c.device for c in self.copies}):
            tracks[d] = len(tracks)
        events = [{"ph": "M", "name": "process_name", "pid": 0, "tid": 0, "args": {"name": "tinygrad_cu"}}]
        events += [{"ph": "M", "name": "thread_name", "pid": 0, "tid": tid,
                    "args": {"name": "ops (host)" if name == "host" else
                             f"{name} kernels and copies ({COMPUTE_CLOCK.get(name, '')})"}}
                   for name, tid in tracks.items()]
        for e in self.ops:
            events.append({"ph": "X", "cat": "op", "name": e.key, "pid": 0, "tid": 0, "ts": us(e.start),
                           "dur": e.total_ns / 1e3, "args": {"device": e.device}})
        for k in self.launches:
            events.append({"ph": "X", "cat": "kernel", "name": k.kernel, "pid": 0, "tid": tracks[k.device],
                           "ts": us(k.start), "dur": k.duration_ns / 1e3,
                           "args": {"grid": list(k.grid), "block": list(k.block), "shared": k.shared,
                                    "source": k.source, "device": k.device,
                                    "op": self.ops[k.op].key if k.op is not None else None,
                                    "clock": COMPUTE_CLOCK.get(k.device)}})
        for c in self.copies:
            events.append({"ph": "X", "cat": "memcpy", "name": f"memcpy {c.direction}", "pid": 0,
                           "tid": tracks[c.device], "ts": us(c.start), "dur": (c.end - c.start) / 1e3,
                           "args": {"bytes": c.nbytes}})
        with open(path, "w") as f:
            json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, f)
        return path


def _nested_in_same_key(ops, event):
    parent = event.parent
    while parent is not None:
        if ops[parent].key == event.key and ops[parent].device == event.device:
            return True
        parent = ops[parent].parent
    return False


def _grid(header, rows):
    """A torch-style text table: dashed rules, left-aligned first column."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    rule = "  ".join("-" * w for w in widths)

    def line(row):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    return [rule, line(header), rule] + [line(r) for r in cells[1:]] + [rule]


_debug_printer = None
if os.environ.get("TINYGRAD_CU_DEBUG", "0") not in ("", "0"):
    _debug_printer = _DebugPrinter()
    set_default(_debug_printer)

__all__ = ["profile", "format_time"]
