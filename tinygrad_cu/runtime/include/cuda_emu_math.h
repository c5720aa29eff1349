// CUDA's math functions and intrinsics on the CPU. The single-precision functions
// (expf, logf, tanhf, fmaxf, ...) are the C library's; here are the CUDA-only ones.
// Fast intrinsics (__expf) map to the accurate function: tests compare with
// tolerances anyway, and the GPU result lies between the two.
#pragma once
#include <math.h>
#include <cmath>
#include <atomic>
#include <type_traits>
#include <time.h>

#define EMU_FN static inline
// glibc declares __expf & co. itself, with other meanings; function-like macros win.
#define __expf(x) expf(x)
#define __exp10f(x) exp10f(x)
#define __logf(x) logf(x)
#define __log2f(x) log2f(x)
#define __log10f(x) log10f(x)
#define __sinf(x) sinf(x)
#define __cosf(x) cosf(x)
#define __tanf(x) tanf(x)
#define __powf(a, b) powf(a, b)
#define __sincosf(x, s, c) sincosf(x, s, c)

// glibc has these GNU extensions (which CUDA offers too); Apple's libm does not.
#if !defined(__GLIBC__)
EMU_FN void sincosf(float x, float* s, float* c) { *s = sinf(x); *c = cosf(x); }
EMU_FN void sincos(double x, double* s, double* c) { *s = sin(x); *c = cos(x); }
EMU_FN float exp10f(float x) { return powf(10.0f, x); }
EMU_FN double exp10(double x) { return pow(10.0, x); }
#endif

EMU_FN float rsqrtf(float x) { return 1.0f / sqrtf(x); }
EMU_FN double rsqrt(double x) { return 1.0 / sqrt(x); }
EMU_FN float __fdividef(float a, float b) { return a / b; }
EMU_FN float fdividef(float a, float b) { return a / b; }
EMU_FN float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
EMU_FN float __frcp_rn(float x) { return 1.0f / x; }
EMU_FN float __fsqrt_rn(float x) { return sqrtf(x); }
EMU_FN float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
EMU_FN float __fadd_rn(float a, float b) { return a + b; }
EMU_FN float __fsub_rn(float a, float b) { return a - b; }
EMU_FN float __fmul_rn(float a, float b) { return a * b; }
EMU_FN float __fdiv_rn(float a, float b) { return a / b; }
EMU_FN int __float2int_rn(float x) { return (int)nearbyintf(x); }
EMU_FN int __float2int_rz(float x) { return (int)x; }
EMU_FN int __float2int_rd(float x) { return (int)floorf(x); }
EMU_FN int __float2int_ru(float x) { return (int)ceilf(x); }
EMU_FN unsigned __float2uint_rn(float x) { return (unsigned)nearbyintf(x); }
EMU_FN float __int2float_rn(int x) { return (float)x; }
EMU_FN float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
EMU_FN int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
EMU_FN float __uint_as_float(unsigned i) { float f; memcpy(&f, &i, 4); return f; }
EMU_FN unsigned __float_as_uint(float f) { unsigned i; memcpy(&i, &f, 4); return i; }
EMU_FN int __popc(unsigned x) { return __builtin_popcount(x); }
EMU_FN int __popcll(unsigned long long x) { return __builtin_popcountll(x); }
EMU_FN int __clz(int x) { return x ? __builtin_clz((unsigned)x) : 32; }
EMU_FN int __ffs(int x) { return __builtin_ffs(x); }
EMU_FN unsigned __brev(unsigned x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  return __builtin_bswap32(x);
}
EMU_FN int __mul24(int a, int b) { return a * b; }
EMU_FN unsigned __umul24(unsigned a, unsigned b) { return a * b; }
EMU_FN int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
EMU_FN unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }

// min/max: CUDA overloads them for every arithmetic type; float ones follow fminf (NaN-aware).
EMU_FN float min(float a, float b) { return fminf(a, b); }
EMU_FN float max(float a, float b) { return fmaxf(a, b); }
EMU_FN double min(double a, double b) { return fmin(a, b); }
EMU_FN double max(double a, double b) { return fmax(a, b); }
template <class A, class B, class = std::enable_if_t<std::is_integral_v<A> && std::is_integral_v<B>>>
static inline std::common_type_t<A, B> min(A a, B b) { using C = std::common_type_t<A, B>; return (C)a < (C)b ? (C)a : (C)b; }
template <class A, class B, class = std::enable_if_t<std::is_integral_v<A> && std::is_integral_v<B>>>
static inline std::common_type_t<A, B> max(A a, B b) { using C = std::common_type_t<A, B>; return (C)a > (C)b ? (C)a : (C)b; }

template <class T> static inline T __ldg(const T* p) { return *p; }
EMU_FN void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
EMU_FN void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }
EMU_FN long long clock64() { timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
EMU_FN void __nanosleep(unsigned) {}
