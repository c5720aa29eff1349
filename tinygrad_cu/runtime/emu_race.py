"""Race mode: run one launch under several thread orders and compare the results.

On a GPU the threads of a block run in an order nobody controls; a kernel that is
missing a __syncthreads() can be right in one order and wrong in another, and no single
order exposes every missing barrier (a tree reduction without its barrier is right in
reverse order). So each launch runs three times from the same inputs:

    forward order, shared memory poisoned with 0xFF bytes (NaN as float, -1 as int)
    reverse order, shared memory poisoned with 0x7F bytes (3.4e38, a large int)
    random order,  shared memory poisoned with 0xFF bytes

Blocks run serially, so only the order of threads within a block changes. Any buffer
the kernel can see that differs between runs means a race, or a read of shared memory
that no thread wrote (the two poisons differ). Races *between* blocks are not covered.
"""
import ctypes

import numpy as np

from .emu_launch import (FLAG_POISON, FLAG_SERIAL, ORDER_FORWARD, ORDER_RANDOM, ORDER_REVERSE,
                         POISON_SHIFT, SEED_SHIFT, RaceError)
from .emu_memory import live_allocations

SCHEDULES = (("forward", ORDER_FORWARD, 0xFF), ("reverse", ORDER_REVERSE, 0x7F), ("random", ORDER_RANDOM, 0xFF))


def schedule_flags(order, poison, seed):
    return order | FLAG_POISON | FLAG_SERIAL | (poison << POISON_SHIFT) | ((seed & 0x7FFF) << SEED_SHIFT)


def buffers_of(params, args, addresses):
    """(parameter, address, nbytes, dtype) of every buffer a launch passes."""
    found = []
    for p, a, address in zip(params, args, addresses):
        if p.kind != 0 or not address:
            continue
        a = getattr(a, "array", a)  # In/Out/InOut
        if isinstance(a, np.ndarray):
            found.append((p, address, a.nbytes, a.dtype))
            continue
        # a DeviceAllocation, or an address in one. dict.copy() runs no Python code while it
        # copies, so a buffer freed by the garbage collector mid-loop cannot change it
        for start, size in live_allocations.copy().items():
            if start <= address < start + size:
                dtype = np.dtype(np.float32) if p.is_float_buffer() else None
                found.append((p, address, start + size - address, dtype))
                break
    return found


def differences(dtype, first, other):
    """Number of differing elements and the first one, or None if the runs agree."""
    if first == other:
        return None
    if dtype is not None and dtype.kind == "f":
        a, b = np.frombuffer(first, dtype), np.frombuffer(other, dtype)
        close = np.isclose(a, b, rtol=1e-4, atol=1e-6, equal_nan=True)  # atomics may reorder sums
        if close.all():
            return None
        i = int(np.argmin(close))
        return int((~close).sum()), i, a[i], b[i]
    itemsize = dtype.itemsize if dtype is not None else 1
    a = np.frombuffer(first, np.uint8).reshape(-1, itemsize) if len(first) % itemsize == 0 else np.frombuffer(first, np.uint8)[:, None]
    b = np.frombuffer(other, np.uint8).reshape(a.shape)
    bad = (a != b).any(axis=1)
    i = int(np.argmax(bad))
    return int(bad.sum()), i, "bytes " + a[i].tobytes().hex(), "bytes " + b[i].tobytes().hex()


def run_checked(kernel, launch, buffers, seed):
    """Call launch(flags) once per schedule from the same starting buffers; raise
    RaceError naming the kernel if any buffer ends differently. The buffers keep the
    last run's results."""
    start = [ctypes.string_at(address, n) for _, address, n, _ in buffers]
    results = []
    for name, order, poison in SCHEDULES:
        for (_, address, n, _), saved in zip(buffers, start):
            ctypes.memmove(address, saved, n)
        launch(schedule_flags(order, poison, seed))
        results.append((name, [ctypes.string_at(address, n) for _, address, n, _ in buffers]))
    first_name, first = results[0]
    for name, result in results[1:]:
        for (p, _, _, dtype), x, y in zip(buffers, first, result):
            diff = differences(dtype, x, y)
            if diff:
                count, i, vx, vy = diff
                raise RaceError(
                    f"race check failed in kernel {p.kernel!r}: argument {p.index} (`{p.text}`) differs "
                    f"between thread orders {first_name} and {name} at {count} element(s), first at "
                    f"index {i} ({vx} vs {vy}). A __syncthreads() is missing, or the kernel reads "
                    f"shared memory that no thread wrote.")
