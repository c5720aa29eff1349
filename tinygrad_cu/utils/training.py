"""What the examples share: arguments, data, the training loop, and the pictures.

Example code a student reads and edits, kept in the package (not in examples/, where
every file is an example) so that the examples, the tutorial notebook and your own
scripts can all `from tinygrad_cu.utils import training`.
"""
import argparse
import os
import time

import numpy as np

import tinygrad_cu as tg
from tinygrad_cu import data

from . import data_parallel, pictures
from .progress import EpochProgress
from .pictures import weight_mosaic  # noqa: F401  (kept importable from here, where it was)


def add_common_arguments(p, mnist=True, **defaults):
    """The arguments every example has: where it runs, how long, where its data and
    outputs are (mnist=False: an example that makes its own data has no --data-dir)."""
    p.add_argument("--device", default=defaults.get("device", "cpu"), choices=["cpu", "emu", "cuda"])
    p.add_argument("--epochs", type=int, default=defaults.get("epochs", 5))
    if mnist:
        p.add_argument("--data-dir", default=None, help="folder with the MNIST .gz files (else cache/download/"
                                                         "embedded fallback)")
        p.add_argument("--train-limit", type=int, default=defaults.get("train_limit"),
                       help="use only the first N training images (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=defaults.get("out", "out"), help="folder for pictures and checkpoints")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-warmup", action="store_true",
                   help="on emu/cuda, compile each kernel file at its first use instead of all up front "
                        "(then the first epoch's img/s includes compiling)")
    p.add_argument("--log-every", type=int, default=None,
                   help="outside a terminal, a progress line every N batches (default: 10 lines an epoch)")
    return p


def add_training_arguments(p, **defaults):
    """How train() descends: batch size, learning rate, optimizer, schedule."""
    p.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 64),
                   help="1 = stochastic, the training set size = full-batch, else mini-batch descent")
    p.add_argument("--lr", type=float, default=defaults.get("lr", 0.1))
    p.add_argument("--optimizer", default=defaults.get("optimizer", "sgd"), choices=["sgd", "momentum", "adam"])
    p.add_argument("--val-fraction", type=float, default=0.1, help="held-out part of the training set")
    p.add_argument("--schedule", default=defaults.get("schedule", "constant"), choices=["constant", "cosine"],
                   help="learning rate per epoch: constant, or a cosine decay to 0 over --epochs")
    p.add_argument("--profile", type=int, default=0, metavar="STEPS",
                   help="profile STEPS training steps (after one warm-up step), print the table, write "
                        "<out>/trace.json (Perfetto, chrome://tracing) and stop")
    p.add_argument("--distributed", action="store_true", help="data-parallel over MPI: mpiexec -n N python "
                   "... --distributed (the global --batch-size is split across the ranks)")
    p.add_argument("--resume", default=None, help="start from this checkpoint (any world size wrote it)")
    p.add_argument("--graph-times", action="store_true",
                   help="colour the graph picture by each node's share of backward time")
    return p


def parse_args(description, **defaults):
    p = argparse.ArgumentParser(description=description)
    add_common_arguments(p, **defaults)
    add_training_arguments(p, **defaults)
    for name, (kind, value, text) in defaults.get("extra", {}).items():
        p.add_argument(f"--{name}", type=kind, default=value, help=text)
    return data_parallel.setup(p.parse_args())


def describe_split(source, n_total, limit, train, val, test):
    """One line saying which images are used, the --train-limit included."""
    used = f"the first {limit} of {n_total} training images (--train-limit)" if limit and limit < n_total \
        else f"{n_total} training images"
    return f"data: {source}: {used} -> {len(train)} train / {len(val)} validation; {len(test)} test images"


def load_splits(args, layout):
    """(train, validation, test) TensorDatasets of float32 images and int64 labels.
    layout "flat": [N, 784] for MLPs; "nchw": [N, 1, 28, 28] for LeNet-5."""
    mnist = data.load_mnist(data_dir=args.data_dir)

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
    print(describe_split(mnist.source, len(mnist.x_train), args.train_limit, train, val, test))
    return train, val, test, mnist.source


def make_optimizer(args, params):
    if args.optimizer == "adam":
        return tg.optim.Adam(params, lr=args.lr)
    return tg.optim.SGD(params, lr=args.lr, momentum=0.9 if args.optimizer == "momentum" else 0.0)


def prepare_device(args):
    """On emu/cuda, compile every kernel file now (tg.warmup, one progress bar), so that
    the wait is here and the img/s of the first epoch measures training only."""
    if args.device != "cpu" and not getattr(args, "no_warmup", False):
        tg.warmup(args.device)
        print(f"{args.device}: every kernel compiled (or loaded from the cache) before training: the img/s "
              "below count training only")


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
    """Mini-batch gradient descent for args.epochs; returns the learning curves
    (per epoch, and the training loss of every batch at its position in epochs).
    img/s is timed from the end of each epoch's first batch: the first step of a run
    prepares every kernel and fills the memory pool, which is not training speed.
    batch_scheduler (e.g. OneCycleLR) is stepped after every batch."""
    history = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": [], "img_per_s": [],
               "batch_loss": [], "batch_epoch": []}
    prepare_device(args)
    net, loader = data_parallel.prepare(model, train_set, args)     # net: model, or its DDP wrapper
    scheduler = tg.optim.CosineAnnealingLR(optimizer, T_max=args.epochs) if args.schedule == "cosine" else None
    if args.profile:
        profile_steps(model, loss_fn, optimizer, loader, args.profile, args.out)
        raise SystemExit(0)
    for epoch in range(1, args.epochs + 1):
        start, seen, running = time.perf_counter(), 0, 0.0
        data_parallel.start_epoch(loader, epoch)
        timed_start, timed_seen = start, 0
        progress = EpochProgress(len(loader), f"epoch {epoch}/{args.epochs}", every=getattr(args, "log_every", None),
                                 interactive=None if data_parallel.is_main(args) else False)
        for i, (x, y) in enumerate(loader):
            optimizer.zero_grad()
            loss = loss_fn(net(x), y)
            loss.backward()
            optimizer.step()
            if batch_scheduler:
                batch_scheduler.step()
            seen += len(y)
            value = loss.item()
            running += value * len(y)
            history["batch_loss"].append(value)
            history["batch_epoch"].append(epoch - 1 + (i + 1) / len(loader))
            progress.update(len(y), value)
            if i == 0:
                timed_start, timed_seen = time.perf_counter(), 0
            else:
                timed_seen += len(y)
        progress.close()
        end = time.perf_counter()
        seen, running, timed_seen = data_parallel.global_sums(args, seen, running, timed_seen)   # over all ranks
        speed = timed_seen / (end - timed_start) if timed_seen else seen / (end - start)
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


def profile_steps(model, loss_fn, optimizer, loader, steps, out):
    """--profile: one warm-up step (kernels compile, the memory pool fills), then `steps`
    steps under tg.profiler; the table, and the Chrome trace in <out>/trace.json."""
    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    batches = iter(loader)
    step(*next(batches))
    with tg.profiler.profile() as prof:
        for _ in range(steps):
            step(*next(batches))
    print(f"profile of {steps} training step(s):")
    print(prof.table(sort_by="total", row_limit=25))
    os.makedirs(out, exist_ok=True)
    print(f"Chrome trace: {prof.export_chrome_trace(os.path.join(out, 'trace.json'))}")


def save_pictures(args, name, history, first_layer_weights=None, image_shape=(28, 28), graph_of=None,
                  graph_names=None, graph_title=None):
    """Learning curves, first-layer weights as images, and the computation graph (.svg,
    crisp at any size, and .png). graph_names: {"params": ..., "inputs": ...} for
    tg.draw_graph, so that its leaves are named."""
    if args.no_plots:
        return
    if pictures.pyplot() is None:
        print("matplotlib is not installed (pip install '.[examples]'): no pictures")
        return
    os.makedirs(args.out, exist_ok=True)
    pictures.learning_curves(history, os.path.join(args.out, f"{name}_curves.png"), title=f"{name} learning curves")
    if first_layer_weights is not None:
        pictures.weight_picture(first_layer_weights, image_shape, os.path.join(args.out, f"{name}_weights.png"),
                                f"first-layer weights, one tile per unit ({min(60, len(first_layer_weights))} of "
                                f"{len(first_layer_weights)}; red +, blue -; each tile scaled to its max)")
    if graph_of is not None:
        g = tg.graph(graph_of, backward_time=getattr(args, "graph_times", False), **(graph_names or {}))
        for ext in ("svg", "png"):
            tg.draw_graph(g, os.path.join(args.out, f"{name}_graph.{ext}"), title=graph_title)
    print(f"pictures written to {args.out}/{name}_*.png (the graph also as .svg)")


def report_and_save(args, name, model, loss_fn, test_set, source, history, first_layer_weights,
                    image_shape=(28, 28), graph_batch=8, items="images"):
    """Test accuracy, a checkpoint, and the pictures (curves, weights, graph of one batch)."""
    if not data_parallel.is_main(args):
        return None
    test_loss, test_acc = evaluate(model, loss_fn, test_set, args.device)
    print(f"test: loss {test_loss:.4f}, accuracy {100 * test_acc:.2f}% (error {100 * (1 - test_acc):.2f}%) "
          f"on {source}")
    os.makedirs(args.out, exist_ok=True)
    tg.save(model.state_dict(), os.path.join(args.out, f"{name}.npz"))
    print(f"checkpoint written to {args.out}/{name}.npz")
    x, y = next(iter(data.DataLoader(test_set, batch_size=graph_batch, device=args.device)))
    save_pictures(args, name, history, first_layer_weights=first_layer_weights, image_shape=image_shape,
                  graph_of=loss_fn(model(x), y),
                  graph_names={"params": dict(model.named_parameters()), "inputs": {"input": x, "labels": y}},
                  graph_title=f"{name}: the loss of one batch of {len(y)} {items}")
    return test_acc
