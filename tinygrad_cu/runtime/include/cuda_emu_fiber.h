// Fibers: each CUDA thread of a block that uses barriers runs on its own small stack,
// and a barrier switches to the next thread. The switch is a few instructions of
// assembly on x86-64 (the six callee-saved registers) and on aarch64 (x19-x30 and
// d8-d15), with no system call; glibc's swapcontext makes a sigprocmask system call
// per switch and is ~25x slower. Elsewhere, or with -DCUDA_EMU_UCONTEXT, it falls back
// to ucontext.
#pragma once
#include <cstdint>
#include <cstddef>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/asan_interface.h>
#define EMU_ASAN 1
#endif
#if defined(CUDA_EMU_UCONTEXT) || !(defined(__x86_64__) || defined(__aarch64__))
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
#endif
#if !defined(EMU_UCONTEXT) && defined(__x86_64__)
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
#elif !defined(EMU_UCONTEXT) && defined(__aarch64__)
// AAPCS64: x19-x28, the frame pointer x29, the link register x30 and the low halves of
// v8-v15 (d8-d15) are callee-saved: 20 registers, 160 bytes (sp stays 16-aligned).
// A new fiber's frame holds x19 = its entry and x30 = emu_fiber_start, which calls the
// entry with a zero link register and frame pointer, so backtraces end there.
asm(R"(
  .text
  .p2align 2
  .globl emu_switch_stack
  .hidden emu_switch_stack
  .type emu_switch_stack,%function
emu_switch_stack:
  sub sp, sp, #160
  stp x19, x20, [sp, #0]
  stp x21, x22, [sp, #16]
  stp x23, x24, [sp, #32]
  stp x25, x26, [sp, #48]
  stp x27, x28, [sp, #64]
  stp x29, x30, [sp, #80]
  stp d8, d9, [sp, #96]
  stp d10, d11, [sp, #112]
  stp d12, d13, [sp, #128]
  stp d14, d15, [sp, #144]
  mov x9, sp
  str x9, [x0]
  mov sp, x1
  ldp x19, x20, [sp, #0]
  ldp x21, x22, [sp, #16]
  ldp x23, x24, [sp, #32]
  ldp x25, x26, [sp, #48]
  ldp x27, x28, [sp, #64]
  ldp x29, x30, [sp, #80]
  ldp d8, d9, [sp, #96]
  ldp d10, d11, [sp, #112]
  ldp d12, d13, [sp, #128]
  ldp d14, d15, [sp, #144]
  add sp, sp, #160
  ret
  .size emu_switch_stack, .-emu_switch_stack

  .p2align 2
  .hidden emu_fiber_start
  .type emu_fiber_start,%function
emu_fiber_start:
  mov x16, x19
  mov x29, xzr
  mov x30, xzr
  br x16
  .size emu_fiber_start, .-emu_fiber_start
)");
extern "C" void emu_fiber_start() __attribute__((visibility("hidden")));
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
#elif defined(__x86_64__)
  uint64_t* sp = (uint64_t*)(((uintptr_t)lo + size) & ~(uintptr_t)15);
  *--sp = 0;                                 // entry's return address: it never returns
  *--sp = (uint64_t)(uintptr_t)entry;        // popped by emu_switch_stack's `ret`
  for (int i = 0; i < 6; i++) *--sp = 0;     // rbp rbx r12 r13 r14 r15
  ctx.sp = sp;
#else  // aarch64: the 20 slots emu_switch_stack loads, in its order
  uint64_t* sp = (uint64_t*)(((uintptr_t)lo + size) & ~(uintptr_t)15) - 20;
  for (int i = 0; i < 20; i++) sp[i] = 0;
  sp[0] = (uint64_t)(uintptr_t)entry;                    // x19
  sp[11] = (uint64_t)(uintptr_t)&emu_fiber_start;        // x30: where `ret` goes
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
