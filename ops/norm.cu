// Normalisation (ops/norm.py): BatchNorm, LayerNorm and GroupNorm are one op over x seen as
// a contiguous (P, Q, R) array, normalised per q over its n = P*R elements
// p*Q*R + q*R + r; the affine weight/bias index of element i is a = (i / stride) % A.
//
// Forward = two launches:
//   norm_statistics   one BLOCK per q (grid-stride over q): each thread sums a strided
//                     share of q's n elements, block_reduce (ops/block_reduce.cuh, shared
//                     memory buf[blockDim.x]) combines them; thread 0 publishes the mean in
//                     shared memory, a second pass sums squared deviations from it (two
//                     passes: no cancellation of E[x^2] - E[x]^2), thread 0 writes mean[q],
//                     rstd[q] and, in BatchNorm training, updates the running statistics.
//   norm_forward      one THREAD per element, grid-stride: y = (x - mean) * rstd * w + b.
// Backward = three launches:
//   norm_backward_statistics  one block per q: sum dxhat and sum dxhat * xhat (dxhat = dy * w)
//   norm_backward_data        one thread per element:
//                             dx = rstd * (dxhat - sum1 / n - xhat * sum2 / n)
//   norm_backward_affine      one block per affine index a: dw[a] = sum dy * xhat, db[a] = sum dy
//                             over the total / A elements (outer * A + a) * stride + inner.
// Barriers: inside block_reduce (see its comment), plus one after thread 0 publishes the
// mean (every thread needs it for the second pass). The next q's first write to the
// published mean comes after that q's block_reduce barriers, which every thread passes
// only after reading the old one. Elementwise kernels have no shared memory, no barriers.
// Arithmetic intensity: each pass reads x once (the statistics twice), ~2-4 FLOP per
// element: memory bound, which is why the statistics and the normalisation are fused
// per q instead of a chain of mean / sub / mul / sqrt ops each reading everything again.
#include "block_reduce.cuh"

#define NORM_GEOMETRY long long total, int P, int Q, int R, int A, int stride, int has_affine

__device__ __forceinline__ long long norm_index(long long j, int q, int Q, int R) {
  return (j / R * Q + q) * R + j % R;         // the j-th of q's elements (p = j / R, r = j % R)
}

__device__ __forceinline__ float affine_weight(const float* w, long long i, int A, int stride, int has_affine) {
  return has_affine ? w[(i / stride) % A] : 1.f;
}

__global__ void norm_statistics(const float* __restrict__ x, float* __restrict__ mean, float* __restrict__ rstd,
                                float* running_mean, float* running_var, NORM_GEOMETRY, float eps,
                                float momentum, int update_running) {
  __shared__ float buf[REDUCE_MAX_THREADS];
  __shared__ float published_mean;
  const long long n = (long long)P * R;
  for (int q = blockIdx.x; q < Q; q += gridDim.x) {
    float s = 0.f;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) s += x[norm_index(j, q, Q, R)];
    s = block_reduce(REDUCE_SUM, s, buf);
    if (threadIdx.x == 0) published_mean = s / (float)n;
    __syncthreads();                            // the mean is published before anyone reads it
    const float m = published_mean;
    float v = 0.f;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
      const float d = x[norm_index(j, q, Q, R)] - m;
      v += d * d;
    }
    v = block_reduce(REDUCE_SUM, v, buf);
    if (threadIdx.x == 0) {
      const float var = v / (float)n;
      mean[q] = m;
      rstd[q] = 1.f / sqrtf(var + eps);
      if (update_running) {                     // PyTorch: the unbiased variance, n / (n - 1)
        running_mean[q] = (1.f - momentum) * running_mean[q] + momentum * m;
        running_var[q] = (1.f - momentum) * running_var[q] + momentum * var * ((float)n / (float)(n > 1 ? n - 1 : 1));
      }
    }
  }
}

__global__ void norm_forward(const float* __restrict__ x, const float* __restrict__ mean,
                             const float* __restrict__ rstd, const float* __restrict__ w,
                             const float* __restrict__ b, float* __restrict__ y, NORM_GEOMETRY) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const int q = (int)(i / R % Q);
    float v = (x[i] - mean[q]) * rstd[q];
    if (has_affine) {
      const int a = (int)(i / stride % A);
      v = v * w[a] + b[a];
    }
    y[i] = v;
  }
}

// sums[q] = sum dxhat, sums[Q + q] = sum dxhat * xhat over q's elements.
__global__ void norm_backward_statistics(const float* __restrict__ x, const float* __restrict__ dy,
                                         const float* __restrict__ mean, const float* __restrict__ rstd,
                                         const float* __restrict__ w, float* __restrict__ sums, NORM_GEOMETRY) {
  __shared__ float buf[REDUCE_MAX_THREADS];
  const long long n = (long long)P * R;
  for (int q = blockIdx.x; q < Q; q += gridDim.x) {
    const float m = mean[q], rs = rstd[q];
    float s1 = 0.f, s2 = 0.f;
    for (long long j = threadIdx.x; j < n; j += blockDim.x) {
      const long long i = norm_index(j, q, Q, R);
      const float d = dy[i] * affine_weight(w, i, A, stride, has_affine);
      s1 += d;
      s2 += d * (x[i] - m) * rs;
    }
    s1 = block_reduce(REDUCE_SUM, s1, buf);
    if (threadIdx.x == 0) sums[q] = s1;
    // thread 0 read buf's last partials inside block_reduce, within warp 0; the next
    // block_reduce's first barrier orders the rewrite of buf after them
    s2 = block_reduce(REDUCE_SUM, s2, buf);
    if (threadIdx.x == 0) sums[Q + q] = s2;
  }
}

__global__ void norm_backward_data(const float* __restrict__ x, const float* __restrict__ dy,
                                   const float* __restrict__ mean, const float* __restrict__ rstd,
                                   const float* __restrict__ w, const float* __restrict__ sums,
                                   float* __restrict__ dx, NORM_GEOMETRY) {
  const float inv_n = 1.f / (float)((long long)P * R);
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const int q = (int)(i / R % Q);
    const float xhat = (x[i] - mean[q]) * rstd[q];
    const float d = dy[i] * affine_weight(w, i, A, stride, has_affine);
    dx[i] = rstd[q] * (d - sums[q] * inv_n - xhat * sums[Q + q] * inv_n);
  }
}

__global__ void norm_backward_affine(const float* __restrict__ x, const float* __restrict__ dy,
                                     const float* __restrict__ mean, const float* __restrict__ rstd,
                                     float* __restrict__ dw, float* __restrict__ db, NORM_GEOMETRY) {
  __shared__ float buf[REDUCE_MAX_THREADS];
  const long long per_a = total / A;              // elements (outer * A + a) * stride + inner
  for (int a = blockIdx.x; a < A; a += gridDim.x) {
    float sw = 0.f, sb = 0.f;
    for (long long j = threadIdx.x; j < per_a; j += blockDim.x) {
      const long long i = (j / stride * A + a) * stride + j % stride;
      const int q = (int)(i / R % Q);
      sw += dy[i] * (x[i] - mean[q]) * rstd[q];
      sb += dy[i];
    }
    sw = block_reduce(REDUCE_SUM, sw, buf);
    if (threadIdx.x == 0) dw[a] = sw;
    sb = block_reduce(REDUCE_SUM, sb, buf);
    if (threadIdx.x == 0) db[a] = sb;
  }
}
