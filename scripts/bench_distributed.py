"""Data-parallel scaling on the CPU: training img/s with 1 and 2 MPI processes, and the
time each step spends in the gradient all-reduce.

    python scripts/bench_distributed.py                 # needs pip install -e ".[distributed]"
    python scripts/bench_distributed.py --batch 256 --steps 100

How: for each model, `mpiexec -n N` starts N ranks of this script (--worker), each with
numpy/BLAS and tinygrad_cu at 1 thread, so that N processes use N cores. Every rank trains
on batch / N images of the same global batch (strong scaling: the work per step is
fixed), with DistributedDataParallel (default 25 MiB buckets: one bucket for these
models). After warm-up steps, rank 0 reports img/s = global batch x steps / wall time,
and the mean time per step inside DDP's reduce_gradients (pack, MPI_Allreduce, unpack),
which includes waiting for the slower rank. "1, no DDP" is the plain loop, for the cost
of the wrapper itself. Each figure is the best of --rounds runs, alternated between the
configurations, so that a burst of other load on a shared machine hits all of them.
Random data: the speed does not depend on the values.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ("mlp", "mlp-large", "lenet5")


def build(name):
    from tinygrad_cu import nn
    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 10), nn.Sigmoid(), nn.Linear(10, 10))
    if name == "mlp-large":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


def worker(name, batch, steps, warmup, use_ddp, bucket_mb):
    import tinygrad_cu as tg
    import tinygrad_cu.distributed as dist
    from tinygrad_cu import nn
    rank, world = dist.init()
    tg.manual_seed(0)
    net = build(name)
    model = dist.DistributedDataParallel(net, bucket_cap_mb=bucket_mb) if use_ddp else net
    local = batch // world
    rng = np.random.default_rng(rank)
    shape = (local, 1, 28, 28) if name == "lenet5" else (local, 784)
    x = tg.tensor(rng.standard_normal(shape).astype(np.float32))
    y = tg.tensor(rng.integers(0, 10, local))
    opt = tg.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn, reduce_seconds = nn.CrossEntropyLoss(), 0.0
    for step in range(warmup + steps):
        if step == warmup:
            dist.barrier()
            start = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        loss.item()                 # the step is done (as a training loop reading its loss)
        if step >= warmup and use_ddp:
            reduce_seconds += model.last_allreduce_seconds
    dist.barrier()
    seconds = time.perf_counter() - start
    # MPI_Allreduce of the gradient's size with nothing else to do: the transfer itself,
    # without the wait for a slower rank that the in-training figure includes
    flat = np.ones(sum(p.numel() for p in net.parameters()), np.float32)
    dist.barrier()
    t0 = time.perf_counter()
    for _ in range(20):
        dist.comm().Allreduce(dist.world.mpi().IN_PLACE, flat)
    alone = (time.perf_counter() - t0) / 20
    if rank == 0:
        print(json.dumps({"img_per_s": batch * steps / seconds, "step_ms": 1e3 * seconds / steps,
                          "allreduce_ms": 1e3 * reduce_seconds / steps if use_ddp else None,
                          "allreduce_alone_ms": 1e3 * alone,
                          "gradient_bytes": sum(p.numel() * 4 for p in net.parameters()),
                          "buckets": len(model.buckets) if use_ddp else 0}))


def measure(n, name, args, use_ddp=True):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               TINYGRAD_CU_CPU_THREADS="1", PYTHONPATH=ROOT)
    mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    command = [mpiexec if os.path.exists(mpiexec) else "mpiexec", "-n", str(n), sys.executable,
               os.path.abspath(__file__), "--worker", name, "--batch", str(args.batch),
               "--steps", str(args.steps if name != "lenet5" else max(args.steps // 10, 5)),
               "--warmup", str(args.warmup), "--bucket-mb", str(args.bucket_mb)] + ([] if use_ddp else ["--no-ddp"])
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if out.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64, help="global batch (split across the ranks)")
    p.add_argument("--steps", type=int, default=300, help="timed steps (LeNet-5: a tenth)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3, help="best of this many alternated runs")
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--bucket-mb", type=float, default=25.0, help="DDP's bucket_cap_mb (PyTorch's default: 25)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--no-ddp", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args.worker, args.batch, args.steps, args.warmup, not args.no_ddp, args.bucket_mb)
    print(f"global batch {args.batch}, buckets of {args.bucket_mb} MiB, 1 thread per process, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, load average before {os.getloadavg()[0]:.1f}, best of {args.rounds}")
    print("| model | gradient KiB | processes | buckets | img/s | ms/step | all-reduce ms/step | "
          "MPI_Allreduce alone ms | speed-up |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    configurations = (("1, no DDP", 1, False), ("1", 1, True), ("2", 2, True))
    for name in args.models.split(","):
        best = {}
        for _ in range(args.rounds):
            for label, n, ddp in configurations:
                r = measure(n, name, args, use_ddp=ddp)
                if label not in best or r["img_per_s"] > best[label]["img_per_s"]:
                    best[label] = r
        base = best["1, no DDP"]
        for label, _, _ in configurations:
            r = best[label]
            reduce = "" if r["allreduce_ms"] is None else f"{r['allreduce_ms']:.3f}"
            alone = "" if r["allreduce_ms"] is None else f"{r['allreduce_alone_ms']:.3f}"
            print(f"| {name} | {r['gradient_bytes'] / 1024:.0f} | {label} | {r['buckets']} | {r['img_per_s']:,.0f} | "
                  f"{r['step_ms']:.2f} | {reduce} | {alone} | {r['img_per_s'] / base['img_per_s']:.2f}x |", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
