"""The lecture's perceptron: y = sign(w . x + b), trained by the perceptron rule.

    python examples/perceptron.py            # digit 0 against digit 1

sign() has gradient 0 everywhere, so backpropagation cannot train it (the script shows
this: w.grad is all zeros). Rosenblatt's rule does: for each misclassified example,
w <- w + eta t x and b <- b + eta t, with targets t in {-1, +1}.
"""
import argparse

import numpy as np

import tinygrad_cu as tg
from tinygrad_cu import data


def main():
    parser = argparse.ArgumentParser(description="the lecture's perceptron (0 against 1)")
    parser.add_argument("--data-dir", default=None, help="folder with the MNIST .gz files")
    args = parser.parse_args()
    tg.manual_seed(0)
    mnist = data.load_mnist(data_dir=args.data_dir)
    keep = (mnist.y_train == 0) | (mnist.y_train == 1)
    x = data.flatten_images(data.normalize_images(mnist.x_train[keep]))
    t = np.where(mnist.y_train[keep] == 1, 1.0, -1.0).astype(np.float32)
    X, T = tg.tensor(x), tg.tensor(t)
    w = tg.zeros(784, requires_grad=True)
    b = tg.zeros(1, requires_grad=True)

    y = (X @ w + b).sign()
    ((y - T) ** 2).mean().backward()
    print(f"gradient through sign(): |w.grad| = {np.abs(w.grad.numpy()).sum():.1f} (always 0: no learning)")

    eta = 0.1
    for epoch in range(1, 6):
        with tg.no_grad():
            errors = 0
            for i in np.random.default_rng(epoch).permutation(len(t)):
                xi = X[i]
                if (xi @ w + b).sign().item() != t[i]:
                    w.assign(w + eta * t[i] * xi)      # the perceptron rule
                    b.assign(b + eta * t[i])
                    errors += 1
            acc = ((X @ w + b).sign() == T).numpy().mean()
        print(f"epoch {epoch}: {errors} updates, training accuracy {100 * acc:.2f}%")
        if errors == 0:
            break


if __name__ == "__main__":
    main()
