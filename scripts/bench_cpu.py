"""Benchmark of the `cpu` device against PyTorch and tinygrad (not a test): prints the
table in docs/benchmarks.md.

    python scripts/bench_cpu.py                         # every framework that is installed
    python scripts/bench_cpu.py --frameworks tinygrad_cu --seconds 2

Training-step throughput (images/s; one step = forward, backward and a plain SGD step)
at batch 64 for three models of examples/: the lecture's MLP 784-10-10 (sigmoid), the
larger MLP 784-256-128-10 (ReLU) and LeNet-5 (tanh, average pooling). Each framework runs
in its own process, on random data, with the same number of threads: numpy's BLAS
thread count, given to torch.set_num_threads and to tinygrad's NUM_CPU_THREADS
(tinygrad's CPU device compiles its own kernels with clang, and runs its training step
as one TinyJit graph, the way tinygrad trains). PyTorch and tinygrad are optional: they are
benchmarked only when importable, and the project never depends on them.
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
MODELS = ("mlp_lecture", "mlp_large", "lenet5")
FRAMEWORKS = ("tinygrad_cu", "torch", "tinygrad")
BATCH = 64
LR = 0.05


def batches(model, n=8, seed=0):
    """A few fixed random batches of MNIST's shape: x float32, y int64 labels."""
    rng = np.random.default_rng(seed)
    shape = (BATCH, 1, 28, 28) if model == "lenet5" else (BATCH, 784)
    return [(rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, BATCH).astype(np.int64))
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


def timed(step, data, seconds, rounds=5):
    """Images per second of `step(x, y)`: the best of `rounds` rounds of about
    seconds / rounds each, after a warm-up (the best round is the one least disturbed
    by other processes on a shared machine)."""
    for x, y in data[:3]:
        step(x, y)
    best, steps = 0.0, 0
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        while True:
            x, y = data[steps % len(data)]
            step(x, y)
            steps, count = steps + 1, count + 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / rounds and count >= 3:
                break
        best = max(best, count * BATCH / elapsed)
    return best


# --- one framework per process ---------------------------------------------------------
def pytorch_style_step(net, loss_fn, opt):
    """One training step, written once: tinygrad_cu and PyTorch share the API."""
    def step(x, y):
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()
    return step


def bench_tinygrad_cu(model, seconds, threads):
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    import tinygrad_cu as tg
    from tinygrad_cu import nn
    tg.manual_seed(0)
    if model == "lenet5":
        from lenet5 import lenet5
        net = lenet5()
    else:
        from mlp import build
        net = build("lecture" if model == "mlp_lecture" else "large")
    loss_fn, opt = nn.CrossEntropyLoss(), tg.optim.SGD(net.parameters(), lr=LR)
    data = [(tg.Tensor(x), tg.Tensor(y)) for x, y in batches(model)]
    return timed(pytorch_style_step(net, loss_fn, opt), data, seconds)


def bench_torch(model, seconds, threads):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    if model == "lenet5":
        net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
                            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                            nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))
    elif model == "mlp_lecture":
        net = nn.Sequential(nn.Linear(784, 10), nn.Sigmoid(), nn.Linear(10, 10))
    else:
        net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    loss_fn, opt = nn.CrossEntropyLoss(), torch.optim.SGD(net.parameters(), lr=LR)
    data = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches(model)]
    return timed(pytorch_style_step(net, loss_fn, opt), data, seconds)


def bench_tinygrad(model, seconds, threads):
    os.environ["NUM_CPU_THREADS"] = str(threads)        # the CPU device's worker threads
    from tinygrad import Context, Tensor, TinyJit, nn
    Tensor.manual_seed(0)
    if model == "lenet5":
        c1, c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
        l1, l2, l3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def net(x):
            x = c1(x).tanh().avg_pool2d(2)
            x = c2(x).tanh().avg_pool2d(2).flatten(1)
            return l3(l2(l1(x).tanh()).tanh())
        params = nn.state.get_parameters([c1, c2, l1, l2, l3])
    elif model == "mlp_lecture":
        l1, l2 = nn.Linear(784, 10), nn.Linear(10, 10)
        net, params = (lambda x: l2(l1(x).sigmoid())), nn.state.get_parameters([l1, l2])
    else:
        l1, l2, l3 = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10)
        net, params = (lambda x: l3(l2(l1(x).relu()).relu())), nn.state.get_parameters([l1, l2, l3])
    opt = nn.optim.SGD(params, lr=LR)

    @TinyJit
    def jitted(x, y):           # tinygrad's way to train: one compiled graph per step
        with Context(TRAINING=1):
            opt.zero_grad()
            loss = net(x).sparse_categorical_crossentropy(y).backward()
            opt.step()
            return loss.realize()
    data = [(Tensor(x).realize(), Tensor(y.astype(np.int32)).realize()) for x, y in batches(model)]
    return timed(lambda x, y: jitted(x, y).numpy(), data, seconds)


def run_one(framework, model, seconds, threads):
    """img/s, or a string saying why the framework could not run."""
    cmd = [sys.executable, os.path.abspath(__file__), "--child", framework, model,
           "--seconds", str(seconds), "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        err = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return err[:100]
    return json.loads(lines[-1])["img_per_s"]


def child(framework, model, seconds, threads):
    try:
        import importlib
        importlib.import_module({"tinygrad_cu": "tinygrad_cu", "torch": "torch", "tinygrad": "tinygrad"}[framework])
    except ImportError:
        print(json.dumps({"missing": framework}))
        sys.exit(3)
    rate = globals()[f"bench_{framework}"](model, seconds, threads)
    print(json.dumps({"img_per_s": rate}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per measurement")
    parser.add_argument("--threads", type=int, default=0, help="0: numpy's BLAS thread count")
    parser.add_argument("--child", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    info = blas_info()
    threads = args.threads or (info["threads"] if info else os.cpu_count())
    if args.child:
        return child(*args.child, args.seconds, threads)

    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    print(f"machine: {os.cpu_count()} cores, {cpu}; python {platform.python_version()}, numpy {np.__version__}")
    print("numpy BLAS: " + (f"{info['library']} {info['version']} kernel {info['kernel']}, {info['threads']} threads"
                            if info else "unknown (pip install threadpoolctl to see it)"))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(var):
            print(f"note: {var}={os.environ[var]} is set (it can slow numpy's BLAS; see docs/benchmarks.md)")
    print(f"threads: {threads} for every framework; batch {BATCH}; img/s of forward + backward + SGD step")
    frameworks = args.frameworks.split(",")
    results = {}
    for fw in frameworks:
        for model in args.models.split(","):
            results[fw, model] = run_one(fw, model, args.seconds, threads)
        if all(isinstance(results[fw, m], str) for m in args.models.split(",")):
            print(f"note: {fw} not benchmarked: {results[fw, args.models.split(',')[0]]}")

    cell = lambda v: f"{v:12.0f}" if isinstance(v, float) else f"{'-':>12}"
    ratio = lambda a, b: f"{a / b:14.2f}x" if isinstance(a, float) and isinstance(b, float) else f"{'-':>15}"
    head = f"{'model':<12}" + "".join(f"{fw:>12}" for fw in frameworks)
    others = [fw for fw in frameworks if fw != "tinygrad_cu"]
    if "tinygrad_cu" in frameworks:
        head += "".join(f"{'tgcu/' + fw:>15}" for fw in others)
    print("\n" + head)
    for model in args.models.split(","):
        row = f"{model:<12}" + "".join(cell(results[fw, model]) for fw in frameworks)
        if "tinygrad_cu" in frameworks:
            row += "".join(ratio(results["tinygrad_cu", model], results[fw, model]) for fw in others)
        print(row)


if __name__ == "__main__":
    main()
