"""Throughput of the matmul and conv kernels on the emulator, next to the cpu device's
numpy reference (not a test).

    python scripts/bench_kernels_emu.py [--repeat 3] [--device emu|cuda]

matmul 256^3 (forward, and both gradients), and LeNet-5's two conv layers at batch 64
forward and backward (data, weight and bias gradients): conv1 1->6 channels 5x5 on
28x28 with padding 2, conv2 6->16 5x5 on 14x14. Prints the best of --repeat runs in ms
and GFLOP/s (2 FLOP per multiply-add; the backward counts both of its products).
"""
import argparse
import time

import numpy as np

import tinygrad_cu as tg
from tinygrad_cu.device import get_device
from tinygrad_cu.op import Context, Meta, get_op


def matmul_case(m, n, k):
    flops = 2 * m * n * k
    return dict(name=f"matmul {m}x{k} @ {k}x{n}", op="matmul", shapes=[(m, k), (k, n)], attrs={},
                fwd_flops=flops, bwd_flops=2 * flops)


def conv_case(name, n, c, o, size, k, pad):
    out = size + 2 * pad - k + 1
    macs = n * o * out * out * c * k * k
    return dict(name=f"{name} N={n} {c}->{o} {k}x{k} on {size}x{size} pad {pad}", op="conv",
                shapes=[(n, c, size, size), (o, c, k, k), (o,)], attrs=dict(stride=1, padding=pad),
                fwd_flops=2 * macs, bwd_flops=4 * macs)


CASES = [matmul_case(256, 256, 256),
         conv_case("LeNet conv1", 64, 1, 6, 28, 5, 2),
         conv_case("LeNet conv2", 64, 6, 16, 14, 5, 0)]


def best_time(fn, repeat, sync=lambda: None):
    fn()                                   # warm-up: compiles the kernels
    sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()                             # a GPU launch returns before the kernel ends
        times.append(time.perf_counter() - t0)
    return min(times)


def bench(device_name, case, repeat, rng):
    dev = get_device(device_name)
    op = get_op(case["op"])
    arrays = [rng.standard_normal(s).astype(np.float32) for s in case["shapes"]]
    bufs = [dev.from_numpy(a) for a in arrays]
    metas = [Meta(a.shape, a.dtype) for a in arrays]
    out_meta = op.infer(*metas, **case["attrs"])
    ctx = Context((True,) * len(arrays), tuple(metas))
    ctx.inputs = tuple(bufs)
    grad = dev.from_numpy(rng.standard_normal(out_meta.shape).astype(np.float32))
    sync = dev.driver.Context.synchronize if device_name != "cpu" else (lambda: None)
    fwd = best_time(lambda: dev.forward(op, ctx, bufs, case["attrs"]), repeat, sync)
    bwd = best_time(lambda: dev.backward(op, ctx, grad, case["attrs"]), repeat, sync)
    return fwd, bwd


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="emu", choices=["emu", "cuda"])
    args = parser.parse_args()
    ok, reason = tg.device_status(args.device)
    if not ok:
        raise SystemExit(f"{args.device} unavailable: {reason}")
    rng = np.random.default_rng(0)
    print(f"{'case':44s} {'pass':8s} {args.device + ' ms':>9s} {'GFLOP/s':>8s} {'cpu ms':>9s} {'GFLOP/s':>8s}")
    for case in CASES:
        emu_f, emu_b = bench(args.device, case, args.repeat, rng)
        cpu_f, cpu_b = bench("cpu", case, args.repeat, rng)
        for what, e, c, flops in (("forward", emu_f, cpu_f, case["fwd_flops"]),
                                  ("backward", emu_b, cpu_b, case["bwd_flops"])):
            print(f"{case['name']:44s} {what:8s} {e * 1e3:9.2f} {flops / e / 1e9:8.2f} "
                  f"{c * 1e3:9.2f} {flops / c / 1e9:8.2f}")


if __name__ == "__main__":
    main()
