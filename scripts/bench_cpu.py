"""Benchmark of the `cpu` (and `emu`) device against PyTorch and tinygrad (not a test):
prints the tables in docs/benchmarks.md.

    python scripts/bench_cpu.py                          # everything that is installed
    python scripts/bench_cpu.py --models lenet5 --batches 64 --rounds 5
    python scripts/bench_cpu.py --frameworks tinygrad_cu --no-emu --seconds 1

What it measures:
* framework overhead per op, on 4-element tensors so that the arithmetic is nothing:
  a forward `a + b` (us per op), and ten multiplies, a sum and backward() on tensors
  that require grad (us per chain);
* training throughput (images/s; one step = zero_grad, forward, cross-entropy,
  backward, SGD with momentum 0.9) for LeNet-5 (ReLU, max pooling), the MLPs
  784-1024-10 and 784-10-10 (sigmoid, the lecture's) and 784-256-128-10 (ReLU), at
  batch 64 and 256, on random MNIST-shaped data;
* the same step captured with `tg.jit` (the `jit` column), where tinygrad_cu has it;
* the `emu` device (the CUDA kernels run by the emulator) for LeNet-5 and the larger
  MLP, eager and jit, at batch 64.

How: each framework runs in its own worker process with the same number of threads
(--threads, default 2: OPENBLAS_NUM_THREADS and tinygrad_cu's cpu threads,
torch.set_num_threads, tinygrad's NUM_CPU_THREADS). The workers stay up and are asked
in turn, round after round, so every framework sees the same background load; each
figure is the best of --rounds rounds (a shared machine disturbs some rounds, never
speeds one up). Ratios come from the same run. tinygrad trains the way it is meant to,
its step in one TinyJit. PyTorch and tinygrad are measuring sticks only: benchmarked
when importable (install them in a separate environment), never a dependency.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ("lenet5", "mlp_1024", "mlp_lecture", "mlp_large")
EMU_MODELS = ("lenet5", "mlp_large")
FRAMEWORKS = ("tinygrad_cu", "torch", "tinygrad")
LR, MOMENTUM = 0.05, 0.9
MICRO = {"add": "forward a + b, 4 elements (us/op)",
         "chain": "10 multiplies + sum + backward, 4 elements (us/chain)"}


def batches(model, batch, n=8, seed=0):
    """A few fixed random batches of MNIST's shape: x float32, y int64 labels."""
    rng = np.random.default_rng(seed)
    shape = (batch, 1, 28, 28) if model == "lenet5" else (batch, 784)
    return [(rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, batch).astype(np.int64))
            for _ in range(n)]


def blas_info():
    """numpy's BLAS (name, kernel, threads) through threadpoolctl, when it is installed."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return dict(library=pool.get("internal_api"), version=pool.get("version"),
                        kernel=pool.get("architecture"), threads=pool.get("num_threads"))
    return None


def best_rate(step, data, seconds, per_call, rounds=3, warmup=4):
    """The best of `rounds` short rounds of `step(*data[i])` (about seconds / rounds
    each, after `warmup` calls, which is what tg.jit needs to get to its replays):
    `per_call` units per call, per second."""
    for i in range(warmup):
        step(*data[i % len(data)])
    best, i = 0.0, 0
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        while True:
            step(*data[i % len(data)])
            i, count = i + 1, count + 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / rounds and count >= 3:
                break
        best = max(best, count * per_call / elapsed)
    return best


# --- the models, written once per framework ---------------------------------------
def layers(model):
    """The model as a list of (kind, args): the same network in every framework."""
    if model == "lenet5":
        return [("conv", (1, 6, 5, 2)), ("relu",), ("maxpool", 2), ("conv", (6, 16, 5, 0)), ("relu",),
                ("maxpool", 2), ("flatten",), ("linear", (400, 120)), ("relu",), ("linear", (120, 84)),
                ("relu",), ("linear", (84, 10))]
    if model == "mlp_1024":
        return [("linear", (784, 1024)), ("sigmoid",), ("linear", (1024, 10))]
    if model == "mlp_lecture":
        return [("linear", (784, 10)), ("sigmoid",), ("linear", (10, 10))]
    if model == "mlp_large":
        return [("linear", (784, 256)), ("relu",), ("linear", (256, 128)), ("relu",), ("linear", (128, 10))]
    raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")


def sequential(nn, model):
    """An nn.Sequential of `model` for tinygrad_cu or torch (their nn modules match)."""
    make = {"conv": lambda a: nn.Conv2d(a[0], a[1], a[2], padding=a[3]), "relu": lambda a: nn.ReLU(),
            "sigmoid": lambda a: nn.Sigmoid(), "maxpool": lambda a: nn.MaxPool2d(a), "flatten": lambda a: nn.Flatten(),
            "linear": lambda a: nn.Linear(*a)}
    return nn.Sequential(*[make[kind](spec[0] if spec else None) for kind, *spec in layers(model)])


def pytorch_style_step(net, loss_fn, opt):
    """One training step, written once: tinygrad_cu and PyTorch share the API."""
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


class TinygradCU:
    def __init__(self, threads):
        import tinygrad_cu as tg
        self.tg = tg

    def train_step(self, model, batch, mode, device):
        tg, nn = self.tg, self.tg.nn
        if mode == "jit" and not hasattr(tg, "jit"):
            return None, "n/a (tg.jit missing)"
        tg.manual_seed(0)
        net = sequential(nn, model).to(device)
        opt = tg.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
        step = pytorch_style_step(net, nn.CrossEntropyLoss(), opt)
        data = [(tg.Tensor(x, device=device), tg.Tensor(y, device=device)) for x, y in batches(model, batch)]
        return (tg.jit(step) if mode == "jit" else step), data

    def micro(self, name):
        tg = self.tg
        a, b = tg.Tensor(np.ones(4, np.float32)), tg.Tensor(np.full(4, 1.01, np.float32))
        if name == "add":
            return (lambda: a + b), ()
        a.requires_grad, b.requires_grad = True, True

        def chain():
            a.grad = b.grad = None
            y = a
            for _ in range(10):
                y = y * b
            y.sum().backward()
        return chain, ()


class Torch:
    def __init__(self, threads):
        import torch
        torch.set_num_threads(threads)
        self.torch = torch

    def train_step(self, model, batch, mode, device):
        torch = self.torch
        if mode == "jit" or device != "cpu":
            return None, "-"
        torch.manual_seed(0)
        net = sequential(torch.nn, model)
        opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
        data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches(model, batch)]
        return pytorch_style_step(net, torch.nn.CrossEntropyLoss(), opt), data

    def micro(self, name):
        torch = self.torch
        a, b = torch.ones(4), torch.full((4,), 1.01)
        if name == "add":
            return (lambda: a + b), ()
        a.requires_grad_(), b.requires_grad_()

        def chain():
            a.grad = b.grad = None
            y = a
            for _ in range(10):
                y = y * b
            y.sum().backward()
        return chain, ()


class Tinygrad:
    def __init__(self, threads):
        os.environ["NUM_CPU_THREADS"] = str(threads)        # the CPU device's worker threads
        import tinygrad
        self.tinygrad = tinygrad

    def train_step(self, model, batch, mode, device):
        if mode == "jit" or device != "cpu":
            return None, "-"
        from tinygrad import Context, Tensor, TinyJit, nn
        Tensor.manual_seed(0)
        mods = []
        for kind, *spec in layers(model):
            a = spec[0] if spec else None
            if kind == "conv":
                mods.append(nn.Conv2d(a[0], a[1], a[2], padding=a[3]))
            elif kind == "linear":
                mods.append(nn.Linear(*a))
            else:
                mods.append({"relu": Tensor.relu, "sigmoid": Tensor.sigmoid, "flatten": lambda t: t.flatten(1),
                             "maxpool": lambda t: t.max_pool2d(2)}[kind])
        opt = nn.optim.SGD(nn.state.get_parameters([m for m in mods if hasattr(m, "weight")]),
                           lr=LR, momentum=MOMENTUM)

        @TinyJit
        def jitted(x, y):           # tinygrad's way to train: one compiled graph per step
            with Context(TRAINING=1):
                opt.zero_grad()
                out = x
                for m in mods:
                    out = m(out)
                loss = out.sparse_categorical_crossentropy(y).backward()
                opt.step()
                return loss.realize()
        data = [(Tensor(x).realize(), Tensor(y.astype(np.int32)).realize()) for x, y in batches(model, batch)]
        return (lambda x, y: jitted(x, y).numpy()), data

    def micro(self, name):
        return None, "-"            # lazy: an unrealized op measures graph building, not an op


WORKERS = {"tinygrad_cu": TinygradCU, "torch": Torch, "tinygrad": Tinygrad}


def worker(framework, threads):
    """A worker process: answers one JSON request per stdin line with one JSON line."""
    try:
        fw = WORKERS[framework](threads)
    except ImportError as e:
        print(json.dumps({"missing": f"not installed ({e.name})"}), flush=True)
        return
    print(json.dumps({"ready": framework}), flush=True)
    cache = {}
    for line in sys.stdin:
        req = json.loads(line)
        try:
            key = json.dumps({k: v for k, v in req.items() if k != "seconds"}, sort_keys=True)
            if key not in cache:
                if req["task"] == "micro":
                    cache[key] = fw.micro(req["name"]) + (1e-6,)
                else:
                    cache[key] = fw.train_step(req["model"], req["batch"], req["mode"], req["device"]) + \
                        (req["batch"],)
            fn, data, per_call = cache[key]
            if fn is None:
                answer = {"note": data}
            elif req["task"] == "micro":
                calls = best_rate(fn, [()], req["seconds"], 1.0, warmup=100)
                answer = {"value": 1e6 / calls}                                  # us per call
            else:
                answer = {"value": best_rate(fn, data, req["seconds"], per_call, rounds=1)}   # img/s
        except Exception as e:          # a framework's failure is a table cell, not a crash
            answer = {"note": f"{type(e).__name__}: {str(e)[:80]}"}
        print(json.dumps(answer), flush=True)


class Worker:
    def __init__(self, framework, threads):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), TINYGRAD_CU_CPU_THREADS=str(threads),
                   OMP_NUM_THREADS=str(threads), PYTHONPATH=os.pathsep.join(
                       p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", framework,
                                      "--threads", str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=ROOT, env=env)
        first = json.loads(self.proc.stdout.readline() or '{"missing": "worker failed to start"}')
        self.missing = first.get("missing")

    def ask(self, **req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline() or '{"note": "worker died"}')
        return answer.get("value", answer.get("note"))

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def measure(workers, requests, rounds):
    """{(name, request key): best value} over `rounds` rounds, the workers asked in
    turn (the order reversed every other round). Rates: the highest; times: the lowest."""
    best = {}
    for r in range(rounds):
        for key, req in requests:
            for name in (list(workers) if r % 2 == 0 else list(workers)[::-1]):
                v = workers[name].ask(**req)
                old = best.get((name, key))
                if isinstance(v, float):
                    lower_is_better = req["task"] == "micro"
                    if not isinstance(old, float) or (v < old if lower_is_better else v > old):
                        best[name, key] = v
                elif old is None:
                    best[name, key] = v
    return best


def fmt(v, digits=0):
    return f"{v:,.{digits}f}".replace(",", " ") if isinstance(v, float) else (v or "-")


def ratio(a, b):
    return f"{a / b:.2f}x" if isinstance(a, float) and isinstance(b, float) and b else "-"


def table(head, rows):
    widths = [max(len(str(c)) for c in col) for col in zip(head, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                                            for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    print(line(head))
    print("|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")
    for row in rows:
        print(line(row))
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batches", default="64,256")
    parser.add_argument("--seconds", type=float, default=1.0, help="timed seconds per measurement and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each figure is the best round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-emu", action="store_true", help="skip the emu device")
    parser.add_argument("--no-jit", action="store_true", help="skip the tg.jit column")
    parser.add_argument("--worker", metavar="FRAMEWORK", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.threads)

    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    info = blas_info()
    print(f"machine: {os.cpu_count()} cores, {cpu}; python {platform.python_version()}, numpy {np.__version__}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print("numpy BLAS: " + (f"{info['library']} {info['version']} kernel {info['kernel']}"
                            if info else "unknown (pip install threadpoolctl to see it)"))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            print(f"note: {var}={os.environ[var]} is set (it can slow numpy's BLAS; see docs/benchmarks.md)")
    print(f"threads: {args.threads} for every framework; best of {args.rounds} alternated rounds of "
          f"{args.seconds:g} s; SGD momentum {MOMENTUM}\n")

    workers = {}
    for fw in args.frameworks.split(","):
        w = Worker(fw, args.threads)
        if w.missing:
            print(f"note: {fw} {w.missing}")
            w.close()
        else:
            workers[fw] = w
    versions = {fw: v for fw, v in (("torch", "PyTorch"), ("tinygrad", "tinygrad")) if fw in workers}
    models, sizes = args.models.split(","), [int(b) for b in args.batches.split(",")]
    modes = ("eager",) if args.no_jit else ("eager", "jit")

    micro = measure(workers, [(n, dict(task="micro", name=n, seconds=args.seconds / 2)) for n in MICRO],
                    args.rounds)
    train = measure(workers, [((m, b, mode, "cpu"), dict(task="train", model=m, batch=b, mode=mode, device="cpu",
                                                         seconds=args.seconds))
                              for m in models for b in sizes for mode in modes], args.rounds)
    emu = {}
    if not args.no_emu and "tinygrad_cu" in workers:
        emu = measure({"tinygrad_cu": workers["tinygrad_cu"]},
                      [((m, 64, mode, "emu"), dict(task="train", model=m, batch=64, mode=mode, device="emu",
                                                   seconds=args.seconds)) for m in EMU_MODELS if m in models
                       for mode in modes], args.rounds)
    for w in workers.values():
        w.close()

    t = "tinygrad_cu"
    print("Framework overhead (4-element tensors; lower is better)\n")
    table(["op", t] + [versions[f] for f in versions] + [f"{t} / {versions[f]}" for f in versions],
          [[MICRO[n], fmt(micro.get((t, n)), 1)] + [fmt(micro.get((f, n)), 1) for f in versions] +
           [ratio(micro.get((t, n)), micro.get((f, n))) for f in versions] for n in MICRO])
    print("Training img/s on cpu (higher is better)\n")
    head = ["model", "batch", f"{t} eager"] + ([f"{t} jit"] if "jit" in modes else []) + \
        [versions[f] for f in versions] + [f"eager / {versions[f]}" for f in versions] + \
        ([f"jit / {versions[f]}" for f in versions] if "jit" in modes else [])
    rows = []
    for m in models:
        for b in sizes:
            get = lambda f, mode="eager": train.get((f, (m, b, mode, "cpu")))
            rows.append([m, b, fmt(get(t))] + ([fmt(get(t, "jit"))] if "jit" in modes else []) +
                        [fmt(get(f)) for f in versions] + [ratio(get(t), get(f)) for f in versions] +
                        ([ratio(get(t, "jit"), get(f)) for f in versions] if "jit" in modes else []))
    table(head, rows)
    if emu:
        print("Training img/s on emu, the CUDA kernels in the emulator (batch 64)\n")
        table(["model", "eager"] + (["jit"] if "jit" in modes else []),
              [[m, fmt(emu.get((t, (m, 64, "eager", "emu"))), 1)] +
               ([fmt(emu.get((t, (m, 64, "jit", "emu"))), 1)] if "jit" in modes else [])
               for m in EMU_MODELS if m in models])


if __name__ == "__main__":
    main()
