"""Hyperparameter checks shared by the optimisers and schedulers, with PyTorch's messages
("Invalid learning rate: nan") followed by who asked and what is allowed.

Comparisons are written `not low <= x` so that NaN, which compares false with
everything, fails them: `x < 0` would let lr=nan through, and one NaN step turns every
parameter into NaN.
"""
import math

import numpy as np


def number(owner, what, value):
    """`value` as a float; a TypeError for bools, None, strings, arrays."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {what} must be a number, got {value!r} ({type(value).__name__})")
    return float(value)


def in_range(owner, label, what, value, low=0.0, high=math.inf, high_open=True):
    """A ValueError "Invalid <label>: <value>" unless low <= value < high (or <= high)."""
    x = number(owner, what, value)
    inside = low <= x and (x < high if high_open else x <= high)
    if not inside or (high == math.inf and math.isinf(x)):
        allowed = f"[{low:g}, {high:g}{')' if high_open else ']'}" if high != math.inf else f">= {low:g} and finite"
        raise ValueError(f"Invalid {label}: {value} ({owner}: {what} must be {allowed})")
    return value


def learning_rate(owner, lr):
    return in_range(owner, "learning rate", "lr", lr)


def betas(owner, value):
    """Two numbers in [0, 1), as PyTorch's "Invalid beta parameter at index 1: 1.0"."""
    try:
        pair = tuple(value)
    except TypeError:
        raise TypeError(f"{owner}: betas must be a pair of numbers, got {value!r}") from None
    if len(pair) != 2:
        raise ValueError(f"{owner}: betas must be a pair of numbers, got {value!r}")
    for i, beta in enumerate(pair):
        in_range(owner, f"beta parameter at index {i}", f"betas[{i}]", beta, 0.0, 1.0)
    return pair


def positive_int(owner, what, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{owner}: {what} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{owner}: {what} must be >= 1, got {value}")
    return int(value)
