// Sorting along one axis (ops/sort.py): argsort and argtopk, the indices behind sort,
// argsort and topk. Values are read afterwards by values_at (ops/values_at.cu).
//
// The host views x as rows x[o, :, i] of (outer, R, inner) and the output as rows of
// K indices (K = R for argsort, k for argtopk: the first k of the sorted order).
//
// Order: by value (ascending, or descending), NaN as the largest value (last ascending,
// first descending, as PyTorch), equal values by their original index. Comparing
// (value, index) makes every key distinct, so the result is the stable sort whatever
// `stable` says, and equal on every device.
//
// The network: bitonic sort over P = the next power of two >= R positions, the positions
// R..P-1 being padding that sorts after everything (an index >= R marks it). Stage k
// (2, 4, .., P) merges bitonic runs of length k, in steps j = k/2, .., 1: position a is
// compared with a + j, and the pair put in ascending order when bit k of a is 0, else in
// descending order. log2(P) (log2(P) + 1) / 2 steps, each P/2 independent
// compare-exchanges.
//
// argsort_rows_shared (R <= SORT_SHARED_MAX = 1024): one block per row (a block loops over
//   rows with stride gridDim.x); the row's P keys and indices live in shared memory (4 KiB
//   of floats, 8 KiB of int64). Thread t does the compare-exchanges t, t + blockDim.x, ..
//   of each step. Barriers: after the load (every key in place), after every step (the
//   next step pairs different positions, written by other threads), and after the row's
//   first K indices are written out (the next row's load overwrites them).
// Integer rows: argsort_rows_shared_i32/_i64 and argsort_step_i32/_i64 (end of file).
// Longer rows (R > 1024): the same network in global memory over a (rows, P) int64
//   scratch of indices that the host allocates: argsort_init writes 0..P-1, then one
//   launch of argsort_step per step (the launch boundary is the barrier), one thread per
//   compare-exchange of every row, keys read through the indices from x (no copy of the
//   keys); argsort_take copies each row's first K indices to the output. Slower
//   (uncoalesced key reads, many launches), and correct for any R.

#define SORT_SHARED_MAX 1024   // = SHARED_MAX in ops/sort.py

// Does (av, ai) come before (bv, bi)? Indices >= R are padding and come last.
__device__ __forceinline__ bool sorts_before(float av, long long ai, float bv, long long bi,
                                             long long R, int descending)
{
    if (ai >= R || bi >= R) return ai < bi;
    const bool an = av != av, bn = bv != bv;
    if (an || bn) return (an && bn) ? ai < bi : (descending ? an : bn);
    if (av != bv) return descending ? av > bv : av < bv;
    return ai < bi;
}

// The compare-exchange pair p (0 .. P/2 - 1) of step (k, j): positions a < b, and whether
// the pair must end ascending.
__device__ __forceinline__ void bitonic_pair(long long p, long long k, long long j, long long* a,
                                             long long* b, bool* up)
{
    *a = 2 * j * (p / j) + p % j;
    *b = *a + j;
    *up = (*a & k) == 0;
}

__global__ void argsort_rows_shared(const float* __restrict__ x, long long* __restrict__ out,
                                    long long outer, long long R, long long inner, long long K,
                                    long long P, int descending)
{
    __shared__ float keys[SORT_SHARED_MAX];
    __shared__ long long pos[SORT_SHARED_MAX];
    const long long t = threadIdx.x;
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {
        const long long o = q / inner, i = q % inner;
        for (long long p = t; p < P; p += blockDim.x) {
            keys[p] = p < R ? x[(o * R + p) * inner + i] : 0.0f;
            pos[p] = p;
        }
        __syncthreads();                               // the row is loaded
        for (long long k = 2; k <= P; k <<= 1) {
            for (long long j = k >> 1; j > 0; j >>= 1) {
                for (long long p = t; p < P / 2; p += blockDim.x) {
                    long long a, b;
                    bool up;
                    bitonic_pair(p, k, j, &a, &b, &up);
                    const bool b_first = sorts_before(keys[b], pos[b], keys[a], pos[a], R, descending);
                    if (b_first == up) {               // out of order for this pair's direction
                        const float kv = keys[a]; keys[a] = keys[b]; keys[b] = kv;
                        const long long pv = pos[a]; pos[a] = pos[b]; pos[b] = pv;
                    }
                }
                __syncthreads();                       // step done before the next pairs other positions
            }
        }
        for (long long p = t; p < K; p += blockDim.x)
            out[(o * K + p) * inner + i] = pos[p];
        __syncthreads();                               // written out before the next row's load
    }
}

// scratch[q, p] = p for every row q (rows * P elements)
__global__ void argsort_init(long long* __restrict__ scratch, long long rows, long long P)
{
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < rows * P;
         e += (long long)gridDim.x * blockDim.x)
        scratch[e] = e % P;
}

// One step (k, j) of the network on every row, keys read through the indices.
__global__ void argsort_step(const float* __restrict__ x, long long* __restrict__ scratch,
                             long long outer, long long R, long long inner, long long P,
                             long long k, long long j, int descending)
{
    const long long half = P / 2, n = outer * inner * half;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;
         e += (long long)gridDim.x * blockDim.x) {
        const long long q = e / half, o = q / inner, i = q % inner;
        long long a, b;
        bool up;
        bitonic_pair(e % half, k, j, &a, &b, &up);
        long long* row = scratch + q * P;
        const long long ia = row[a], ib = row[b];
        const float va = ia < R ? x[(o * R + ia) * inner + i] : 0.0f;
        const float vb = ib < R ? x[(o * R + ib) * inner + i] : 0.0f;
        if (sorts_before(vb, ib, va, ia, R, descending) == up) {
            row[a] = ib;
            row[b] = ia;
        }
    }
}

// out[o, j, i] = scratch[q, j] for j < K: each row's first K sorted indices.
__global__ void argsort_take(const long long* __restrict__ scratch, long long* __restrict__ out,
                             long long outer, long long inner, long long K, long long P)
{
    const long long n = outer * K * inner;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;
         e += (long long)gridDim.x * blockDim.x) {
        const long long o = e / (K * inner), j = (e / inner) % K, i = e % inner;
        out[e] = scratch[(o * inner + i) * P + j];
    }
}

// --- integer keys (int32, int64) ---------------------------------------------------------
// The same network, work mapping and barriers (after the load, after every step, after
// the write-out) with exact integer keys: a key is widened to long long, nothing passes
// through float (2^24 + 1 stays itself). Integers have no NaN, so the order is
// (value, index). Shared memory: P long long keys and P indices, 16 KiB for P = 1024.
// argsort_init and argsort_take move indices only and serve both. (The .cu is compiled as
// extern "C", as PyCUDA does: no templates, so one macro per dtype.)

// Does (av, ai) come before (bv, bi)? Indices >= R are padding and come last.
__device__ __forceinline__ bool int_sorts_before(long long av, long long ai, long long bv, long long bi,
                                                 long long R, int descending)
{
    if (ai >= R || bi >= R) return ai < bi;
    if (av != bv) return descending ? av > bv : av < bv;
    return ai < bi;
}

#define INT_SORT_KERNELS(SUFFIX, T)                                                                    \
    __global__ void argsort_rows_shared_##SUFFIX(const T* __restrict__ x, long long* __restrict__ out, \
                                                 long long outer, long long R, long long inner,        \
                                                 long long K, long long P, int descending)            \
    {                                                                                                  \
        __shared__ long long keys[SORT_SHARED_MAX];                                                    \
        __shared__ long long pos[SORT_SHARED_MAX];                                                     \
        const long long t = threadIdx.x;                                                               \
        for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {                            \
            const long long o = q / inner, i = q % inner;                                              \
            for (long long p = t; p < P; p += blockDim.x) {                                            \
                keys[p] = p < R ? (long long)x[(o * R + p) * inner + i] : 0;                           \
                pos[p] = p;                                                                            \
            }                                                                                          \
            __syncthreads();                               /* the row is loaded */                     \
            for (long long k = 2; k <= P; k <<= 1) {                                                   \
                for (long long j = k >> 1; j > 0; j >>= 1) {                                           \
                    for (long long p = t; p < P / 2; p += blockDim.x) {                                \
                        long long a, b;                                                                \
                        bool up;                                                                       \
                        bitonic_pair(p, k, j, &a, &b, &up);                                            \
                        if (int_sorts_before(keys[b], pos[b], keys[a], pos[a], R, descending) == up) { \
                            const long long kv = keys[a]; keys[a] = keys[b]; keys[b] = kv;             \
                            const long long pv = pos[a]; pos[a] = pos[b]; pos[b] = pv;                 \
                        }                                                                              \
                    }                                                                                  \
                    __syncthreads();                       /* step done before the next */             \
                }                                                                                      \
            }                                                                                          \
            for (long long p = t; p < K; p += blockDim.x)                                              \
                out[(o * K + p) * inner + i] = pos[p];                                                 \
            __syncthreads();                               /* written out before the next load */      \
        }                                                                                              \
    }                                                                                                  \
                                                                                                       \
    __global__ void argsort_step_##SUFFIX(const T* __restrict__ x, long long* __restrict__ scratch,    \
                                          long long outer, long long R, long long inner, long long P,  \
                                          long long k, long long j, int descending)                   \
    {                                                                                                  \
        const long long half = P / 2, n = outer * inner * half;                                        \
        for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;                    \
             e += (long long)gridDim.x * blockDim.x) {                                                 \
            const long long q = e / half, o = q / inner, i = q % inner;                                \
            long long a, b;                                                                            \
            bool up;                                                                                   \
            bitonic_pair(e % half, k, j, &a, &b, &up);                                                 \
            long long* row = scratch + q * P;                                                          \
            const long long ia = row[a], ib = row[b];                                                  \
            const long long va = ia < R ? (long long)x[(o * R + ia) * inner + i] : 0;                  \
            const long long vb = ib < R ? (long long)x[(o * R + ib) * inner + i] : 0;                  \
            if (int_sorts_before(vb, ib, va, ia, R, descending) == up) {                               \
                row[a] = ib;                                                                           \
                row[b] = ia;                                                                           \
            }                                                                                          \
        }                                                                                              \
    }

INT_SORT_KERNELS(i32, int)
INT_SORT_KERNELS(i64, long long)
