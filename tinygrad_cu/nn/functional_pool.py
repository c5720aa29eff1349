"""PyTorch's F.max_pool1d/2d/3d, F.avg_pool1d/2d/3d and F.max_unpool1d/2d/3d.

The pools are ops (ops/pool.py, kernels in ops/pool.cu). return_indices=True adds the
op max_pool_indices (the same window walk, int64 flat indices into each input plane).
max_unpool is a composite, as in PyTorch: zeros of the output size with the input
scattered to `indices` in each flattened plane (the scatter op; its backward gathers).
padding also takes tinygrad's per-side form, 2 * dims ints for the last dim first as
F.pad (ops/pool.py). An unbatched input (C, *spatial) is pooled as a batch of one, as
PyTorch.
"""
from ..autograd import apply
from ..creation import zeros
from ..errors import OpError


def batched(d, fn, x, *more):
    """fn on x (and `more` tensors of its shape) as (N, C, *spatial); an unbatched
    (C, *spatial) input as a batch of one, its result(s) without that batch dim again."""
    if x.ndim != d + 1:
        return fn(x, *more)
    out = fn(x.unsqueeze(0), *(m.unsqueeze(0) for m in more))
    return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)


def _max_pool(d, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    attrs = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                 ceil_mode=bool(ceil_mode))

    def pool(x):
        y = apply(f"max_pool{d}d", x, **attrs)
        return (y, apply("max_pool_indices", x.detach(), **attrs)) if return_indices else y
    return batched(d, pool, x)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """input (N, C, L)."""
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """input (N, C, H, W)."""
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """input (N, C, D, H, W)."""
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(d, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override=None):
    return batched(d, lambda x: apply(f"avg_pool{d}d", x, kernel_size=kernel_size, stride=stride, padding=padding,
                                      ceil_mode=bool(ceil_mode), count_include_pad=bool(count_include_pad),
                                      divisor_override=divisor_override), x)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)


def _tuple(name, v, d, what):
    t = (v,) * d if isinstance(v, int) and not isinstance(v, bool) else tuple(v)
    if len(t) != d or not all(isinstance(i, int) and not isinstance(i, bool) for i in t):
        raise OpError(f"{name}: {what} must be an int or a tuple of {d} ints, got {v!r}")
    return t


def unpooled_size(name, x, d, kernel_size, stride, padding, output_size):
    """PyTorch's default (in - 1) * stride - 2 * padding + kernel per dim, or output_size
    (its last d entries: the batch and channel entries are ignored, as PyTorch)."""
    k = _tuple(name, kernel_size, d, "kernel_size")
    s = k if stride is None else _tuple(name, stride, d, "stride")
    p = _tuple(name, padding, d, "padding")
    default = tuple((n - 1) * ss - 2 * pp + kk for n, kk, ss, pp in zip(x.shape[2:], k, s, p))
    if output_size is None:
        return default
    size = tuple(int(v) for v in output_size)[-d:]
    if len(size) != d:
        raise OpError(f"{name}: output_size {tuple(output_size)} must have {d} (or {d + 2}) entries")
    for n, want, ss in zip(size, default, s):
        if not want - ss < n < want + ss:       # PyTorch's range of sizes that round to the input's
            raise OpError(f"{name}: output_size {size} must be within a stride {s} of the default {default}")
    return size


def _max_unpool(d, x, indices, kernel_size, stride, padding, output_size):
    return batched(d, lambda x, i: _max_unpool_batch(d, x, i, kernel_size, stride, padding, output_size),
                   x, indices)


def _max_unpool_batch(d, x, indices, kernel_size, stride, padding, output_size):
    name = f"max_unpool{d}d"
    if x.ndim != d + 2 or tuple(indices.shape) != tuple(x.shape):
        raise OpError(f"{name}: expected input (N, C, *spatial) with {d} spatial dims and indices of its "
                      f"shape, got {x.shape} and {indices.shape}")
    size = unpooled_size(name, x, d, kernel_size, stride, padding, output_size)
    n, c = x.shape[:2]
    plane = 1
    for v in size:
        plane *= v
    out = zeros(n, c, plane, dtype=x.dtype, device=x.device)
    return out.scatter(2, indices.reshape(n, c, -1), x.reshape(n, c, -1)).reshape(n, c, *size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool1d(return_indices=True): each value back at its index, zeros elsewhere."""
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool2d(return_indices=True): each value back at its index, zeros elsewhere."""
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool3d(return_indices=True)."""
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)
