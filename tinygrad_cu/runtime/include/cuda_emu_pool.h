// The runtime's own thread pool: runs a launch's blocks on several cores when the
// compiler has no OpenMP (Apple clang without libomp, a clang without libomp-dev).
//
// It is not part of any kernel module. emu_build.py compiles it once per compiler into
// its own small shared library (a file containing only `#include "cuda_emu_pool.h"`),
// and emu.py hands its entry point to every module built without OpenMP
// (emu_set_pool), so one process has one pool however many modules it loads, as it has
// one libgomp pool with OpenMP.
//
// emu_pool_run(workers, task, ctx) runs task(ctx, 0) on the calling thread and
// task(ctx, 1 .. workers-1) on pool threads, and returns when all have returned. The
// task itself takes blocks from a shared counter (the module's scheduler does that), so
// the pool knows nothing about grids. Pool threads are started on first need and live
// as long as the process; between launches they spin briefly (a training step launches
// kernels back to back, and waking a sleeping thread costs tens of microseconds), then
// sleep on a condition variable.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>
#include <unistd.h>

namespace emu_pool {

using Task = void (*)(void* ctx, int worker);

struct Pool {
  std::mutex run_lock;                 // one launch at a time uses the pool
  std::mutex m;
  std::condition_variable wake, done;
  std::atomic<unsigned long> generation{0};  // bumped once per launch; threads wait for a change
  Task task = nullptr;
  void* ctx = nullptr;
  int wanted = 0;                      // pool threads that take part in this launch
  std::atomic<int> unfinished{0};
  std::vector<std::thread*> threads;   // never joined or destroyed: they live as long as the process
  pid_t owner = 0;                     // the process that started the threads
};

static Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: threads may still wait on it at exit
  return *p;
}

static inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

static void thread_main(int index) {
  Pool& p = pool();
  unsigned long seen = 0;
  for (;;) {
    unsigned long now = p.generation.load(std::memory_order_acquire);
    for (int spin = 0; now == seen && spin < 20000; ++spin) {
      cpu_relax();
      now = p.generation.load(std::memory_order_acquire);
    }
    // the launch's fields, read together under the lock: a thread that was slow to notice
    // one launch sees only the latest, and takes part in it at most once
    Task task; void* ctx; int wanted;
    {
      std::unique_lock<std::mutex> lock(p.m);
      p.wake.wait(lock, [&] { return p.generation.load(std::memory_order_relaxed) != seen; });
      seen = p.generation.load(std::memory_order_relaxed);
      task = p.task; ctx = p.ctx; wanted = p.wanted;
    }
    if (index <= wanted) {
      task(ctx, index);
      if (p.unfinished.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(p.m);
        p.done.notify_one();
      }
    }
  }
}

// How many OS threads a launch may use: OMP_NUM_THREADS if set (one knob for both
// builds), else every hardware thread.
static int default_threads() {
  static int n = [] {
    const char* env = getenv("OMP_NUM_THREADS");
    int v = env ? atoi(env) : 0;
    if (v <= 0) v = (int)std::thread::hardware_concurrency();
    return v > 0 ? v : 1;
  }();
  return n;
}

static void run(int workers, Task task, void* ctx) {
  Pool& p = pool();
  if (workers <= 1 || (p.owner && p.owner != getpid())) {  // pool threads do not survive fork()
    task(ctx, 0);
    return;
  }
  std::lock_guard<std::mutex> serial(p.run_lock);
  if (!p.owner) p.owner = getpid();
  while ((int)p.threads.size() < workers - 1) {
    int index = (int)p.threads.size() + 1;
    p.threads.push_back(new std::thread(thread_main, index));
  }
  {
    std::lock_guard<std::mutex> lock(p.m);
    p.task = task; p.ctx = ctx; p.wanted = workers - 1;
    p.unfinished.store(workers - 1, std::memory_order_relaxed);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.wake.notify_all();
  task(ctx, 0);
  for (int spin = 0; p.unfinished.load(std::memory_order_acquire) && spin < 20000; ++spin) cpu_relax();
  std::unique_lock<std::mutex> lock(p.m);
  p.done.wait(lock, [&] { return p.unfinished.load(std::memory_order_acquire) == 0; });
}
}  // namespace emu_pool

extern "C" __attribute__((visibility("default"))) void emu_pool_run(int workers, emu_pool::Task task, void* ctx) {
  emu_pool::run(workers, task, ctx);
}
extern "C" __attribute__((visibility("default"))) int emu_pool_threads() { return emu_pool::default_threads(); }
