"""The `cpu` device: buffers are numpy arrays, ops run their numpy reference.

It is the oracle the CUDA kernels are checked against, and the fast path on a laptop.
While `tg.jit` captures a call on this thread, each method also reports what it did to
the recorder (recording.state.recorder; see recording.py): one attribute read otherwise.
tg.profiler times forward/backward/update the same way (profiling.py).
"""
import numpy as np

from . import profiling
from .recording import state as recording


class CPUDevice:
    name = "cpu"
    available = True
    reason = "numpy"

    def from_numpy(self, array):
        if recording.recorder is not None:
            recording.recorder.upload(self, f"an array of shape {np.shape(array)}")
        # always a copy, as torch.tensor: in-place updates must never reach the caller's array
        return np.array(array, order="C", copy=True)

    def full(self, shape, value, dtype=np.float32):
        out = np.full(shape, value, dtype)
        if recording.recorder is not None:
            recording.recorder.tape_for(self).cpu_fill(shape, value, dtype, out)
        return out

    def zeros(self, shape, dtype=np.float32):
        return self.full(shape, 0, dtype)

    def copy(self, buf):
        out = np.array(buf, order="C", copy=True)
        if recording.recorder is not None:
            recording.recorder.tape_for(self).cpu_copy(buf, out)
        return out

    def memory_stats(self):
        """numpy owns the memory: nothing is pooled, and nothing is counted here."""
        return {"device": "cpu", "allocator": "numpy", "active_bytes": None, "active_blocks": None,
                "held_bytes": 0, "held_blocks": 0, "managed_bytes": None,
                "note": "numpy owns cpu memory: an array is freed when it dies, there is no pool"}

    def to_numpy(self, buf):
        if recording.recorder is not None:
            recording.recorder.download(self, f"a tensor of shape {buf.shape}")
        return np.array(buf, order="C", copy=True)   # buffers may be strided views (permute)

    def forward(self, op, ctx, xs, attrs):
        # numpy returns scalars, not arrays, from 0-d arithmetic: keep buffers arrays
        if profiling.watched and profiling.state.profiler is not None:
            out = profiling.state.profiler.op(self, "forward", op, op.forward, (ctx, *xs), attrs)
        else:
            out = op.forward(ctx, *xs, **attrs)
        if out.__class__ is not np.ndarray:
            out = np.asarray(out)
        if recording.recorder is not None:
            recording.recorder.tape_for(self).cpu_forward(op, ctx, xs, attrs, out)
        return out

    def backward(self, op, ctx, grad, attrs):
        if profiling.watched and profiling.state.profiler is not None:
            found = profiling.state.profiler.op(self, "backward", op, op.backward, (ctx, grad), attrs)
        else:
            found = op.backward(ctx, grad, **attrs)
        grads = [g if g is None or g.__class__ is np.ndarray else np.asarray(g) for g in found]
        if recording.recorder is not None and not op.runs_tensor_ops:   # (a Function's ops were recorded)
            recording.recorder.tape_for(self).cpu_backward(op, ctx, grad, attrs, grads)
        return grads

    def update(self, op, bufs, attrs):
        """In-place parameter updates (optimiser steps)."""
        if recording.recorder is not None:
            recording.recorder.begin_update(self, op, bufs, attrs)
        if profiling.watched and profiling.state.profiler is not None:
            return profiling.state.profiler.op(self, "update", op, op.update, bufs, attrs)
        op.update(*bufs, **attrs)

    def __repr__(self):
        return "device(cpu)"
