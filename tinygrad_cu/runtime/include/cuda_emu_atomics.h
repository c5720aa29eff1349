// CUDA atomics. The fibers of one block never preempt each other, but blocks run on
// several OS threads at once, so these must be real CPU atomics. Relaxed order is
// what CUDA guarantees for atomicAdd & co. (fences are __threadfence's job).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace emu {
// read-modify-write through a compare-and-swap loop on the value's bit pattern:
// for float/double (no native fetch_add) and for min/max/inc/dec.
template <class T, class F> static inline T atomic_update(T* p, F f) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  static_assert(sizeof(T) == sizeof(Bits), "atomics on 4- or 8-byte types only");
  Bits* bits = reinterpret_cast<Bits*>(p);
  Bits seen = __atomic_load_n(bits, __ATOMIC_RELAXED);
  for (;;) {
    T old; memcpy(&old, &seen, sizeof(T));
    T now = f(old);
    Bits want; memcpy(&want, &now, sizeof(T));
    if (__atomic_compare_exchange_n(bits, &seen, want, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return old;
  }
}
}  // namespace emu

#define EMU_ATOMIC static inline
typedef unsigned long long emu_ull;
EMU_ATOMIC float atomicAdd(float* p, float v) { return emu::atomic_update(p, [v](float o) { return o + v; }); }
EMU_ATOMIC double atomicAdd(double* p, double v) { return emu::atomic_update(p, [v](double o) { return o + v; }); }
EMU_ATOMIC int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
EMU_ATOMIC unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
EMU_ATOMIC emu_ull atomicAdd(emu_ull* p, emu_ull v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
EMU_ATOMIC float atomicSub(float* p, float v) { return emu::atomic_update(p, [v](float o) { return o - v; }); }
EMU_ATOMIC int atomicSub(int* p, int v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }
EMU_ATOMIC unsigned atomicSub(unsigned* p, unsigned v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }
EMU_ATOMIC int atomicExch(int* p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
EMU_ATOMIC unsigned atomicExch(unsigned* p, unsigned v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
EMU_ATOMIC emu_ull atomicExch(emu_ull* p, emu_ull v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
EMU_ATOMIC float atomicExch(float* p, float v) { return emu::atomic_update(p, [v](float) { return v; }); }
template <class T> static inline T emu_cas(T* p, T expected, T desired) {
  __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return expected;  // CUDA returns the old value whether or not the swap happened
}
EMU_ATOMIC int atomicCAS(int* p, int c, int v) { return emu_cas(p, c, v); }
EMU_ATOMIC unsigned atomicCAS(unsigned* p, unsigned c, unsigned v) { return emu_cas(p, c, v); }
EMU_ATOMIC emu_ull atomicCAS(emu_ull* p, emu_ull c, emu_ull v) { return emu_cas(p, c, v); }
#define EMU_ATOMIC_MINMAX(T)                                                                          \
  EMU_ATOMIC T atomicMax(T* p, T v) { return emu::atomic_update(p, [v](T o) { return o > v ? o : v; }); } \
  EMU_ATOMIC T atomicMin(T* p, T v) { return emu::atomic_update(p, [v](T o) { return o < v ? o : v; }); }
EMU_ATOMIC_MINMAX(int)
EMU_ATOMIC_MINMAX(unsigned)
EMU_ATOMIC_MINMAX(long long)
EMU_ATOMIC_MINMAX(emu_ull)
EMU_ATOMIC unsigned atomicInc(unsigned* p, unsigned limit) {
  return emu::atomic_update(p, [limit](unsigned o) { return o >= limit ? 0u : o + 1; });
}
EMU_ATOMIC unsigned atomicDec(unsigned* p, unsigned limit) {
  return emu::atomic_update(p, [limit](unsigned o) { return (o == 0 || o > limit) ? limit : o - 1; });
}
#define EMU_ATOMIC_BITS(T)                                                                           \
  EMU_ATOMIC T atomicAnd(T* p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }              \
  EMU_ATOMIC T atomicOr(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }                \
  EMU_ATOMIC T atomicXor(T* p, T v) { return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); }
EMU_ATOMIC_BITS(int)
EMU_ATOMIC_BITS(unsigned)
EMU_ATOMIC_BITS(emu_ull)
