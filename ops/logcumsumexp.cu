// logcumsumexp along one axis (ops/logcumsumexp.py): y_k = log(sum_{j <= k} exp(x_j)),
// stable for any values, and its gradient.
//
// Work mapping as ops/scan.cu: the host views x as rows x[o, :, i] of (outer, R, inner);
// one block per row (a block loops over rows with stride gridDim.x); the row is scanned in
// chunks of blockDim.x elements, thread t loading element c + t; a Hillis-Steele scan in
// shared memory gives each thread the inclusive scan of the chunk, and `carry` (the scan
// of the earlier chunks) is combined in front. The combine is
//   lse(a, b) = max(a, b) + log1p(exp(-|a - b|))   (= log(e^a + e^b), never overflowing)
// with -inf as the identity (lse(-inf, b) = b, no -inf - -inf = NaN) and lse(a, a) = a + log 2
// (+inf stays +inf, not inf - inf = NaN); it is associative,
// so chunks and the tree give the serial answer up to rounding.
//
// Backward: dx_j = sum_{k >= j} g_k exp(x_j - y_k). Every term is <= |g_k| (y_k >= x_j),
// but a plain reverse sum of g_k exp(-y_k) would overflow or vanish, so it is done in
// log space, as PyTorch: with g+ = max(g, 0) and g- = max(-g, 0),
//   P_j = lse_{k >= j} (log g+_k - y_k),  N_j = the same for g-,
//   dx_j = exp(x_j + P_j) - exp(x_j + N_j),
// two reverse scans (the row read from its end) in one pass, each in its own buffer.
//
// Shared memory: blockDim.x floats per scan (forward one buffer, backward two).
// Barriers in lse_block_scan: after the first write (every value visible); at each level
// one after the reads and before the writes (no thread overwrites a value another has not
// read), and one after the writes (the level is complete before the next reads it). After
// a chunk, one more: every thread has read the chunk's total from the last slot before
// the next chunk's first write. The chunk loop is block-uniform: every thread reaches
// every barrier. Work: O(R log blockDim.x) per row; bound by the exp/log1p per element.
#include "block_reduce.cuh"

__device__ __forceinline__ float lse(float a, float b)
{
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    if (a == b) return a + 0.69314718f;                // log 2; also +inf + +inf, where |a - b| is NaN
    const float hi = fmaxf(a, b);
    return hi + log1pf(expf(-fabsf(a - b)));
}

// Inclusive lse-scan over the block: thread t returns v_0 lse .. lse v_t; buf[blockDim.x - 1]
// holds the chunk's total afterwards.
__device__ __forceinline__ float lse_block_scan(float v, float* buf)
{
    const unsigned t = threadIdx.x;
    buf[t] = v;
    __syncthreads();                                   // every value written
    for (unsigned d = 1; d < blockDim.x; d <<= 1) {
        const float left = t >= d ? buf[t - d] : -INFINITY;
        __syncthreads();                               // all reads of this level done
        v = lse(left, v);
        buf[t] = v;
        __syncthreads();                               // level written before the next reads it
    }
    return v;
}

// y = logcumsumexp(x) along the middle axis of (outer, R, inner)
__global__ void logcumsumexp_forward(const float* __restrict__ x, float* __restrict__ y, long long outer,
                                     long long R, long long inner)
{
    __shared__ float buf[REDUCE_MAX_THREADS];
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {
        const long long base = (q / inner) * R * inner + q % inner;
        float carry = -INFINITY;
        for (long long c = 0; c < R; c += blockDim.x) {
            const long long r = c + threadIdx.x;
            const float v = lse_block_scan(r < R ? x[base + r * inner] : -INFINITY, buf);
            if (r < R) y[base + r * inner] = lse(carry, v);
            carry = lse(carry, buf[blockDim.x - 1]);
            __syncthreads();                           // total read before the next chunk writes buf
        }
    }
}

// dx from x, the saved output y and grad (formulas in the header); rows read from the end.
__global__ void logcumsumexp_backward(const float* __restrict__ x, const float* __restrict__ y,
                                      const float* __restrict__ grad, float* __restrict__ dx,
                                      long long outer, long long R, long long inner)
{
    __shared__ float pos[REDUCE_MAX_THREADS];
    __shared__ float neg[REDUCE_MAX_THREADS];
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {
        const long long base = (q / inner) * R * inner + q % inner;
        float carry_p = -INFINITY, carry_n = -INFINITY;
        for (long long c = 0; c < R; c += blockDim.x) {
            const long long r = c + threadIdx.x;
            const long long at = base + (R - 1 - r) * inner;      // from the row's end
            float lp = -INFINITY, ln = -INFINITY;
            if (r < R) {
                const float g = grad[at];
                if (g > 0.0f) lp = logf(g) - y[at];
                if (g < 0.0f) ln = logf(-g) - y[at];
            }
            const float sp = lse_block_scan(lp, pos);
            const float sn = lse_block_scan(ln, neg);
            if (r < R) dx[at] = expf(x[at] + lse(carry_p, sp)) - expf(x[at] + lse(carry_n, sn));
            carry_p = lse(carry_p, pos[blockDim.x - 1]);
            carry_n = lse(carry_n, neg[blockDim.x - 1]);
            __syncthreads();                           // totals read before the next chunk writes
        }
    }
}
