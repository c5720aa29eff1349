// Elementwise functions of three broadcast tensors (ops/ternary.py): where(cond, x, y)
// and lerp(start, end, weight), forward and backward.
//
// Who computes what: one thread per OUTPUT element, in a grid-stride loop (the host
// caps the grid). Broadcasting is by index arithmetic, as binary.cu (see its header):
// output index i is split into coordinates of the merged output shape, and operand k's
// element is at sum_d coord_d * stride_k[d], with stride 0 along broadcast dims. The
// geometry arrives as scalar int arguments: MAX_DIMS sizes, then MAX_DIMS strides for
// each of the three operands (slot 0 outermost, unused slots size 1).
// Shared memory and barriers: none; threads never exchange data. Memory bound.
//
// Backward: <op>_backward_<k> writes input k's gradient at the OUTPUT shape (grad is
// contiguous there, read at i); the host sums it back over broadcast dims with
// binary.cu's sum_to_shape. where has no kernel for the bool condition (input 0).

#include "broadcast.cuh"    // MAX_DIMS, GRID_STRIDE_LOOP, DIMS_PARAMS, DIMS_LIST

struct Broadcast3 {
    int shape[MAX_DIMS];
    int stride[3][MAX_DIMS];
};

// Offsets of output element i in the three operands (innermost dim peeled first; slot
// 0 takes what is left, no division). Arrays indexed by unrolled constants: registers.
__device__ __forceinline__ void offsets3(const Broadcast3& geo, int i, int (&off)[3]) {
    off[0] = off[1] = off[2] = 0;
#pragma unroll
    for (int d = MAX_DIMS - 1; d > 0; --d) {
        if (geo.shape[d] != 1) {
            const int coord = i % geo.shape[d];
            i /= geo.shape[d];
#pragma unroll
            for (int k = 0; k < 3; ++k) off[k] += coord * geo.stride[k][d];
        }
    }
#pragma unroll
    for (int k = 0; k < 3; ++k) off[k] += i * geo.stride[k][0];
}

#define GEOMETRY_PARAMS DIMS_PARAMS(shape), DIMS_PARAMS(s0), DIMS_PARAMS(s1), DIMS_PARAMS(s2)
#define GEOMETRY {DIMS_LIST(shape), {DIMS_LIST(s0), DIMS_LIST(s1), DIMS_LIST(s2)}}

// TERNARY_FORWARD(name, types of A, B, C and out, expression of a, b, c)
#define TERNARY_FORWARD(name, a_t, b_t, c_t, out_t, expr)                                    \
    __global__ void name##_forward(const a_t* __restrict__ A, const b_t* __restrict__ B,     \
                                   const c_t* __restrict__ C, out_t* __restrict__ out,       \
                                   int n, GEOMETRY_PARAMS) {                                 \
        const Broadcast3 geo = GEOMETRY;                                                     \
        GRID_STRIDE_LOOP(i, n) {                                                             \
            int off[3];                                                                      \
            offsets3(geo, i, off);                                                           \
            const a_t a = A[off[0]];                                                         \
            const b_t b = B[off[1]];                                                         \
            const c_t c = C[off[2]];                                                         \
            out[i] = (expr);                                                                 \
        }                                                                                    \
    }

// TERNARY_BACKWARD(name, k, type of A, expression of g = grad[i], a, b, c): input k's
// gradient at the output shape (B and C are float in both ops).
#define TERNARY_BACKWARD(name, k, a_t, expr)                                                 \
    __global__ void name##_backward_##k(const float* __restrict__ grad,                      \
                                        const a_t* __restrict__ A,                           \
                                        const float* __restrict__ B,                         \
                                        const float* __restrict__ C, float* __restrict__ d,  \
                                        int n, GEOMETRY_PARAMS) {                            \
        const Broadcast3 geo = GEOMETRY;                                                     \
        GRID_STRIDE_LOOP(i, n) {                                                             \
            int off[3];                                                                      \
            offsets3(geo, i, off);                                                           \
            [[maybe_unused]] const a_t a = A[off[0]];   /* each expression uses some */      \
            [[maybe_unused]] const float b = B[off[1]];                                      \
            [[maybe_unused]] const float c = C[off[2]];                                      \
            const float g = grad[i];                                                         \
            d[i] = (expr);                                                                   \
        }                                                                                    \
    }

// where: a = cond (bool), b = x, c = y
TERNARY_FORWARD(where, bool, float, float, float, a ? b : c)
TERNARY_FORWARD(where_i64, bool, long long, long long, long long, a ? b : c)   // labels, indices
TERNARY_FORWARD(where_i32, bool, int, int, int, a ? b : c)
TERNARY_FORWARD(where_u8, bool, unsigned char, unsigned char, unsigned char, a ? b : c)
TERNARY_FORWARD(where_b8, bool, bool, bool, bool, a ? b : c)
TERNARY_BACKWARD(where, 1, bool, a ? g : 0.f)
TERNARY_BACKWARD(where, 2, bool, a ? 0.f : g)

// lerp: a = start, b = end, c = weight; from the nearer end, as PyTorch, so w = 1 gives end
TERNARY_FORWARD(lerp, float, float, float, float, c < 0.5f ? a + c * (b - a) : b - (b - a) * (1.f - c))
TERNARY_BACKWARD(lerp, 0, float, g * (1.f - c))
TERNARY_BACKWARD(lerp, 1, float, g * c)
TERNARY_BACKWARD(lerp, 2, float, g * (b - a))
