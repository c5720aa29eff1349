"""Convolution beyond images: 1-D waveforms and 3-D volumes (the lecture's table).

    python examples/conv_dims.py                 # both tasks, about a minute on cpu
    python examples/conv_dims.py --task 1d       # sine against square waves only
    python examples/conv_dims.py --quick --epochs 1   # a few hundred samples (tests)

The same kernels slide along one axis or three: nn.Conv1d over [N, C, L] waveforms,
nn.Conv3d over [N, C, D, H, W] volumes (as volumetric scans or video), both the
`conv` op of ops/conv.py and ops/conv.cu.
  1d: is a waveform a sine or a square wave? Random frequency (2-8 cycles), phase,
      amplitude and noise, so no single sample position decides it: the kernels have
      to learn what a wave looks like locally (smooth bends against flat tops and jumps).
  3d: is a solid shape in a 16^3 volume a sphere or a cube? Random size and position,
      noisy voxels.
The data is generated (seeded), so there is no --data-dir. Writes into --out, for each
task (conv1d, conv3d): learned first-layer kernels beside example inputs
(<task>_kernels.png), learning curves, the computation graph (.svg/.png) and a
checkpoint (.npz).
"""
import argparse
import os

import numpy as np

import tinygrad_cu as tg
from tinygrad_cu import data, nn
from tinygrad_cu.utils import pictures, training

LENGTH, SIDE = 128, 16


def waveforms(n, rng):
    """[n, 1, LENGTH] float32 waves and labels (0 sine, 1 square)."""
    t = np.arange(LENGTH) / LENGTH
    freq = rng.uniform(2, 8, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    amp = rng.uniform(0.5, 1.5, (n, 1))
    labels = rng.integers(0, 2, n)
    wave = np.sin(2 * np.pi * freq * t + phase)
    wave = np.where(labels[:, None] == 1, np.sign(wave), wave) * amp
    wave += rng.normal(0, 0.1, wave.shape)
    return wave[:, None, :].astype(np.float32), labels.astype(np.int64)


def volumes(n, rng):
    """[n, 1, SIDE, SIDE, SIDE] float32 volumes of one solid shape and labels (0 sphere,
    1 cube, axis-aligned), of random size and position, fully inside, with noise."""
    grid = np.stack(np.meshgrid(*[np.arange(SIDE)] * 3, indexing="ij"), axis=-1).astype(np.float32)
    labels = rng.integers(0, 2, n)
    out = np.empty((n, SIDE, SIDE, SIDE), np.float32)
    for i, label in enumerate(labels):
        size = rng.uniform(2.5, 5.0)                             # radius, or half the side
        centre = rng.uniform(size, SIDE - 1 - size, 3)
        d = grid - centre
        inside = (np.abs(d).max(axis=-1) <= size) if label else ((d ** 2).sum(axis=-1) <= size ** 2)
        out[i] = inside
    out += rng.normal(0, 0.1, out.shape).astype(np.float32)
    return out[:, None], labels.astype(np.int64)


TASKS = {
    "conv1d": dict(make=waveforms, items="waveforms", classes=("sine", "square"), samples=1500,
                   model=lambda: nn.Sequential(
        nn.Conv1d(1, 8, kernel_size=9, padding=4), nn.ReLU(),                       # 8 x 128
        nn.Conv1d(8, 16, kernel_size=9, stride=2, padding=4), nn.ReLU(),            # 16 x 64
        GlobalMean(), nn.Linear(16, 2))),
    "conv3d": dict(make=volumes, items="volumes", classes=("sphere", "cube"), samples=900,
                   model=lambda: nn.Sequential(
        nn.Conv3d(1, 6, kernel_size=3, padding=1), nn.ReLU(),                       # 6 x 16^3
        nn.Conv3d(6, 12, kernel_size=3, stride=2, padding=1), nn.ReLU(),            # 12 x 8^3
        nn.Conv3d(12, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),           # 16 x 4^3
        GlobalMax(), nn.Linear(16, 2))),
}


class GlobalMean(nn.Module):
    """The mean of each channel over every position: how much of what a kernel finds
    there is, wherever it is (a wave fills its whole window)."""

    def forward(self, x):
        return x.mean(dim=tuple(range(2, x.ndim)))


class GlobalMax(nn.Module):
    """The largest response of each channel anywhere: whether a corner or a flat face is
    present at all, however large the shape and wherever it sits. (A mean would mix this
    with the shape's size, and trains much more slowly here.)"""

    def forward(self, x):
        return x.amax(dim=tuple(range(2, x.ndim)))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    training.add_common_arguments(p, mnist=False, epochs=5)
    training.add_training_arguments(p, batch_size=32, lr=0.01, optimizer="adam")
    p.add_argument("--task", default="both", choices=["1d", "3d", "both"])
    p.add_argument("--samples", type=int, default=None, help="training samples per task, and a third as many "
                                                             "test samples (default: 1500 waveforms, 900 volumes)")
    p.add_argument("--quick", action="store_true", help="200 training samples per task: a smoke run")
    return p.parse_args()


def kernel_picture(name, task, model, x, y, path):
    """Two example inputs of each class above the first layer's learned kernels."""
    plt = pictures.pyplot()
    w = model[0].weight.numpy()                              # [out, 1, k] or [out, 1, k, k, k]
    examples = [int(np.flatnonzero(y == c)[0]) for c in (0, 1)]
    if w.ndim == 3:
        fig, axes = plt.subplots(2, 4, figsize=(11, 4.5))
        for ax, i in zip(axes[0, :2], examples):
            ax.plot(x[i, 0], lw=1)
            ax.set_title(f"a {task['classes'][y[i]]} wave (input)")
        for ax in axes[0, 2:]:
            ax.set_axis_off()
        for j, ax in enumerate(axes[1]):
            for k in range(2 * j, min(2 * j + 2, len(w))):
                ax.plot(w[k, 0], "o-", label=f"kernel {k}")
            ax.axhline(0, color="gray", lw=0.5)
            ax.set_title(f"learned 1-D kernels {2 * j}, {2 * j + 1}")
            ax.legend(fontsize=7)
    else:                                                    # columns: kernels; rows: their depth slices
        k = w.shape[2]
        fig, axes = plt.subplots(k + 1, len(w), figsize=(1.45 * len(w), 1.5 * (k + 1)), squeeze=False)
        for col, i in zip(range(2), examples):
            axes[0, col].imshow(x[i, 0].max(axis=0), cmap="gray")
            axes[0, col].set_title(f"a {task['classes'][y[i]]}\n(input, max over depth)", fontsize=8)
        limit = np.abs(w).max()
        for col in range(len(w)):
            for d in range(k):
                axes[d + 1, col].imshow(w[col, 0, d], cmap="bwr", vmin=-limit, vmax=limit)
                axes[d + 1, col].set_title(f"kernel {col}, depth {d}", fontsize=7)
        for ax in axes.flat:
            ax.set_xticks([]), ax.set_yticks([])
        for ax in axes[0, 2:]:
            ax.set_axis_off()
    fig.suptitle(f"{name}: inputs and the first layer's learned kernels (red +, blue -)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(name, task, args, rng):
    n = 200 if args.quick else args.samples or task["samples"]
    x, y = task["make"](n + n // 3, rng)
    x_train, y_train, x_test, y_test = x[:n], y[:n], x[n:], y[n:]
    full = data.TensorDataset(x_train, y_train)
    n_val = int(n * args.val_fraction)
    train_set, val_set = data.random_split(full, [n - n_val, n_val], seed=args.seed)
    test_set = data.TensorDataset(x_test, y_test)
    print(f"\n{name}: {task['classes'][0]} against {task['classes'][1]}, {task['items']} of shape {x.shape[1:]}: "
          f"{len(train_set)} train / {len(val_set)} validation / {len(test_set)} test (generated)")
    model = task["model"]().to(args.device)
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = training.make_optimizer(args, model.parameters())
    history = training.train(model, loss_fn, optimizer, train_set, val_set, args)
    accuracy = training.report_and_save(args, name, model, loss_fn, test_set, "generated data", history,
                                        first_layer_weights=None, items=task["items"])
    if not args.no_plots and pictures.pyplot() is not None:
        kernel_picture(name, task, model, x_test, y_test, os.path.join(args.out, f"{name}_kernels.png"))
        print(f"learned kernels drawn in {args.out}/{name}_kernels.png")
    return accuracy


def main():
    args = parse_args()
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    chosen = {"1d": ["conv1d"], "3d": ["conv3d"], "both": ["conv1d", "conv3d"]}[args.task]
    results = {name: run(name, TASKS[name], args, rng) for name in chosen}
    print("\n" + "; ".join(f"{name}: test accuracy {100 * acc:.2f}%" for name, acc in results.items()))


if __name__ == "__main__":
    main()
