// any and all over any set of axes (ops/any_all.py): is some / every element nonzero?
//
// The same plan as ops/reduce.cu: on the host, size-1 dims are dropped and neighbouring
// dims of the same kind merged; each reduced group is one pass over a view
// (outer, R, inner) of a contiguous buffer, the last group first. The first pass reads
// the input's dtype (one kernel per dtype: any_f32, any_i64, ...; bool is read as u8)
// and writes 0/1 bytes; later passes read those bytes with the u8 kernel.
//
// One block per output element (a block loops over outputs with stride gridDim.x).
// Thread t turns x[o, r, i] for r = t, t + blockDim.x, ... into 1.0 (nonzero, NaN
// included, as C's != and PyTorch) or 0.0 and keeps the max (any) or min (all) in a
// register; block_reduce (ops/block_reduce.cuh) combines the blockDim.x partials: a tree
// in shared memory (blockDim.x floats) with a __syncthreads() after the first write and
// after each level, because each level reads what other warps wrote in the one before,
// then the last warp with shuffles. The loop over outputs is block-uniform, so every
// thread reaches every barrier. A thread with no element holds the identity (-inf for
// any, +inf for all), so "> 0.5" gives any() = false and all() = true for empty rows.
// Bandwidth bound: one compare per element read.
#include "block_reduce.cuh"

// (The .cu is compiled as extern "C", as PyCUDA does: no templates, so one macro per dtype.)
// NAME: y[q] = 1 if some (KIND REDUCE_MAX: any) / every (REDUCE_MIN: all) x[o, :, i] is nonzero.
#define TRUTH_KERNEL(NAME, KIND, T)                                                              \
    __global__ void NAME(const T* __restrict__ x, unsigned char* __restrict__ y, long long outer,  \
                         long long R, long long inner)                                           \
    {                                                                                            \
        __shared__ float buf[REDUCE_MAX_THREADS];                                                \
        for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {                      \
            const T* row = x + (q / inner) * R * inner + q % inner;                              \
            float v = reduce_identity(KIND);                                                     \
            for (long long r = threadIdx.x; r < R; r += blockDim.x)                              \
                v = reduce_combine(KIND, v, row[r * inner] != (T)0 ? 1.0f : 0.0f);               \
            v = block_reduce(KIND, v, buf);                                                      \
            if (threadIdx.x == 0) y[q] = v > 0.5f ? 1 : 0;                                       \
        }                                                                                        \
    }

#define TRUTH_KERNELS(SUFFIX, T)                \
    TRUTH_KERNEL(any_##SUFFIX, REDUCE_MAX, T)   \
    TRUTH_KERNEL(all_##SUFFIX, REDUCE_MIN, T)

TRUTH_KERNELS(f32, float)
TRUTH_KERNELS(i64, long long)
TRUTH_KERNELS(i32, int)
TRUTH_KERNELS(u8, unsigned char)
