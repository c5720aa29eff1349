"""Data-parallel training over MPI (docs/distributed.md).

    import tinygrad_cu.distributed as dist
    dist.init()                                   # under `mpiexec -n 2 python train.py`
    model = dist.DistributedDataParallel(net)     # same start on every rank
    sampler = dist.DistributedSampler(train_set)  # this rank's share of each epoch
    loader = tg.data.DataLoader(train_set, batch_size=global_batch // dist.world_size(),
                                sampler=sampler)

Needs mpi4py and an MPI (`pip install -e ".[distributed]"`); importing this package
does not import mpi4py, init() does.
"""
from .collectives import all_reduce, barrier, broadcast
from .ddp import DistributedDataParallel
from .sampler import DistributedSampler
from .world import comm, init, is_initialized, is_main, rank, world_size

__all__ = ["init", "is_initialized", "rank", "world_size", "is_main", "comm", "all_reduce", "broadcast",
           "barrier", "DistributedDataParallel", "DistributedSampler"]
