// Elementwise math of two broadcast tensors (ops/binary_math.py): maximum, minimum,
// copysign, division rounded down (div_floor) or toward zero (div_trunc) and the
// matching remainders (remainder, fmod), atan2, logaddexp, logaddexp2, and the exact
// integer power pow_i64. maximum/minimum also of int64, int32 and uint8 (bool runs the
// uint8 kernels: max of 0 / 1 bytes is or, min is and), exact, without gradient.
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
// fills zeros, no kernel; remainder's and fmod's gradient for a is grad itself (no
// kernel either); pow_i64 (integers) has no backward.
//
// int64 rounded divisions (a // b of indices): a zero divisor must not trap (x86 and
// the emulator raise SIGFPE; a GPU returns garbage), so the kernel writes 0 there and
// records the error in the device's error record (GPUDevice.error_record), which the
// host raises as ZeroDivisionError at its next synchronisation. b == -1 is special-cased
// (LLONG_MIN / -1 also traps on x86): the quotient is the negation, wrapping as two's
// complement does, and the remainder 0.
//
// logaddexp(a, b) = max + log1p(e^-|a - b|): exp only of a value <= 0, so no overflow;
// a == b (also both -inf or both +inf, where a - b would be NaN) is a + log 2.

#include "broadcast.cuh"

#define LN2 0.69314718055994531f

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
BINARY_FORWARD_T(maximum_i32, int, int, a > b ? a : b)
BINARY_FORWARD_T(minimum_i32, int, int, a < b ? a : b)
BINARY_FORWARD_T(maximum_u8, unsigned char, unsigned char, a > b ? a : b)   // bool too: its 0 / 1 byte
BINARY_FORWARD_T(minimum_u8, unsigned char, unsigned char, a < b ? a : b)
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
// costs far more than the index arithmetic). record/code: see the header. `rounding` is
// the result from q = a / b (C++: toward zero) and r = a % b (a's sign); `at_minus_one`
// the result for b == -1.
#define INTEGER_DIV(name, at_minus_one, rounding)                                            \
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
                out[i] = (at_minus_one);                                                     \
            } else {                                                                         \
                [[maybe_unused]] const long long q = a / b, r = a % b;  /* toward zero */    \
                out[i] = (rounding);                                                         \
            }                                                                                \
        }                                                                                    \
    }

// floor: one less than the truncated quotient where the remainder is nonzero and the
// operands' signs differ (-7 // 2 = -4)
#define NEGATED (long long)(0ull - (unsigned long long)a)
INTEGER_DIV(div_floor, NEGATED, (r != 0 && ((a < 0) != (b < 0))) ? q - 1 : q)
INTEGER_DIV(div_trunc, NEGATED, q)
// remainder: of b's sign, so b is added back where r is nonzero and of the other sign
INTEGER_DIV(remainder, 0ll, (r != 0 && ((r < 0) != (b < 0))) ? r + b : r)
INTEGER_DIV(fmod, 0ll, r)

// ---------------------------------------------------------------- t1: float remainders,
// atan2, logaddexp(2), integer power
// remainder of floats as PyTorch: fmod, then b added back where the signs differ;
// b == 0 gives NaN (fmod's rule)
__device__ __forceinline__ float python_remainder(float a, float b) {
    const float r = fmodf(a, b);
    return (r != 0.f && ((r < 0.f) != (b < 0.f))) ? r + b : r;
}

__device__ __forceinline__ float log_add_exp(float a, float b) {
    return a == b ? a + LN2 : fmaxf(a, b) + log1pf(expf(-fabsf(a - b)));
}

__device__ __forceinline__ float log_add_exp2(float a, float b) {
    return a == b ? a + 1.f : fmaxf(a, b) + log1pf(exp2f(-fabsf(a - b))) / LN2;
}

// a ** b for int64 by square-and-multiply (at most 63 rounds), wrapping on overflow in
// unsigned arithmetic (signed overflow is undefined in C++); negative b: PyTorch's rule
__device__ __forceinline__ long long int_power(long long a, long long b) {
    if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
    unsigned long long result = 1, base = (unsigned long long)a;
    for (unsigned long long e = (unsigned long long)b; e; e >>= 1) {
        if (e & 1) result *= base;
        base *= base;
    }
    return (long long)result;
}

BINARY_FORWARD(remainder, float, python_remainder(a, b))
BINARY_FORWARD(fmod, float, fmodf(a, b))
BINARY_FORWARD(atan2, float, atan2f(a, b))
BINARY_FORWARD(logaddexp, float, log_add_exp(a, b))
BINARY_FORWARD(logaddexp2, float, log_add_exp2(a, b))
BINARY_FORWARD_T(pow_i64, long long, long long, int_power(a, b))   // no gradient

// remainders: d/da = 1 (grad itself, no kernel), d/db = -(the rounded quotient)
BINARY_BACKWARD(remainder, b, -g * floor_div(a, b))
BINARY_BACKWARD(fmod, b, -g * truncf(a / b))
BINARY_BACKWARD(atan2, a, g * b / (a * a + b * b))
BINARY_BACKWARD(atan2, b, -g * a / (a * a + b * b))
// d/da log(e^a + e^b) = 1 / (1 + e^(b - a)): e^(b - a) = inf gives 0, the right limit
BINARY_BACKWARD(logaddexp, a, g / (1.f + expf(b - a)))
BINARY_BACKWARD(logaddexp, b, g / (1.f + expf(a - b)))
BINARY_BACKWARD(logaddexp2, a, g / (1.f + exp2f(b - a)))
BINARY_BACKWARD(logaddexp2, b, g / (1.f + exp2f(a - b)))
