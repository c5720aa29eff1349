"""Turning uint8 image arrays into what a model's first layer expects.

normalize_images: uint8 0..255 -> float32 0..1, optionally standardised with a
  mean/std (MNIST_MEAN/MNIST_STD are the usual training-set values, in 0..1 units).
flatten_images:  [N, 28, 28] -> [N, 784] for an MLP.
to_nchw:         [N, 28, 28] -> [N, 1, 28, 28] (batch, channel, height, width) for LeNet.
"""
import numpy as np

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def normalize_images(images, mean=None, std=None):
    """float32 in [0, 1]; then (x - mean) / std when mean and std are given."""
    x = np.asarray(images, dtype=np.float32) / np.float32(255.0)
    if mean is not None or std is not None:
        x = (x - np.float32(0.0 if mean is None else mean)) / np.float32(1.0 if std is None else std)
    return x


def flatten_images(images):
    return np.asarray(images).reshape(len(images), -1)


def to_nchw(images):
    """Add the single grey channel: [N, H, W] -> [N, 1, H, W]."""
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"expected [N, H, W] images, got shape {images.shape}")
    return images[:, None, :, :]
