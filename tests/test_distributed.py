"""tinygrad_cu.distributed: the sampler's split by hand, and training under `mpiexec -n 2`
against the same training in one process (tests/distributed_worker.py runs the ranks).

Every multi-process run has a timeout (tests/mpi_launch.py): a hang fails the test."""
import json
import os

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.distributed import DistributedSampler
from tinygrad_cu.distributed.ddp import make_buckets

import mpi_launch

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")


def split(n, world, **kw):
    return [list(DistributedSampler(range(n), num_replicas=world, rank=r, **kw)) for r in range(world)]


# --- the split, without MPI -------------------------------------------------------------
def test_sampler_pads_by_repeating_the_start_as_pytorch():
    # 10 items, 3 ranks: padded to 12 with items 0 and 1, rank r takes every third position
    assert split(10, 3, shuffle=False) == [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
    # drop_last cuts to 9 instead
    assert split(10, 3, shuffle=False, drop_last=True) == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    # fewer items than ranks: the padding cycles through the list more than once
    assert split(2, 5, shuffle=False) == [[0], [1], [0], [1], [0]]
    assert len(DistributedSampler(range(10), num_replicas=3, rank=0)) == 4


def test_sampler_shuffles_per_epoch_and_identically_on_every_rank():
    s = DistributedSampler(range(12), num_replicas=2, rank=0, seed=3)
    first = list(s)
    assert list(s) == first                   # the same epoch: the same order
    s.set_epoch(1)
    assert list(s) != first
    ranks = split(12, 2, seed=3)
    assert sorted(ranks[0] + ranks[1]) == list(range(12)) and not set(ranks[0]) & set(ranks[1])


def test_local_batches_together_are_the_single_process_batch():
    """Local batch k of each of 2 ranks (batch 3) holds exactly global batch k (batch 6)
    of one process with the same seed: why 2 processes reproduce 1 process's losses."""
    data = tg.data.TensorDataset(np.arange(24, dtype=np.float32))
    one = [set(x.numpy().tolist()) for (x,) in tg.data.DataLoader(
        data, batch_size=6, sampler=DistributedSampler(data, num_replicas=1, rank=0, seed=5))]
    ranks = [[x.numpy().tolist() for (x,) in tg.data.DataLoader(
        data, batch_size=3, sampler=DistributedSampler(data, num_replicas=2, rank=r, seed=5))] for r in (0, 1)]
    assert [set(a) | set(b) for a, b in zip(*ranks)] == one


def test_sampler_and_loader_refuse_bad_arguments():
    with pytest.raises(ValueError, match="invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        tg.data.DataLoader(range(4), shuffle=True, sampler=DistributedSampler(range(4), num_replicas=1, rank=0))


def test_buckets_respect_the_cap_and_keep_big_parameters_alone():
    ps = [tg.zeros(n) for n in (10, 10, 100, 5)]          # 40, 40, 400, 20 bytes
    buckets = make_buckets(ps, cap_bytes=100)
    assert [[p.numel() for p in b.params] for b in buckets] == [[10, 10], [100], [5]]
    assert buckets[0].offsets == [0, 10] and buckets[0].size == 20


def test_bad_arguments_are_refused_before_any_communication():
    import tinygrad_cu.distributed as dist
    x = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="output of MulBackward in a graph; detach"):
        dist.all_reduce(x * 2)
    with pytest.raises(ValueError, match="op must be one of .* got 'mean'"):
        dist.all_reduce(tg.ones(2), op="mean")
    with pytest.raises(TypeError, match="op='avg' needs a floating tensor, got int64"):
        dist.all_reduce(tg.tensor([1, 2]), op="avg")
    with pytest.raises(TypeError, match="expected a Tensor, got list"):
        dist.broadcast([1.0])
    with pytest.raises(TypeError, match="expected an nn.Module, got Tensor"):
        dist.DistributedDataParallel(x)
    with pytest.raises(ValueError, match="bucket_cap_mb must be > 0, got 0"):
        dist.DistributedDataParallel(tg.nn.Linear(2, 2), bucket_cap_mb=0)


# --- under mpiexec -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def mpi():
    mpi_launch.require_mpi()


def train(n, model, device, steps, batch, bucket_mb, *extra):
    rc, out, err, _ = mpi_launch.run(n, [WORKER, "train", model, device, str(steps), str(batch), str(bucket_mb),
                                         *extra], timeout=240)
    assert rc == 0, out + err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["world"] == (n or 1) and result["same_parameters"], result
    return result


@pytest.mark.parametrize("model,batch,bucket_mb", [("mlp", 32, 0.01), ("lenet5", 16, 0.05)])
def test_two_processes_give_the_losses_of_one(mpi, model, batch, bucket_mb):
    """20 steps, same seed and global batch: 2 ranks (small buckets, so several) and one
    process (one bucket) agree to 1e-5, and both ranks end with identical parameters."""
    one = train(None, model, "cpu", 20, batch, 25)
    two = train(2, model, "cpu", 20, batch, bucket_mb)
    assert two["buckets"] > 1
    print(model, "1 process:", one["losses"][-3:], "2 processes:", two["losses"][-3:])
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=0, atol=1e-5)


def test_no_sync_accumulates_and_the_next_backward_reduces_the_sum(mpi):
    """Each rank's 16 images as two micro-batches of 8, the first backward under
    no_sync(): the same steps as one process on the 32-image global batch."""
    one = train(None, "mlp", "cpu", 5, 32, 25)
    two = train(2, "mlp", "cpu", 5, 32, 25, "2")
    assert one["reductions"] == two["reductions"] == 5         # once per step, not per backward
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=0, atol=1e-5)


@pytest.mark.parametrize("device", ["emu", "emu-cuda-aware"])
def test_emu_matches_cpu_through_both_gpu_transports(mpi, device):
    """The staged path (device -> host -> MPI -> device, once per bucket) that cuda takes
    without CUDA-aware MPI, and the CUDA-aware path's code, on the emulator's kernels,
    against one cpu process."""
    one = train(None, "mlp", "cpu", 4, 16, 25)
    two = train(2, "mlp", device, 4, 16, 0.01)
    np.testing.assert_allclose(two["losses"], one["losses"], rtol=0, atol=1e-5)


def test_collectives_on_tensors(mpi):
    rc, out, err, _ = mpi_launch.run(2, [WORKER, "collectives"], timeout=120)
    assert rc == 0, out + err
    for rank_result in json.loads(out.strip().splitlines()[-1]):
        for device in ("cpu", "emu"):
            assert rank_result[f"sum_{device}"] == [3.0, 30.0]        # 1 + 2, 10 + 20
            assert rank_result[f"avg_{device}"] == [1.5, 3.0]
            assert rank_result[f"max_{device}"] == [1, 0]
            assert rank_result[f"bcast_{device}"] == [[1.0, 5.0]]     # rank 1's value everywhere


def test_a_rank_that_raises_stops_the_others(mpi):
    """Rank 1 raises while rank 0 waits in the gradient all-reduce: the excepthook names
    the rank and MPI_Abort ends both within seconds (not the timeout)."""
    rc, out, err, seconds = mpi_launch.run(2, [WORKER, "raise"], timeout=120)
    assert rc != 0
    assert "rank 1 of 2 raised RuntimeError: a deliberate failure on rank 1" in err
    assert "rank 0 was not stopped" not in out
    assert seconds < 60, f"took {seconds:.0f} s to stop"


def test_mismatched_models_are_an_error_at_wrap_time_naming_the_ranks(mpi):
    rc, out, err, _ = mpi_launch.run(2, [WORKER, "mismatch"], timeout=120)
    assert rc != 0 and "wrapped a mismatched model" not in out
    assert "the model differs between rank 0 and rank(s) 1" in err
    assert "rank 0: 4 parameters, 7,960 values; rank 1: 6 parameters, 8,070 values" in err


def test_rank_before_init_is_an_error():
    """(No test initialises MPI in the pytest process: the MPI runs are subprocesses.)"""
    from tinygrad_cu.distributed import world
    with pytest.raises(RuntimeError, match="call tinygrad_cu.distributed.init"):
        world.rank()
