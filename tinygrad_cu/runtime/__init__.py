"""Drivers: the layer between a device and the machine that runs its CUDA kernels.

A driver is a module with PyCUDA's names (`SourceModule`, `mem_alloc`, `memcpy_htod`,
`memcpy_dtoh`, `memset_d8`, `In`/`Out`/`InOut`, `Context`, ...). The `cuda` device uses
PyCUDA itself (`pycuda.driver` + `pycuda.compiler`); the `emu` device uses
`tinygrad_cu.runtime.emu`, which compiles the very same .cu source with g++ and runs it
on the CPU with CUDA's semantics. Code above this layer cannot tell them apart.

This package imports nothing from the rest of tinygrad_cu, so it works (and its tests
run) whatever state the rest of the package is in.
"""
