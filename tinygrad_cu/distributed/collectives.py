"""Collectives on tensors, shaped like torch.distributed's: every rank calls them in the
same order, and each changes `tensor` in place (the Tensor object keeps its identity;
its buffer may be replaced, as with Tensor.assign).

    all_reduce(t)            # t = the sum over ranks of t
    all_reduce(t, op="avg")  # ... divided by the world size
    broadcast(t, src=0)      # t = rank src's t
    barrier()                # wait until every rank got here

They are not differentiable (no graph is recorded), and refuse tensors in a graph: the
graph's saved inputs would change under it.
"""
from .. import dtypes
from ..device.recording import state as recording
from . import transport as transport_mod
from .world import comm

_transports = {}          # device name -> transport: the staging buffers are kept per device


def transport(device):
    t = _transports.get(device.name)
    if t is None or t.device is not device:
        t = _transports[device.name] = transport_mod.for_device(device)
    return t


def _check(name, tensor):
    from ..tensor import Tensor
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(tensor).__name__}")
    if tensor._node is not None:
        raise RuntimeError(f"{name}: the tensor of shape {tensor.shape} is the output of "
                           f"{tensor._node.name()} in a graph; detach() it (collectives work in place)")
    if recording.recorder is not None:
        raise RuntimeError(f"{name}: MPI collectives cannot be captured by tg.jit (a replay would skip "
                           "them); call it outside the jitted function")


def all_reduce(tensor, op="sum"):
    """Reduce `tensor` over all ranks in place: op is "sum", "avg" (floating tensors),
    "max", "min" or "product"."""
    _check("all_reduce", tensor)
    if op not in transport_mod.REDUCE_OPS:
        raise ValueError(f"all_reduce: op must be one of {transport_mod.REDUCE_OPS}, got {op!r}")
    if op == "avg" and not dtypes.is_float(tensor.dtype):
        raise TypeError(f"all_reduce: op='avg' needs a floating tensor, got {tensor.dtype}")
    tensor.buf = transport(tensor._dev).allreduce(comm(), tensor.buf, op)
    return tensor


def broadcast(tensor, src=0):
    """Overwrite `tensor` on every rank with rank `src`'s (same shape and dtype on all)."""
    _check("broadcast", tensor)
    world = comm()
    if not 0 <= src < world.Get_size():
        raise ValueError(f"broadcast: src {src} is not a rank of a world of {world.Get_size()}")
    tensor.buf = transport(tensor._dev).broadcast(world, tensor.buf, src)
    return tensor


def barrier():
    comm().Barrier()
