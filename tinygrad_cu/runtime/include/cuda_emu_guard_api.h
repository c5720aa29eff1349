// What a kernel module and the runtime's guard library (cuda_emu_guard.h) share.
//
// A GPU turns a wrong kernel into an error code ("an illegal memory access was
// encountered") and the host program goes on. On the CPU the same kernel raises a
// signal in the Python process: SIGSEGV, SIGBUS, SIGFPE. The guard library catches
// those signals, and the watchdog's stop signal, on the threads that are running kernel
// code, and jumps back to where the module's scheduler started the worker, which then
// reports an ordinary launch error.
//
// Every OS thread that runs blocks of a launch arms a Frame (enter) and disarms it when
// it is done (leave). A signal on an armed thread fills the frame and siglongjmps to its
// `escape`; on any other thread it goes to the handler that was there before (Python's
// faulthandler, or the default action), so a crash outside kernels is still a crash.
#pragma once
#include <csetjmp>
#include <csignal>
#include <cstddef>
#include <cstdint>

namespace emu_guard {

enum Reason : int { NONE = 0, FAULT = 1, TIMEOUT = 2, INTERRUPT = 3 };

struct ThreadIndex { unsigned x, y, z; };  // uint3's layout, without the module's headers

struct Frame {
  sigjmp_buf escape;                 // set by the worker before it runs any block
  volatile sig_atomic_t reason;      // why it jumped back
  int signal, code;                  // the signal and its si_code
  int access;                        // 1 write, 0 read, -1 unknown (x86-64 Linux tells)
  uintptr_t address;                 // the faulting address (si_addr)
  const ThreadIndex* thread_index;   // this OS thread's threadIdx / blockIdx (thread_locals
  const ThreadIndex* block_index;    // of the module), read when the signal arrives
  ThreadIndex fault_thread, fault_block;
};

// The library's entry points, handed to every module by emu_set_guard.
struct Api {
  void (*enter)(Frame*);             // this thread runs kernel code from now on
  void (*leave)();                   // ... no longer
  void (*launch_begin)();            // the watchdog starts timing a launch
  int (*launch_end)();               // returns why the watchdog stopped it (NONE, TIMEOUT, INTERRUPT)
  const volatile int* stop;          // non-zero once the watchdog stopped the running launch
};

}  // namespace emu_guard
