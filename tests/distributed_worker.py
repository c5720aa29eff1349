"""What each rank runs in tests/test_distributed.py (under `mpiexec -n N`, or alone).

    python tests/distributed_worker.py train mlp|lenet5 DEVICE STEPS GLOBAL_BATCH BUCKET_MB
        (DEVICE: cpu, emu, or emu-cuda-aware: emu through the CUDA-aware transport)
    python tests/distributed_worker.py train ... BUCKET_MB 2
        the same, each local batch as 2 micro-batches, the first under no_sync()
        trains with DistributedDataParallel and a DistributedSampler; rank 0 prints one
        JSON line: the global loss of every step, and whether every rank ended with the
        same parameters (bit for bit)
    python tests/distributed_worker.py collectives
    python tests/distributed_worker.py raise          rank 1 raises before its backward
    python tests/distributed_worker.py mismatch       rank 1's model has another layer

The data are random images (fixed seed) with random labels: the test is about the
arithmetic of splitting a batch, not about learning digits.
"""
import json
import sys

import numpy as np

import tinygrad_cu as tg
import tinygrad_cu.distributed as dist
from tinygrad_cu import nn


def mlp(extra_layer=False):
    layers = [nn.Linear(784, 10), nn.Sigmoid(), nn.Linear(10, 10)]
    return nn.Sequential(*layers, *([nn.Sigmoid(), nn.Linear(10, 10)] if extra_layer else []))


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10))


def dataset(model_name, n):
    rng = np.random.default_rng(1234)
    shape = (n, 784) if model_name == "mlp" else (n, 1, 28, 28)
    return tg.data.TensorDataset(rng.standard_normal(shape).astype(np.float32),
                                 rng.integers(0, 10, n).astype(np.int64))


def train(model_name, device, steps, global_batch, bucket_mb, micro_batches=1):
    rank, world = dist.init()
    if device == "emu-cuda-aware":
        # CudaAwareTransport's code (device pointers through __cuda_array_interface__, the
        # synchronisation, the mul kernel's averaging) on the emulator, whose device
        # pointers are host addresses that any MPI can read: what cuda with a
        # CUDA-aware MPI runs, short of a GPU
        from tinygrad_cu.distributed import collectives, transport
        device = "emu"
        collectives._transports[device] = transport.CudaAwareTransport(tg.get_device(device))
    # a different seed per rank: the broadcast at wrap time must make the models equal
    tg.manual_seed(100 + rank)
    net = (mlp() if model_name == "mlp" else lenet5()).to(device)
    model = dist.DistributedDataParallel(net, bucket_cap_mb=bucket_mb)
    data = dataset(model_name, steps * global_batch)
    sampler = dist.DistributedSampler(data, seed=7)
    loader = tg.data.DataLoader(data, batch_size=global_batch // world, sampler=sampler, device=device)
    opt = tg.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    loss_fn, losses, reductions = nn.CrossEntropyLoss(), [], []
    reduce_gradients = model.reduce_gradients
    model.reduce_gradients = lambda: (reductions.append(1), reduce_gradients())   # counted
    for x, y in loader:
        opt.zero_grad()
        if micro_batches == 1:
            loss = loss_fn(model(x), y)
            loss.backward()
        else:                  # gradient accumulation: only the last backward communicates
            half = len(y) // 2
            with model.no_sync():
                first = loss_fn(model(x[:half]), y[:half]) * 0.5
                first.backward()
            loss = loss_fn(model(x[half:]), y[half:]) * 0.5
            loss.backward()
            loss = loss + first.detach()
        opt.step()
        losses.append(dist.all_reduce(loss.detach(), op="avg").item())
    flat = np.concatenate([p.numpy().ravel() for p in net.parameters()])
    same = all(np.array_equal(flat, other) for other in dist.comm().allgather(flat))
    if dist.is_main():
        print(json.dumps({"world": world, "losses": losses, "same_parameters": same,
                          "buckets": len(model.buckets), "reductions": len(reductions)}))


def collectives():
    rank, world = dist.init()
    out = {}
    for device in ("cpu", "emu"):
        t = tg.tensor([rank + 1.0, 10.0 * (rank + 1)], device=device)
        out[f"sum_{device}"] = dist.all_reduce(t).numpy().tolist()
        out[f"avg_{device}"] = dist.all_reduce(tg.tensor([rank + 1.0, 3.0], device=device), op="avg").numpy().tolist()
        out[f"max_{device}"] = dist.all_reduce(tg.tensor([rank, -rank], device=device), op="max").numpy().tolist()
        b = tg.tensor([[rank * 1.0, 5.0]], device=device)
        out[f"bcast_{device}"] = dist.broadcast(b, src=world - 1).numpy().tolist()
    dist.barrier()
    everyone = dist.comm().gather(out, root=0)
    if dist.is_main():
        print(json.dumps(everyone))


def raise_on_rank_1():
    rank, world = dist.init()
    tg.manual_seed(0)
    net = mlp()
    model = dist.DistributedDataParallel(net)
    x, y = tg.randn(4, 784), tg.tensor([1, 2, 3, 4])
    loss = nn.CrossEntropyLoss()(model(x), y)
    if rank == 1:
        raise RuntimeError("a deliberate failure on rank 1")
    loss.backward()           # rank 0 waits here for rank 1's gradients: MPI_Abort ends it
    print("rank 0 was not stopped", flush=True)


def mismatch():
    rank, _ = dist.init()
    dist.DistributedDataParallel(mlp(extra_layer=rank == 1))
    print(f"rank {rank} wrapped a mismatched model", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "train":
        name, device, steps, batch, bucket = sys.argv[2:7]
        train(name, device, int(steps), int(batch), float(bucket), *map(int, sys.argv[7:8]))
    else:
        {"collectives": collectives, "raise": raise_on_rank_1, "mismatch": mismatch}[mode]()
