"""DistributedDataParallel: the same model on every rank, each on its slice of the batch.

    model = DistributedDataParallel(net)     # rank 0's parameters -> every rank
    loss = loss_fn(model(x_local), y_local)   # forward on this rank's part of the batch
    loss.backward()                           # ... then gradients averaged over ranks
    opt.step()                                # identical on every rank: models stay equal

Wrapping checks that every rank has the same parameters (count, shapes, dtypes, device)
and names the ranks that differ, then broadcasts rank 0's values. A forward in grad
mode queues the reduction for the end of the next backward (autograd's
queue_after_backward). The reduction packs the gradients into buckets of about
`bucket_cap_mb` (parameters in reverse order, as PyTorch: the last layers' gradients
come first in backward), starts a non-blocking all-reduce per bucket as soon as it is
packed, then waits for all: packing and staging bucket k+1 overlaps bucket k's
communication. It does not overlap the backward's own computation: this engine writes
every leaf's gradient at the end of the walk (docs/distributed.md).

Each averaged gradient is sum_over_ranks(grad) / world_size: with a mean loss and equal
local batches, exactly the gradient of the mean loss over the global batch.
"""
import contextlib
import time

import numpy as np

from .. import autograd
from ..device.recording import state as recording
from ..grad_mode import is_grad_enabled
from ..nn.module import Module
from ..tensor import Tensor
from .collectives import broadcast, transport
from .world import comm


class Bucket:
    """Parameters whose gradients travel together, in one flat buffer."""

    def __init__(self, params):
        self.params = params
        self.offsets = [int(o) for o in np.cumsum([0] + [p.numel() for p in params[:-1]])]   # Python ints: addresses
        self.size = sum(p.numel() for p in params)


def make_buckets(params, cap_bytes):
    """Consecutive parameters of one dtype and device, each bucket up to cap_bytes
    (a parameter larger than the cap gets a bucket of its own)."""
    buckets, current, used = [], [], 0
    for p in params:
        nbytes = p.numel() * p.dtype.itemsize
        if current and (used + nbytes > cap_bytes or p.dtype != current[0].dtype or p._dev is not current[0]._dev):
            buckets.append(Bucket(current))
            current, used = [], 0
        current.append(p)
        used += nbytes
    if current:
        buckets.append(Bucket(current))
    return buckets


class DistributedDataParallel(Module):
    """`DistributedDataParallel(module, bucket_cap_mb=25)`: PyTorch's name and bucket
    default. `.module` is the wrapped model: save its state_dict (no "module." prefix)
    for checkpoints that load under any world size, or without distributed at all."""

    def __init__(self, module, bucket_cap_mb=25.0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        self.module = module
        self.world = comm()
        params = [p for p in module.parameters() if p.requires_grad]
        _check_same_model(self.world, module, params)
        for p in params:                  # once, at wrap time: every rank starts from rank 0's model
            broadcast(p, src=0)
        self.buckets = make_buckets(list(reversed(params)), int(bucket_cap_mb * (1 << 20)))
        self.require_backward_grad_sync = True
        self.last_allreduce_seconds = 0.0     # wall time of the last reduction (the benchmark reads it)
        self._queued = False

    def forward(self, *args, **kwargs):
        if recording.recorder is not None:
            raise RuntimeError("DistributedDataParallel: tg.jit replays a step without autograd, so the "
                               "gradient all-reduce queued at backward would never run; do not jit a "
                               "distributed step")
        out = self.module(*args, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync and not self._queued:
            self._queued = True
            autograd.queue_after_backward(self.reduce_gradients)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Forwards inside queue no reduction, so their backwards accumulate local
        gradients only (gradient accumulation); the next forward and backward outside it
        reduce the accumulated sum, as in PyTorch."""
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def reduce_gradients(self):
        """Average every parameter's gradient over the ranks, bucket by bucket (called
        after backward; call it yourself only after a backward it did not follow)."""
        self._queued = False
        start = time.perf_counter()
        pending = []
        for bucket in self.buckets:
            link = transport(bucket.params[0]._dev)
            flat = link.flat(bucket.size, bucket.params[0].dtype)
            for p, offset in zip(bucket.params, bucket.offsets):
                link.pack(flat, offset, None if p.grad is None else p.grad.buf, p.numel())
            pending.append((bucket, link, link.start_allreduce(self.world, flat, "avg")))
        for bucket, link, started in pending:
            flat = link.finish(started)
            for p, offset in zip(bucket.params, bucket.offsets):
                p.grad = Tensor._from_buffer(link.unpack(flat, offset, p.shape), p._dev)
        self.last_allreduce_seconds = time.perf_counter() - start

    def __repr__(self):
        return f"DistributedDataParallel(world_size={self.world.Get_size()}, " \
               f"buckets={len(self.buckets)},\n  module={self.module!r})"


def _describe(module, params):
    return {"count": len(params), "values": int(sum(p.numel() for p in params)),
            "layout": [(name, tuple(p.shape), str(p.dtype), p.device)
                       for name, p in module.named_parameters() if p.requires_grad]}


def _check_same_model(world, module, params):
    """Every rank's parameter layout equals rank 0's, else a ValueError on every rank
    naming the ranks that differ and how."""
    mine = _describe(module, params)
    everyone = world.allgather(mine)
    reference = everyone[0]
    differ = [r for r, d in enumerate(everyone) if d != reference]
    if not differ:
        return
    lines = [f"rank {r}: {d['count']} parameters, {d['values']:,} values" for r, d in enumerate(everyone)]
    first = everyone[differ[0]]
    for a, b in zip(reference["layout"], first["layout"]):
        if a != b:
            lines.append(f"first difference: rank 0 has {a}, rank {differ[0]} has {b}")
            break
    raise ValueError(f"DistributedDataParallel: the model differs between rank 0 and rank(s) "
                     f"{', '.join(map(str, differ))}; every rank must wrap the same model ("
                     + "; ".join(lines) + ")")
