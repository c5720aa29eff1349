"""The emulator's DeviceMemoryPool (runtime/emu_tools.py, the semantics of
pycuda.tools.DeviceMemoryPool) and GPUDevice's use of it. Expected values are worked
out by hand from PyCUDA's bin rule (4 bins per power of two), and driver allocations
are counted by wrapping emu.mem_alloc."""
import gc

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.runtime import emu
from tinygrad_cu.runtime.emu_tools import DeviceMemoryPool, LogicError

from conftest import device_or_skip


@pytest.fixture
def allocations(monkeypatch):
    """The sizes of the driver allocations made while the test runs."""
    sizes, real = [], emu.mem_alloc
    monkeypatch.setattr(emu, "mem_alloc", lambda n: (sizes.append(n), real(n))[1])
    return sizes


def test_bins_round_up_by_at_most_a_quarter():
    # 1000 = 0b1111101000: the top three bits 111 at exponent 9 -> blocks up to 0b1111111111
    assert DeviceMemoryPool.alloc_size(DeviceMemoryPool.bin_number(1000)) == 1023
    assert DeviceMemoryPool.alloc_size(DeviceMemoryPool.bin_number(1024)) == 1279     # 0b10011111111
    assert DeviceMemoryPool.alloc_size(DeviceMemoryPool.bin_number(1)) == 1
    assert DeviceMemoryPool.alloc_size(DeviceMemoryPool.bin_number(5)) == 5
    for n in range(1, 5000):
        block = DeviceMemoryPool.alloc_size(DeviceMemoryPool.bin_number(n))
        assert n <= block <= 1.25 * n + 1 and DeviceMemoryPool.bin_number(block) == DeviceMemoryPool.bin_number(n)


def test_a_freed_block_is_reused_by_the_next_request_of_its_bin(allocations):
    pool = DeviceMemoryPool(exact=False)
    a = pool.allocate(1000)
    address = int(a)
    assert len(a) == 1000 and allocations == [1023]
    assert (pool.active_blocks, pool.held_blocks, pool.active_bytes, pool.managed_bytes) == (1, 0, 1000, 1023)
    del a                                              # garbage-collected: back to the pool
    assert (pool.active_blocks, pool.held_blocks, pool.active_bytes, pool.managed_bytes) == (0, 1, 0, 1023)
    b = pool.allocate(900)                             # same bin (896..1023)
    assert int(b) == address and allocations == [1023]
    c = pool.allocate(900)                             # the bin is empty now: a new block
    assert int(c) != address and allocations == [1023, 1023]
    d = pool.allocate(2000)                            # another bin
    assert allocations == [1023, 1023, 2047]
    b.free()
    with pytest.raises(LogicError):
        b.free()                                       # PyCUDA refuses a second free too
    with pytest.raises(LogicError):
        int(b)
    assert (pool.active_blocks, pool.held_blocks) == (2, 1)
    del c, d


def test_free_held_and_stop_holding_give_memory_back(allocations):
    pool = DeviceMemoryPool(exact=False)
    blocks = [pool.allocate(n) for n in (100, 200, 300)]
    del blocks
    gc.collect()
    assert pool.held_blocks == 3 and pool.managed_bytes == 111 + 223 + 319
    pool.free_held()
    assert (pool.held_blocks, pool.managed_bytes) == (0, 0)
    keep = pool.allocate(100)
    pool.stop_holding()
    del keep
    assert (pool.held_blocks, pool.active_blocks, pool.managed_bytes) == (0, 0, 0)
    pool.allocate(100)                                  # still allocates, never holds
    assert pool.held_blocks == 0 and len(allocations) == 5


def test_exact_pool_for_bounds_mode_neither_rounds_nor_holds(allocations):
    pool = DeviceMemoryPool(exact=True)
    a = pool.allocate(1000)
    assert allocations == [1000]                        # an overrun by one byte is ASan's to see
    del a
    assert pool.held_blocks == 0 and pool.managed_bytes == 0
    pool.allocate(1000)
    assert allocations == [1000, 1000]                  # a fresh block: a use after free is seen too


def test_bounds_mode_environment_makes_the_pool_exact(monkeypatch):
    monkeypatch.setenv("TINYGRAD_CU_EMU_CHECK", "bounds")
    assert DeviceMemoryPool().exact
    monkeypatch.delenv("TINYGRAD_CU_EMU_CHECK")
    assert not DeviceMemoryPool().exact


def test_zero_bytes_are_refused():
    with pytest.raises(LogicError):
        DeviceMemoryPool().allocate(0)


def test_driver_copies_check_the_room_of_a_pooled_allocation():
    a = DeviceMemoryPool(exact=False).allocate(8)      # the block has 8 bytes
    emu.memcpy_htod(a, np.arange(2, dtype=np.float32))
    with pytest.raises(ValueError):
        emu.memcpy_htod(a, np.arange(3, dtype=np.float32))   # 12 bytes do not fit in 8 requested


def test_a_dead_tensor_returns_its_memory_to_the_pool(allocations):
    device_or_skip("emu")
    gc.collect()
    tg.get_device("emu").pool.free_held()              # nothing held from earlier tests
    x = tg.zeros(1000, device="emu")                   # the bin's first block
    del x
    before = tg.memory_stats("emu")
    y = tg.zeros(1000, device="emu")
    during = tg.memory_stats("emu")
    del y
    after = tg.memory_stats("emu")
    assert allocations == [4095]                        # only the first tensor went to the driver
    assert during["active_bytes"] == before["active_bytes"] + 4000
    assert during["held_blocks"] == before["held_blocks"] - 1
    assert after == before


def test_memory_stats_keys_on_every_device():
    keys = {"device", "allocator", "active_bytes", "active_blocks", "held_bytes", "held_blocks", "managed_bytes"}
    cpu = tg.memory_stats("cpu")
    assert keys <= set(cpu) and "numpy" in cpu["note"]
    device_or_skip("emu")
    stats = tg.memory_stats("emu")
    assert keys <= set(stats) and stats["allocator"].endswith("emu_tools.DeviceMemoryPool")
    assert stats["managed_bytes"] >= stats["active_bytes"] + stats["held_bytes"]
