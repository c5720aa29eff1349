"""The MPI world this process belongs to: init(), rank(), world_size(), is_main().

MPI starts the processes (`mpiexec -n 2 python train.py`): each runs the same script,
and MPI.COMM_WORLD numbers them 0..N-1. Importing mpi4py initialises MPI; a script
started without mpiexec is a world of one (MPI's singleton start), so the same code
runs on a laptop unchanged.

A rank that raises must not leave the others waiting forever in a collective (an
all-reduce waits for every rank): init() installs an excepthook that prints which rank
failed and calls MPI_Abort, which makes mpiexec end every rank within seconds, as
`python -m mpi4py` does.
"""
import os
import sys
import traceback


class _World:
    comm = None            # MPI.COMM_WORLD once init() ran
    previous_hook = None   # sys.excepthook before init()


_world = _World()

INSTALL_HINT = ("tinygrad_cu.distributed needs mpi4py and an MPI library: pip install -e '.[distributed]' "
                "(mpi4py, and the mpich wheel, which brings mpiexec), or mpi4py built against a system "
                "MPI (Open MPI, MPICH, Intel MPI)")


def mpi():
    """The mpi4py.MPI module, or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT} ({e})") from e
    return MPI


def init(abort_on_exception=True):
    """Join the MPI world (once; later calls return the same) and return
    (rank, world_size). With abort_on_exception, an uncaught exception on any rank
    prints the rank and the traceback and aborts every rank (MPI_Abort)."""
    if _world.comm is None:
        _world.comm = mpi().COMM_WORLD
        if abort_on_exception and _world.comm.Get_size() > 1:
            _world.previous_hook = sys.excepthook
            sys.excepthook = _abort_every_rank
    return rank(), world_size()


def is_initialized():
    return _world.comm is not None


def comm():
    """MPI.COMM_WORLD; a RuntimeError before init()."""
    if _world.comm is None:
        raise RuntimeError("tinygrad_cu.distributed: call tinygrad_cu.distributed.init() first")
    return _world.comm


def rank():
    return comm().Get_rank()


def world_size():
    return comm().Get_size()


def is_main():
    """True on rank 0: the one rank that prints, draws and writes checkpoints."""
    return rank() == 0


def _abort_every_rank(kind, error, tb):
    world = _world.comm
    sys.stderr.write(f"tinygrad_cu.distributed: rank {world.Get_rank()} of {world.Get_size()} raised "
                     f"{kind.__name__}: {error}\n")
    traceback.print_exception(kind, error, tb, file=sys.stderr)
    sys.stderr.write(f"tinygrad_cu.distributed: rank {world.Get_rank()} aborts all "
                     f"{world.Get_size()} ranks (MPI_Abort), so that none waits for it forever\n")
    sys.stderr.flush()
    sys.stdout.flush()
    world.Abort(1)
    os._exit(1)            # not reached: MPI_Abort ends the process
