// The guard library: kernel faults become launch errors, and a watchdog stops kernels
// that run too long or that Ctrl-C should end.
//
// Like the thread pool (cuda_emu_pool.h), it is not part of any kernel module:
// emu_build.py compiles it once per compiler into its own small shared library, and
// emu.py hands its entry points (emu_guard::Api, cuda_emu_guard_api.h) to every module
// it loads. So one process has one set of signal handlers and one watchdog thread,
// however many modules it loads.
//
// Faults. SIGSEGV, SIGBUS, SIGFPE and SIGILL get a handler that runs on an alternate
// signal stack (a fiber that overflowed its stack has none left to run a handler on).
// On a thread with an armed Frame it records the signal, the address and the CUDA
// thread and block, and siglongjmps to the frame: the scheduler then ends the worker
// and the launch returns an error. SA_NODEFER keeps the signal unblocked after the
// jump, so the next fault on that thread is caught too, without a sigprocmask call on
// every launch. On any other thread the previous handler runs, as if this one did not
// exist.
//
// Watchdog. One thread, started at the first launch. While a launch runs it wakes every
// TICK_MS: after a launch has run for a tick it puts a SIGINT handler in front of
// Python's (and calls Python's too, so KeyboardInterrupt is still raised), and it stops
// the launch when the timeout passed or Ctrl-C was pressed, by sending STOP_SIGNAL to
// every thread running the launch. A short launch costs two atomic stores and an
// uncontended mutex: no system call.
#pragma once
#include "cuda_emu_guard_api.h"
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <pthread.h>
#include <unistd.h>
#if defined(__linux__)
#include <ucontext.h>
#endif

namespace emu_guard {

static constexpr int TICK_MS = 20;
static constexpr int MAX_THREADS = 512;          // OS threads of one launch that can be stopped
static constexpr size_t ALT_STACK = 64 << 10;
static const int FAULT_SIGNALS[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
#ifdef SIGRTMIN
static int stop_signal() { return SIGRTMIN + 5; }  // unused by CPython, glibc, libgomp
#else
static int stop_signal() { return SIGUSR2; }       // macOS has no real-time signals
#endif

// initial-exec: read in a signal handler, so it must not be allocated lazily
static __thread Frame* tl_frame __attribute__((tls_model("initial-exec"))) = nullptr;
static __thread bool tl_has_alt_stack __attribute__((tls_model("initial-exec"))) = false;

static struct sigaction g_previous[64];
static struct sigaction g_previous_sigint;

struct Watchdog {
  std::mutex m;
  std::condition_variable wake;
  std::atomic<int> active{0};
  std::atomic<bool> sleeping{false};
  std::atomic<long long> started_ns{0};
  double timeout_s = 0;                      // 0: never
  volatile int stop = 0;                     // Api::stop
  int reason = NONE;
  volatile sig_atomic_t interrupted = 0;
  bool sigint_installed = false;
  std::atomic<int> thread_count{0};
  pthread_t threads[MAX_THREADS];
};
static Watchdog& dog() {
  static Watchdog* w = new Watchdog();  // never destroyed: its thread outlives exit handlers
  return *w;
}

static long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ------------------------------------------------------------------ signals
static void chain(int sig, siginfo_t* info, void* context, const struct sigaction& previous) {
  if (previous.sa_flags & SA_SIGINFO) {
    if (previous.sa_sigaction) previous.sa_sigaction(sig, info, context);
    return;
  }
  if (previous.sa_handler == SIG_IGN) return;
  if (previous.sa_handler == SIG_DFL) {  // returning re-runs the instruction: the default action ends the process
    signal(sig, SIG_DFL);
    return;
  }
  previous.sa_handler(sig);
}

static void on_fault(int sig, siginfo_t* info, void* context) {
  Frame* f = tl_frame;
  if (!f) { chain(sig, info, context, g_previous[sig]); return; }
  tl_frame = nullptr;  // a fault while it unwinds is not the kernel's
  f->signal = sig;
  f->code = info->si_code;
  f->address = (uintptr_t)info->si_addr;
  f->access = -1;
#if defined(__linux__) && defined(__x86_64__) && defined(REG_ERR)
  if (sig == SIGSEGV) f->access = (((ucontext_t*)context)->uc_mcontext.gregs[REG_ERR] & 2) ? 1 : 0;
#else
  (void)context;
#endif
  f->fault_thread = *f->thread_index;
  f->fault_block = *f->block_index;
  f->reason = FAULT;
  siglongjmp(f->escape, 1);
}

static void on_stop(int, siginfo_t*, void*) {
  Frame* f = tl_frame;
  Watchdog& w = dog();
  if (!f || !w.stop) return;  // this thread is done with the launch already
  tl_frame = nullptr;
  f->fault_thread = *f->thread_index;
  f->fault_block = *f->block_index;
  f->reason = w.reason;
  siglongjmp(f->escape, 1);
}

static void on_sigint(int sig, siginfo_t* info, void* context) {
  dog().interrupted = 1;
  chain(sig, info, context, g_previous_sigint);  // Python's handler: KeyboardInterrupt afterwards
}

static void install_handlers() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sa.sa_sigaction = on_fault;
  for (int sig : FAULT_SIGNALS) {
    struct sigaction current;
    sigaction(sig, nullptr, &current);
    if (current.sa_sigaction == on_fault) continue;  // ours already (installed again after a replacement)
    g_previous[sig] = current;
    sigaction(sig, &sa, nullptr);
  }
  // SA_NODEFER: on_stop leaves by siglongjmp, which (sigsetjmp(.., 0), no syscall per launch)
  // restores no signal mask. Without it the stop signal would stay blocked on that thread,
  // and in every process it forks or spawns: their watchdog could never stop a kernel there.
  sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER;
  sa.sa_sigaction = on_stop;
  sigaction(stop_signal(), &sa, nullptr);
}

// Each thread that runs kernels gets an alternate signal stack once (Python's
// faulthandler gives the main thread one; a smaller one is replaced).
static void ensure_alt_stack() {
  if (tl_has_alt_stack) return;
  stack_t current;
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE) && current.ss_size >= ALT_STACK) {
    tl_has_alt_stack = true;
    return;
  }
  stack_t mine;
  mine.ss_sp = malloc(ALT_STACK);  // never freed: the thread may take a signal until it ends
  mine.ss_size = ALT_STACK;
  mine.ss_flags = 0;
  if (mine.ss_sp && sigaltstack(&mine, nullptr) == 0) tl_has_alt_stack = true;
}

// ------------------------------------------------------------------ watchdog
static void stop_launch(Watchdog& w, int reason) {
  if (!w.stop) { w.reason = reason; w.stop = 1; }
  int n = w.thread_count.load();
  for (int i = 0; i < n && i < MAX_THREADS; ++i) pthread_kill(w.threads[i], stop_signal());
}

static void watchdog_main() {
  Watchdog& w = dog();
  std::unique_lock<std::mutex> lock(w.m);
  int idle_ticks = 0;
  for (;;) {
    if (!w.active.load()) {
      if (++idle_ticks > 50) {  // a second without launches: sleep until the next one
        w.sleeping = true;
        w.wake.wait(lock, [&] { return w.active.load() != 0; });
        w.sleeping = false;
        idle_ticks = 0;
      }
    } else {
      idle_ticks = 0;
    }
    w.wake.wait_for(lock, std::chrono::milliseconds(TICK_MS));
    if (!w.active.load()) continue;
    double elapsed = (now_ns() - w.started_ns.load()) * 1e-9;
    if (!w.sigint_installed && elapsed * 1000 >= TICK_MS) {
      struct sigaction sa;
      memset(&sa, 0, sizeof sa);
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_SIGINFO | SA_RESTART;
      sa.sa_sigaction = on_sigint;
      w.interrupted = 0;
      sigaction(SIGINT, &sa, &g_previous_sigint);
      w.sigint_installed = true;
    }
    if (w.interrupted) stop_launch(w, INTERRUPT);
    else if (w.timeout_s > 0 && elapsed > w.timeout_s) stop_launch(w, TIMEOUT);
  }
}

static void enter(Frame* f) {
  ensure_alt_stack();
  f->reason = NONE;
  tl_frame = f;
  Watchdog& w = dog();
  int i = w.thread_count.fetch_add(1);
  if (i < MAX_THREADS) w.threads[i] = pthread_self();
}

static void leave() { tl_frame = nullptr; }

// fork(): the child has no watchdog thread, and the mutex must not be left locked by
// the parent's: it is taken around fork, and the child starts its own thread on its
// first launch.
static std::atomic<bool> g_need_thread{true};
static void start_watchdog_if_needed() {
  bool expected = true;
  if (g_need_thread.load(std::memory_order_relaxed) && g_need_thread.compare_exchange_strong(expected, false))
    std::thread(watchdog_main).detach();
}
static void before_fork() { dog().m.lock(); }
static void after_fork_parent() { dog().m.unlock(); }
static void after_fork_child() {
  Watchdog& w = dog();
  w.m.unlock();
  new (&w.wake) std::condition_variable();  // the parent's waiter is not in this process
  w.sleeping = false;
  g_need_thread = true;
}

static void launch_begin() {
  start_watchdog_if_needed();
  Watchdog& w = dog();
  w.thread_count.store(0, std::memory_order_relaxed);
  w.started_ns.store(now_ns(), std::memory_order_relaxed);
  w.active.store(1);
  if (w.sleeping.load()) {
    std::lock_guard<std::mutex> lock(w.m);
    w.wake.notify_one();
  }
}

static int launch_end() {
  Watchdog& w = dog();
  std::lock_guard<std::mutex> lock(w.m);  // the watchdog acts under it: no stop after this
  w.active.store(0);
  if (w.sigint_installed) {
    sigaction(SIGINT, &g_previous_sigint, nullptr);
    w.sigint_installed = false;
  }
  int reason = w.stop ? w.reason : NONE;
  w.stop = 0;
  w.reason = NONE;
  w.interrupted = 0;
  return reason;
}

static const Api* api() {
  static Api a{enter, leave, launch_begin, launch_end, &dog().stop};
  static std::once_flag registered;
  std::call_once(registered, [] { pthread_atfork(before_fork, after_fork_parent, after_fork_child); });
  return &a;
}
}  // namespace emu_guard

#define EMU_GUARD_EXPORT extern "C" __attribute__((visibility("default")))
// The entry points for Python: the Api for modules, (re)installing the handlers, and the timeout.
EMU_GUARD_EXPORT const emu_guard::Api* emu_guard_api() { return emu_guard::api(); }
EMU_GUARD_EXPORT void emu_guard_install() { emu_guard::install_handlers(); }
EMU_GUARD_EXPORT void emu_guard_set_timeout(double seconds) {
  std::lock_guard<std::mutex> lock(emu_guard::dog().m);
  emu_guard::dog().timeout_s = seconds;
}
