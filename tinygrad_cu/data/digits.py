"""The embedded offline fallback: 1,797 8x8 handwritten digits dressed up as MNIST.

digits.csv.gz is the UCI "Optical Recognition of Handwritten Digits" test set as
scikit-learn ships it (see DIGITS_LICENSE.md): one row per image, 64 pixel
counts in 0..16 and the label as the last column. It is 57 KB, so examples and
tests can train a real classifier without any network.

To be a drop-in replacement for MNIST the images are made to look like MNIST:
MNIST centres each digit in a 20x20 box inside a 28x28 frame with a 4-pixel
empty border, with ink in 0..255. So each 8x8 image is bilinearly upscaled to
20x20, padded by 4 on every side, and scaled from 0..16 to 0..255 uint8.
"""
import os

import numpy as np

DIGITS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits.csv.gz")
DIGIT_BOX, FRAME = 20, 28
TEST_FRACTION = 0.2
SPLIT_SEED = 0  # fixed, so every run and every machine gets the same split


def load_digits_arrays():
    """All 1,797 digits as (images uint8 [N,28,28], labels int64 [N]), in file order."""
    table = np.loadtxt(DIGITS_PATH, delimiter=",", dtype=np.int64)
    images8, labels = table[:, :64].reshape(-1, 8, 8), table[:, 64]
    return upscale_to_mnist_frame(images8, max_value=16), labels


def load_digits_split(test_fraction=TEST_FRACTION, seed=SPLIT_SEED):
    """(x_train, y_train, x_test, y_test): a deterministic shuffled split of the digits."""
    images, labels = load_digits_arrays()
    order = np.random.default_rng(seed).permutation(len(labels))
    n_test = int(round(test_fraction * len(labels)))
    train, test = order[n_test:], order[:n_test]
    return images[train], labels[train], images[test], labels[test]


def upscale_to_mnist_frame(images, max_value):
    """Bilinear 8x8 -> 20x20, zero border to 28x28, values 0..max_value -> 0..255 uint8."""
    side = images.shape[-1]
    weights = bilinear_weights(side, DIGIT_BOX)
    boxes = np.einsum("ij,njk,lk->nil", weights, images.astype(np.float64), weights)
    pad = (FRAME - DIGIT_BOX) // 2
    frames = np.zeros((len(images), FRAME, FRAME))
    frames[:, pad:pad + DIGIT_BOX, pad:pad + DIGIT_BOX] = boxes
    return np.clip(np.rint(frames * (255.0 / max_value)), 0, 255).astype(np.uint8)


def bilinear_weights(n_in, n_out):
    """Matrix W [n_out, n_in] with out = W @ in: 1-D linear interpolation.

    Pixel centres are aligned (output pixel i samples input position
    (i + 0.5) * n_in / n_out - 0.5), the convention of most image libraries;
    applying W along rows and columns gives bilinear interpolation.
    """
    position = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    left = np.floor(position).astype(int)
    right = np.minimum(left + 1, n_in - 1)
    frac = position - left
    weights = np.zeros((n_out, n_in))
    np.add.at(weights, (np.arange(n_out), left), 1 - frac)
    np.add.at(weights, (np.arange(n_out), right), frac)
    return weights
