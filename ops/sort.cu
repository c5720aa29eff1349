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
// Longer rows (R > 1024): the same network in global memory over a (rows, P) int64
//   scratch of indices that the host allocates: argsort_init writes 0..P-1, then one
//   launch of argsort_step per step (the launch boundary is the barrier), one thread per
//   compare-exchange of every row, keys read through the indices from x (no copy of the
//   keys); argsort_take copies each row's first K indices to the output. Slower
//   (uncoalesced key reads, many launches), and correct for any R.

#define SORT_SHARED_MAX 1024   // = SHARED_MAX in ops/sort.py

// Does (av, ai) come before (bv, bi)? Indices >= R are padding and come last. One
// function per key type (the file is compiled inside extern "C": macros, not templates);
// for integer keys v != v is never true, so the NaN rule drops out.
#define SORTS_BEFORE(NAME, T)                                                                      \
__device__ __forceinline__ bool NAME(T av, long long ai, T bv, long long bi, long long R, int descending) \
{                                                                                                  \
    if (ai >= R || bi >= R) return ai < bi;                                                        \
    const bool an = av != av, bn = bv != bv;                                                       \
    if (an || bn) return (an && bn) ? ai < bi : (descending ? an : bn);                            \
    if (av != bv) return descending ? av > bv : av < bv;                                           \
    return ai < bi;                                                                                \
}
SORTS_BEFORE(sorts_before, float)

// The compare-exchange pair p (0 .. P/2 - 1) of step (k, j): positions a < b, and whether
// the pair must end ascending.
__device__ __forceinline__ void bitonic_pair(long long p, long long k, long long j, long long* a,
                                             long long* b, bool* up)
{
    *a = 2 * j * (p / j) + p % j;
    *b = *a + j;
    *up = (*a & k) == 0;
}

// scratch[q, p] = p for every row q (rows * P elements)
__global__ void argsort_init(long long* __restrict__ scratch, long long rows, long long P)
{
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < rows * P;
         e += (long long)gridDim.x * blockDim.x)
        scratch[e] = e % P;
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

// The two kernels that read keys, for one key type T (SUFFIX: "" float, _i32, _i64):
// argsort_rows_shared* and argsort_step*, one step (k, j) of the network on every row,
// keys read through the indices.
#define SORT_KERNELS(SUFFIX, T, SORTS)                                                                        \
__global__ void argsort_rows_shared##SUFFIX(const T* __restrict__ x, long long* __restrict__ out,             \
                                    long long outer, long long R, long long inner, long long K,               \
                                    long long P, int descending)                                              \
{                                                                                                             \
    __shared__ T keys[SORT_SHARED_MAX];                                                                       \
    __shared__ long long pos[SORT_SHARED_MAX];                                                                \
    const long long t = threadIdx.x;                                                                          \
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {                                       \
        const long long o = q / inner, i = q % inner;                                                         \
        for (long long p = t; p < P; p += blockDim.x) {                                                       \
            keys[p] = p < R ? x[(o * R + p) * inner + i] : (T)0;                                              \
            pos[p] = p;                                                                                       \
        }                                                                                                     \
        __syncthreads();                               /* the row is loaded */                                \
        for (long long k = 2; k <= P; k <<= 1) {                                                              \
            for (long long j = k >> 1; j > 0; j >>= 1) {                                                      \
                for (long long p = t; p < P / 2; p += blockDim.x) {                                           \
                    long long a, b;                                                                           \
                    bool up;                                                                                  \
                    bitonic_pair(p, k, j, &a, &b, &up);                                                       \
                    const bool b_first = SORTS(keys[b], pos[b], keys[a], pos[a], R, descending);              \
                    if (b_first == up) {               /* out of order for this pair's direction */           \
                        const T kv = keys[a]; keys[a] = keys[b]; keys[b] = kv;                                \
                        const long long pv = pos[a]; pos[a] = pos[b]; pos[b] = pv;                            \
                    }                                                                                         \
                }                                                                                             \
                __syncthreads();                       /* step done before the next pairs other positions */  \
            }                                                                                                 \
        }                                                                                                     \
        for (long long p = t; p < K; p += blockDim.x)                                                         \
            out[(o * K + p) * inner + i] = pos[p];                                                            \
        __syncthreads();                               /* written out before the next row's load */           \
    }                                                                                                         \
}                                                                                                             \
                                                                                                              \
__global__ void argsort_step##SUFFIX(const T* __restrict__ x, long long* __restrict__ scratch,                \
                             long long outer, long long R, long long inner, long long P,                      \
                             long long k, long long j, int descending)                                        \
{                                                                                                             \
    const long long half = P / 2, n = outer * inner * half;                                                   \
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;                               \
         e += (long long)gridDim.x * blockDim.x) {                                                            \
        const long long q = e / half, o = q / inner, i = q % inner;                                           \
        long long a, b;                                                                                       \
        bool up;                                                                                              \
        bitonic_pair(e % half, k, j, &a, &b, &up);                                                            \
        long long* row = scratch + q * P;                                                                     \
        const long long ia = row[a], ib = row[b];                                                             \
        const T va = ia < R ? x[(o * R + ia) * inner + i] : (T)0;                                             \
        const T vb = ib < R ? x[(o * R + ib) * inner + i] : (T)0;                                             \
        if (SORTS(vb, ib, va, ia, R, descending) == up) {                                                     \
            row[a] = ib;                                                                                      \
            row[b] = ia;                                                                                      \
        }                                                                                                     \
    }                                                                                                         \
}

SORT_KERNELS(, float, sorts_before)
// int32 / int64 keys (sort, argsort, topk of integer tensors): exact comparisons
typedef long long sort_key_i64;
SORTS_BEFORE(sorts_before_i32, int)
SORTS_BEFORE(sorts_before_i64, sort_key_i64)
SORT_KERNELS(_i32, int, sorts_before_i32)
SORT_KERNELS(_i64, sort_key_i64, sorts_before_i64)
