// Softmax, log-softmax and softmax-cross-entropy: one block per row, numerically stable.
//
// A "row" is the C elements along the softmax axis. The tensor is viewed as
// (outer, C, inner) without permuting: row q = o * inner + i holds x[(o * C + c) * inner + i]
// for c = 0..C-1 (stride `inner`; 1 when the axis is the last one). One block per row;
// a block loops over rows with stride gridDim.x when there are more rows than blocks.
// Thread t handles c = t, t + blockDim.x, ...: it keeps a partial max / sum in a register,
// and the block combines the partials with block_allreduce (below).
//
// forward: m = max_c x; s = sum_c exp(x - m); y = exp(x - m) / s or (x - m) - log(s).
//   Subtracting the row max makes every exponent <= 0, so logits of +-1000 stay finite.
// backward: softmax dx = y (g - sum_c g y); log_softmax dx = g - exp(y) sum_c g.
// logsumexp_forward: the same max and sum, y[row] = m + log(s) (m taken as 0 when it is
//   +-inf, so a row of -inf gives -inf and a +inf gives +inf, not NaN, as PyTorch);
//   logsumexp_backward: one thread per element, dx = g[row] exp(x - y[row]) = g softmax(x).
// cross_entropy_forward: the same max and sum, then probs = exp(x - m) / s (saved for the
//   backward) and loss = m + log(s) - x[label]; the mean / sum over rows is sum_forward of
//   ops/reduce.cu. It checks the labels on the device (see the kernel's comment). cross_entropy_backward: one thread per logit, (p - onehot) * grad * scale.
//
// Shared memory: blockDim.x floats for the tree (block_reduce) and one float holding
// the block's result. Barriers: those of the tree, plus one after thread 0 publishes the
// result so that every thread reads it. The next reduction cannot overwrite the result
// early: thread 0 writes it only after the tree's first barrier, which every thread
// reaches after it has read the previous result.
// Arithmetic intensity: forward reads x three times (max, sum, write) and writes y once,
// ~5 flops (one exp) per element over 16 bytes, ~0.3 flop/byte: bandwidth bound; the
// second and third reads of a row usually hit the cache.

// --------------------------------------------- block-wide reduction (ops/block_reduce.cuh)
// One float per thread, blockDim.x a power of two in [32, REDUCE_MAX_THREADS]; result in
// thread 0. Tree in shared memory with a barrier after the first write and after each
// level (the next level reads other warps' results), then the last warp with shuffles.

#include "block_reduce.cuh"

// The block's combined value, returned in every thread.
__device__ __forceinline__ float block_allreduce(int kind, float v, float* buf, float* result)
{
    v = block_reduce(kind, v, buf);
    if (threadIdx.x == 0) *result = v;
    __syncthreads();                                   // result visible to every thread
    return *result;
}

// Softmax or log-softmax of every row of x (outer, C, inner).
__device__ __forceinline__ void softmax_rows(bool log_out, const float* __restrict__ x,
                                             float* __restrict__ y, long long outer, long long C,
                                             long long inner)
{
    __shared__ float buf[REDUCE_MAX_THREADS];
    __shared__ float result;
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {
        const long long base = (q / inner) * C * inner + q % inner;
        float m = -INFINITY;
        for (long long c = threadIdx.x; c < C; c += blockDim.x)
            m = reduce_combine(REDUCE_MAX, m, x[base + c * inner]);
        m = block_allreduce(REDUCE_MAX, m, buf, &result);
        float s = 0.0f;
        for (long long c = threadIdx.x; c < C; c += blockDim.x)
            s += expf(x[base + c * inner] - m);
        s = block_allreduce(REDUCE_SUM, s, buf, &result);
        const float log_s = logf(s), inv_s = 1.0f / s;
        for (long long c = threadIdx.x; c < C; c += blockDim.x) {
            const float shifted = x[base + c * inner] - m;
            y[base + c * inner] = log_out ? shifted - log_s : expf(shifted) * inv_s;
        }
    }
}

// y = softmax(x) along the middle axis of (outer, C, inner)
__global__ void softmax_forward(const float* x, float* y, long long outer, long long C, long long inner)
{
    softmax_rows(false, x, y, outer, C, inner);
}

// y = log_softmax(x) along the middle axis of (outer, C, inner)
__global__ void log_softmax_forward(const float* x, float* y, long long outer, long long C, long long inner)
{
    softmax_rows(true, x, y, outer, C, inner);
}

// y[q] = log sum_c exp(x[o, c, i]) for every row q = o * inner + i, stable (see the header).
__global__ void logsumexp_forward(const float* __restrict__ x, float* __restrict__ y,
                                  long long outer, long long C, long long inner)
{
    __shared__ float buf[REDUCE_MAX_THREADS];
    __shared__ float result;
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {
        const long long base = (q / inner) * C * inner + q % inner;
        float m = -INFINITY;
        for (long long c = threadIdx.x; c < C; c += blockDim.x)
            m = reduce_combine(REDUCE_MAX, m, x[base + c * inner]);
        m = block_allreduce(REDUCE_MAX, m, buf, &result);
        if (isinf(m)) m = 0.0f;                    // all -inf, or a +inf: exp() gives the limit
        float s = 0.0f;
        for (long long c = threadIdx.x; c < C; c += blockDim.x)
            s += expf(x[base + c * inner] - m);
        s = block_reduce(REDUCE_SUM, s, buf);
        if (threadIdx.x == 0) y[q] = m + logf(s);
    }
}

// dx[o, c, i] = grad[q] * exp(x[o, c, i] - y[q]): one thread per element of x.
__global__ void logsumexp_backward(const float* __restrict__ x, const float* __restrict__ y,
                                   const float* __restrict__ grad, float* __restrict__ dx,
                                   long long outer, long long C, long long inner)
{
    const long long n = outer * C * inner;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;
         e += (long long)gridDim.x * blockDim.x) {
        const long long q = (e / (C * inner)) * inner + e % inner;
        dx[e] = grad[q] * expf(x[e] - y[q]);
    }
}

// softmax: dx = y (g - sum_c g y); log_softmax (y = log p): dx = g - exp(y) sum_c g.
__device__ __forceinline__ void softmax_backward_rows(bool log_out, const float* __restrict__ grad,
                                                      const float* __restrict__ y, float* __restrict__ dx,
                                                      long long outer, long long C, long long inner)
{
    __shared__ float buf[REDUCE_MAX_THREADS];
    __shared__ float result;
    for (long long q = blockIdx.x; q < outer * inner; q += gridDim.x) {
        const long long base = (q / inner) * C * inner + q % inner;
        float dot = 0.0f;
        for (long long c = threadIdx.x; c < C; c += blockDim.x) {
            const long long k = base + c * inner;
            dot += log_out ? grad[k] : grad[k] * y[k];
        }
        dot = block_allreduce(REDUCE_SUM, dot, buf, &result);
        for (long long c = threadIdx.x; c < C; c += blockDim.x) {
            const long long k = base + c * inner;
            dx[k] = log_out ? grad[k] - expf(y[k]) * dot : y[k] * (grad[k] - dot);
        }
    }
}

// dx = y (grad - sum_c grad y), y the saved softmax output
__global__ void softmax_backward(const float* grad, const float* y, float* dx,
                                 long long outer, long long C, long long inner)
{
    softmax_backward_rows(false, grad, y, dx, outer, C, inner);
}

// dx = grad - exp(y) sum_c grad, y the saved log_softmax output
__global__ void log_softmax_backward(const float* grad, const float* y, float* dx,
                                     long long outer, long long C, long long inner)
{
    softmax_backward_rows(true, grad, y, dx, outer, C, inner);
}

// One block per row n of logits (N, C): probs[n, :] = softmax, losses[n] = -log probs[n, label].
//
// Labels are checked here, on the device, so that a training step never copies them to
// the host: a label outside [0, C) gives a NaN loss for its row and is reported in the
// device's error record (GPUDevice.error_record), which the host reads at its next
// synchronisation (.item(), .numpy()) and raises as cross_entropy's ValueError. The
// report must not depend on which block runs first, so it names the FIRST bad row: the
// record's words 1 and 2 are atomicMax-ed with keys (N - n) << 32 | (32 bits of the
// label), the high and the low half; the largest key is the smallest n in both words,
// so together they hold the exact 64-bit label of that row (N < 2^31, checked on the
// host). Word 3 is C. Only the kernel that put its code in word 0 writes the details.
__global__ void cross_entropy_forward(const float* __restrict__ logits, const long long* __restrict__ labels,
                                      float* __restrict__ probs, float* __restrict__ losses,
                                      long long N, long long C, unsigned long long* error_record,
                                      unsigned long long error_code)
{
    __shared__ float buf[REDUCE_MAX_THREADS];
    __shared__ float result;
    for (long long n = blockIdx.x; n < N; n += gridDim.x) {
        const float* row = logits + n * C;
        float m = -INFINITY;
        for (long long c = threadIdx.x; c < C; c += blockDim.x)
            m = reduce_combine(REDUCE_MAX, m, row[c]);
        m = block_allreduce(REDUCE_MAX, m, buf, &result);
        float s = 0.0f;
        for (long long c = threadIdx.x; c < C; c += blockDim.x)
            s += expf(row[c] - m);
        s = block_allreduce(REDUCE_SUM, s, buf, &result);
        const float inv_s = 1.0f / s;
        for (long long c = threadIdx.x; c < C; c += blockDim.x)
            probs[n * C + c] = expf(row[c] - m) * inv_s;
        if (threadIdx.x == 0) {
            const long long label = labels[n];
            if (label >= 0 && label < C) {
                losses[n] = m + logf(s) - row[label];
            } else {
                losses[n] = NAN;
                const unsigned long long old = atomicCAS(&error_record[0], 0ull, error_code);
                if (old == 0ull || old == error_code) {
                    const unsigned long long rank = (unsigned long long)(N - n) << 32;
                    const unsigned long long bits = (unsigned long long)label;
                    atomicMax(&error_record[1], rank | (bits >> 32));
                    atomicMax(&error_record[2], rank | (bits & 0xffffffffull));
                    error_record[3] = (unsigned long long)C;     // the same value from every row
                }
            }
        }
    }
}

// One thread per logit: dx[n, c] = (probs[n, c] - (c == label[n])) * g * scale, where
// g = grad[n] (reduction "none", grad_per_row = 1) or grad[0] (mean / sum); scale = 1/N for mean.
__global__ void cross_entropy_backward(const float* __restrict__ probs, const long long* __restrict__ labels,
                                       const float* __restrict__ grad, float* __restrict__ dx,
                                       long long N, long long C, int grad_per_row, float scale)
{
    for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < N * C;
         k += (long long)gridDim.x * blockDim.x) {
        const long long n = k / C;
        const float onehot = labels[n] == k % C ? 1.0f : 0.0f;
        dx[k] = (probs[k] - onehot) * grad[grad_per_row ? n : 0] * scale;
    }
}
