"""Tensor methods for moving data (issue 11), with PyTorch's names and arguments.

A mixin of `Tensor`. Registered ops with their own kernels (ops/gather.py, ops/scatter.py,
ops/rearrange.py, ops/strided_view.py): flip, roll, repeat, tril, triu, gather, scatter,
scatter_add, scatter_reduce, index_select (and F.one_hot), diagonal, unfold. Composites of existing ops, as PyTorch and
tinygrad write them (docs/ops.md):
  narrow, chunk, split     slices (getitem of a basic index: one strided copy each)
  tile                     repeat, with the dims padded on the left by 1s
  take_along_dim           expand of input and indices, then gather
  repeat_interleave        index_select with the index np.repeat(arange(n), repeats), made
                           on the host from the shape (int repeats) or from the repeats
                           tensor's values (which, as in PyTorch, must be read: they decide
                           the output's shape)
  einsum                   tinygrad_cu/einsum_composite.py: permute, reshape, sum, matmul
  diag                     2-D: diagonal; 1-D: pad each element with n zeros, flatten, cut
                           to n * n (x[i] lands at i (n + 1)), pad again for the offset
  unflatten, meshgrid      reshape (and expand)
  masked_select            index_select of the mask's True positions, read on the host (the
                           output's length depends on them: a synchronisation, as in PyTorch)
Index tensors may be int64 or int32 (converted, as PyTorch accepts both).
"""
import numpy as np

from . import dtypes
from .autograd import apply
from .errors import OpError
from .einsum_composite import einsum  # noqa: F401  (exported as tg.einsum)


def _ints(values, what, op):
    """(1, 2), [1, 2] or 1, 2 as passed to a method -> a tuple of Python ints."""
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        values = tuple(values[0])
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values):
        raise TypeError(f"{op}: {what} must be ints, got {values!r}")
    return tuple(int(v) for v in values)


def as_index(tensor_like, device, op):
    """An int64 index tensor on `device`: int32 is converted; other dtypes are a TypeError."""
    from .tensor import Tensor
    if not isinstance(tensor_like, Tensor):
        tensor_like = Tensor(np.asarray(tensor_like), device=device)
    if tensor_like.dtype == dtypes.int32:
        tensor_like = tensor_like.long()
    if tensor_like.dtype != dtypes.int64:
        raise TypeError(f"{op}: index must be an int64 (or int32) tensor, got dtype {tensor_like.dtype}")
    return tensor_like


class MovementMethods:
    """The movement methods of Tensor (see the module docstring)."""
    __slots__ = ()

    # --- registered ops ----------------------------------------------------------------
    def flip(self, *dims_args, dims=None):
        """x.flip(0, 1), x.flip([0, 1]) or x.flip(dims=[0, 1])."""
        return apply("flip", self, dims=_ints(dims_args if dims is None else (dims,), "dims", "flip"))

    def roll(self, shifts, dims=None):
        shifts = _ints((shifts,), "shifts", "roll")
        dims = None if dims is None else _ints((dims,), "dims", "roll")
        return apply("roll", self, shifts=shifts, dims=dims)

    def repeat(self, *sizes):
        return apply("repeat", self, repeats=_ints(sizes, "sizes", "repeat"))

    def tril(self, diagonal=0):
        return apply("tril", self, diagonal=diagonal)

    def triu(self, diagonal=0):
        return apply("triu", self, diagonal=diagonal)

    def gather(self, dim, index, *, sparse_grad=False):
        if sparse_grad:
            raise OpError("gather: sparse_grad=True is not supported (there are no sparse tensors)")
        return apply("gather", self, as_index(index, self.device, "gather"), dim=dim)

    def index_select(self, dim, index):
        return apply("index_select", self, as_index(index, self.device, "index_select"), dim=dim)

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        """torch.Tensor.scatter (out of place): src a tensor, or `value` (or a number as
        src) written at every indexed position; reduce 'add' / 'multiply' as PyTorch's."""
        if (src is None) == (value is None):
            raise TypeError("scatter: pass exactly one of src (a tensor) and value (a number)")
        index = as_index(index, self.device, "scatter")
        src = self._scatter_source(src if value is None else value, index, "scatter")
        if reduce is None:
            return apply("scatter", self, index, src, dim=dim)
        if reduce not in ("add", "multiply"):
            raise OpError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        return apply("scatter_reduce", self, index, src, dim=dim, reduce="sum" if reduce == "add" else "prod",
                     include_self=True)

    def scatter_add(self, dim, index, src):
        index = as_index(index, self.device, "scatter_add")
        return apply("scatter_add", self, index, self._scatter_source(src, index, "scatter_add"), dim=dim)

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        index = as_index(index, self.device, "scatter_reduce")
        return apply("scatter_reduce", self, index, self._scatter_source(src, index, "scatter_reduce"), dim=dim,
                     reduce=reduce, include_self=bool(include_self))

    def _scatter_source(self, src, index, op):
        """A number becomes a tensor of index's shape in self's dtype, filled on the device."""
        from .tensor import Tensor
        if isinstance(src, Tensor):
            return src
        if not isinstance(src, (bool, int, float, np.number)):
            raise TypeError(f"{op}: src must be a tensor or a number, got {type(src).__name__}")
        return Tensor._from_buffer(self._dev.full(index.shape, src, self.dtype), self._dev)

    # --- composites of slices ------------------------------------------------------------
    def narrow(self, dim, start, length):
        if self.ndim == 0:
            raise OpError("narrow: a 0-d tensor cannot be narrowed")
        d = self._dim(dim, "narrow")
        n = self.shape[d]
        if not -n <= start <= n:
            raise IndexError(f"narrow: start {start} is out of range for dim {dim} of size {n} (shape {self.shape})")
        start = start % n if start < 0 else start
        if length < 0 or start + length > n:
            raise OpError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) "
                             f"of shape {self.shape}")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def split(self, split_size_or_sections=None, dim=0, *, split_size=None):
        """Pieces of split_size along dim (the last smaller), or of the given sizes
        (Tensor.split's keyword is split_size, torch.split's split_size_or_sections)."""
        if (split_size_or_sections is None) == (split_size is None):
            raise TypeError("split: pass split_size_or_sections (or split_size), once")
        if split_size is not None:
            split_size_or_sections = split_size
        d = self._dim(dim, "split")
        if self.ndim == 0:
            raise OpError("split: a 0-d tensor cannot be split")
        n = self.shape[d]
        if isinstance(split_size_or_sections, (int, np.integer)):
            size = int(split_size_or_sections)
            if size < 0 or (size == 0 and n):
                raise OpError(f"split: split_size must be positive, got {size} for dim {dim} of size {n}")
            sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
        else:
            sizes = [int(s) for s in split_size_or_sections]
            if any(s < 0 for s in sizes) or sum(sizes) != n:
                raise OpError(f"split: split sizes {sizes} must be non-negative and sum exactly to {n}, "
                                 f"the size of dim {dim} of shape {self.shape}")
        starts = np.cumsum([0] + sizes[:-1])
        return tuple(self.narrow(d, int(s), k) for s, k in zip(starts, sizes))

    def chunk(self, chunks, dim=0):
        """At most `chunks` pieces of ceil(n / chunks) along dim (the last may be smaller)."""
        if not isinstance(chunks, (int, np.integer)) or chunks <= 0:
            raise OpError(f"chunk: chunks must be a positive int, got {chunks!r}")
        d = self._dim(dim, "chunk")
        if self.ndim == 0:
            raise OpError("chunk: a 0-d tensor cannot be chunked")
        n = self.shape[d]
        if n == 0:
            return self.split([0] * int(chunks), d)
        return self.split(-(-n // int(chunks)), d)

    # --- composites of registered ops ----------------------------------------------------
    def tile(self, *dims_args, dims=None):
        dims = _ints(dims_args if dims is None else (dims,), "dims", "tile")
        return self.repeat(*((1,) * (self.ndim - len(dims)) + dims))

    def take_along_dim(self, indices, dim=None):
        """torch.take_along_dim: gather after broadcasting input and indices outside dim;
        dim None gathers from the flattened input."""
        indices = as_index(indices, self.device, "take_along_dim")
        if dim is None:
            return self.reshape(-1).gather(0, indices.reshape(-1))
        if indices.ndim != self.ndim:
            raise OpError(f"take_along_dim: input {self.shape} and indices {indices.shape} must have the "
                             f"same number of dims")
        d = self._dim(dim, "take_along_dim")
        if self.ndim == 0:
            return self.gather(0, indices)
        outside = lambda shape: shape[:d] + (1,) + shape[d + 1:]
        try:
            common = list(np.broadcast_shapes(outside(self.shape), outside(indices.shape)))
        except ValueError:
            raise OpError(f"take_along_dim: input {self.shape} and indices {indices.shape} cannot be "
                             f"broadcast outside dim {dim}") from None
        x_shape = tuple(common[:d] + [self.shape[d]] + common[d + 1:])
        i_shape = tuple(common[:d] + [indices.shape[d]] + common[d + 1:])
        x = self if self.shape == x_shape else self.expand(x_shape)
        return x.gather(d, indices if indices.shape == i_shape else indices.expand(i_shape))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each element (dim None: of the flattened tensor) repeated `repeats` times along
        dim; repeats an int or a tensor of one count per element (or one count)."""
        from .tensor import Tensor
        x = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else self._dim(dim, "repeat_interleave")
        n = x.shape[d] if x.ndim else 1
        if isinstance(repeats, Tensor):
            if repeats.dtype.kind not in "iu" or repeats.ndim > 1:
                raise TypeError(f"repeat_interleave: repeats must be an int or a 0-d / 1-D integer tensor, "
                                f"got {repeats.dtype} {repeats.shape}")
            counts = repeats.numpy().reshape(-1)        # they decide the output's shape: read them
        elif isinstance(repeats, (int, np.integer)) and not isinstance(repeats, (bool, np.bool_)):
            counts = np.array([int(repeats)])
        else:
            raise TypeError(f"repeat_interleave: repeats must be an int or an integer tensor, got {repeats!r}")
        if counts.size == 1:
            counts = np.full(n, counts[0])
        if counts.size != n:
            raise OpError(f"repeat_interleave: {counts.size} repeats for dim {d} of size {n} "
                             f"(shape {x.shape}): need one per element, or one")
        if (counts < 0).any():
            raise OpError(f"repeat_interleave: repeats must be non-negative, got {counts.tolist()}")
        index = np.repeat(np.arange(n, dtype=np.int64), counts)
        if output_size is not None and output_size != index.size:
            raise OpError(f"repeat_interleave: output_size {output_size} does not match the repeats' "
                             f"total {index.size}")
        return x.index_select(d, Tensor(index, device=self.device))

    # --- the movement tail (issue t2): diagonal, unfold (ops), and composites ----------
    def diagonal(self, offset=0, dim1=0, dim2=1):
        """x[..., i, i + offset] of the plane (dim1, dim2), as a new last dim (PyTorch's
        order): the op `diagonal`, a strided copy (ops/strided_view.py)."""
        return apply("diagonal", self, offset=int(offset), dim1=int(dim1), dim2=int(dim2))

    def diag(self, diagonal=0):
        """1-D: the square matrix with x on diagonal `diagonal` (above the main one when
        positive). 2-D: that diagonal as a vector. The matrix is a composite: each
        element followed by n zeros (pad), flattened and cut to n * n, puts x[i] at
        position i * (n + 1), the main diagonal; a second pad shifts it."""
        k = int(diagonal)
        if self.ndim == 2:
            return self.diagonal(k, 0, 1)
        if self.ndim != 1:
            raise OpError(f"diag: expected a 1-D or 2-D tensor, got shape {self.shape}")
        n = self.shape[0]
        square = self.reshape(n, 1).pad(((0, 0), (0, n)))
        square = square.reshape(-1)[:n * n].reshape(n, n)
        if k == 0:
            return square
        return square.pad(((0, k), (k, 0)) if k > 0 else ((-k, 0), (0, -k)))

    def unflatten(self, dim, sizes):
        """Dim `dim` split into `sizes` (one of them may be -1): a reshape."""
        d = self._dim(dim, "unflatten")
        sizes = _ints((sizes,), "sizes", "unflatten")
        known = int(np.prod([s for s in sizes if s != -1], dtype=np.int64))
        n = self.shape[d] if self.ndim else 1
        if not sizes or sizes.count(-1) > 1 or (-1 not in sizes and known != n) or \
                (-1 in sizes and (known == 0 or n % known)):
            raise OpError(f"unflatten: sizes {sizes} do not multiply to the size {n} of dim {dim} "
                          f"of shape {self.shape}")
        return self.reshape(self.shape[:d] + sizes + self.shape[d + 1:])

    def unfold(self, dimension, size, step):
        """Every window of `size` elements along `dimension`, `step` apart, as a new
        last dim (PyTorch's Tensor.unfold): the op `unfold`, a strided copy whose
        gradient adds overlapping windows back (ops/strided_view.py)."""
        return apply("unfold", self, dimension=int(dimension), size=int(size), step=int(step))

    def masked_select(self, mask):
        """The elements where `mask` (bool, broadcast with x) is True, as a 1-D tensor.
        Its length depends on the mask's values, so the mask is read on the host: a
        synchronisation, as in PyTorch. Then one index_select (gradient: scatter-add)."""
        from .tensor import Tensor
        if not isinstance(mask, Tensor):
            mask = Tensor(np.asarray(mask), device=self.device)
        if mask.dtype != dtypes.bool_:
            raise TypeError(f"masked_select: mask must be a bool tensor, got dtype {mask.dtype}")
        try:
            shape = tuple(np.broadcast_shapes(self.shape, mask.shape))
        except ValueError:
            raise OpError(f"masked_select: input {self.shape} and mask {mask.shape} cannot be broadcast") from None
        x = self if self.shape == shape else self.expand(shape)
        where = np.flatnonzero(np.broadcast_to(mask.numpy(), shape)).astype(np.int64)
        return x.reshape(-1).index_select(0, Tensor(where, device=self.device))

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill this (leaf) tensor in place with normal samples (PyTorch's normal_),
        drawn on the host from the global seed as randn is."""
        from .creation import normal
        if generator is not None:
            raise OpError("normal_: generator is not supported (tg.manual_seed seeds every draw)")
        return self.assign(normal(float(mean), float(std), self.shape, dtype=self.dtype, device=self.device))


def meshgrid(*tensors, indexing="ij"):
    """torch.meshgrid: 0-d / 1-D tensors -> one tensor each of the grid's shape, by
    reshape and expand. indexing 'ij': shape (n0, n1, ...); 'xy' swaps the first two
    dims (n1, n0, ...), as numpy's and PyTorch's Cartesian indexing."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise OpError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if not tensors or any(t.ndim > 1 for t in tensors):
        raise OpError(f"meshgrid: expects 0-d or 1-D tensors, got shapes {[t.shape for t in tensors]}")
    place = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        place[0], place[1] = 1, 0
    shape = [0] * len(tensors)
    for t, i in zip(tensors, place):
        shape[i] = t.numel()
    out = []
    for t, i in zip(tensors, place):
        view = [1] * len(tensors)
        view[i] = t.numel()
        out.append(t.reshape(view).expand(shape))
    return tuple(out)


def one_hot(tensor, num_classes=-1):
    """torch.nn.functional.one_hot: int64 tensor (..., num_classes) with a 1 at each class.
    num_classes=-1 takes the largest class + 1, which must be read from the tensor (a
    host synchronisation, as in PyTorch); give num_classes to avoid it."""
    if tensor.dtype != dtypes.int64:
        raise TypeError(f"one_hot: expected an int64 tensor of class values, got dtype {tensor.dtype}")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise OpError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(tensor.numpy().max()) + 1
    return apply("one_hot", tensor, num_classes=num_classes)


def _function(method):
    """torch.<method>(input, *args): the free-function spelling of a method."""
    def fn(input, *args, **kwargs):
        return getattr(input, method)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = method
    fn.__doc__ = f"torch.{method}(input, ...): input.{method}(...)."
    return fn


FUNCTION_NAMES = ("flip", "roll", "tril", "triu", "gather", "scatter", "scatter_add", "scatter_reduce",
                  "index_select", "narrow", "split", "chunk", "tile", "take_along_dim", "repeat_interleave",
                  "diagonal", "diag", "unflatten", "masked_select")
for _name in FUNCTION_NAMES:                  # tg.flip, tg.gather, ... (exported by __init__)
    globals()[_name] = _function(_name)
