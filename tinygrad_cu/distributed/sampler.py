"""DistributedSampler: which items of a dataset this rank trains on, per epoch.

PyTorch's split: every rank draws the same permutation (seeded with seed + epoch, so
call set_epoch(e) before each epoch for a new order), the list is padded by repeating
its start (or, with drop_last, cut) to a multiple of the world size, and rank r takes
positions r, r + N, r + 2N, ... Each rank then has num_samples items and, with a local
batch of B / N, local batch k of every rank together is exactly positions
[k B, (k + 1) B) of the permutation: the global batch a single process would take.

The permutation itself comes from numpy's generator (PyTorch's comes from torch's), so
the same seed orders items differently from PyTorch; the split rule is the same.
"""
import math

import numpy as np


class DistributedSampler:
    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False):
        if num_replicas is None or rank is None:
            from .world import rank as world_rank, world_size
            num_replicas = world_size() if num_replicas is None else num_replicas
            rank = world_rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, int(seed), drop_last, 0
        n = len(dataset)
        if drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """A different (and on every rank the same) order for each epoch."""
        self.epoch = int(epoch)

    def __len__(self):
        return self.num_samples

    def indices(self):
        """This rank's item indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        order = (np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle
                 else np.arange(n))
        if self.total_size > n:                  # pad by repeating from the start (cycling)
            order = np.resize(order, self.total_size) if n else order
        order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __iter__(self):
        return iter(self.indices().tolist())
