"""Dataset, TensorDataset, Subset, DataLoader and random_split, shaped like PyTorch's.

A Dataset answers `len(ds)` and `ds[i]`. Array-backed datasets also answer
`ds.__getitems__(indices)` (PyTorch's name for fetching a whole batch), which the
DataLoader uses to build a batch with one numpy fancy-indexing operation per
field instead of a Python loop over items; that is what keeps a 60,000-image
epoch fast in pure Python.
"""
import numpy as np


class Dataset:
    """Base class: subclasses implement __len__ and __getitem__(i) -> tuple of arrays/scalars."""

    def __len__(self):
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Equal-length arrays indexed together: ds[i] == (a[i], b[i], ...)."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(_as_numpy(a) for a in arrays)
        lengths = {len(a) for a in self.arrays}
        if len(lengths) != 1:
            raise ValueError(f"TensorDataset arrays differ in length: {[len(a) for a in self.arrays]}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __getitems__(self, indices):
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The items of `dataset` at `indices`, in that order."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, np.asarray(indices, dtype=np.int64)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices):
        return _fetch_batch(self.dataset, self.indices[indices])


def _generator(seed):
    """numpy Generator for `seed`; without one, a child of the global tg.manual_seed
    generator, so a seeded script shuffles the same way every run."""
    if seed is not None:
        return np.random.default_rng(seed)
    from ..creation import rng
    return np.random.default_rng(rng().integers(2**63))


def random_split(dataset, lengths, seed=None):
    """Split into disjoint Subsets covering every item once, e.g. train/validation.

    lengths: item counts summing to len(dataset), or fractions summing to 1
    (rounding remainders go to the first splits, one item each, as in PyTorch).
    The same seed gives the same split.
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-9:
        counts = [int(np.floor(n * x)) for x in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n or any(x < 0 for x in lengths):
        raise ValueError(f"split lengths {lengths} must be non-negative and sum to {n} "
                         "(or be fractions summing to 1)")
    order = _generator(seed).permutation(n)
    bounds = np.cumsum([0] + lengths)
    return [Subset(dataset, order[start:stop]) for start, stop in zip(bounds[:-1], bounds[1:])]


class DataLoader:
    """Iterate over a dataset in batches; one pass over the loader is one epoch.

    The batch size picks which of the three classic modes of gradient descent a
    training loop runs (every step: forward, loss, backward, update):
      * full-batch / batch gradient descent: batch_size=len(dataset). One step per
        epoch on the exact gradient of the training loss; smooth but slow to
        make progress, and the whole data set must fit in memory at once.
      * stochastic gradient descent (SGD): batch_size=1. One step per example;
        very noisy gradient estimates, many cheap steps, poor use of the GPU.
      * mini-batch gradient descent: 1 < batch_size < len(dataset), typically
        32-256. The usual compromise: less noise than SGD, many steps per
        epoch, and batches large enough to keep a GPU busy.
    Shuffling each epoch (shuffle=True) matters for SGD and mini-batch, so that
    batches are not correlated with the order the data was stored in.

    shuffle with a seed is reproducible: the loader owns one numpy Generator, so
    epoch 1, 2, ... get different orders, and the same seed gives the same
    sequence of epochs. Every item appears exactly once per epoch.
    drop_last drops a final batch smaller than batch_size.

    sampler (e.g. tinygrad_cu.distributed.DistributedSampler) gives the item indices of
    an epoch instead; it excludes shuffle, as in PyTorch.

    Each batch is a tuple with one entry per dataset field. Floating fields
    become float32 and integer fields int64 (so normalise uint8 images first,
    see preprocess.py). They are returned as tinygrad_cu Tensors on `device`,
    or as numpy arrays with as_numpy=True.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, seed=None, drop_last=False, device=None,
                 as_numpy=False, sampler=None):
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.dataset, self.batch_size, self.shuffle = dataset, _batch_size(batch_size), shuffle
        self.sampler = sampler
        self.drop_last, self.device, self.as_numpy = drop_last, device, as_numpy
        self.rng = _generator(seed)

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        else:
            n = len(self.dataset)
            order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            fields = _fetch_batch(self.dataset, order[start:start + self.batch_size])
            yield tuple(self._convert(field) for field in fields)

    def _convert(self, field):
        field = np.asarray(field)
        if np.issubdtype(field.dtype, np.floating):
            field = field.astype(np.float32, copy=False)
        elif np.issubdtype(field.dtype, np.integer) or field.dtype == np.bool_:
            field = field.astype(np.int64, copy=False)
        if self.as_numpy:
            return field
        from tinygrad_cu.tensor import Tensor  # lazy: the data package must import without the core
        return Tensor(np.asarray(field, order="C"), device=self.device)


def _batch_size(value):
    """A positive int (numpy ints too). 2.5 would be cut to 2 by int(), True taken as 1."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"DataLoader: batch_size should be a positive integer, but got "
                        f"batch_size={value!r} ({type(value).__name__})")
    if value < 1:
        raise ValueError(f"DataLoader: batch_size should be a positive integer, but got batch_size={value}")
    return int(value)


def _fetch_batch(dataset, indices):
    """A batch as a tuple of arrays: one fancy-indexing call if the dataset supports it."""
    if hasattr(dataset, "__getitems__"):
        return dataset.__getitems__(indices)
    items = [dataset[int(i)] for i in indices]
    if not isinstance(items[0], tuple):
        items = [(item,) for item in items]
    return tuple(np.stack([np.asarray(x) for x in column]) for column in zip(*items))


def _as_numpy(array):
    return array.numpy() if hasattr(array, "numpy") else np.asarray(array)
