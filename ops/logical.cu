// Elementwise tests with bool results (ops/logical.py): isnan isinf isfinite, and
// logical_not / logical_and / logical_or / logical_xor, where any nonzero value (NaN
// too) counts as true. No gradients, so no backward kernels.
//
// Who computes what: one thread per OUTPUT element, in a grid-stride loop (the host
// caps the grid). The two-operand ops broadcast by index arithmetic exactly as
// binary.cu (its header explains the scalar geometry arguments and the *_sa / *_sb
// variants for one-element operands; the helpers are in broadcast.cuh).
// Shared memory and barriers: none; threads never exchange data. Memory bound: 1 to 8
// bytes in per operand, 1 byte (a bool, as numpy's bool_) out per element.
// One kernel per input dtype: _f32 (float), _i64 (long long), _b8 (bool).

#include "broadcast.cuh"

// PREDICATE(name, input type, expression of x) defines
//   name_forward(const in_t* x, bool* out, int n)
#define PREDICATE(name, in_t, expr)                                                          \
    __global__ void name##_forward(const in_t* __restrict__ in, bool* __restrict__ out,      \
                                   int n) {                                                  \
        GRID_STRIDE_LOOP(i, n) {                                                             \
            const in_t x = in[i];                                                            \
            out[i] = (expr);                                                                 \
        }                                                                                    \
    }

PREDICATE(isnan_f32, float, x != x)
PREDICATE(isinf_f32, float, fabsf(x) == INFINITY)
PREDICATE(isfinite_f32, float, fabsf(x) < INFINITY)           // false for NaN and +-inf
PREDICATE(logical_not_f32, float, x == 0.f)                   // NaN is true, so not(NaN) false
PREDICATE(logical_not_i64, long long, x == 0)
PREDICATE(logical_not_b8, bool, !x)

#define LOGICAL_OPS(suffix, in_t)                                                            \
    BINARY_FORWARD_T(logical_and_##suffix, in_t, bool, (a != 0) && (b != 0))                 \
    BINARY_FORWARD_T(logical_or_##suffix, in_t, bool, (a != 0) || (b != 0))                  \
    BINARY_FORWARD_T(logical_xor_##suffix, in_t, bool, (a != 0) != (b != 0))

LOGICAL_OPS(f32, float)
LOGICAL_OPS(i64, long long)
LOGICAL_OPS(b8, bool)
