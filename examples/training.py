"""What the examples share: arguments, data, the training loop, and the pictures.

Kept out of the package on purpose: it is example code a student edits.
"""
import argparse
import os
import time

import numpy as np

import tinygrad_cu as tg
from tinygrad_cu import data

try:
    from tqdm import tqdm
except ImportError:          # tqdm is the 'examples' extra: without it, plain lines
    tqdm = None


def parse_args(description, **defaults):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--device", default=defaults.get("device", "cpu"), choices=["cpu", "emu", "cuda"])
    p.add_argument("--epochs", type=int, default=defaults.get("epochs", 5))
    p.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 64),
                   help="1 = stochastic, the training set size = full-batch, else mini-batch descent")
    p.add_argument("--lr", type=float, default=defaults.get("lr", 0.1))
    p.add_argument("--optimizer", default=defaults.get("optimizer", "sgd"), choices=["sgd", "momentum", "adam"])
    p.add_argument("--data-dir", default=None, help="folder with the MNIST .gz files (else cache/download/"
                                                     "embedded fallback)")
    p.add_argument("--train-limit", type=int, default=defaults.get("train_limit"),
                   help="use only the first N training images (quick runs)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="held-out part of the training set")
    p.add_argument("--schedule", default=defaults.get("schedule", "constant"), choices=["constant", "cosine"],
                   help="learning rate per epoch: constant, or a cosine decay to 0 over --epochs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=defaults.get("out", "out"), help="folder for pictures and checkpoints")
    p.add_argument("--no-plots", action="store_true")
    for name, (kind, value, text) in defaults.get("extra", {}).items():
        p.add_argument(f"--{name}", type=kind, default=value, help=text)
    return p.parse_args()


def load_splits(args, layout):
    """(train, validation, test) TensorDatasets of float32 images and int64 labels.
    layout "flat": [N, 784] for MLPs; "nchw": [N, 1, 28, 28] for LeNet-5."""
    mnist = data.load_mnist(data_dir=args.data_dir)
    print(f"data: {mnist.source} ({len(mnist.x_train)} train / {len(mnist.x_test)} test images)")

    def prepare(images):
        x = data.normalize_images(images)
        return data.flatten_images(x) if layout == "flat" else data.to_nchw(x)

    x_train, y_train = mnist.x_train, mnist.y_train
    if args.train_limit:
        x_train, y_train = x_train[:args.train_limit], y_train[:args.train_limit]
    full = data.TensorDataset(prepare(x_train), y_train.astype(np.int64))
    n_val = int(len(full) * args.val_fraction)
    train, val = data.random_split(full, [len(full) - n_val, n_val], seed=args.seed)
    test = data.TensorDataset(prepare(mnist.x_test), mnist.y_test.astype(np.int64))
    return train, val, test, mnist.source


def make_optimizer(args, params):
    if args.optimizer == "adam":
        return tg.optim.Adam(params, lr=args.lr)
    return tg.optim.SGD(params, lr=args.lr, momentum=0.9 if args.optimizer == "momentum" else 0.0)


def evaluate(model, loss_fn, dataset, device, batch_size=1000):
    """(mean loss, accuracy) over `dataset`, without recording a graph."""
    model.eval()
    total_loss, correct = 0.0, 0
    with tg.no_grad():
        for x, y in data.DataLoader(dataset, batch_size=batch_size, device=device):
            logits = model(x)
            total_loss += loss_fn(logits, y).item() * len(y)
            correct += int((logits.argmax(axis=1) == y).numpy().sum())
    model.train()
    return total_loss / max(len(dataset), 1), correct / max(len(dataset), 1)


def train(model, loss_fn, optimizer, train_set, val_set, args, batch_scheduler=None):
    """Mini-batch gradient descent for args.epochs; returns the learning curves.
    batch_scheduler (e.g. OneCycleLR) is stepped after every batch."""
    history = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": [], "img_per_s": []}
    loader = data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                             device=args.device)
    scheduler = tg.optim.CosineAnnealingLR(optimizer, T_max=args.epochs) if args.schedule == "cosine" else None
    for epoch in range(1, args.epochs + 1):
        start, seen, running = time.perf_counter(), 0, 0.0
        batches = tqdm(loader, desc=f"epoch {epoch}/{args.epochs}", leave=False) if tqdm else loader
        for i, (x, y) in enumerate(batches):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            if batch_scheduler:
                batch_scheduler.step()
            seen += len(y)
            value = loss.item()
            running += value * len(y)
            if tqdm and i % 20 == 0:
                batches.set_postfix(loss=f"{value:.3f}")
        speed = seen / (time.perf_counter() - start)
        if scheduler:
            scheduler.step()
        val_loss, val_acc = evaluate(model, loss_fn, val_set, args.device)
        history["train_loss"].append(running / max(seen, 1))
        history["val_loss"].append(val_loss)
        history["val_acc"].append(val_acc)
        history["img_per_s"].append(speed)
        print(f"epoch {epoch}: train loss {running / max(seen, 1):.4f}  val loss {val_loss:.4f}  "
              f"val acc {100 * val_acc:.2f}%  {speed:,.0f} img/s")
    return history


def weight_mosaic(weights, image_shape, columns=10, limit=60):
    """The first `limit` units' incoming weights as tiles of one image, each scaled to
    [-1, 1] by its own largest magnitude, with a blank line between tiles."""
    w = np.asarray(weights)[:limit].reshape(-1, *image_shape)
    w = w / np.maximum(np.abs(w).max(axis=(1, 2), keepdims=True), 1e-12)
    rows = -(-len(w) // columns)
    h, v = image_shape
    mosaic = np.zeros((rows * (h + 1), min(columns, len(w)) * (v + 1)))
    for i, tile in enumerate(w):
        r, c = divmod(i, columns)
        mosaic[r * (h + 1):r * (h + 1) + h, c * (v + 1):c * (v + 1) + v] = tile
    return mosaic


def save_pictures(args, name, history, first_layer_weights=None, image_shape=(28, 28), graph_of=None):
    """Learning curves, first-layer weights as images, and the computation graph."""
    if args.no_plots:
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install '.[examples]'): no pictures")
        return
    os.makedirs(args.out, exist_ok=True)
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(epochs, history["train_loss"], "o-", label="training")
    a1.plot(epochs, history["val_loss"], "o-", label="validation")
    a1.set(xlabel="epoch", ylabel="loss", title="learning curves (validation rising = overtraining)")
    a1.legend()
    a2.plot(epochs, 100 * np.array(history["val_acc"]), "o-")
    a2.set(xlabel="epoch", ylabel="validation accuracy (%)")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, f"{name}_curves.png"), dpi=100)
    plt.close(fig)
    if first_layer_weights is not None:
        fig, ax = plt.subplots(figsize=(8, 4))
        ax.imshow(weight_mosaic(first_layer_weights, image_shape), cmap="bwr", vmin=-1, vmax=1)
        ax.set_axis_off()
        ax.set_title("first-layer weights, one tile per unit (red +, blue -; each tile scaled to its max)")
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, f"{name}_weights.png"), dpi=100)
        plt.close(fig)
    if graph_of is not None:
        tg.draw_graph(graph_of, os.path.join(args.out, f"{name}_graph.png"))
    print(f"pictures written to {args.out}/{name}_*.png")


def report_and_save(args, name, model, loss_fn, test_set, source, history, first_layer_weights,
                    image_shape=(28, 28)):
    """Test accuracy, a checkpoint, and the pictures (curves, weights, graph of one batch)."""
    test_loss, test_acc = evaluate(model, loss_fn, test_set, args.device)
    print(f"test: loss {test_loss:.4f}, accuracy {100 * test_acc:.2f}% (error {100 * (1 - test_acc):.2f}%) "
          f"on {source}")
    os.makedirs(args.out, exist_ok=True)
    tg.save(model.state_dict(), os.path.join(args.out, f"{name}.npz"))
    x, y = next(iter(data.DataLoader(test_set, batch_size=8, device=args.device)))
    save_pictures(args, name, history, first_layer_weights=first_layer_weights, image_shape=image_shape,
                  graph_of=loss_fn(model(x), y))
    return test_acc
