// Half precision (__half, IEEE binary16) on the CPU, whatever the compiler offers.
//
// Which type a compiler has is found by a feature test, not by its name: the loader
// (emu_build.py) compiles a few lines with each candidate once per compiler and passes
// the first that works as -DCUDA_EMU_HALF=<n>:
//   1  _Float16   arithmetic in half (g++ >= 12 on x86-64, g++ >= 13 on aarch64,
//                 clang >= 15 on x86-64, clang on aarch64 / Apple silicon)
//   2  __fp16     a storage type: arithmetic is done in float (aarch64 g++ < 13)
//   3  software   a 16-bit struct converting to and from float (clang 14 on x86-64,
//                 which has neither as a parameter type)
// Without the define (the header used on its own) it is the software type, which
// every C++17 compiler accepts.
//
// All three give the same bits for CUDA's half functions: a +, -, *, / or sqrt of two
// halves computed in float and rounded once to half is exactly the half operation
// (float has more than 2 * 11 + 2 significand bits), and conversions round to nearest
// even. The software type's conversions are written out below for that reason.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#ifndef CUDA_EMU_HALF
#define CUDA_EMU_HALF 3
#endif

#if CUDA_EMU_HALF == 1
typedef _Float16 __half;
#elif CUDA_EMU_HALF == 2
typedef __fp16 __half;
#else
namespace emu {
// float -> binary16 bits, round to nearest even (F. Giesen's branch-light conversion).
static inline uint16_t half_bits_from_float(float f) {
  uint32_t x; memcpy(&x, &f, 4);
  uint32_t sign = x & 0x80000000u;
  x ^= sign;
  uint16_t out;
  if (x >= (127u + 16u) << 23) {              // >= 2^16, Inf or NaN
    out = x > (255u << 23) ? 0x7E00 : 0x7C00;  // NaN stays NaN (quiet), the rest is Inf
  } else if (x < (113u << 23)) {               // below 2^-14: a half subnormal, or zero
    // adding 0.5 lines the half's subnormal unit (2^-24) up with float's last bit, so the
    // FPU's own round-to-nearest-even does the rounding
    float v; memcpy(&v, &x, 4);
    v += 0.5f;
    uint32_t b; memcpy(&b, &v, 4);
    out = (uint16_t)(b - 0x3F000000u);
  } else {                                     // normal: rebias, then round on bit 13
    uint32_t odd = (x >> 13) & 1u;
    x += ((uint32_t)(15 - 127) << 23) + 0xFFFu + odd;
    out = (uint16_t)(x >> 13);                 // a carry into the exponent gives Inf, as it should
  }
  return (uint16_t)(out | (sign >> 16));
}

static inline float float_from_half_bits(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    float v = (float)mant * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  uint32_t bits = sign | (exp == 0x1F ? 0x7F800000u | (mant << 13) : ((exp + 112u) << 23) | (mant << 13));
  float v; memcpy(&v, &bits, 4);
  return v;
}

// double -> float rounded to odd: then rounding that float to half gives the same result
// as rounding the double to half directly (no double rounding), as _Float16 does.
static inline float float_round_to_odd(double d) {
  float f = (float)d;
  uint32_t b; memcpy(&b, &f, 4);
  if ((double)f != d && !(b & 1u) && std::isfinite(f)) f = std::nextafter(f, d > (double)f ? INFINITY : -INFINITY);
  return f;
}
}  // namespace emu

struct __half {
  uint16_t emu_bits;
  __half() = default;
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
  __half(T v) : emu_bits(emu::half_bits_from_float(std::is_same_v<T, double> || std::is_same_v<T, long double>
                                                        ? emu::float_round_to_odd((double)v) : (float)v)) {}
  operator float() const { return emu::float_from_half_bits(emu_bits); }
  __half operator-() const { __half h; h.emu_bits = (uint16_t)(emu_bits ^ 0x8000u); return h; }
  __half operator+() const { return *this; }
};

// Mixed arithmetic follows C's rules for _Float16: with an integer the integer becomes a
// half first, with float or double the half becomes a float or double.
template <class T> using emu_half_mixed = std::conditional_t<std::is_integral_v<T>, __half, std::common_type_t<float, T>>;
template <class T> using emu_if_arithmetic = std::enable_if_t<std::is_arithmetic_v<T>, int>;
#define EMU_HALF_OPERATOR(op)                                                                             \
  static inline __half operator op(__half a, __half b) { return __half((float)a op (float)b); }           \
  template <class T, emu_if_arithmetic<T> = 0> static inline emu_half_mixed<T> operator op(__half a, T b) { \
    using R = emu_half_mixed<T>; return (R)a op (R)b;                                                     \
  }                                                                                                       \
  template <class T, emu_if_arithmetic<T> = 0> static inline emu_half_mixed<T> operator op(T a, __half b) { \
    using R = emu_half_mixed<T>; return (R)a op (R)b;                                                     \
  }                                                                                                       \
  template <class T> static inline __half& operator op##=(__half& a, T b) { a = a op b; return a; }
EMU_HALF_OPERATOR(+)
EMU_HALF_OPERATOR(-)
EMU_HALF_OPERATOR(*)
EMU_HALF_OPERATOR(/)
#undef EMU_HALF_OPERATOR
#define EMU_HALF_COMPARISON(op)                                                                        \
  static inline bool operator op(__half a, __half b) { return (float)a op (float)b; }                  \
  template <class T, emu_if_arithmetic<T> = 0> static inline bool operator op(__half a, T b) {          \
    using R = emu_half_mixed<T>; return (R)a op (R)b;                                                  \
  }                                                                                                    \
  template <class T, emu_if_arithmetic<T> = 0> static inline bool operator op(T a, __half b) {          \
    using R = emu_half_mixed<T>; return (R)a op (R)b;                                                  \
  }
EMU_HALF_COMPARISON(==)
EMU_HALF_COMPARISON(!=)
EMU_HALF_COMPARISON(<)
EMU_HALF_COMPARISON(<=)
EMU_HALF_COMPARISON(>)
EMU_HALF_COMPARISON(>=)
#undef EMU_HALF_COMPARISON
#endif

static_assert(sizeof(__half) == 2 && std::is_trivially_copyable_v<__half>, "__half is 16 bits, copied as bytes");

struct __attribute__((aligned(4))) __half2 { __half x, y; };
static inline __half __float2half(float f) { return (__half)f; }
static inline __half __float2half_rn(float f) { return (__half)f; }
static inline float __half2float(__half h) { return (float)h; }
// computed in float and rounded once: the half operation's exact result (see the top)
static inline __half __hadd(__half a, __half b) { return (__half)((float)a + (float)b); }
static inline __half __hsub(__half a, __half b) { return (__half)((float)a - (float)b); }
static inline __half __hmul(__half a, __half b) { return (__half)((float)a * (float)b); }
static inline __half __hdiv(__half a, __half b) { return (__half)((float)a / (float)b); }
static inline __half __hneg(__half a) { return -a; }
static inline __half __hfma(__half a, __half b, __half c) { return (__half)fmaf((float)a, (float)b, (float)c); }
static inline bool __heq(__half a, __half b) { return (float)a == (float)b; }
static inline bool __hlt(__half a, __half b) { return (float)a < (float)b; }
static inline bool __hgt(__half a, __half b) { return (float)a > (float)b; }
static inline __half2 __floats2half2_rn(float a, float b) { return {(__half)a, (__half)b}; }
static inline __half2 __halves2half2(__half a, __half b) { return {a, b}; }
static inline float2 __half22float2(__half2 h) { return {(float)h.x, (float)h.y}; }
static inline __half2 __float22half2_rn(float2 f) { return {(__half)f.x, (__half)f.y}; }
