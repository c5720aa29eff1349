"""Data types: tinygrad_cu uses numpy's dtype objects directly.

`tg.float32 is np.dtype("float32")`, so a user can pass either spelling and
`.numpy()` never needs a conversion table. Floats carry gradients; integer and
bool tensors hold labels, indices and comparison results.
"""
import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

default_float = float32
SUPPORTED = (float32, float64, int32, int64, uint8, bool_)


def as_dtype(dtype):
    """Normalise `dtype` (None, str, numpy type or dtype) to a supported np.dtype."""
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"unknown dtype {dtype!r}") from e
    if dt not in SUPPORTED:
        raise TypeError(f"dtype {dt} is not supported; use one of {[str(d) for d in SUPPORTED]}")
    return dt


def is_float(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def infer_dtype(array: np.ndarray):
    """The dtype a Tensor built from `array` gets, as PyTorch: floats -> float32
    (unless float64 was asked for explicitly), Python ints -> int64, bools stay."""
    kind = array.dtype.kind
    if kind == "f":
        return default_float
    if kind in "iu":
        return uint8 if array.dtype == np.uint8 else (int32 if array.dtype == np.int32 else int64)
    if kind == "b":
        return bool_
    raise TypeError(f"cannot make a Tensor from an array of dtype {array.dtype}")
