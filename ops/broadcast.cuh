// Broadcasting helpers shared by the elementwise kernel files (binary.cu, binary_math.cu,
// logical.cu, ternary.cu): the scalar geometry arguments, the offsets of an output element
// in broadcast operands, and the kernel-defining macros of two-operand ops. How the
// geometry is built and why it travels as scalar arguments: the header of binary.cu.
// Nothing here uses shared memory or barriers.
#pragma once

#define MAX_DIMS 6   // must match MAX_DIMS in ops/binary.py

#define GRID_STRIDE_LOOP(i, n) \
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// MAX_DIMS scalar parameters p0..p5, and the braced list {p0, ..., p5} that gathers them.
#define DIMS_PARAMS(p) int p##0, int p##1, int p##2, int p##3, int p##4, int p##5
#define DIMS_LIST(p) {p##0, p##1, p##2, p##3, p##4, p##5}

// One merged shape and, per operand, its strides in elements along each dim.
struct Broadcast {
    int shape[MAX_DIMS];
    int a_stride[MAX_DIMS];
    int b_stride[MAX_DIMS];
};

// Offsets of output element i in a and b: coordinates are peeled off innermost dim
// first; slot 0, the outermost dim, takes what is left (no division needed there).
__device__ __forceinline__ void broadcast_offsets(const Broadcast& geo, int i, int& ia, int& ib) {
    ia = 0;
    ib = 0;
#pragma unroll
    for (int d = MAX_DIMS - 1; d > 0; --d) {
        if (geo.shape[d] != 1) {          // unused slot: size 1, skipped
            const int coord = i % geo.shape[d];
            i /= geo.shape[d];
            ia += coord * geo.a_stride[d];
            ib += coord * geo.b_stride[d];
        }
    }
    ia += i * geo.a_stride[0];
    ib += i * geo.b_stride[0];
}

// The same for one operand: the offset of element i of `shape` given `stride`.
__device__ __forceinline__ int strided_offset(const int (&shape)[MAX_DIMS],
                                              const int (&stride)[MAX_DIMS], int i) {
    int offset = 0;
#pragma unroll
    for (int d = MAX_DIMS - 1; d > 0; --d) {
        if (shape[d] != 1) {
            offset += (i % shape[d]) * stride[d];
            i /= shape[d];
        }
    }
    return offset + i * stride[0];
}

// ---------------------------------------------------------------- forward kernels
// BINARY_FORWARD(name, output type, expression of a and b) defines
//   name_forward   (const float* A, const float* B, out_t* out, int n, <geometry>)
//   name_forward_sa(const float* A, const float* B, out_t* out, int n)  A has one element
//   name_forward_sb(const float* A, const float* B, out_t* out, int n)  B has one element
#define BINARY_FORWARD_T(name, in_t, out_t, expr)                                                   \
    __global__ void name##_forward(const in_t* __restrict__ A, const in_t* __restrict__ B, \
                                   out_t* __restrict__ out, int n, DIMS_PARAMS(shape),       \
                                   DIMS_PARAMS(a_stride), DIMS_PARAMS(b_stride)) {           \
        const Broadcast geo = {DIMS_LIST(shape), DIMS_LIST(a_stride), DIMS_LIST(b_stride)};  \
        GRID_STRIDE_LOOP(i, n) {                                                             \
            int ia, ib;                                                                      \
            broadcast_offsets(geo, i, ia, ib);                                               \
            const in_t a = A[ia], b = B[ib];                                                \
            out[i] = (expr);                                                                 \
        }                                                                                    \
    }                                                                                        \
    __global__ void name##_forward_sa(const in_t* __restrict__ A, const in_t* __restrict__ B, \
                                      out_t* __restrict__ out, int n) {                      \
        const in_t a = *A;                      /* one load per thread, then a register */  \
        GRID_STRIDE_LOOP(i, n) {                                                             \
            const in_t b = B[i];                                                            \
            out[i] = (expr);                                                                 \
        }                                                                                    \
    }                                                                                        \
    __global__ void name##_forward_sb(const in_t* __restrict__ A, const in_t* __restrict__ B, \
                                      out_t* __restrict__ out, int n) {                      \
        const in_t b = *B;                                                                  \
        GRID_STRIDE_LOOP(i, n) {                                                             \
            const in_t a = A[i];                                                            \
            out[i] = (expr);                                                                 \
        }                                                                                    \
    }

#define BINARY_FORWARD(name, out_t, expr) BINARY_FORWARD_T(name, float, out_t, expr)

// ---------------------------------------------------------------- backward kernels
// BINARY_BACKWARD(name, input, expression of g = grad[i], a and b) defines
//   name_backward_<input>(const float* grad, const float* A, const float* B, float* d,
//                         int n, <geometry>)
// writing one input's gradient at the OUTPUT shape (summed down by sum_to_shape).
// A one-element operand is just a broadcast with all strides 0 (one merged dim: no
// division), so the backward needs no scalar variants.
#define BINARY_BACKWARD(name, input, expr)                                                  \
    __global__ void name##_backward_##input(                                                 \
        const float* __restrict__ grad, const float* __restrict__ A,                         \
        const float* __restrict__ B, float* __restrict__ d, int n, DIMS_PARAMS(shape),       \
        DIMS_PARAMS(a_stride), DIMS_PARAMS(b_stride)) {                                      \
        const Broadcast geo = {DIMS_LIST(shape), DIMS_LIST(a_stride), DIMS_LIST(b_stride)};  \
        GRID_STRIDE_LOOP(i, n) {                                                             \
            int ia, ib;                                                                      \
            broadcast_offsets(geo, i, ia, ib);                                               \
            [[maybe_unused]] const float a = A[ia];  /* each expression uses a, b or both */ \
            [[maybe_unused]] const float b = B[ib];                                          \
            const float g = grad[i];                                                         \
            d[i] = (expr);                                                                   \
        }                                                                                    \
    }

