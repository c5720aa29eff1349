// Reductions over any set of axes: sum, max, min, prod (forward and backward), argmax, argmin.
//
// How any axis set becomes simple kernels (done on the host, ops/reduce.py):
//   size-1 dims are dropped and neighbouring dims of the same kind (reduced / kept) are
//   merged, so (3, 4, 5) reduced over (1, 2) is (3, 20) reduced over its last group.
//   Each reduced group is then one pass over a view (outer, R, inner) of a contiguous
//   buffer: out[o, i] = reduce_r x[o, r, i]. Groups are reduced from the last one to the
//   first, each pass writing a smaller contiguous buffer, so nothing is ever permuted.
//   (3, 4, 5) over axes (0, 2): pass 1 (outer 12, R 5, inner 1) -> (3, 4);
//   pass 2 (outer 1, R 3, inner 4) -> (4,).
//   The backward kernels go the other way, one thread per INPUT element: the element's
//   output index is found by index arithmetic over the merged groups (`geom`, below).
//
// Forward kernels (<op>_forward, argmax/argmin): one block per output element (a block
//   loops over outputs with stride gridDim.x when there are more than the grid). Thread t
//   of the block combines x[o, r, i] for r = t, t + blockDim.x, ... in a register, then
//   the block combines its blockDim.x partials: a tree in shared memory and the last warp
//   with shuffles (block_reduce below: which barrier is where, and why). argmax/argmin carry
//   (value, index) pairs through the same tree; shared memory: blockDim.x values and
//   blockDim.x indices. The loop over outputs is block-uniform, so every thread reaches
//   every barrier.
// Arithmetic intensity: one add (or compare) per 4-byte load, 0.25 flop/byte: bandwidth
//   bound. Inner > 1 makes neighbouring threads read addresses `inner` floats apart
//   (uncoalesced); reducing the last group first keeps the biggest pass contiguous.
//
// `geom` (backward kernels): 2 * ndim int64 on the device; geom[d] is the size of merged
//   input group d, geom[ndim + d] its stride in the output (0 for a reduced group).
//
// prod_backward: one thread per input element of the view (outer, R, inner) (prod reduces
//   one dim, or all of them as one row), no shared memory, no barriers. d prod / d x_i is
//   the product of the row's other elements: out / x_i where x_i != 0 (0 when another
//   element is 0, because then out is 0); where x_i == 0 the thread multiplies the other
//   R - 1 elements itself, so a row with zeros gets PyTorch's gradient, not 0/0.

// ------------------------------------------------------------ block-wide reduction
// block_reduce (ops/block_reduce.cuh, shared with softmax.cu) combines one float per
// thread over the block with REDUCE_SUM, REDUCE_MAX or REDUCE_MIN: a shared-memory tree
// with a __syncthreads() after each level, then the last warp with shuffles; the header
// explains each barrier. The launch code in ops/reduce.py makes blockDim.x a power of
// two in [32, REDUCE_MAX_THREADS].
#include "block_reduce.cuh"

// Output index (flat, contiguous output) of input element i.
__device__ __forceinline__ long long reduced_index(long long i, const long long* geom, int ndim)
{
    long long o = 0;
    for (int d = ndim - 1; d >= 0; --d) {
        const long long size = geom[d];
        o += (i % size) * geom[ndim + d];
        i /= size;
    }
    return o;
}

// out[q] = reduce_r x[o, r, i] for every output q = o * inner + i; sum scales by `scale`.
__device__ __forceinline__ void reduce_rows(int kind, const float* __restrict__ x, float* __restrict__ y,
                                            long long outer, long long R, long long inner, float scale)
{
    __shared__ float buf[REDUCE_MAX_THREADS];
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {
        const float* row = x + (q / inner) * R * inner + q % inner;
        float v = reduce_identity(kind);
        for (long long r = threadIdx.x; r < R; r += blockDim.x)
            v = reduce_combine(kind, v, row[r * inner]);
        v = block_reduce(kind, v, buf);
        if (threadIdx.x == 0) y[q] = kind == REDUCE_SUM ? v * scale : v;
    }
}

// y[q] = scale * sum_r x[o, r, i] (scale 1 for sum; 1/N for cross_entropy's mean)
__global__ void sum_forward(const float* x, float* y, long long outer, long long R, long long inner,
                            float scale)
{
    reduce_rows(REDUCE_SUM, x, y, outer, R, inner, scale);
}

// y[q] = max_r x[o, r, i]
__global__ void max_forward(const float* x, float* y, long long outer, long long R, long long inner)
{
    reduce_rows(REDUCE_MAX, x, y, outer, R, inner, 1.0f);
}

// y[q] = min_r x[o, r, i]
__global__ void min_forward(const float* x, float* y, long long outer, long long R, long long inner)
{
    reduce_rows(REDUCE_MIN, x, y, outer, R, inner, 1.0f);
}

// y[q] = prod_r x[o, r, i]
__global__ void prod_forward(const float* x, float* y, long long outer, long long R, long long inner)
{
    reduce_rows(REDUCE_PROD, x, y, outer, R, inner, 1.0f);
}

// dx[o, r, i] = grad[q] * prod_{s != r} x[o, s, i], q = o * inner + i (see the header).
__global__ void prod_backward(const float* __restrict__ x, const float* __restrict__ out,
                              const float* __restrict__ grad, float* __restrict__ dx,
                              long long outer, long long R, long long inner)
{
    const long long n = outer * R * inner;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;
         e += (long long)gridDim.x * blockDim.x) {
        const long long o = e / (R * inner), r = (e / inner) % R, i = e % inner;
        const long long q = o * inner + i;
        float others;
        if (x[e] != 0.0f) {
            others = out[q] / x[e];
        } else {                                   // a zero: the product of the rest, directly
            const float* row = x + o * R * inner + i;
            others = 1.0f;
            for (long long s = 0; s < R; ++s)
                if (s != r) others *= row[s * inner];
        }
        dx[e] = grad[q] * others;
    }
}

// dx[i] = grad[out(i)]: the gradient of a sum is broadcast back; one thread per input element.
__global__ void sum_backward(const float* __restrict__ grad, float* __restrict__ dx,
                             const long long* __restrict__ geom, int ndim, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        dx[i] = grad[reduced_index(i, geom, ndim)];
}

// w[i] = 1 where x[i] equals its output's extreme, else 0 (the host sums w into the tie count).
__global__ void extremum_winners(const float* __restrict__ x, const float* __restrict__ out,
                                 float* __restrict__ w, const long long* __restrict__ geom, int ndim,
                                 long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        w[i] = x[i] == out[reduced_index(i, geom, ndim)] ? 1.0f : 0.0f;
}

// dx[i] = w[i] * grad[o] / count[o]: ties split the gradient evenly (max and min).
__global__ void extremum_backward(const float* __restrict__ w, const float* __restrict__ grad,
                                  const float* __restrict__ count, float* __restrict__ dx,
                                  const long long* __restrict__ geom, int ndim, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const long long o = reduced_index(i, geom, ndim);
        dx[i] = w[i] * grad[o] / count[o];
    }
}

// ---------------------------------------------------------------------- argmax / argmin
// Is candidate (a, ia) better than (b, ib)? The larger (sign 1) or smaller (sign -1)
// value; NaN beats everything (numpy returns the first NaN); equal values -> smaller index.
__device__ __forceinline__ bool arg_better(float sign, float a, long long ia, float b, long long ib)
{
    const bool a_nan = a != a, b_nan = b != b;
    if (a_nan || b_nan) return a_nan && (!b_nan || ia < ib);
    if (a != b) return sign * a > sign * b;
    return ia < ib;
}

// One block per output: index (along R) of the first extreme of x[o, :, i]. Each thread
// scans its elements in increasing r keeping only strictly better ones, so it holds its
// FIRST extreme; the tree then keeps the smaller index on ties, so the rule survives.
__device__ __forceinline__ void arg_reduce_rows(float sign, const float* __restrict__ x,
                                                long long* __restrict__ out, long long outer,
                                                long long R, long long inner)
{
    __shared__ float vals[REDUCE_MAX_THREADS];
    __shared__ long long idxs[REDUCE_MAX_THREADS];
    const unsigned t = threadIdx.x;
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {
        const float* row = x + (q / inner) * R * inner + q % inner;
        float v = sign * -INFINITY;
        long long iv = R;                          // "no element yet": loses every tie
        for (long long r = t; r < R; r += blockDim.x)
            if (arg_better(sign, row[r * inner], r, v, iv)) { v = row[r * inner]; iv = r; }
        vals[t] = v;
        idxs[t] = iv;
        __syncthreads();                           // all candidates written
        for (unsigned s = blockDim.x / 2; s >= WARP_SIZE; s >>= 1) {
            if (t < s && arg_better(sign, vals[t + s], idxs[t + s], vals[t], idxs[t])) {
                vals[t] = vals[t + s];
                idxs[t] = idxs[t + s];
            }
            __syncthreads();                       // level done before the next reads it
        }
        if (t < WARP_SIZE) {
            v = vals[t];
            iv = idxs[t];
            for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) {
                const float ov = __shfl_down_sync(FULL_MASK, v, offset);
                const long long oi = __shfl_down_sync(FULL_MASK, iv, offset);
                if (arg_better(sign, ov, oi, v, iv)) { v = ov; iv = oi; }
            }
            if (t == 0) out[q] = iv;
        }
    }
}

// out[q] = first index r of max_r x[o, r, i] (int64)
__global__ void argmax_forward(const float* x, long long* out, long long outer, long long R, long long inner)
{
    arg_reduce_rows(1.0f, x, out, outer, R, inner);
}

// out[q] = first index r of min_r x[o, r, i] (int64)
__global__ void argmin_forward(const float* x, long long* out, long long outer, long long R, long long inner)
{
    arg_reduce_rows(-1.0f, x, out, outer, R, inner);
}

// ------------------------------------------------ max / min / argmax / argmin of integers
// int32, int64 and uint8 tensors (bool as uint8: its bytes are 0 or 1), exactly: a value
// is never converted to float (int64 above 2^24 would round). The same block-per-output
// scheme as arg_reduce_rows above: each thread keeps the FIRST extreme of its strided
// elements as a (value, index) pair in registers (values widened to long long), then the
// block combines the pairs in a shared-memory tree (REDUCE_MAX_THREADS long long values
// and indices), __syncthreads() after the writes and after each level because the next
// level reads what other warps wrote, and the last warp with shuffles (no barrier inside a
// warp; none after it: warp 0 then reads only its own slots, which only it writes next).
// Ties keep the smaller index, so argmax/argmin give the first extreme, as numpy
// and PyTorch. One function per dtype, stamped out by a macro: the source is compiled
// inside extern "C", so no templates. A kernel with `values` writes the extreme, one with
// `indices` its index.
#define INT_NO_INDEX 0x7fffffffffffffffLL      // "no element yet": loses to every element

__device__ __forceinline__ bool int_better(int sign, long long a, long long ia, long long b, long long ib)
{
    if (ia == INT_NO_INDEX) return false;
    if (ib == INT_NO_INDEX) return true;
    if (a != b) return sign > 0 ? a > b : a < b;
    return ia < ib;
}

#define INT_EXTREMUM(T, suffix)                                                                  \
    __device__ __forceinline__ void int_extremum_rows_##suffix(                                  \
        int sign, const T* __restrict__ x, T* __restrict__ values, long long* __restrict__ indices, \
        long long outer, long long R, long long inner) {                                         \
        __shared__ long long vals[REDUCE_MAX_THREADS];                                           \
        __shared__ long long idxs[REDUCE_MAX_THREADS];                                           \
        const unsigned t = threadIdx.x;                                                          \
        for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {                     \
            const T* row = x + (q / inner) * R * inner + q % inner;                              \
            long long v = 0, iv = INT_NO_INDEX;                                                  \
            for (long long r = t; r < R; r += blockDim.x)                                        \
                if (int_better(sign, (long long)row[r * inner], r, v, iv)) {                     \
                    v = (long long)row[r * inner];                                               \
                    iv = r;                                                                      \
                }                                                                                \
            vals[t] = v;                                                                         \
            idxs[t] = iv;                                                                        \
            __syncthreads();                           /* all candidates written */              \
            for (unsigned s = blockDim.x / 2; s >= WARP_SIZE; s >>= 1) {                         \
                if (t < s && int_better(sign, vals[t + s], idxs[t + s], vals[t], idxs[t])) {     \
                    vals[t] = vals[t + s];                                                       \
                    idxs[t] = idxs[t + s];                                                       \
                }                                                                                \
                __syncthreads();                       /* level done before the next reads it */ \
            }                                                                                    \
            if (t < WARP_SIZE) {                                                                 \
                v = vals[t];                                                                     \
                iv = idxs[t];                                                                    \
                for (int offset = WARP_SIZE / 2; offset > 0; offset >>= 1) {                     \
                    const long long ov = __shfl_down_sync(FULL_MASK, v, offset);                 \
                    const long long oi = __shfl_down_sync(FULL_MASK, iv, offset);                \
                    if (int_better(sign, ov, oi, v, iv)) { v = ov; iv = oi; }                    \
                }                                                                                \
                if (t == 0) {                                                                    \
                    if (values) values[q] = (T)v;                                                \
                    if (indices) indices[q] = iv;                                                \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
    __global__ void max_##suffix##_forward(const T* x, T* y, long long outer, long long R, long long inner) { \
        int_extremum_rows_##suffix(1, x, y, nullptr, outer, R, inner);                           \
    }                                                                                            \
    __global__ void min_##suffix##_forward(const T* x, T* y, long long outer, long long R, long long inner) { \
        int_extremum_rows_##suffix(-1, x, y, nullptr, outer, R, inner);                          \
    }                                                                                            \
    __global__ void argmax_##suffix##_forward(const T* x, long long* out, long long outer, long long R,       \
                                              long long inner) {                                 \
        int_extremum_rows_##suffix(1, x, nullptr, out, outer, R, inner);                         \
    }                                                                                            \
    __global__ void argmin_##suffix##_forward(const T* x, long long* out, long long outer, long long R,       \
                                              long long inner) {                                 \
        int_extremum_rows_##suffix(-1, x, nullptr, out, outer, R, inner);                        \
    }

typedef long long int_reduce_i64;
typedef unsigned char int_reduce_u8;
INT_EXTREMUM(int, i32)
INT_EXTREMUM(int_reduce_i64, i64)
INT_EXTREMUM(int_reduce_u8, u8)
