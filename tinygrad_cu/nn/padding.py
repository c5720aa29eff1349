"""PyTorch's F.pad, behind tinygrad_cu.nn.functional.pad and Tensor.pad.

A composite of two ops: pad by the positive parts of the pads (the `pad` op for
mode='constant', ops/movement.py; the `pad_mode` op for 'reflect', 'replicate',
'circular', ops/pad_mode.py), then crop the negative parts with one slice (`getitem`).
That is PyTorch's order: pad first, crop after, so a negative pad removes padded or
original elements alike, and the reflect/circular size limits apply to the positive
pads only. Refusals are OpError (a ValueError that is also PyTorch's RuntimeError);
an unknown mode is NotImplementedError, as PyTorch.
"""
from ..autograd import apply
from ..errors import OpError

MODES = ("constant", "reflect", "replicate", "circular")


def pairs_from_flat(x, pad):
    """PyTorch's flat form (last dim first: (left, right, top, bottom, ...)) -> one
    (before, after) pair per dim, first dim first."""
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise OpError(f"pad: padding length must be even and at most 2 * {x.ndim} for an input of shape "
                         f"{x.shape}, got {len(pad)} values {pad}")
    pairs = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        pairs[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return pairs


def pad_pairs(x, pairs, mode="constant", value=None):
    """x padded by one (before, after) pair per dim; a negative pad crops."""
    if mode not in MODES:
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r} (one of {', '.join(MODES)})")
    if len(pairs) != x.ndim:
        raise OpError(f"pad: need one (before, after) pair per dim of {x.shape}, got {pairs}")
    if mode != "constant" and value not in (None, 0, 0.0):
        raise OpError(f"pad: padding mode {mode!r} does not take a value (got {value})")
    if mode == "circular" and any(a < 0 or b < 0 for a, b in pairs):
        raise NotImplementedError("pad: negative pads with mode='circular' are not supported "
                                  "(PyTorch's result there is not defined either)")
    grown = tuple((max(a, 0), max(b, 0)) for a, b in pairs)
    if mode == "constant":
        out = apply("pad", x, pad_width=grown, value=0.0 if value is None else float(value))
    else:
        out = apply("pad_mode", x, pad_width=grown, mode=mode)
    if all(a >= 0 and b >= 0 for a, b in pairs):
        return out
    crop = []
    for d, ((a, b), n) in enumerate(zip(pairs, out.shape)):
        start, stop = -min(a, 0), n + min(b, 0)
        if stop < start:
            raise OpError(f"pad: pads {pairs[d]} of dim {d} leave a negative size for input shape {x.shape}")
        crop.append(slice(start, stop))
    return out[tuple(crop)]
