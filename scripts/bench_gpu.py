"""GPU benchmark: tinygrad_cu's kernels against PyTorch on the same GPU (not a test).

    python scripts/bench_gpu.py --device cuda [--json bench.json]    # on a GPU machine
    python scripts/bench_gpu.py --device emu                         # tiny sizes, a smoke run

At sizes where the kernels, not Python, set the time: GEMM (float32, M=N=K) in GFLOP/s;
LeNet-5's two conv layers, forward and backward (dx, dW, db), at batch 256; and a
training step (forward, cross-entropy, backward, SGD with momentum) of the larger MLP
784-256-128-10 and of LeNet-5 at batch 256, in images/s.

Timing: on `cuda` with CUDA events (pycuda.driver.Event, torch.cuda.Event for PyTorch)
recorded around each timed call on the stream the work runs on, so the time is the GPU's,
launch gaps included, and not the host's; the best of --repeat calls after a warm-up. On
`emu` (whose launches return when the kernel has run) with time.perf_counter. PyTorch
runs with TF32 off (matmul and cuDNN) so both do float32 arithmetic; it is skipped, with
the reason printed, when torch or its CUDA is not importable.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)                                 # a plain checkout runs without an install
sys.path.insert(0, os.path.join(ROOT, "examples"))

import tinygrad_cu as tg                                 # noqa: E402
import tinygrad_cu.nn.functional as F                    # noqa: E402
from tinygrad_cu import nn                               # noqa: E402
from tinygrad_cu.device import get_device                # noqa: E402

SIZES = {   # per device: GEMM sides, conv batch, training batch, timed steps, repeats
    "cuda": dict(gemm=(1024, 2048, 4096), conv_batch=256, step_batch=256, steps=20, repeat=5),
    "emu": dict(gemm=(64,), conv_batch=4, step_batch=8, steps=2, repeat=2),
}
CONVS = (("LeNet conv1", 1, 6, 28, 5, 2), ("LeNet conv2", 6, 16, 14, 5, 0))   # name, C, O, size, k, pad


# --- timers ----------------------------------------------------------------------------
class EventTimer:
    """CUDA events around each call; elapsed GPU time of the best call."""

    def __init__(self, event, synchronize, elapsed_ms):
        self.event, self.synchronize, self.elapsed_ms = event, synchronize, elapsed_ms

    def best(self, fn, repeat, warmup=1):
        for _ in range(warmup):
            fn()
        self.synchronize()
        pairs = []
        for _ in range(repeat):
            start, end = self.event(), self.event()
            start.record()
            fn()
            end.record()
            pairs.append((start, end))
        self.synchronize()
        return min(self.elapsed_ms(s, e) for s, e in pairs) / 1e3


class WallTimer:
    """perf_counter around each call, synchronising after it (emu, cpu)."""

    def __init__(self, synchronize=lambda: None):
        self.synchronize = synchronize

    def best(self, fn, repeat, warmup=1):
        for _ in range(warmup):
            fn()
        self.synchronize()
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            self.synchronize()
            times.append(time.perf_counter() - t0)
        return min(times)


def tinygrad_cu_timer(device):
    dev = get_device(device)
    if device == "cuda":
        drv = dev.driver
        return EventTimer(drv.Event, drv.Context.synchronize, lambda s, e: s.time_till(e))
    return WallTimer(dev.synchronize if hasattr(dev, "synchronize") else dev.driver.Context.synchronize)


def torch_or_reason():
    """(torch, None) when PyTorch with CUDA is importable, else (None, why not)."""
    try:
        import torch
    except Exception as e:
        return None, f"torch not importable ({type(e).__name__}: {e})"
    if not torch.cuda.is_available():
        return None, f"torch {torch.__version__} sees no CUDA GPU"
    torch.backends.cuda.matmul.allow_tf32 = False       # float32 arithmetic, as the .cu kernels do
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    return torch, None


def torch_timer(torch):
    return EventTimer(lambda: torch.cuda.Event(enable_timing=True), torch.cuda.synchronize,
                      lambda s, e: s.elapsed_time(e))


# --- the cases, each as (tinygrad_cu fn, torch fn or None, work per call) -----------------
def gemm_case(device, n, rng, torch):
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    ta, tb = tg.tensor(a, device=device), tg.tensor(b, device=device)

    def ours():
        with tg.no_grad():
            return ta @ tb
    theirs = None
    if torch is not None:
        pa, pb = torch.from_numpy(a).cuda(), torch.from_numpy(b).cuda()
        theirs = lambda: pa @ pb                         # noqa: E731
    return ours, theirs, 2.0 * n ** 3


def conv_cases(device, batch, rng, torch):
    """For each LeNet conv layer: the forward, and the backward of one kept forward."""
    for name, c, o, size, k, pad in CONVS:
        out = size + 2 * pad - k + 1
        macs = batch * o * out * out * c * k * k
        x = rng.standard_normal((batch, c, size, size)).astype(np.float32)
        w = (rng.standard_normal((o, c, k, k)) * 0.1).astype(np.float32)
        bias = rng.standard_normal(o).astype(np.float32)
        g = rng.standard_normal((batch, o, out, out)).astype(np.float32)
        tx, tw, tb = (tg.tensor(v, device=device, requires_grad=True) for v in (x, w, bias))
        tgrad = tg.tensor(g, device=device)

        def fwd(tx=tx, tw=tw, tb=tb, pad=pad):
            with tg.no_grad():
                return F.conv2d(tx, tw, tb, padding=pad)
        kept = F.conv2d(tx, tw, tb, padding=pad)

        def bwd(kept=kept, leaves=(tx, tw, tb), tgrad=tgrad):
            for t in leaves:
                t.grad = None                             # measure the kernels, not accumulation
            kept.backward(tgrad, retain_graph=True)
        t_fwd = t_bwd = None
        if torch is not None:
            px, pw, pb = (torch.from_numpy(v).cuda().requires_grad_() for v in (x, w, bias))
            pg = torch.from_numpy(g).cuda()

            def t_fwd(px=px, pw=pw, pb=pb, pad=pad):
                with torch.no_grad():
                    return torch.nn.functional.conv2d(px, pw, pb, padding=pad)
            pkept = torch.nn.functional.conv2d(px, pw, pb, padding=pad)

            def t_bwd(pkept=pkept, leaves=(px, pw, pb), pg=pg):
                for t in leaves:
                    t.grad = None
                pkept.backward(pg, retain_graph=True)
        label = f"{name} {c}->{o} {k}x{k} on {size}x{size}, N={batch}"
        yield label + " forward", fwd, t_fwd, 2.0 * macs
        yield label + " backward", bwd, t_bwd, 4.0 * macs


def mlp_large_tg():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def mlp_large_torch(torch):
    tnn = torch.nn
    return tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 128), tnn.ReLU(),
                          tnn.Linear(128, 10))


def lenet5_tg():
    from lenet5 import lenet5                            # examples/lenet5.py: the lecture's model
    return lenet5()


def lenet5_torch(torch):
    tnn = torch.nn
    return tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.Tanh(), tnn.AvgPool2d(2),
                          tnn.Conv2d(6, 16, 5), tnn.Tanh(), tnn.AvgPool2d(2), tnn.Flatten(),
                          tnn.Linear(400, 120), tnn.Tanh(), tnn.Linear(120, 84), tnn.Tanh(), tnn.Linear(84, 10))


def step_cases(device, batch, steps, rng, torch):
    """A training step, `steps` of them per timed call: images/s = steps * batch / time."""
    x = rng.random((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    for name, make_tg, make_torch in (("larger MLP 784-256-128-10", mlp_large_tg, mlp_large_torch),
                                      ("LeNet-5", lenet5_tg, lenet5_torch)):
        tg.manual_seed(0)
        model = make_tg().to(device)
        opt = tg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        xs, ys = tg.tensor(x, device=device), tg.tensor(y, device=device)

        def ours(model=model, opt=opt, loss_fn=loss_fn, xs=xs, ys=ys):
            for _ in range(steps):
                opt.zero_grad()
                loss_fn(model(xs), ys).backward()
                opt.step()
        theirs = None
        if torch is not None:
            torch.manual_seed(0)
            tmodel = make_torch(torch).cuda()
            topt = torch.optim.SGD(tmodel.parameters(), lr=0.01, momentum=0.9)
            tloss = torch.nn.CrossEntropyLoss()
            px, py = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()

            def theirs(tmodel=tmodel, topt=topt, tloss=tloss, px=px, py=py):
                for _ in range(steps):
                    topt.zero_grad()
                    tloss(tmodel(px), py).backward()
                    topt.step()
        yield f"training step, {name}, batch {batch}", ours, theirs, float(steps * batch)


# --- running and reporting ---------------------------------------------------------------
def run(device, sizes, log=print):
    rng = np.random.default_rng(0)
    torch, why = torch_or_reason() if device == "cuda" else (None, f"PyTorch is compared on cuda only")
    if why:
        log(f"PyTorch: skipped, {why}")
    ours_timer = tinygrad_cu_timer(device)
    theirs_timer = torch_timer(torch) if torch is not None else None
    cases = [(f"GEMM {n}x{n}x{n} float32", *gemm_case(device, n, rng, torch), "GFLOP/s") for n in sizes["gemm"]]
    cases += [(label, a, b, w, "GFLOP/s") for label, a, b, w in conv_cases(device, sizes["conv_batch"], rng, torch)]
    cases += [(label, a, b, w, "img/s")
              for label, a, b, w in step_cases(device, sizes["step_batch"], sizes["steps"], rng, torch)]
    rows = []
    for label, ours, theirs, work, unit in cases:
        scale = 1e9 if unit == "GFLOP/s" else 1.0
        t = ours_timer.best(ours, sizes["repeat"])
        row = dict(case=label, unit=unit, seconds=t, rate=work / t / scale)
        if theirs is not None:
            tt = theirs_timer.best(theirs, sizes["repeat"])
            row.update(torch_seconds=tt, torch_rate=work / tt / scale, vs_torch=tt / t)
        rows.append(row)
        log(f"{label}: {fmt(row['rate'])} {unit}" + (f" (PyTorch {fmt(row['torch_rate'])})" if theirs else ""))
    return rows, (torch.__version__ if torch is not None else None), why


def fmt(x):
    """Three significant digits, thousands separated: 0.0412, 3.57, 1,234."""
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def table(rows, device, torch_version):
    head = (f"| case | tinygrad_cu {device} ms | tinygrad_cu | PyTorch {torch_version or '-'} ms | PyTorch "
            f"| tinygrad_cu / PyTorch |")
    lines = [head, "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        theirs = (f"{fmt(r['torch_seconds'] * 1e3)} | {fmt(r['torch_rate'])} {r['unit']} | {r['vs_torch']:.2f}x"
                  if "torch_seconds" in r else "- | - | -")
        lines.append(f"| {r['case']} | {fmt(r['seconds'] * 1e3)} | {fmt(r['rate'])} {r['unit']} | {theirs} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "emu"])
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    ok, reason = tg.device_status(args.device)
    if not ok:
        raise SystemExit(f"bench_gpu: device {args.device!r} unavailable: {reason}")
    print(f"{args.device}: {reason}")
    rows, torch_version, why = run(args.device, SIZES[args.device])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=args.device, status=reason, torch=torch_version, torch_skipped=why,
                           rows=rows), f, indent=1)
    print(table(rows, args.device, torch_version))


if __name__ == "__main__":
    main()
