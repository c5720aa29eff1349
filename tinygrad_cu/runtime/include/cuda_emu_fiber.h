// Fibers: each CUDA thread of a block that uses barriers runs on its own small stack,
// and a barrier switches to the next thread. The switch is a few instructions of
// assembly on x86-64 (the six callee-saved registers, no system call;
// glibc's swapcontext makes a sigprocmask system call per switch and is ~25x slower).
// Elsewhere (aarch64, or with -DCUDA_EMU_UCONTEXT) it falls back to ucontext.
#pragma once
#include <cstdint>
#include <cstddef>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/asan_interface.h>
#define EMU_ASAN 1
#endif
#if defined(CUDA_EMU_UCONTEXT) || !defined(__x86_64__)
#include <ucontext.h>
#define EMU_UCONTEXT 1
#endif

namespace emu {

struct Context {
#ifdef EMU_UCONTEXT
  ucontext_t uc;
#else
  void* sp = nullptr;  // the saved stack pointer; the registers are on that stack
#endif
};

#ifndef EMU_UCONTEXT
extern "C" void emu_switch_stack(void** save_sp, void* load_sp) __attribute__((visibility("hidden")));
asm(R"(
  .text
  .globl emu_switch_stack
  .hidden emu_switch_stack
  .type emu_switch_stack,@function
emu_switch_stack:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_switch_stack, .-emu_switch_stack
)");
#endif

// The FP control words (MXCSR, x87 CW) are not switched: the ABI makes them preserved
// across calls, all fibers of one OS thread share one FP environment, and CUDA code has
// no way to change it (rounding is per instruction: __fadd_rn & co.). Saving and
// restoring them (ldmxcsr/fldcw are slow, partly serialising) cost ~20% of a switch.

// Make `ctx` start `entry` on the stack [lo, lo + size) when first switched to.
static inline void context_init(Context& ctx, char* lo, size_t size, void (*entry)()) {
#ifdef EMU_UCONTEXT
  getcontext(&ctx.uc);
  ctx.uc.uc_stack.ss_sp = lo;
  ctx.uc.uc_stack.ss_size = size;
  ctx.uc.uc_link = nullptr;
  makecontext(&ctx.uc, entry, 0);
#else
  uint64_t* sp = (uint64_t*)(((uintptr_t)lo + size) & ~(uintptr_t)15);
  *--sp = 0;                                 // entry's return address: it never returns
  *--sp = (uint64_t)(uintptr_t)entry;        // popped by emu_switch_stack's `ret`
  for (int i = 0; i < 6; i++) *--sp = 0;     // rbp rbx r12 r13 r14 r15
  ctx.sp = sp;
#endif
}

// Switch from `from` to `to`, whose stack is [to_lo, to_lo + to_size). Under ASan the
// switch is announced, or ASan takes the new stack for a stack overflow.
static inline void context_switch(Context& from, void** asan_fake_stack, Context& to, const void* to_lo, size_t to_size) {
#ifdef EMU_ASAN
  __sanitizer_start_switch_fiber(asan_fake_stack, to_lo, to_size);
#else
  (void)asan_fake_stack; (void)to_lo; (void)to_size;
#endif
#ifdef EMU_UCONTEXT
  swapcontext(&from.uc, &to.uc);
#else
  emu_switch_stack(&from.sp, to.sp);
#endif
#ifdef EMU_ASAN
  const void* lo; size_t size;
  __sanitizer_finish_switch_fiber(asan_fake_stack ? *asan_fake_stack : nullptr, &lo, &size);
#endif
}

}  // namespace emu
