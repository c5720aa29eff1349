"""Reductions over any set of axes: sum, max, min (differentiable), argmax, argmin.

`axis` is None (all), an int or a tuple; `keepdims` keeps reduced axes as size 1.
Tie rule for max/min (as PyTorch's amax/amin): the gradient is split evenly among
all elements equal to the extreme value. Kernels: ops/reduce.cu.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, normalize_axes, register

SOURCE = "reduce.cu"


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class ReduceOp(Op):
    test_attrs = (dict(axis=None, keepdims=False), dict(axis=0, keepdims=True),
                  dict(axis=-1, keepdims=False), dict(axis=(0, -1), keepdims=False))

    def infer(self, x, axis=None, keepdims=False):
        self.check_float(x)
        axes = normalize_axes(self.name, axis, len(x.shape))
        if self.name != "sum" and any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"{self.name}: cannot reduce over a zero-sized axis of shape {x.shape}")
        return Meta(reduced_shape(x.shape, axes, keepdims), x.dtype)

    def keepdims_shape(self, ctx, axis):
        shape = ctx.input_metas[0].shape
        return reduced_shape(shape, normalize_axes(self.name, axis, len(shape)), True)


@register
class Sum(ReduceOp):
    name = "sum"
    saves = ()
    kernels = ("sum_forward", "sum_backward")

    def forward(self, ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(self.name, axis, x.ndim)
        return np.asarray(x.sum(axis=axes, keepdims=keepdims), dtype=x.dtype)

    def backward(self, ctx, grad, axis=None, keepdims=False):
        shape = ctx.input_metas[0].shape
        g = grad.reshape(self.keepdims_shape(ctx, axis))
        return (np.asarray(np.broadcast_to(g, shape), order="C"),)


class ExtremumOp(ReduceOp):
    saves = ("inputs", "output")
    pick = None   # np.max or np.min

    def forward(self, ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(self.name, axis, x.ndim)
        return np.asarray(type(self).pick(x, axis=axes, keepdims=keepdims), dtype=x.dtype)

    def backward(self, ctx, grad, axis=None, keepdims=False):
        x = ctx.inputs[0]
        axes = normalize_axes(self.name, axis, x.ndim)
        kd = self.keepdims_shape(ctx, axis)
        winners = (x == ctx.output.reshape(kd)).astype(x.dtype)
        share = winners / winners.sum(axis=axes, keepdims=True)   # ties split the gradient
        return (share * grad.reshape(kd),)


@register
class Max(ExtremumOp):
    name = "max"
    kernels = ("max_forward", "extremum_backward")
    pick = staticmethod(np.max)


@register
class Min(ExtremumOp):
    name = "min"
    kernels = ("min_forward", "extremum_backward")
    pick = staticmethod(np.min)


class ArgOp(Op):
    """Index of the first extreme element along one axis (flattened if axis is None)."""
    differentiable = False
    float_only = False
    saves = ()
    test_attrs = (dict(axis=None, keepdims=False), dict(axis=-1, keepdims=False),
                  dict(axis=0, keepdims=True))

    def infer(self, x, axis=None, keepdims=False):
        if axis is not None and not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{self.name}: axis must be None or an int, got {axis!r}")
        if 0 in x.shape:
            raise ValueError(f"{self.name}: cannot take {self.name} of an empty tensor {x.shape}")
        if axis is None:
            return Meta((1,) * len(x.shape) if keepdims else (), dtypes.int64)
        axes = normalize_axes(self.name, axis, len(x.shape))
        return Meta(reduced_shape(x.shape, axes, keepdims), dtypes.int64)

    def forward(self, ctx, x, axis=None, keepdims=False):
        if axis is None:
            out = np.asarray(type(self).pick(x.reshape(-1)))
            return out.reshape((1,) * x.ndim if keepdims else ()).astype(np.int64)
        return np.asarray(type(self).pick(x, axis=axis, keepdims=keepdims)).astype(np.int64)


@register
class Argmax(ArgOp):
    name = "argmax"
    kernels = ("argmax_forward",)
    pick = staticmethod(np.argmax)


@register
class Argmin(ArgOp):
    name = "argmin"
    kernels = ("argmin_forward",)
    pick = staticmethod(np.argmin)
