// Fibers: each CUDA thread of a block that uses barriers runs on its own small stack,
// and a barrier switches to the next thread. The switch is a few instructions of
// assembly on x86-64 (the six callee-saved registers) and on aarch64 (x19-x30 and
// d8-d15), with no system call; glibc's swapcontext makes a sigprocmask system call
// per switch and is ~25x slower. The same code serves Linux and macOS (Intel and Apple
// silicon): only the assembler's directives differ (ELF or Mach-O, below). Elsewhere,
// or with -DCUDA_EMU_UCONTEXT, it falls back to ucontext.
#pragma once
#include <cstdint>
#include <cstddef>
// AddressSanitizer is on: g++ says so with __SANITIZE_ADDRESS__, clang with __has_feature.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMU_HAS_ASAN_FEATURE 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(EMU_HAS_ASAN_FEATURE)
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/asan_interface.h>
#define EMU_ASAN 1
#endif
#if defined(CUDA_EMU_UCONTEXT) || !(defined(__x86_64__) || defined(__aarch64__))
#if defined(__APPLE__) && !defined(_XOPEN_SOURCE)
#define _XOPEN_SOURCE 700  // macOS's <ucontext.h> refuses to declare the (deprecated) routines without it
#endif
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
// The assembler directives that open and close a hidden function differ by object
// format: ELF (Linux) has .hidden, .type and .size; Mach-O (macOS) prefixes C names with
// an underscore and spells "hidden" .private_extern (Apple's "OS X Assembler Reference").
#if defined(__APPLE__)
#define EMU_ASM_BEGIN(name, type) ".globl _" #name "\n.private_extern _" #name "\n_" #name ":\n"
#define EMU_ASM_END(name) "\n"
#else
#define EMU_ASM_BEGIN(name, type) ".globl " #name "\n.hidden " #name "\n.type " #name "," type "\n" #name ":\n"
#define EMU_ASM_END(name) ".size " #name ", .-" #name "\n"
#endif
#endif
#if !defined(EMU_UCONTEXT) && defined(__x86_64__)
// System V and macOS share the x86-64 calling convention: rbx, rbp, r12-r15 are callee-saved.
asm(".text\n"
    ".p2align 4\n"
    EMU_ASM_BEGIN(emu_switch_stack, "@function")
    "  pushq %rbp\n"
    "  pushq %rbx\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbx\n"
    "  popq %rbp\n"
    "  ret\n"
    EMU_ASM_END(emu_switch_stack));
#elif !defined(EMU_UCONTEXT) && defined(__aarch64__)
// AAPCS64: x19-x28, the frame pointer x29, the link register x30 and the low halves of
// v8-v15 (d8-d15) are callee-saved: 20 registers, 160 bytes (sp stays 16-aligned).
// Apple's arm64 ABI keeps these rules (and reserves x18, which is never touched here).
// A new fiber's frame holds x19 = its entry and x30 = emu_fiber_start, which calls the
// entry with a zero link register and frame pointer, so backtraces end there.
asm(".text\n"
    ".p2align 2\n"
    EMU_ASM_BEGIN(emu_switch_stack, "%function")
    "  sub sp, sp, #160\n"
    "  stp x19, x20, [sp, #0]\n"
    "  stp x21, x22, [sp, #16]\n"
    "  stp x23, x24, [sp, #32]\n"
    "  stp x25, x26, [sp, #48]\n"
    "  stp x27, x28, [sp, #64]\n"
    "  stp x29, x30, [sp, #80]\n"
    "  stp d8, d9, [sp, #96]\n"
    "  stp d10, d11, [sp, #112]\n"
    "  stp d12, d13, [sp, #128]\n"
    "  stp d14, d15, [sp, #144]\n"
    "  mov x9, sp\n"
    "  str x9, [x0]\n"
    "  mov sp, x1\n"
    "  ldp x19, x20, [sp, #0]\n"
    "  ldp x21, x22, [sp, #16]\n"
    "  ldp x23, x24, [sp, #32]\n"
    "  ldp x25, x26, [sp, #48]\n"
    "  ldp x27, x28, [sp, #64]\n"
    "  ldp x29, x30, [sp, #80]\n"
    "  ldp d8, d9, [sp, #96]\n"
    "  ldp d10, d11, [sp, #112]\n"
    "  ldp d12, d13, [sp, #128]\n"
    "  ldp d14, d15, [sp, #144]\n"
    "  add sp, sp, #160\n"
    "  ret\n"
    EMU_ASM_END(emu_switch_stack)
    ".p2align 2\n"
    EMU_ASM_BEGIN(emu_fiber_start, "%function")
    "  mov x16, x19\n"
    "  mov x29, xzr\n"
    "  mov x30, xzr\n"
    "  br x16\n"
    EMU_ASM_END(emu_fiber_start));
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
