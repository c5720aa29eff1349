// Writing through an index tensor: scatter, scatter_add, scatter_reduce (ops/scatter.py).
//
// Every op here writes out = x with, for each element c of `index`, src[c] combined
// into out[p(c)], where p(c) is c with its coordinate along `dim` replaced by index[c].
// The host makes out a device copy of x (or of grad, for a self-gradient) first.
//
// Who computes what: the kernels that walk `index` have one thread per INDEX element in
// a grid-stride loop (256 threads a block, grid capped at GPUDevice.MAX_BLOCKS): thread
// i finds its coordinates, p(c) (geom row 1: out's strides, with index[c] along dim) and
// its src offset (geom row 2: src's strides; src may be larger than index). The
// elementwise kernels (init, finish, self-gradient) have one thread per element of x.
// Shared memory and barriers: none. Kernels that depend on each other's results (reset
// before combine, statistics before gradients) are separate launches: a launch boundary
// is the only grid-wide barrier CUDA has.
//
// Why atomics: indices may repeat, so several threads may combine into ONE out element at
// once; `out[p] += v` is a read, an add and a write, and a race loses updates. scatter_add
// uses atomicAdd; scatter_reduce's prod/amax/amin have no hardware atomic on float, so
// they loop on atomicCAS of the float's bits (retry until no other thread changed the
// value between the read and the swap). The combine order is unspecified: a sum or product
// of several values may differ in the last bits from run to run. scatter (a copy) with a
// repeated index keeps one of the values, unspecified which, as in PyTorch.
//
// Bad indices (outside [0, size)) are reported by the first kernel that reads the index
// (index_tensor.cuh) and skipped; the host raises before any value can be read.
#include "index_tensor.cuh"

#define KIND_SUM 0
#define KIND_PROD 1
#define KIND_MEAN 2
#define KIND_AMAX 3
#define KIND_AMIN 4

__device__ __forceinline__ float reduce_identity(int kind)
{
    if (kind == KIND_PROD) return 1.0f;
    if (kind == KIND_AMAX) return -INFINITY;
    if (kind == KIND_AMIN) return INFINITY;
    return 0.0f;                                   // sum, mean
}

// *p = combine(*p, v), atomically (see the top: why atomics, and why a CAS loop)
__device__ __forceinline__ void atomic_combine(float* p, float v, int kind)
{
    if (kind == KIND_SUM || kind == KIND_MEAN) {
        atomicAdd(p, v);
        return;
    }
    unsigned int* bits = reinterpret_cast<unsigned int*>(p);
    unsigned int seen = *bits, assumed;
    do {
        assumed = seen;
        const float cur = __uint_as_float(assumed);
        const float next = kind == KIND_PROD ? cur * v : (kind == KIND_AMAX ? (v > cur ? v : cur)
                                                                            : (v < cur ? v : cur));
        seen = atomicCAS(bits, assumed, __float_as_uint(next));
    } while (seen != assumed);
}

// The walk over index shared by every index kernel: p = out offset (-1 for a bad index),
// s = src offset. geom = [index shape, out strides, src strides].
__device__ __forceinline__ long long target_of(long long i, const long long* index, const long long* geom,
                                               int ndim, int dim, long long size, long long* s)
{
    long long c, offsets[2];
    offsets_without_dim(i, geom, ndim, dim, 2, &c, offsets);
    *s = offsets[1] + c * geom[2 * ndim + dim];
    const long long j = index[i];
    return (j < 0 || j >= size) ? -1 : offsets[0] + j * geom[ndim + dim];
}

// scatter: out[p(c)] = src[c], any dtype (moved by size)
__global__ void scatter_forward(const void* src, void* out, const long long* index, const long long* geom,
                                int ndim, int dim, long long n, long long size, int esize,
                                unsigned long long* error_record, unsigned long long error_code,
                                unsigned long long detail)
{
    GRID_LOOP(i, n) {
        long long s;
        const long long p = target_of(i, index, geom, ndim, dim, size, &s);
        if (p < 0)
            report_bad_index(error_record, error_code, i, n, index[i], detail);
        else
            move_element(out, p, src, s, esize);
    }
}

// scatter_add: out[p(c)] += src[c], atomic (indices may repeat). One kernel per dtype:
// float32, int32, and int64, whose atomicAdd is the unsigned 64-bit one (two's complement
// addition wraps identically for signed and unsigned, so the bits are the same).
#define SCATTER_ADD(name, T, ATOMIC_T)                                                                   \
    __global__ void name(const T* src, T* out, const long long* index, const long long* geom, int ndim,  \
                         int dim, long long n, long long size, unsigned long long* error_record,         \
                         unsigned long long error_code, unsigned long long detail)                       \
    {                                                                                                    \
        GRID_LOOP(i, n) {                                                                                \
            long long s;                                                                                 \
            const long long p = target_of(i, index, geom, ndim, dim, size, &s);                          \
            if (p < 0)                                                                                   \
                report_bad_index(error_record, error_code, i, n, index[i], detail);                      \
            else                                                                                         \
                atomicAdd(reinterpret_cast<ATOMIC_T*>(&out[p]), static_cast<ATOMIC_T>(src[s]));          \
        }                                                                                                \
    }
SCATTER_ADD(scatter_add_forward, float, float)
SCATTER_ADD(scatter_add_i32_forward, int, int)
SCATTER_ADD(scatter_add_i64_forward, long long, unsigned long long)

// scatter_reduce with include_self=False, before the combine: every target gets the
// reduction's identity. Threads hitting one target write the same value: no race.
__global__ void scatter_reduce_reset(float* out, const long long* index, const long long* geom, int ndim,
                                     int dim, long long n, long long size, int kind)
{
    GRID_LOOP(i, n) {
        long long s;
        const long long p = target_of(i, index, geom, ndim, dim, size, &s);
        if (p >= 0) out[p] = reduce_identity(kind);
    }
}

// scatter_reduce: out[p(c)] = combine(out[p(c)], src[c]); mean also counts the
// contributions of each target in `count` (zeroed by the host; float: exact to 2^24).
__global__ void scatter_reduce_forward(const float* src, float* out, float* count, const long long* index,
                                       const long long* geom, int ndim, int dim, long long n,
                                       long long size, int kind, unsigned long long* error_record,
                                       unsigned long long error_code, unsigned long long detail)
{
    GRID_LOOP(i, n) {
        long long s;
        const long long p = target_of(i, index, geom, ndim, dim, size, &s);
        if (p < 0) {
            report_bad_index(error_record, error_code, i, n, index[i], detail);
            continue;
        }
        atomic_combine(&out[p], src[s], kind);
        if (kind == KIND_MEAN) atomicAdd(&count[p], 1.0f);
    }
}

// mean, after the combine (one thread per element of out): divide the sum by the number
// of values it holds (the contributions, plus x itself with include_self); untouched
// elements keep x.
__global__ void scatter_mean_finish(float* out, const float* count, long long n, int include_self)
{
    GRID_LOOP(i, n) {
        if (count[i] > 0.0f) out[i] /= count[i] + (include_self ? 1.0f : 0.0f);
    }
}

// ------------------------------------------------------------------------------- backward
// scatter, self-gradient: dx (a copy of grad) is 0 where src overwrote x
__global__ void scatter_mask_backward(float* dx, const long long* index, const long long* geom, int ndim,
                                      int dim, long long n, long long size)
{
    GRID_LOOP(i, n) {
        long long s;
        const long long p = target_of(i, index, geom, ndim, dim, size, &s);
        if (p >= 0) dx[p] = 0.0f;
    }
}

// scatter and scatter_add, src-gradient: dsrc (zeroed) [c] = grad[p(c)]. Each src element
// is read by one index element, so every write has its own address.
__global__ void scatter_src_backward(const float* grad, float* dsrc, const long long* index,
                                     const long long* geom, int ndim, int dim, long long n, long long size)
{
    GRID_LOOP(i, n) {
        long long s;
        const long long p = target_of(i, index, geom, ndim, dim, size, &s);
        if (p >= 0) dsrc[s] = grad[p];
    }
}

// scatter_reduce backward statistics of the src contributions per element of x, four rows
// of x.size floats: count (how many), ties (how many equal the result: amax/amin), zeros
// (how many are 0: prod) and the product of the non-zero ones (prod). Rows 0..2 start at 0,
// row 3 at 1 (scatter_stats_init); atomics: contributions to one element meet.
__global__ void scatter_stats_init(float* stats, long long n)
{
    GRID_LOOP(i, n) {
        stats[i] = stats[n + i] = stats[2 * n + i] = 0.0f;
        stats[3 * n + i] = 1.0f;
    }
}

__global__ void scatter_reduce_stats(const float* src, const float* out, float* stats, const long long* index,
                                     const long long* geom, int ndim, int dim, long long n, long long size,
                                     long long x_size, int kind)
{
    GRID_LOOP(i, n) {
        long long s;
        const long long p = target_of(i, index, geom, ndim, dim, size, &s);
        if (p < 0) continue;
        const float v = src[s];
        atomicAdd(&stats[p], 1.0f);
        if ((kind == KIND_AMAX || kind == KIND_AMIN) && v == out[p]) atomicAdd(&stats[x_size + p], 1.0f);
        if (kind == KIND_PROD) {
            if (v == 0.0f) atomicAdd(&stats[2 * x_size + p], 1.0f);
            else atomic_combine(&stats[3 * x_size + p], v, KIND_PROD);
        }
    }
}

// d out[p] / d v for one contribution v to element p (self or src); self_in: whether x[p]
// itself is one of the values combined into out[p]. prod: the product of the OTHER values,
// computed from the zero count and the product of the non-zero values, never as out / v
// (which is 0 / 0 when v is the only zero).
__device__ __forceinline__ float local_derivative(int kind, float v, long long p, const float* x,
                                                  const float* out, const float* stats, long long x_size,
                                                  bool self_in, bool v_is_self)
{
    const float count = stats[p] + (self_in ? 1.0f : 0.0f);
    if (kind == KIND_SUM) return 1.0f;
    if (kind == KIND_MEAN) return 1.0f / count;
    if (kind == KIND_AMAX || kind == KIND_AMIN) {
        const float ties = stats[x_size + p] + (self_in && x[p] == out[p] ? 1.0f : 0.0f);
        return v == out[p] ? 1.0f / ties : 0.0f;          // ties split the gradient evenly
    }
    float zeros = stats[2 * x_size + p], others = stats[3 * x_size + p];
    if (self_in && !v_is_self) {                          // x[p] is one of the others
        if (x[p] == 0.0f) zeros += 1.0f;
        else others *= x[p];
    }
    if (v_is_self) return zeros == 0.0f ? others : 0.0f;  // the others are exactly the src values
    if (v == 0.0f) return zeros == 1.0f ? others : 0.0f;  // v is the only zero: the rest's product
    return zeros == 0.0f ? others / v : 0.0f;
}

// self-gradient, one thread per element of x: dx = grad * d out / d x where x took part
// (include_self, or no src reached the element), else 0
__global__ void scatter_reduce_self_backward(const float* grad, const float* x, const float* out,
                                             const float* stats, float* dx, long long n, int kind,
                                             int include_self)
{
    GRID_LOOP(i, n) {
        const bool self_in = include_self || stats[i] == 0.0f;
        dx[i] = self_in ? grad[i] * local_derivative(kind, x[i], i, x, out, stats, n, true, true) : 0.0f;
    }
}

// src-gradient: dsrc (zeroed) [c] = grad[p(c)] * d out[p(c)] / d src[c]
__global__ void scatter_reduce_src_backward(const float* grad, const float* src, const float* x,
                                            const float* out, const float* stats, float* dsrc,
                                            const long long* index, const long long* geom, int ndim, int dim,
                                            long long n, long long size, long long x_size, int kind,
                                            int include_self)
{
    GRID_LOOP(i, n) {
        long long s;
        const long long p = target_of(i, index, geom, ndim, dim, size, &s);
        if (p < 0) continue;
        dsrc[s] = grad[p] * local_derivative(kind, src[s], p, x, out, stats, x_size, include_self != 0, false);
    }
}
