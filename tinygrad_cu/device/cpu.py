"""The `cpu` device: buffers are numpy arrays, ops run their numpy reference.

It is the oracle the CUDA kernels are checked against, and the fast path on a laptop.
"""
import numpy as np


class CPUDevice:
    name = "cpu"
    available = True
    reason = "numpy"

    def from_numpy(self, array):
        # always a copy, as torch.tensor: in-place updates must never reach the caller's array
        return np.array(array, order="C", copy=True)

    def full(self, shape, value, dtype=np.float32):
        return np.full(shape, value, dtype)

    def zeros(self, shape, dtype=np.float32):
        return np.zeros(shape, dtype)

    def copy(self, buf):
        return np.array(buf, order="C", copy=True)

    def memory_stats(self):
        """numpy owns the memory: nothing is pooled, and nothing is counted here."""
        return {"device": "cpu", "allocator": "numpy", "active_bytes": None, "active_blocks": None,
                "held_bytes": 0, "held_blocks": 0, "managed_bytes": None,
                "note": "numpy owns cpu memory: an array is freed when it dies, there is no pool"}

    def to_numpy(self, buf):
        return np.array(buf, order="C", copy=True)   # buffers may be strided views (permute)

    def forward(self, op, ctx, xs, attrs):
        # numpy returns scalars, not arrays, from 0-d arithmetic: keep buffers arrays
        out = op.forward(ctx, *xs, **attrs)
        return out if out.__class__ is np.ndarray else np.asarray(out)

    def backward(self, op, ctx, grad, attrs):
        return [g if g is None or g.__class__ is np.ndarray else np.asarray(g)
                for g in op.backward(ctx, grad, **attrs)]

    def update(self, op, bufs, attrs):
        """In-place parameter updates (optimiser steps)."""
        op.update(*bufs, **attrs)

    def __repr__(self):
        return "device(cpu)"
