"""`--distributed` for the examples: the few places where data-parallel training differs
from training in one process (training.py calls these; without --distributed each is
a no-op or the one-process choice).

    mpiexec -n 2 python examples/lenet5.py --distributed

  - every rank runs the whole script; rank 0 alone prints, draws and writes the
    checkpoint (the other ranks' standard output goes to /dev/null; errors still show);
  - --batch-size is the global batch: each of the N ranks trains on batch-size / N items
    of it, chosen by a DistributedSampler, and DistributedDataParallel averages the
    gradients, so every step is the step one process would take on the whole batch;
  - --resume: rank 0 reads the checkpoint and the wrap broadcasts it, so a checkpoint
    written under any world size resumes under any other. The checkpoint holds the
    model's weights (as before): the optimizer's momentum and the epoch count start anew.
"""
import os
import sys

import tinygrad_cu as tg
from tinygrad_cu import data


def setup(args):
    """Join the MPI world when --distributed; returns args."""
    args.world_size = 1
    if args.distributed:
        import tinygrad_cu.distributed as dist
        _, args.world_size = dist.init()
        if args.batch_size % args.world_size:
            raise SystemExit(f"--batch-size {args.batch_size} (the global batch) must be divisible by the "
                             f"{args.world_size} ranks")
        if not dist.is_main():
            sys.stdout = open(os.devnull, "w")
    return args


def is_main(args):
    if not args.distributed:
        return True
    import tinygrad_cu.distributed as dist
    return dist.is_main()


def prepare(model, train_set, args):
    """(the model to call in training, the training loader), after --resume."""
    if args.resume and is_main(args):
        model.load_state_dict(tg.load(args.resume))
        print(f"resumed from {args.resume}")
    if not args.distributed:
        return model, data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                                      device=args.device)
    import tinygrad_cu.distributed as dist
    sampler = dist.DistributedSampler(train_set, seed=args.seed)
    loader = data.DataLoader(train_set, batch_size=args.batch_size // args.world_size, sampler=sampler,
                             device=args.device)
    return dist.DistributedDataParallel(model), loader


def start_epoch(loader, epoch):
    if loader.sampler is not None:
        loader.sampler.set_epoch(epoch)       # a new order each epoch, the same on every rank


def global_sums(args, *values):
    """The sums over all ranks of these per-rank numbers (images seen, loss totals)."""
    if not args.distributed:
        return values
    import tinygrad_cu.distributed as dist
    return tuple(dist.all_reduce(tg.tensor(list(values), dtype=tg.float64)).numpy().tolist())
