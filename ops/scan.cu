// Cumulative ops along one axis (ops/scan.py): cumsum, cumprod (forward and backward),
// argcummax, argcummin (the indices behind cummax / cummin).
//
// The host views x as rows x[o, :, i] of a (outer, R, inner) buffer (inner = 1 when the
// axis is the last one). One block per row; a block loops over rows with stride
// gridDim.x. The row is scanned in chunks of blockDim.x elements, chunk c covering
// r = c .. c + blockDim.x - 1: thread t loads element c + t, the block computes the
// inclusive scan of the chunk in shared memory (block_scan: Hillis and Steele, log2 of
// blockDim.x levels; at level d thread t combines its value with that of thread t - d),
// and `carry`, the scan of all earlier chunks, is combined in front. The chunk loop is
// block-uniform, so every thread reaches every barrier.
//
// Shared memory: blockDim.x floats (cumsum, cumprod), or blockDim.x floats and
// blockDim.x int64 indices (argcummax/argcummin: pairs (value, index)).
// Barriers in block_scan: after the first write (every value visible); at each level one
// after the reads and before the writes (no thread overwrites a value that another has
// not read yet), and one after the writes (the level is complete before the next reads
// it). After a chunk, one more barrier: every thread has read the chunk's total from
// the last slot before the next chunk's first write overwrites it.
//
// argcummax combine (earlier a, later b): b wins when b is NaN or b >= a (PyTorch: ties
// and NaN take the later index; after a NaN, the NaN stays); argcummin the same with <=.
// That is the maximum under a total order (NaN highest, then value, then index), so
// the combine is associative and chunking and the tree give the serial answer.
//
// cumsum_backward: dx = the reverse cumulative sum of grad: the same scan, the row read
// from its end. cumprod_backward: one thread per row (serial along the row, rows in
// parallel, no shared memory): with z the first zero of the row (R if none),
//   dx_r = (sum_{k >= r} g_k y_k) / x_r        for r < z (the sum stops at z: y_k = 0 beyond)
//   dx_z = y_{z-1} * sum_{k >= z} g_k prod_{z < j <= k} x_j
//   dx_r = 0                                    for r > z (the product includes x_z = 0)
// which is PyTorch's gradient, exact with zeros (no 0/0).
// Work: O(R log blockDim.x) per row for the scans (Hillis-Steele does log2 times the
// adds of a serial scan, in exchange for all threads working); bandwidth bound.
#include "block_reduce.cuh"

#define SCAN_IDENTITY(kind) ((kind) == REDUCE_SUM ? 0.0f : 1.0f)

// Inclusive scan over the block (REDUCE_SUM or REDUCE_PROD): thread t returns v_0 o .. o v_t;
// buf[blockDim.x - 1] holds the chunk's total afterwards.
__device__ __forceinline__ float block_scan(int kind, float v, float* buf)
{
    const unsigned t = threadIdx.x;
    buf[t] = v;
    __syncthreads();                                   // every value written
    for (unsigned d = 1; d < blockDim.x; d <<= 1) {
        const float left = t >= d ? buf[t - d] : SCAN_IDENTITY(kind);
        __syncthreads();                               // all reads of this level done
        v = reduce_combine(kind, left, v);
        buf[t] = v;
        __syncthreads();                               // level written before the next reads it
    }
    return v;
}

// y[o, :, i] = inclusive scan of x[o, :, i] (reverse: from the row's end).
__device__ __forceinline__ void scan_rows(int kind, bool reverse, const float* __restrict__ x,
                                          float* __restrict__ y, long long outer, long long R,
                                          long long inner)
{
    __shared__ float buf[REDUCE_MAX_THREADS];
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {
        const long long base = (q / inner) * R * inner + q % inner;
        float carry = SCAN_IDENTITY(kind);
        for (long long c = 0; c < R; c += blockDim.x) {
            const long long r = c + threadIdx.x;
            const long long at = base + (reverse ? R - 1 - r : r) * inner;
            float v = block_scan(kind, r < R ? x[at] : SCAN_IDENTITY(kind), buf);
            if (r < R) y[at] = reduce_combine(kind, carry, v);
            carry = reduce_combine(kind, carry, buf[blockDim.x - 1]);
            __syncthreads();                           // total read before the next chunk writes buf
        }
    }
}

// y = cumsum(x) along the middle axis of (outer, R, inner)
__global__ void cumsum_forward(const float* x, float* y, long long outer, long long R, long long inner)
{
    scan_rows(REDUCE_SUM, false, x, y, outer, R, inner);
}

// dx = reverse cumsum of grad along the middle axis
__global__ void cumsum_backward(const float* grad, float* dx, long long outer, long long R, long long inner)
{
    scan_rows(REDUCE_SUM, true, grad, dx, outer, R, inner);
}

// y = cumprod(x) along the middle axis
__global__ void cumprod_forward(const float* x, float* y, long long outer, long long R, long long inner)
{
    scan_rows(REDUCE_PROD, false, x, y, outer, R, inner);
}

// One thread per row: the gradient of cumprod (formulas in the header), y the saved output.
__global__ void cumprod_backward(const float* __restrict__ x, const float* __restrict__ y,
                                 const float* __restrict__ grad, float* __restrict__ dx,
                                 long long outer, long long R, long long inner)
{
    for (long long q = blockIdx.x * (long long)blockDim.x + threadIdx.x; q < outer * inner;
         q += (long long)gridDim.x * blockDim.x) {
        const long long base = (q / inner) * R * inner + q % inner;
        long long z = 0;
        while (z < R && x[base + z * inner] != 0.0f) ++z;
        float s = 0.0f;                                // sum_{r <= k < z} g_k y_k
        for (long long r = z - 1; r >= 0; --r) {
            s += grad[base + r * inner] * y[base + r * inner];
            dx[base + r * inner] = s / x[base + r * inner];
        }
        if (z < R) {
            float run = 1.0f, t = 0.0f;                // run = prod_{z < j <= k} x_j
            for (long long k = z; k < R; ++k) {
                if (k > z) run *= x[base + k * inner];
                t += grad[base + k * inner] * run;
            }
            dx[base + z * inner] = (z > 0 ? y[base + (z - 1) * inner] : 1.0f) * t;
            for (long long r = z + 1; r < R; ++r) dx[base + r * inner] = 0.0f;
        }
    }
}

// Does the later pair (bv, bi) win over the earlier (av, ai)? sign 1: cummax, -1: cummin.
__device__ __forceinline__ bool later_wins(float sign, float av, float bv)
{
    return bv != bv || (av == av && sign * bv >= sign * av);
}

// idx[o, r, i] = index of the running max (sign 1) / min (sign -1) of x[o, :r+1, i].
__device__ __forceinline__ void argscan_rows(float sign, const float* __restrict__ x,
                                             long long* __restrict__ idx, long long outer, long long R,
                                             long long inner)
{
    __shared__ float vals[REDUCE_MAX_THREADS];
    __shared__ long long idxs[REDUCE_MAX_THREADS];
    const unsigned t = threadIdx.x;
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {
        const long long base = (q / inner) * R * inner + q % inner;
        float carry_v = sign * -INFINITY;               // loses to every element
        long long carry_i = -1;
        for (long long c = 0; c < R; c += blockDim.x) {
            const long long r = c + t;
            float v = r < R ? x[base + r * inner] : sign * -INFINITY;
            long long iv = r < R ? r : -1;
            vals[t] = v;
            idxs[t] = iv;
            __syncthreads();                           // every pair written
            for (unsigned d = 1; d < blockDim.x; d <<= 1) {
                float lv = sign * -INFINITY;
                long long li = -1;
                if (t >= d) { lv = vals[t - d]; li = idxs[t - d]; }
                __syncthreads();                       // all reads of this level done
                if (t >= d && !later_wins(sign, lv, v)) { v = lv; iv = li; }
                vals[t] = v;
                idxs[t] = iv;
                __syncthreads();                       // level written before the next reads it
            }
            if (r < R) idx[base + r * inner] = later_wins(sign, carry_v, v) ? iv : carry_i;
            const float tv = vals[blockDim.x - 1];
            const long long ti = idxs[blockDim.x - 1];
            if (c + blockDim.x <= R && later_wins(sign, carry_v, tv)) { carry_v = tv; carry_i = ti; }
            __syncthreads();                           // total read before the next chunk writes
        }
    }
}

// The same scan for int32 / int64 x (cummax / cummin of integer tensors), exact: no
// sentinel value exists that loses to every integer, so an index of -1 marks "no element
// yet" (the carry before the row, the padding past R), and it loses to every element.
// Does the later (bi, bv) win over the earlier (ai, av)? Ties take the later index.
#define INT_ARGSCAN(SUFFIX, T)                                                                     \
__device__ __forceinline__ bool later_wins##SUFFIX(int sign, long long ai, T av, long long bi, T bv) \
{                                                                                                  \
    if (bi < 0) return ai < 0;                                                                     \
    if (ai < 0) return true;                                                                       \
    return sign > 0 ? bv >= av : bv <= av;                                                         \
}                                                                                                  \
__device__ __forceinline__ void argscan_rows##SUFFIX(int sign, const T* __restrict__ x,            \
                                                     long long* __restrict__ idx, long long outer, \
                                                     long long R, long long inner)                 \
{                                                                                                  \
    __shared__ T vals[REDUCE_MAX_THREADS];                                                         \
    __shared__ long long idxs[REDUCE_MAX_THREADS];                                                 \
    const unsigned t = threadIdx.x;                                                                \
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {                            \
        const long long base = (q / inner) * R * inner + q % inner;                                \
        T carry_v = 0;                                                                             \
        long long carry_i = -1;                         /* no element yet */                       \
        for (long long c = 0; c < R; c += blockDim.x) {                                            \
            const long long r = c + t;                                                             \
            T v = r < R ? x[base + r * inner] : (T)0;                                              \
            long long iv = r < R ? r : -1;                                                         \
            vals[t] = v;                                                                           \
            idxs[t] = iv;                                                                          \
            __syncthreads();                            /* every pair written */                   \
            for (unsigned d = 1; d < blockDim.x; d <<= 1) {                                        \
                T lv = 0;                                                                          \
                long long li = -1;                                                                 \
                if (t >= d) { lv = vals[t - d]; li = idxs[t - d]; }                                \
                __syncthreads();                        /* all reads of this level done */         \
                if (t >= d && !later_wins##SUFFIX(sign, li, lv, iv, v)) { v = lv; iv = li; }       \
                vals[t] = v;                                                                       \
                idxs[t] = iv;                                                                      \
                __syncthreads();                        /* level written before the next reads */  \
            }                                                                                      \
            if (r < R) idx[base + r * inner] = later_wins##SUFFIX(sign, carry_i, carry_v, iv, v) ? iv : carry_i; \
            const T tv = vals[blockDim.x - 1];                                                     \
            const long long ti = idxs[blockDim.x - 1];                                             \
            if (c + blockDim.x <= R && later_wins##SUFFIX(sign, carry_i, carry_v, ti, tv)) {       \
                carry_v = tv; carry_i = ti;                                                        \
            }                                                                                      \
            __syncthreads();                            /* total read before the next chunk */     \
        }                                                                                          \
    }                                                                                              \
}                                                                                                  \
__global__ void argcummax##SUFFIX##_forward(const T* x, long long* idx, long long outer, long long R, \
                                            long long inner) {                                     \
    argscan_rows##SUFFIX(1, x, idx, outer, R, inner);                                              \
}                                                                                                  \
__global__ void argcummin##SUFFIX##_forward(const T* x, long long* idx, long long outer, long long R, \
                                            long long inner) {                                     \
    argscan_rows##SUFFIX(-1, x, idx, outer, R, inner);                                             \
}

typedef long long argscan_i64;
INT_ARGSCAN(_i32, int)
INT_ARGSCAN(_i64, argscan_i64)

// indices of cummax along the middle axis of (outer, R, inner)
__global__ void argcummax_forward(const float* x, long long* idx, long long outer, long long R, long long inner)
{
    argscan_rows(1.0f, x, idx, outer, R, inner);
}

// indices of cummin along the middle axis of (outer, R, inner)
__global__ void argcummin_forward(const float* x, long long* idx, long long outer, long long R, long long inner)
{
    argscan_rows(-1.0f, x, idx, outer, R, inner);
}

// --- integer rows: cumsum and cumprod of integers and bool (PyTorch's result: int64) ----
// The same chunked Hillis-Steele scan and the same barriers as block_scan / scan_rows,
// on 64-bit values in shared memory (blockDim.x of them). The input is read by its element
// size (esize 8: int64, 4: int32, 1: uint8 / bool; the same for every thread of a launch,
// so the switch never diverges) and widened to 64 bits, so int32 rows need no cast kernel.
// The arithmetic is unsigned, so an overflow wraps around in two's complement as
// PyTorch's does (a signed overflow would be undefined behaviour in C++).
__device__ __forceinline__ unsigned long long combine_u64(int kind, unsigned long long a, unsigned long long b)
{
    return kind == REDUCE_SUM ? a + b : a * b;
}

__device__ __forceinline__ unsigned long long load_integer(const void* x, long long i, int esize)
{
    switch (esize) {
    case 8: return (unsigned long long)static_cast<const long long*>(x)[i];
    case 4: return (unsigned long long)(long long)static_cast<const int*>(x)[i];      // sign-extended
    default: return static_cast<const unsigned char*>(x)[i];
    }
}

__device__ __forceinline__ void scan_rows_integer(int kind, const void* __restrict__ x, long long* __restrict__ y,
                                                  long long outer, long long R, long long inner, int esize)
{
    __shared__ unsigned long long ibuf[REDUCE_MAX_THREADS];
    const unsigned t = threadIdx.x;
    const unsigned long long identity = kind == REDUCE_SUM ? 0ull : 1ull;
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {
        const long long base = (q / inner) * R * inner + q % inner;
        unsigned long long carry = identity;
        for (long long c = 0; c < R; c += blockDim.x) {
            const long long r = c + t;
            unsigned long long v = r < R ? load_integer(x, base + r * inner, esize) : identity;
            ibuf[t] = v;
            __syncthreads();                           // every value written
            for (unsigned d = 1; d < blockDim.x; d <<= 1) {
                const unsigned long long left = t >= d ? ibuf[t - d] : identity;
                __syncthreads();                       // all reads of this level done
                v = combine_u64(kind, left, v);
                ibuf[t] = v;
                __syncthreads();                       // level written before the next reads it
            }
            if (r < R) y[base + r * inner] = (long long)combine_u64(kind, carry, v);
            carry = combine_u64(kind, carry, ibuf[blockDim.x - 1]);
            __syncthreads();                           // total read before the next chunk writes
        }
    }
}

// y (int64) = cumsum(x) of integer rows along the middle axis of (outer, R, inner)
__global__ void cumsum_int_forward(const void* x, long long* y, long long outer, long long R, long long inner,
                                   int esize)
{
    scan_rows_integer(REDUCE_SUM, x, y, outer, R, inner, esize);
}

// y (int64) = cumprod(x) of integer rows
__global__ void cumprod_int_forward(const void* x, long long* y, long long outer, long long R, long long inner,
                                    int esize)
{
    scan_rows_integer(REDUCE_PROD, x, y, outer, R, inner, esize);
}
