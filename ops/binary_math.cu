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
BINARY_FORWARD(copysign, float, copysignf(a, b))
BINARY_FORWARD(div_floor, float, floor_div(a, b))
BINARY_FORWARD(div_trunc, float, truncf(a / b))

BINARY_BACKWARD(maximum, a, a == b ? 0.5f * g : (b > a ? 0.f : g))
BINARY_BACKWARD(maximum, b, a == b ? 0.5f * g : (a > b ? 0.f : g))
BINARY_BACKWARD(minimum, a, a == b ? 0.5f * g : (b < a ? 0.f : g))
BINARY_BACKWARD(minimum, b, a == b ? 0.5f * g : (a < b ? 0.f : g))
// d copysign(a, b) / da = copysign(a, b) / a: +-1, and 0 at a == 0 (PyTorch)
BINARY_BACKWARD(copysign, a, a == 0.f ? 0.f : g * (copysignf(a, b) / a))
