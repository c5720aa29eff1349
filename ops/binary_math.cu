// Elementwise math of two broadcast tensors (ops/binary_math.py): maximum, minimum,
// copysign, and division rounded down (div_floor) or toward zero (div_trunc).
//
// Who computes what: one thread per OUTPUT element, in a grid-stride loop, with the
// operands broadcast by index arithmetic exactly as binary.cu (its header explains the
// scalar geometry arguments and the *_sa / *_sb variants for one-element operands);
// the shared helpers and macros are in broadcast.cuh.
// Shared memory and barriers: none; threads never exchange data. Memory bound.
//
// Backward kernels write one input's gradient at the OUTPUT shape; the host sums it
// back over broadcast dims (binary.cu's sum_to_shape). maximum/minimum split grad
// equally on ties (PyTorch); with a NaN both comparisons fail and both inputs get g.
// copysign's b and both inputs of the rounded divisions have gradient 0: the host
// fills zeros, no kernel.
//
// int64 rounded divisions (a // b of indices): a zero divisor must not trap (x86 and
// the emulator raise SIGFPE; a GPU returns garbage), so the kernel writes 0 there and
// records the error in the device's error record (GPUDevice.error_record), which the
// host raises as ZeroDivisionError at its next synchronisation. b == -1 is negation
// (LLONG_MIN / -1 also traps on x86), wrapping as two's complement does.

#include "broadcast.cuh"

// NaN propagates (torch.maximum / np.maximum): a NaN a wins by a != a, a NaN b because
// a > b is then false.
__device__ __forceinline__ float max_nan(float a, float b) { return (a > b || a != a) ? a : b; }
__device__ __forceinline__ float min_nan(float a, float b) { return (a < b || a != a) ? a : b; }

// Python's and PyTorch's floor division of floats: from fmod, so that the quotient is
// the one of a = q b + r exactly (floor(a / b) can be off by one where a / b rounds up
// to an integer), corrected to the nearest integer, and a / b itself for b == 0.
__device__ __forceinline__ float floor_div(float a, float b) {
    if (b == 0.f) return a / b;
    const float mod = fmodf(a, b);
    float div = (a - mod) / b;
    if (mod != 0.f && ((b < 0.f) != (mod < 0.f))) div -= 1.f;
    if (div == 0.f) return copysignf(0.f, a / b);
    float q = floorf(div);
    if (div - q > 0.5f) q += 1.f;
    return q;
}

BINARY_FORWARD(maximum, float, max_nan(a, b))
BINARY_FORWARD(minimum, float, min_nan(a, b))
BINARY_FORWARD_T(maximum_i64, long long, long long, a > b ? a : b)   // integers: no NaN, no gradient
BINARY_FORWARD_T(minimum_i64, long long, long long, a < b ? a : b)
BINARY_FORWARD(copysign, float, copysignf(a, b))
BINARY_FORWARD(div_floor, float, floor_div(a, b))
BINARY_FORWARD(div_trunc, float, truncf(a / b))

BINARY_BACKWARD(maximum, a, a == b ? 0.5f * g : (b > a ? 0.f : g))
BINARY_BACKWARD(maximum, b, a == b ? 0.5f * g : (a > b ? 0.f : g))
BINARY_BACKWARD(minimum, a, a == b ? 0.5f * g : (b < a ? 0.f : g))
BINARY_BACKWARD(minimum, b, a == b ? 0.5f * g : (a < b ? 0.f : g))
// d copysign(a, b) / da = copysign(a, b) / a: +-1, and 0 at a == 0 (PyTorch)
BINARY_BACKWARD(copysign, a, a == 0.f ? 0.f : g * (copysignf(a, b) / a))

// One thread per output element with broadcasting (no _sa/_sb variants: integer division
// costs far more than the index arithmetic). record/code: see the header.
#define INTEGER_DIV(name, rounding)                                                          \
    __global__ void name##_i64_forward(const long long* __restrict__ A,                     \
                                       const long long* __restrict__ B,                     \
                                       long long* __restrict__ out, int n,                  \
                                       DIMS_PARAMS(shape), DIMS_PARAMS(a_stride),           \
                                       DIMS_PARAMS(b_stride), unsigned long long* record,   \
                                       unsigned long long code) {                           \
        const Broadcast geo = {DIMS_LIST(shape), DIMS_LIST(a_stride), DIMS_LIST(b_stride)};  \
        GRID_STRIDE_LOOP(i, n) {                                                             \
            int ia, ib;                                                                      \
            broadcast_offsets(geo, i, ia, ib);                                               \
            const long long a = A[ia], b = B[ib];                                            \
            if (b == 0) {                                                                    \
                atomicCAS(&record[0], 0ull, code);    /* no details: the code says it all */ \
                out[i] = 0;                                                                  \
            } else if (b == -1) {                                                            \
                out[i] = (long long)(0ull - (unsigned long long)a);                          \
            } else {                                                                         \
                const long long q = a / b;            /* C++ rounds toward zero */           \
                out[i] = rounding;                                                           \
            }                                                                                \
        }                                                                                    \
    }

// floor: one less than the truncated quotient where the remainder is nonzero and the
// operands' signs differ (-7 // 2 = -4)
INTEGER_DIV(div_floor, (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q)
INTEGER_DIV(div_trunc, q)
