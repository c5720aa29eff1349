"""any / all: is some / every element nonzero, over any set of axes (PyTorch's torch.any,
torch.all). Any dtype in; bool out (uint8 in gives uint8 out, as PyTorch); no gradient.
The reduction of no elements is False for any and True for all. Kernels: ops/any_all.cu.
"""
import numpy as np

from tinygrad_cu import dtypes
from tinygrad_cu.op import Meta, Op, normalize_axes, register

from .reduce import launch_config, merged_groups, reduced_shape

SOURCE = "any_all.cu"
KERNEL_SUFFIX = {dtypes.float32: "f32", dtypes.int64: "i64", dtypes.int32: "i32",
                 dtypes.uint8: "u8", dtypes.bool_: "u8"}     # bool bytes are 0/1, read as u8


class TruthOp(Op):
    differentiable = False
    float_only = False
    saves = ()
    test_attrs = (dict(axis=None, keepdims=False), dict(axis=0, keepdims=True),
                  dict(axis=(0, -1), keepdims=False), dict(axis=-1, keepdims=False))
    numpy_fn = None

    def __init__(self):
        self.kernels = tuple(f"{self.name}_{s}" for s in ("f32", "i64", "i32", "u8"))

    def infer(self, x, axis=None, keepdims=False):
        axes = normalize_axes(self.name, axis, len(x.shape))
        out = dtypes.uint8 if x.dtype == dtypes.uint8 else dtypes.bool_
        return Meta(reduced_shape(x.shape, axes, keepdims), out)

    def forward(self, ctx, x, axis=None, keepdims=False):
        axes = normalize_axes(self.name, axis, x.ndim)
        out = type(self).numpy_fn(x != 0, axis=axes, keepdims=keepdims)
        return np.asarray(out).astype(self.infer(Meta(x.shape, x.dtype), axis, keepdims).dtype)

    # one pass per merged group of reduced dims (as ops/reduce.py gpu_reduce), each writing
    # 0/1 bytes: the first reads x's dtype, the later ones the bytes of the pass before
    def gpu_forward(self, gpu, ctx, x, axis=None, keepdims=False):
        if x.dtype not in KERNEL_SUFFIX:
            raise TypeError(f"{self.name}: device {gpu.name} has no kernel for dtype {x.dtype}")
        meta = self.infer(Meta(x.shape, x.dtype), axis, keepdims)
        axes = normalize_axes(self.name, axis, x.ndim)
        if int(np.prod(meta.shape, dtype=np.int64)) == 0:
            return gpu.empty(meta.shape, meta.dtype)
        groups = merged_groups(x.shape, axes)
        sizes = [n for n, _ in groups]
        passes = [k for k in reversed(range(len(groups))) if groups[k][1]]
        if x.size == 0:      # rows of no element: the kernels give False (any) / True (all)
            sizes, passes = [int(np.prod(meta.shape, dtype=np.int64)), 0], [1]
        elif not passes:     # only size-1 dims reduced: one pass with R = 1 still converts
            sizes, passes = [x.size, 1], [1]
        cur = x
        for k in passes:
            outer, R, inner = int(np.prod(sizes[:k])), sizes[k], int(np.prod(sizes[k + 1:]))
            out = gpu.empty((outer * inner,), meta.dtype)
            grid, block = launch_config(gpu, outer * inner, R)
            gpu.launch(SOURCE, f"{self.name}_{KERNEL_SUFFIX[cur.dtype]}", grid, block, cur, out,
                       np.int64(outer), np.int64(R), np.int64(inner))
            sizes[k], cur = 1, out
        return cur.reshape(meta.shape)


@register
class Any(TruthOp):
    name = "any"
    numpy_fn = staticmethod(np.any)


@register
class All(TruthOp):
    name = "all"
    numpy_fn = staticmethod(np.all)
