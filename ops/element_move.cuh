// Moving elements of any dtype, one thread per element: shared by gather.cu, scatter.cu
// (through index_tensor.cuh) and rearrange.cu. No shared memory, no barriers.
#pragma once

// i = this thread's elements of 0 .. n - 1: a grid-stride loop, so a capped grid covers any n
#define GRID_LOOP(i, n) \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

// Move one element of `esize` bytes: dst[i] = src[j]. The kernels that only move data
// serve every dtype by size (1: bool/uint8, 4: float32/int32, 8: int64); esize is the
// same for every thread of a launch, so the switch never diverges.
__device__ __forceinline__ void move_element(void* dst, long long i, const void* src, long long j, int esize)
{
    switch (esize) {
    case 8: static_cast<unsigned long long*>(dst)[i] = static_cast<const unsigned long long*>(src)[j]; break;
    case 4: static_cast<unsigned int*>(dst)[i] = static_cast<const unsigned int*>(src)[j]; break;
    default: static_cast<unsigned char*>(dst)[i] = static_cast<const unsigned char*>(src)[j]; break;
    }
}

// dst[i] = 0 in a dtype of `esize` bytes (all-zero bits are 0 in every dtype here).
__device__ __forceinline__ void store_zero(void* dst, long long i, int esize)
{
    switch (esize) {
    case 8: static_cast<unsigned long long*>(dst)[i] = 0ull; break;
    case 4: static_cast<unsigned int*>(dst)[i] = 0u; break;
    default: static_cast<unsigned char*>(dst)[i] = 0; break;
    }
}

