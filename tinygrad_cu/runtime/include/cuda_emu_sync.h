// Barriers, warp shuffles and votes, and device-side assert.
//
// All of them only make sense in fiber mode. The loader puts a kernel in fiber mode
// when it (or a function it calls) names one of them; if that analysis was fooled, a
// barrier reached in loop mode reports an error instead of silently doing nothing.
#pragma once
#include <assert.h>

namespace emu {
static inline bool in_fiber_mode(const char* what) {
  Worker* w = tl_worker;
  if (w && w->fiber_mode) return true;
  if (w && w->block_threads > 1)
    report_error(E_BARRIER_IN_LOOP_MODE, "%s reached in a kernel that the loader ran in loop mode "
                 "(it found no barrier in the source: is it called through a pointer?)", what);
  return false;
}

// A warp exchange: every lane publishes a value, waits for its warp, reads the value
// of lane `src`, and waits again so that no lane overwrites its slot before all read.
template <class T> static inline T warp_exchange(T v, int src_lane, bool valid) {
  static_assert(sizeof(T) <= 8, "warp shuffles of types up to 8 bytes");
  if (!in_fiber_mode("a warp shuffle")) return v;
  Worker* w = tl_worker;
  unsigned me = linear_tid(), src = (me & ~31u) + (unsigned)src_lane;
  uint64_t bits = 0; memcpy(&bits, &v, sizeof(T));
  w->lanes[me] = bits;
  wait_at(AT_WARP_BARRIER);
  uint64_t got = (valid && src < w->block_threads) ? w->lanes[src] : bits;
  wait_at(AT_WARP_BARRIER);
  T out; memcpy(&out, &got, sizeof(T));
  return out;
}

// The bit of each lane of this warp whose `pred` is non-zero.
static inline unsigned warp_ballot(int pred) {
  if (!in_fiber_mode("a warp vote")) return pred ? 1u : 0u;
  Worker* w = tl_worker;
  unsigned me = linear_tid(), base = me & ~31u;
  w->lanes[me] = pred != 0;
  wait_at(AT_WARP_BARRIER);
  unsigned bits = 0;
  for (unsigned l = 0; l < 32 && base + l < w->block_threads; ++l) bits |= (unsigned)w->lanes[base + l] << l;
  wait_at(AT_WARP_BARRIER);
  return bits;
}

// How many threads of the block have a non-zero `pred` (for __syncthreads_count/and/or).
static inline int block_count(int pred) {
  if (!in_fiber_mode("__syncthreads_count/and/or")) return pred != 0;
  Worker* w = tl_worker;
  w->lanes[linear_tid()] = pred != 0;
  wait_at(AT_BLOCK_BARRIER);
  int count = 0;
  for (unsigned i = 0; i < w->block_threads; ++i) count += (int)w->lanes[i];
  wait_at(AT_BLOCK_BARRIER);
  return count;
}

static inline unsigned lane_id() { return linear_tid() & 31u; }
static inline unsigned lanes_in_my_warp() {
  unsigned base = linear_tid() & ~31u, n = tl_worker ? tl_worker->block_threads : 1;
  return n - base < 32 ? n - base : 32;
}
}  // namespace emu

static inline void __syncthreads() { if (emu::in_fiber_mode("__syncthreads()")) emu::wait_at(emu::AT_BLOCK_BARRIER); }
static inline int __syncthreads_count(int p) { return emu::block_count(p); }
static inline int __syncthreads_and(int p) { return emu::block_count(p) == (int)emu::tl_worker->block_threads; }
static inline int __syncthreads_or(int p) { return emu::block_count(p) != 0; }
static inline void __syncwarp(unsigned mask = 0xffffffffu) {
  (void)mask;
  if (emu::in_fiber_mode("__syncwarp()")) emu::wait_at(emu::AT_WARP_BARRIER);
}
static inline unsigned __activemask() { return 0xffffffffu; }

template <class T> static inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
  int lane = (int)emu::lane_id();
  return emu::warp_exchange(v, (lane & ~(width - 1)) + (src & (width - 1)), true);
}
template <class T> static inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  int lane = (int)emu::lane_id();
  return emu::warp_exchange(v, lane + (int)delta, (lane & (width - 1)) + (int)delta < width);
}
template <class T> static inline T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
  int lane = (int)emu::lane_id();
  return emu::warp_exchange(v, lane - (int)delta, (lane & (width - 1)) >= (int)delta);
}
template <class T> static inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  int lane = (int)emu::lane_id(), src = lane ^ mask;
  return emu::warp_exchange(v, src, (src & ~(width - 1)) == (lane & ~(width - 1)));
}
static inline unsigned __ballot_sync(unsigned, int pred) { return emu::warp_ballot(pred); }
static inline int __any_sync(unsigned, int pred) { return emu::warp_ballot(pred) != 0; }
static inline int __all_sync(unsigned, int pred) {
  unsigned n = emu::lanes_in_my_warp();
  return emu::warp_ballot(pred) == (n == 32 ? 0xffffffffu : (1u << n) - 1);
}

// Device-side assert. glibc's assert() calls __assert_fail, which would abort the
// whole process; this definition (hidden, so calls inside the library bind to it) ends
// the failing CUDA thread instead, and the launch raises "device-side assert
// triggered" in Python, as on a GPU.
extern "C" __attribute__((visibility("hidden"), noreturn))
void __assert_fail(const char* expr, const char* file, unsigned int line, const char* func) noexcept {
  emu::report_error(emu::E_DEVICE_ASSERT,
                    "device-side assert triggered: %s:%u: %s: Assertion `%s' failed "
                    "(block (%u,%u,%u), thread (%u,%u,%u))", file, line, func, expr,
                    blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x, threadIdx.y, threadIdx.z);
  emu::Worker* w = emu::tl_worker;
  if (!w) abort();  // not inside a kernel launch
  if (w->fiber_mode) emu::exit_fiber(w);
#ifdef EMU_ASAN
  __asan_handle_no_return();
#endif
  __builtin_longjmp(w->loop_escape, 1);
}
static inline void __trap() { __assert_fail("__trap()", "kernel", 0, "__trap"); }
