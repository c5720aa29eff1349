"""The lecture's perceptron: y = sign(w . x + b), trained by the perceptron rule.

    python examples/perceptron.py                      # digit 0 against digit 1, 5 epochs
    python examples/perceptron.py --pair 3,5 --epochs 10   # a pair that is not separable
    python examples/perceptron.py --device emu --train-limit 2000 --epochs 1

sign() has gradient 0 everywhere, so backpropagation cannot train it (the script shows
this: w.grad is all zeros). Rosenblatt's rule does: for each misclassified example,
w <- w + eta t x and b <- b + eta t, with targets t in {-1, +1}.

Writes into --out: the weights w as a 28x28 picture next to the decisions on the test
images after each epoch (perceptron_weights.png), the updates and accuracies per epoch
(perceptron_curves.png), the graph of the squared error through sign()
(perceptron_graph.svg/.png) and a checkpoint of w and b (perceptron.npz).
"""
import argparse
import os

import numpy as np

import tinygrad_cu as tg
from tinygrad_cu import data
from tinygrad_cu.utils import pictures, training
from tinygrad_cu.utils.progress import EpochProgress


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    training.add_common_arguments(p, epochs=5)
    p.add_argument("--pair", default="0,1", help="the two digits: the first is t = -1, the second t = +1")
    p.add_argument("--lr", type=float, default=0.1, help="eta, the step of the perceptron rule")
    return p.parse_args()


def two_digits(images, labels, pair, device, limit=None):
    """(x [N, 784], targets t in {-1, +1}) for the images of the two digits."""
    keep = (labels == pair[0]) | (labels == pair[1])
    x = data.flatten_images(data.normalize_images(images[keep]))
    t = np.where(labels[keep] == pair[1], 1.0, -1.0).astype(np.float32)
    if limit:
        x, t = x[:limit], t[:limit]
    return tg.tensor(x, device=device), tg.tensor(t, device=device)


def decisions(X, T, w, b):
    """Counts of the four outcomes on (X, T): t=+1 or -1, decided right or wrong."""
    with tg.no_grad():
        y = (X @ w + b).sign().numpy()
    t = T.numpy()
    return {"right +1": int(((y == 1) & (t == 1)).sum()), "right -1": int(((y == -1) & (t == -1)).sum()),
            "wrong: -1 called +1": int(((y != -1) & (t == -1)).sum()),
            "wrong: +1 called -1": int(((y != 1) & (t == 1)).sum())}


def epoch_of_perceptron_rule(X, T, w, b, eta, rng, desc, every):
    """One pass in random order; returns the number of updates (mistakes)."""
    t_host = T.numpy()
    progress = EpochProgress(len(t_host), desc, every=every, step="example", metric="mistakes so far")
    updates = 0
    with tg.no_grad():
        for n, i in enumerate(rng.permutation(len(t_host))):
            xi = X[int(i)]
            if (xi @ w + b).sign().item() != t_host[i]:
                w.assign(w + eta * float(t_host[i]) * xi)      # the perceptron rule
                b.assign(b + eta * float(t_host[i]))
                updates += 1
            progress.update(1, updates)
    progress.close()
    return updates


def save_pictures(args, w, history, pair):
    plt = pictures.pyplot()
    if args.no_plots or plt is None:
        print("no pictures" + ("" if args.no_plots else " (matplotlib is not installed: pip install '.[examples]')"))
        return
    epochs = np.arange(1, len(history["updates"]) + 1)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1.6]})
    weights = w.numpy().reshape(28, 28)
    limit = max(np.abs(weights).max(), 1e-12)
    a1.imshow(weights, cmap="bwr", vmin=-limit, vmax=limit)
    a1.set_axis_off()
    a1.set_title(f"w as an image: red votes {pair[1]}, blue votes {pair[0]}")
    kinds = list(history["decisions"][0])
    bottom = np.zeros(len(epochs))
    for kind, color in zip(kinds, ["tab:green", "tab:olive", "tab:red", "tab:orange"]):
        counts = np.array([d[kind] for d in history["decisions"]])
        a2.bar(epochs, counts, bottom=bottom, color=color, label=kind.replace("+1", str(pair[1]))
               .replace("-1", str(pair[0])))
        bottom += counts
    a2.set(xlabel="epoch", ylabel="test images", xticks=epochs, title="decisions on the test images after each epoch")
    a2.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "perceptron_weights.png"), dpi=100)
    plt.close(fig)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    a1.plot(epochs, history["updates"], "o-")
    a1.set(xlabel="epoch", ylabel="updates (mistakes during the epoch)", xticks=epochs,
           title="the rule stops changing w once every example is right")
    a2.plot(epochs, history["train_acc"], "o-", label="training")
    a2.plot(epochs, history["test_acc"], "o-", label="test")
    a2.set(xlabel="epoch", ylabel="accuracy (%)", xticks=epochs)
    a2.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "perceptron_curves.png"), dpi=100)
    plt.close(fig)
    print(f"pictures written to {args.out}/perceptron_*.png (the graph also as .svg)")


def main():
    args = parse_args()
    pair = tuple(int(d) for d in args.pair.split(","))
    tg.manual_seed(args.seed)
    mnist = data.load_mnist(data_dir=args.data_dir)
    X, T = two_digits(mnist.x_train, mnist.y_train, pair, args.device, args.train_limit)
    X_test, T_test = two_digits(mnist.x_test, mnist.y_test, pair, args.device)
    limited = f" (the first {args.train_limit}: --train-limit)" if args.train_limit else ""
    print(f"data: {mnist.source}: {len(T)} training images of {pair[0]} and {pair[1]}{limited}; "
          f"{len(T_test)} test images")
    training.prepare_device(args)
    w = tg.zeros(784, requires_grad=True, device=args.device)
    b = tg.zeros(1, requires_grad=True, device=args.device)

    batch_x, batch_t = X[:8], T[:8]
    loss = ((batch_x @ w + b).sign() - batch_t) ** 2
    loss = loss.mean()
    # the graph before backward, which frees it as PyTorch does
    graph = tg.graph(loss, params={"w": w, "b": b}, inputs={"input": batch_x, "targets": batch_t})
    loss.backward()
    print(f"gradient through sign(): |w.grad| = {np.abs(w.grad.numpy()).sum():.1f} (always 0: no learning)")

    history = {"updates": [], "train_acc": [], "test_acc": [], "decisions": []}
    rng = np.random.default_rng(args.seed)
    for epoch in range(1, args.epochs + 1):
        updates = epoch_of_perceptron_rule(X, T, w, b, args.lr, rng, f"epoch {epoch}/{args.epochs}",
                                           args.log_every)
        train_counts, test_counts = decisions(X, T, w, b), decisions(X_test, T_test, w, b)
        train_acc = 100 * (train_counts["right +1"] + train_counts["right -1"]) / len(T)
        test_acc = 100 * (test_counts["right +1"] + test_counts["right -1"]) / max(len(T_test), 1)
        for key, value in (("updates", updates), ("train_acc", train_acc), ("test_acc", test_acc),
                           ("decisions", test_counts)):
            history[key].append(value)
        print(f"epoch {epoch}: {updates} updates, training accuracy {train_acc:.2f}%, test accuracy {test_acc:.2f}%  "
              f"decisions on test: " + ", ".join(f"{k} {v}" for k, v in test_counts.items()))
        if updates == 0:
            print("no mistakes in a whole epoch: the training images are linearly separated")
            break

    print(f"test: accuracy {history['test_acc'][-1]:.2f}% on {len(T_test)} test images of {pair[0]} and {pair[1]} "
          f"({mnist.source})")
    os.makedirs(args.out, exist_ok=True)
    tg.save({"weight": w.detach(), "bias": b.detach()}, os.path.join(args.out, "perceptron.npz"))
    print(f"checkpoint written to {args.out}/perceptron.npz")
    save_pictures(args, w, history, pair)
    if not args.no_plots and pictures.pyplot() is not None:
        for ext in ("svg", "png"):
            tg.draw_graph(graph, os.path.join(args.out, f"perceptron_graph.{ext}"),
                          title="perceptron: mean (sign(x w + b) - t)^2 of one batch of 8\n(sign's gradient is 0)")


if __name__ == "__main__":
    main()
