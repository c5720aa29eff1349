"""Tensor methods of the reductions group and sorting, with PyTorch's signatures and
return types (a base class of Tensor; tinygrad_cu/tensor.py).

    x.max()                      the largest value (ties split the gradient evenly)
    x.max(dim)                   (values, indices): the first largest of each row; the
                                 gradient goes to that element, as PyTorch's max(dim)
    x.amax(dim), x.amin(dim)     values only, dim an int or a tuple; ties split the gradient
    x.prod, x.var, x.std         var/std are composites: mean, sub, mul, sum (no kernel)
    x.any, x.all, x.logsumexp, x.cumsum, x.cumprod, x.cummax, x.cummin
    x.sort, x.argsort, x.topk    (values, indices) for sort and topk

Ops that return (values, indices) are two ops here: an index op without gradient
(argmax, argsort, argtopk, argcummax, ...), then values_at, which reads the values and
carries their gradient back to the elements they came from (ops/values_at.py).
"""
from collections import namedtuple
from types import SimpleNamespace

import numpy as np

from . import dtypes
from .autograd import apply
from .op import REGISTRY, normalize_axes

# PyTorch's torch.return_types (tg.return_types.max, ...): named tuples of (values, indices)
return_types = SimpleNamespace(**{name: namedtuple(name, ["values", "indices"])
                                  for name in ("max", "min", "sort", "topk", "cummax", "cummin")})


def _one_dim(op, dim, axis, required=False):
    """PyTorch's `dim`, or numpy's `axis` as an alias (one of them; required: not neither)."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: pass dim or axis, not both")
        return axis
    if dim is None and required:
        raise TypeError(f"{op}() missing its required argument 'dim'")
    return dim


def _keep(keepdim, keepdims):
    return bool(keepdim if keepdims is None else keepdims)


def _sort_keys(x):
    """argsort/argtopk keys: floats, int32 and int64 as they are; uint8 and bool as int64
    (same order, and the kernels compare int32/int64 exactly)."""
    return x.to(dtypes.int64) if x.dtype in (dtypes.uint8, dtypes.bool_) else x


def _values_along(x, indices, dim):
    """The sorted values: values_at (carries the gradient back) for floats; integers have
    no gradient and are read by gather, which moves any dtype."""
    if x.dtype.kind in "iub":
        return x.gather(dim, indices)
    return apply("values_at", x, indices, axis=dim, unique=True)


class ReductionsMixin:
    __slots__ = ()

    # --- max / min ------------------------------------------------------------------
    def _extremum(self, kind, dim, keepdim):
        """x.max() / x.max(dim) / x.max(other) (kind 'max' or 'min')."""
        if dim is None:
            return apply(kind, self, axis=None, keepdims=False)
        if isinstance(dim, type(self)):          # torch.max(x, y): elementwise
            other = "maximum" if kind == "max" else "minimum"
            if other not in REGISTRY:
                raise TypeError(f"{kind}: the elementwise {kind} of two tensors is tg.{other}, "
                                "which this build does not have")
            return self._binary(other, dim)
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(f"{kind}: dim must be an int (for several dims use a{kind}), got {dim!r}")
        d = normalize_axes(kind, dim, max(self.ndim, 1))[0]     # a 0-d tensor takes dim 0 or -1
        indices = apply("arg" + kind, self, axis=d if self.ndim else None, keepdims=True)
        values = _values_along(self, indices, d)         # integers: gather (no gradient)
        if not keepdim and self.ndim:
            values, indices = values.squeeze(d), indices.squeeze(d)
        return getattr(return_types, kind)(values, indices)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """x.max(): the largest value. x.max(dim, keepdim=False): (values, indices) of the
        first largest element of each row along dim. x.max(other): elementwise maximum."""
        return self._extremum("max", _one_dim("max", dim, axis), _keep(keepdim, keepdims))

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """x.min(), x.min(dim) -> (values, indices), x.min(other): as max."""
        return self._extremum("min", _one_dim("min", dim, axis), _keep(keepdim, keepdims))

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Largest values over dim (an int, a tuple; None or () for all). Ties split the
        gradient evenly, as PyTorch's amax."""
        dim = _one_dim("amax", dim, axis)
        return apply("max", self, axis=None if dim == () else dim, keepdims=_keep(keepdim, keepdims))

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim = _one_dim("amin", dim, axis)
        return apply("min", self, axis=None if dim == () else dim, keepdims=_keep(keepdim, keepdims))

    # --- products, statistics, truth ------------------------------------------------
    def prod(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        """Product over one dim, or all; the gradient is right with zeros in the input.
        dtype: cast the input to it first (as PyTorch)."""
        x = self if dtype is None else self.to(dtypes.as_dtype(dtype))
        return apply("prod", x, axis=_one_dim("prod", dim, axis), keepdims=_keep(keepdim, keepdims))

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """sum((x - mean)^2) / (N - correction) over dim (int, tuple or None: all).
        correction defaults to 1 (Bessel's); unbiased=False is correction=0. N <= correction
        gives inf (nan where the sum is 0), as PyTorch. A composite of mean, sub, mul, sum."""
        dim, keepdim = _one_dim("var", dim, axis), _keep(keepdim, keepdims)
        if unbiased is not None and correction is not None:
            raise TypeError("var: pass unbiased or correction, not both")
        correction = (1 if unbiased is None or unbiased else 0) if correction is None else correction
        centred = self - self.mean(dim=dim, keepdim=True)
        squares = (centred * centred).sum(dim=dim, keepdim=keepdim)
        n = self.numel() // max(squares.numel(), 1) if self.numel() else 0
        return squares / float(max(0, n - correction))

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """The square root of var (same arguments)."""
        return self.var(dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims).sqrt()

    def var_mean(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return (self.var(dim, unbiased, keepdim, correction=correction),
                self.mean(dim=dim, keepdim=keepdim))

    def std_mean(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        return (self.std(dim, unbiased, keepdim, correction=correction),
                self.mean(dim=dim, keepdim=keepdim))

    def any(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Is some element nonzero (over dim: int, tuple or None)? bool, no gradient."""
        return apply("any", self, axis=_one_dim("any", dim, axis), keepdims=_keep(keepdim, keepdims))

    def all(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Is every element nonzero? bool, no gradient."""
        return apply("all", self, axis=_one_dim("all", dim, axis), keepdims=_keep(keepdim, keepdims))

    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(x))) over dim (an int or a tuple), stable: one fused op over one
        dim; several dims are moved to the end and merged into one first."""
        dims = normalize_axes("logsumexp", dim, self.ndim)
        if self.ndim == 0:
            return apply("logsumexp", self.reshape(1), axis=0, keepdims=False).reshape(())
        if len(dims) == 1:
            return apply("logsumexp", self, axis=dims[0], keepdims=keepdim)
        kept = [d for d in range(self.ndim) if d not in dims]
        rows = self.permute(*kept, *dims).reshape(*[self.shape[d] for d in kept], -1)
        out = apply("logsumexp", rows, axis=-1, keepdims=False)
        return out.reshape(*[1 if d in dims else n for d, n in enumerate(self.shape)]) if keepdim else out

    # --- cumulative --------------------------------------------------------------------
    def cumsum(self, dim=None, *, dtype=None, axis=None):
        """Running sum along dim; dtype: cast the input to it first (as PyTorch)."""
        x = self if dtype is None else self.to(dtype)
        return apply("cumsum", x, axis=_one_dim("cumsum", dim, axis, required=True))

    def cumprod(self, dim=None, *, dtype=None, axis=None):
        """Running product; the gradient is right with zeros in the input."""
        x = self if dtype is None else self.to(dtype)
        return apply("cumprod", x, axis=_one_dim("cumprod", dim, axis, required=True))

    def _cumulative_extremum(self, kind, dim):
        indices = apply("argcum" + kind, self, axis=dim)
        values = apply("values_at", self, indices, axis=dim, unique=False)   # indices repeat: adds
        return getattr(return_types, "cum" + kind)(values, indices)

    def cummax(self, dim):
        """(values, indices) of the running maximum; ties and NaN take the later index."""
        return self._cumulative_extremum("max", dim)

    def cummin(self, dim):
        return self._cumulative_extremum("min", dim)

    # --- sorting -----------------------------------------------------------------------
    def sort(self, dim=-1, descending=False, *, stable=False):
        """(values, indices) sorted along dim; NaN counts as the largest value. Always
        stable (equal values keep their order), so `stable` changes nothing."""
        indices = apply("argsort", _sort_keys(self), axis=dim, descending=bool(descending), stable=bool(stable))
        return return_types.sort(_values_along(self, indices, dim), indices)

    def argsort(self, dim=-1, descending=False, *, stable=False):
        return apply("argsort", _sort_keys(self), axis=dim, descending=bool(descending), stable=bool(stable))

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """(values, indices) of the k largest (largest=False: smallest) along dim, in
        sorted order (also when sorted=False, which PyTorch allows)."""
        indices = apply("argtopk", _sort_keys(self), k=int(k), axis=dim, largest=bool(largest), sorted=bool(sorted))
        return return_types.topk(_values_along(self, indices, dim), indices)

    def logcumsumexp(self, dim):
        """log(cumsum(exp(x))) along dim, stable (one op, ops/logcumsumexp.py)."""
        return apply("logcumsumexp", self, axis=dim)
