// values_at (ops/values_at.py): out = x gathered at indices along one axis, and its
// gradient scattered back. It is how max/min(dim), sort, topk, cummax and cummin
// return values that carry a gradient: their index ops find the indices, this reads
// the values (PyTorch's take_along_dim with indices that one of those ops produced).
//
// The host views x as (outer, R, inner) and the indices (and the output) as
// (outer, K, inner): both are rows along the axis, R long in x and K long in idx.
//
// values_at_forward: one thread per output element e = (o, j, i), grid-stride, no shared
//   memory, no barriers: out[e] = x[o, idx[e], i]. An index outside [0, R) gives NaN and
//   is reported in the device's error record (GPUDevice.error_record: word 1 the
//   largest bad index seen, as unsigned bits; word 2 is R), raised at the next
//   synchronisation; the kernel never reads outside x. values_at_i32_forward and
//   values_at_i64_forward: the same for int32 / int64 x (0 where an index is bad).
// values_at_backward_unique: one thread per gradient element, dx[o, idx[e], i] = grad[e],
//   into a zeroed dx: the indices of one row are distinct (sort, topk, max), so no two
//   threads write the same element and no atomics are needed.
// values_at_backward: indices may repeat (cummax): one thread per (o, i) column adds the
//   column's K gradients in order j = 0..K-1, so the sums are deterministic (no atomics,
//   no dependence on thread order). Parallel over columns only: a single long row is one
//   thread's serial loop.
// All three are memory bound (one load and one store per element, an index load).

// The forward of one element type T, as a macro (the kernel file is compiled inside
// extern "C", where templates are not allowed); BAD is what a bad index leaves in out
// (NaN for floats, 0 for integers: never read, the error is raised first).
#define VALUES_AT_FORWARD(NAME, T, BAD)                                                                \
__global__ void NAME(const T* __restrict__ x, const long long* __restrict__ idx, T* __restrict__ out, \
                     long long outer, long long R, long long K, long long inner,                     \
                     unsigned long long* error_record, unsigned long long error_code)                \
{                                                                                                    \
    const long long n = outer * K * inner;                                                           \
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;                      \
         e += (long long)gridDim.x * blockDim.x) {                                                   \
        const long long o = e / (K * inner), i = e % inner, r = idx[e];                              \
        if (r >= 0 && r < R) {                                                                       \
            out[e] = x[(o * R + r) * inner + i];                                                     \
        } else {                                                                                     \
            out[e] = BAD;                                                                            \
            const unsigned long long old = atomicCAS(&error_record[0], 0ull, error_code);            \
            if (old == 0ull || old == error_code) {                                                  \
                atomicMax(&error_record[1], (unsigned long long)r);                                  \
                error_record[2] = (unsigned long long)R;   /* the same value from every thread */    \
            }                                                                                        \
        }                                                                                            \
    }                                                                                                \
}

VALUES_AT_FORWARD(values_at_forward, float, NAN)
// Integer x (max/min(dim), sort, topk, cummax of int32 / int64 tensors): forward only,
// an integer output has no gradient. Values are copied exactly (no float round trip).
VALUES_AT_FORWARD(values_at_i32_forward, int, 0)
typedef long long values_at_i64;
VALUES_AT_FORWARD(values_at_i64_forward, values_at_i64, 0)

// dx (zeroed by the host) [o, idx[e], i] = grad[e]: distinct indices per row.
__global__ void values_at_backward_unique(const float* __restrict__ grad, const long long* __restrict__ idx,
                                          float* __restrict__ dx, long long outer, long long R, long long K,
                                          long long inner)
{
    const long long n = outer * K * inner;
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n;
         e += (long long)gridDim.x * blockDim.x) {
        const long long o = e / (K * inner), i = e % inner, r = idx[e];
        if (r >= 0 && r < R) dx[(o * R + r) * inner + i] = grad[e];
    }
}

// dx (zeroed by the host) [o, idx[o, j, i], i] += grad[o, j, i] for j = 0..K-1, one thread per column.
__global__ void values_at_backward(const float* __restrict__ grad, const long long* __restrict__ idx,
                                   float* __restrict__ dx, long long outer, long long R, long long K,
                                   long long inner)
{
    const long long columns = outer * inner;
    for (long long c = blockIdx.x * (long long)blockDim.x + threadIdx.x; c < columns;
         c += (long long)gridDim.x * blockDim.x) {
        const long long o = c / inner, i = c % inner;
        for (long long j = 0; j < K; ++j) {
            const long long e = (o * K + j) * inner + i, r = idx[e];
            if (r >= 0 && r < R) dx[(o * R + r) * inner + i] += grad[e];
        }
    }
}
