"""tg.memory_stats(device): what a device's memory pool holds and what is in use.

A lite torch.cuda.memory_stats. On `emu` and `cuda` the numbers come from the device's
pool (pycuda.tools.DeviceMemoryPool or the emulator's mirror, runtime/emu_tools.py);
keys:
    device         the device's name
    allocator      the pool's class ("numpy" on cpu)
    active_bytes   bytes requested by live buffers (tensors, saved activations, caches)
    active_blocks  number of live buffers' blocks
    held_bytes     bytes of unused blocks the pool keeps for reuse (None where the pool
                   does not report it)
    held_blocks    number of those blocks
    managed_bytes  all device memory the pool has from the driver: the live blocks,
                   each rounded up to its bin (at most 25% more), plus the held ones
On cpu numpy owns the memory (arrays are freed when they die, there is no pool): the
counts are None and `note` says so.
"""
from . import get_device


def memory_stats(device=None):
    dev = get_device(device)
    if hasattr(dev, "memory_stats"):
        return dev.memory_stats()
    raise TypeError(f"memory_stats: device {dev.name!r} does not report its memory")
