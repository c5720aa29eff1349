// Block-wide reduction shared by ops/reduce.cu and ops/softmax.cu (#include'd).
//
// block_reduce(kind, v, buf): every thread of the block brings one float v; thread 0
// gets their sum / max / min / product. blockDim.x must be a power of two in [32, 256] and buf
// a __shared__ float[blockDim.x].
//   1. every thread writes its value to buf; __syncthreads() so all are visible;
//   2. a tree in shared memory halves the active threads each level until 32 remain;
//      __syncthreads() after each level, because the next level reads what this one
//      wrote (in other warps);
//   3. the last 32 partials are in one warp: five __shfl_down_sync steps combine them
//      in registers, no barrier needed inside a warp.
// No barrier at the end: a next call's first write buf[t] = v conflicts with nothing
// (warp 0 reads only buf[lane] in step 3).
#pragma once

#define REDUCE_MAX_THREADS 256   // = MAX_THREADS in ops/reduce.py
#define WARP_SIZE 32
#define FULL_MASK 0xffffffffu

#define REDUCE_SUM 0
#define REDUCE_MAX 1
#define REDUCE_MIN 2
#define REDUCE_PROD 3   // prod (ops/reduce.py)

// a (+ | max | min | *) b. max/min propagate NaN as numpy does: a NaN operand wins.
__device__ __forceinline__ float reduce_combine(int kind, float a, float b)
{
    if (kind == REDUCE_SUM) return a + b;
    if (kind == REDUCE_PROD) return a * b;
    if (kind == REDUCE_MAX) return (a > b || a != a) ? a : b;
    return (a < b || a != a) ? a : b;
}

// The value that changes nothing: 0, -inf, +inf or 1 (for threads with no element).
__device__ __forceinline__ float reduce_identity(int kind)
{
    if (kind == REDUCE_SUM) return 0.0f;
    if (kind == REDUCE_PROD) return 1.0f;
    return kind == REDUCE_MAX ? -INFINITY : INFINITY;
}

// Combine one value per thread over the block; the result is returned in thread 0.
__device__ __forceinline__ float block_reduce(int kind, float v, float* buf)
{
    const unsigned t = threadIdx.x;
    buf[t] = v;
    __syncthreads();                                   // all partials written
    for (unsigned s = blockDim.x / 2; s >= WARP_SIZE; s >>= 1) {
        if (t < s) buf[t] = reduce_combine(kind, buf[t], buf[t + s]);
        __syncthreads();                               // level done before the next reads it
    }
    if (t < WARP_SIZE) {
        v = buf[t];
        for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1)
            v = reduce_combine(kind, v, __shfl_down_sync(FULL_MASK, v, offset));
    }
    return v;
}
