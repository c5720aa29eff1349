// Bitwise ops on integer and bool tensors: and, or, xor, not, left and right shift.
//
// Who computes what: one thread per OUTPUT element in a grid-stride loop (the host caps
// the grid), exactly as ops/binary.cu; binary kernels broadcast by index arithmetic
// (ops/broadcast.cuh) and have *_sa / *_sb variants for a one-element operand, loaded
// once per thread into a register (no device-to-host read of the scalar on the host).
// The kernel-defining macro and the broadcast helpers are binary.cu's, shared through
// ops/broadcast.cuh.
// Shared memory and barriers: none; threads never exchange data. Memory bound: one
// integer instruction per element moved. No backward: integer results have no gradient.
//
// One kernel per op and dtype, named <op>_<dtype>_forward[_sa|_sb], dtype one of
// i32 (int), i64 (long long), u8 (unsigned char) and b8 (bool, 1 byte holding 0 or 1:
// and / or / xor / not of bools stay 0 or 1, so they are bool's logical ops).
//
// Shifts follow PyTorch, not C (where they are undefined outside [0, bit width)): a
// shift count s outside [0, bits) gives 0 for <<, and for >> the sign (0 or -1) for
// signed types and 0 for unsigned ones. << shifts the unsigned bit pattern (a signed <<
// that overflows is undefined in C++17) and wraps, as PyTorch does; >> of a negative
// signed value is arithmetic (sign-filling) on every CUDA compiler and on g++/clang++.
#include "broadcast.cuh"

// one-word names, so that the macros below can write T(x) casts
typedef long long int64;
typedef unsigned char uint8;

// The source is compiled inside extern "C" (as PyCUDA's SourceModule does, so kernel
// names are not mangled): no templates or overloads, so the shift helpers are
// stamped out once per dtype by a macro. UT is T's unsigned type.
#define SHIFT_HELPERS(T, UT, suffix)                                                \
    __device__ __forceinline__ T shift_left_##suffix(T a, T s) {                    \
        if ((long long)s < 0 || (long long)s >= 8 * (long long)sizeof(T)) return T(0); \
        return T(UT(a) << int(s));                                                  \
    }                                                                               \
    __device__ __forceinline__ T shift_right_##suffix(T a, T s) {                   \
        if ((long long)s < 0 || (long long)s >= 8 * (long long)sizeof(T))           \
            return (long long)a < 0 ? T(-1) : T(0);   /* a signed compare: no warning for uint8 */ \
        return T(a >> int(s));                                                      \
    }
typedef unsigned int uint32;
typedef unsigned long long uint64;
SHIFT_HELPERS(int, uint32, i32)
SHIFT_HELPERS(int64, uint64, i64)
SHIFT_HELPERS(uint8, uint8, u8)

// Each binary kernel comes from broadcast.cuh's BINARY_FORWARD_T(name, T, T, expr):
// name_forward (broadcasting), name_forward_sa (A has one element) and
// name_forward_sb (B has one element), exactly as the float kernels of binary.cu.
// and / or / xor for every integer dtype and bool
#define LOGIC_FOR(T, suffix)                                  \
    BINARY_FORWARD_T(bitwise_and_##suffix, T, T, T(a & b))         \
    BINARY_FORWARD_T(bitwise_or_##suffix, T, T, T(a | b))          \
    BINARY_FORWARD_T(bitwise_xor_##suffix, T, T, T(a ^ b))
LOGIC_FOR(int, i32)
LOGIC_FOR(int64, i64)
LOGIC_FOR(uint8, u8)
LOGIC_FOR(bool, b8)

// shifts for the integer dtypes (PyTorch has none for bool)
#define SHIFT_FOR(T, suffix)                                                  \
    BINARY_FORWARD_T(bitwise_left_shift_##suffix, T, T, shift_left_##suffix(a, b))  \
    BINARY_FORWARD_T(bitwise_right_shift_##suffix, T, T, shift_right_##suffix(a, b))
SHIFT_FOR(int, i32)
SHIFT_FOR(int64, i64)
SHIFT_FOR(uint8, u8)

// not: ~x for integers, !x for bool (a bool's ~ would set the other 7 bits)
#define BITWISE_NOT(suffix, T, expr)                                                       \
    __global__ void bitwise_not_##suffix##_forward(const T* __restrict__ in, T* __restrict__ out, \
                                                   int n) {                                 \
        GRID_STRIDE_LOOP(i, n) {                                                     \
            const T x = in[i];                                                             \
            out[i] = (expr);                                                               \
        }                                                                                  \
    }
BITWISE_NOT(i32, int, ~x)
BITWISE_NOT(i64, int64, ~x)
BITWISE_NOT(u8, uint8, uint8(~x))
BITWISE_NOT(b8, bool, !x)
