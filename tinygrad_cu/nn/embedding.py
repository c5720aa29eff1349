"""Embedding: a lookup table of learned vectors, as torch.nn.Embedding.

A documented composite: the lookup is the `getitem` op (a gather forward, an
accumulating scatter backward, ops/movement.cu), `weight[indices]`. The indices are
integer arrays on the host (as class labels are), which is where indexing needs them.
With padding_idx, that row starts at zero and gets no gradient: where the indices hit
it, the row is read from weight.detach() instead (two gathers and a blend, only for
batches that contain the padding index).
"""
import numpy as np

from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


def _indices(layer, indices, num_embeddings):
    idx = indices.numpy() if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{layer}: indices must be integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= num_embeddings):
        raise IndexError(f"{layer}: index {int(idx.min() if idx.min() < 0 else idx.max())} is out of range "
                         f"for {num_embeddings} embeddings")
    return idx.astype(np.int64, copy=False)


def embedding(indices, weight, padding_idx=None):
    """weight[indices]: (*indices.shape, embedding_dim); rows at padding_idx get no gradient."""
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, embedding_dim), got {weight.shape}")
    idx = _indices("embedding", indices, weight.shape[0])
    rows = weight[idx]
    if padding_idx is None:
        return rows
    padding_idx = padding_idx % weight.shape[0]
    hit = idx == padding_idx
    if not hit.any():
        return rows
    keep = Tensor((~hit)[..., None].astype(weight.dtype), dtype=weight.dtype, device=weight.device)
    return rows * keep + weight.detach()[idx] * (1.0 - keep)


class Embedding(Module):
    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, _weight=None, device=None, dtype=None):
        super().__init__()
        for what, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Embedding: {what} must be a positive int, got {v!r}")
        if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
            raise ValueError(f"Embedding: padding_idx must be within [-{num_embeddings}, {num_embeddings}), "
                             f"got {padding_idx}")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = None if padding_idx is None else int(padding_idx) % self.num_embeddings
        dtype = np.float32 if dtype is None else dtype
        if _weight is not None:
            self.weight = Parameter(_weight, device=device, dtype=dtype)
        else:
            self.weight = Parameter(np.zeros((self.num_embeddings, self.embedding_dim)), device=device, dtype=dtype)
            init.normal_(self.weight)            # N(0, 1), as PyTorch
            if self.padding_idx is not None:
                values = self.weight.numpy()
                values[self.padding_idx] = 0
                self.load_state_dict({"weight": values})

    def forward(self, indices):
        return embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
