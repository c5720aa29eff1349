// In-place writers (Tensor.add_, mul_, clamp_, masked_fill_, ...) and masked_fill.
//
// Who computes what: one thread per element of the tensor being WRITTEN, in a
// grid-stride loop (the host caps the grid), as ops/binary.cu. An in-place kernel reads
// x[i] and writes x[i] with the same thread, and no thread touches another's element,
// so updating the buffer in place is race-free without any barrier; the other operand
// (b, or the mask) is read through broadcast strides (ops/broadcast.cuh: index
// arithmetic, the geometry as scalar kernel arguments, no table uploaded), and is never
// the buffer being written (the host copies an operand that aliases x first).
// x is deliberately not __restrict__: it is read and written through one pointer.
// Shared memory and barriers: none; threads never exchange data. Memory bound: one
// flop per 8-12 bytes moved.
//
// masked_fill: out[i] = mask[i] ? value : x[i] with x and the mask broadcast to out's
// shape; its backward writes d[i] = mask[i] ? 0 : grad[i] at the output shape, which the
// host sums back to x's shape (binary.cu's sum_to_shape). The fill value arrives as its
// bit pattern in the tensor's dtype (`value_bits`, as movement.cu's fill), so one kernel
// serves every dtype: elements are moved by their size `esize` (1, 4 or 8 bytes).
#include "broadcast.cuh"

typedef long long int64;
typedef unsigned char uint8;
typedef unsigned long long uint64;

// INPLACE_BINARY(name, T, expr of x and b): x[i] = expr
//   name(T* x, const T* b, int n, geometry)  b broadcast to x's shape
//   name_s(T* x, const T* b, int n)          b has one element, loaded once per thread
#define INPLACE_BINARY(name, T, expr)                                                        \
    __global__ void name(T* x, const T* __restrict__ b, int n, DIMS_PARAMS(shape),     \
                         DIMS_PARAMS(x_stride), DIMS_PARAMS(b_stride)) {          \
        const Broadcast geo = {DIMS_LIST(shape), DIMS_LIST(x_stride),     \
                                       DIMS_LIST(b_stride)};                            \
        GRID_STRIDE_LOOP(i, n) {                                                       \
            int ix, ib;                                                                      \
            broadcast_offsets(geo, i, ix, ib);    /* ix == i: x is the output */        \
            const T v = x[i], w = b[ib];                                                     \
            x[i] = (expr);                                                                   \
        }                                                                                    \
    }                                                                                        \
    __global__ void name##_s(T* x, const T* __restrict__ b, int n) {                         \
        const T w = *b;                                                                      \
        GRID_STRIDE_LOOP(i, n) {                                                       \
            const T v = x[i];                                                                \
            x[i] = (expr);                                                                   \
        }                                                                                    \
    }

INPLACE_BINARY(inplace_add_f32, float, v + w)
INPLACE_BINARY(inplace_sub_f32, float, v - w)
INPLACE_BINARY(inplace_mul_f32, float, v * w)
INPLACE_BINARY(inplace_div_f32, float, v / w)
INPLACE_BINARY(inplace_add_i64, int64, v + w)
INPLACE_BINARY(inplace_sub_i64, int64, v - w)
INPLACE_BINARY(inplace_mul_i64, int64, v * w)
INPLACE_BINARY(inplace_add_i32, int, v + w)
INPLACE_BINARY(inplace_sub_i32, int, v - w)
INPLACE_BINARY(inplace_mul_i32, int, v * w)

// clamp_: x = min(max(x, lo), hi), lo = -inf / hi = +inf for "no bound"; comparisons,
// not fminf/fmaxf, so that NaN stays NaN (as unary.cu's clip).
__global__ void inplace_clamp_f32(float* x, int n, float lo, float hi)
{
    GRID_STRIDE_LOOP(i, n) {
        const float v = x[i];
        x[i] = v < lo ? lo : (v > hi ? hi : v);
    }
}

// Store the low `esize` bytes of `bits` as element i, or copy element j of src as element i.
__device__ __forceinline__ void put_bits(void* dst, int i, uint64 bits, int esize)
{
    switch (esize) {
    case 8: static_cast<uint64*>(dst)[i] = bits; break;
    case 4: static_cast<unsigned int*>(dst)[i] = static_cast<unsigned int>(bits); break;
    default: static_cast<uint8*>(dst)[i] = static_cast<uint8>(bits); break;
    }
}

__device__ __forceinline__ void copy_elem(void* dst, int i, const void* src, int j, int esize)
{
    switch (esize) {
    case 8: static_cast<uint64*>(dst)[i] = static_cast<const uint64*>(src)[j]; break;
    case 4: static_cast<unsigned int*>(dst)[i] = static_cast<const unsigned int*>(src)[j]; break;
    default: static_cast<uint8*>(dst)[i] = static_cast<const uint8*>(src)[j]; break;
    }
}

// masked_fill_: x[i] = value where the (broadcast) mask is true; other elements untouched.
__global__ void inplace_masked_fill(void* x, const uint8* __restrict__ mask, int n,
                                    DIMS_PARAMS(shape), DIMS_PARAMS(x_stride),
                                    DIMS_PARAMS(m_stride), int esize, uint64 value_bits)
{
    const Broadcast geo = {DIMS_LIST(shape), DIMS_LIST(x_stride), DIMS_LIST(m_stride)};
    GRID_STRIDE_LOOP(i, n) {
        int ix, im;
        broadcast_offsets(geo, i, ix, im);
        if (mask[im]) put_bits(x, i, value_bits, esize);
    }
}

// masked_fill forward: out[i] = mask ? value : x, both broadcast to out's shape.
__global__ void masked_fill_forward(const void* __restrict__ x, const uint8* __restrict__ mask,
                                    void* __restrict__ out, int n, DIMS_PARAMS(shape),
                                    DIMS_PARAMS(x_stride), DIMS_PARAMS(m_stride),
                                    int esize, uint64 value_bits)
{
    const Broadcast geo = {DIMS_LIST(shape), DIMS_LIST(x_stride), DIMS_LIST(m_stride)};
    GRID_STRIDE_LOOP(i, n) {
        int ix, im;
        broadcast_offsets(geo, i, ix, im);
        if (mask[im])
            put_bits(out, i, value_bits, esize);
        else
            copy_elem(out, i, x, ix, esize);
    }
}

// masked_fill backward: d[i] = mask ? 0 : grad[i] at the output shape (the filled
// elements do not depend on x); the host sums d back to x's shape where x was broadcast.
__global__ void masked_fill_backward(const float* __restrict__ grad, const uint8* __restrict__ mask,
                                     float* __restrict__ d, int n, DIMS_PARAMS(shape),
                                     DIMS_PARAMS(g_stride), DIMS_PARAMS(m_stride))
{
    const Broadcast geo = {DIMS_LIST(shape), DIMS_LIST(g_stride), DIMS_LIST(m_stride)};
    GRID_STRIDE_LOOP(i, n) {
        int ig, im;
        broadcast_offsets(geo, i, ig, im);
        d[i] = mask[im] ? 0.0f : grad[i];
    }
}
