// The scheduler: a launch runs its grid's blocks over the CPU cores, and the threads of
// each block either
//   - as a plain loop over threadIdx (kernels that never wait for each other: the
//     kernel is inlined into the loop, as fast as hand-written C), or
//   - as cooperative fibers (kernels that reach __syncthreads, __syncwarp, a warp
//     shuffle or vote): every CUDA thread runs until its next barrier, then the next
//     thread runs; when none can run, the barrier opens.
// Which one is decided per kernel by the loader (emu_source.py) and baked in here as a
// template argument, so a loop-mode kernel carries no fiber code at all.
//
// The blocks are spread with OpenMP when the compiler has it (-fopenmp; emu_build.py
// probes that once per compiler), else over the runtime's own thread pool
// (cuda_emu_pool.h), whose entry point Python hands over with emu_set_pool; before that,
// or when forced off, they run serially. Every way takes blocks in chunks from a dynamic
// schedule and runs each block the same way, so the results are identical.
#pragma once
#include "cuda_emu_guard_api.h"
#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <random>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#ifndef MAP_STACK  // Linux's hint that a mapping is a stack; macOS has no such flag
#define MAP_STACK 0
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

namespace emu {

// Launch flags; the same numbers are in emu_launch.py.
enum LaunchFlag : int {
  ORDER_MASK = 3, ORDER_FORWARD = 0, ORDER_REVERSE = 1, ORDER_RANDOM = 2,  // thread order in a block
  FLAG_POISON = 4,    // fill shared memory with the poison byte when a block starts
  FLAG_SERIAL = 8,    // one OS thread, blocks in order: deterministic (race checks)
  POISON_SHIFT = 8,   // bits 8..15: the poison byte
  SEED_SHIFT = 16,    // bits 16..30: seed of the random order
};
enum FiberState : int { READY, AT_BLOCK_BARRIER, AT_WARP_BARRIER, EXITED };
// The same numbers are in emu_launch.py.
enum ErrorKind : int {
  NO_ERROR = 0, E_BARRIER_IN_LOOP_MODE = 1, E_DEVICE_ASSERT = 2, E_RESOURCES = 3,
  E_MEMORY_FAULT = 4,      // SIGSEGV / SIGBUS: an illegal address
  E_ARITHMETIC = 5,        // SIGFPE: integer division by zero (or INT_MIN / -1)
  E_STACK_OVERFLOW = 6,    // a fiber ran into the guard page below its stack
  E_TIMEOUT = 7, E_INTERRUPTED = 8,  // the watchdog stopped the launch
  E_BARRIER_DIVERGENCE = 9,          // __syncthreads reached by only some threads of a block
  E_ILLEGAL_INSTRUCTION = 10,
  E_SHARED_FAULT = 11,     // SIGSEGV in the guard regions of the block's shared memory
};

static std::atomic<int> g_error{NO_ERROR};
static char g_error_text[2048];
static uintptr_t g_error_address = 0;     // the faulting address of an E_MEMORY_FAULT
static const emu_guard::Api* g_guard = nullptr;  // the guard library (emu_set_guard); none: no fault handling
static constexpr long SMALL_LOOP_LAUNCH_THREADS = 1L << 15;  // run on the launching thread alone
static int g_max_workers = 0;            // 0: the default (OpenMP's, or the pool's: all cores)
static pid_t g_pool_pid = 0;             // process that started libgomp's thread pool
// without OpenMP: the runtime's pool, set by emu_set_pool (nullptr: blocks run serially)
static void (*g_pool_run)(int workers, void (*task)(void*, int), void* ctx) = nullptr;
static int g_pool_threads = 1;

// The first error of a launch wins; later ones (other blocks) are dropped.
static void report_error(int kind, const char* fmt, ...) {
  int none = NO_ERROR;
  if (!g_error.compare_exchange_strong(none, kind)) return;
  va_list ap; va_start(ap, fmt);
  vsnprintf(g_error_text, sizeof g_error_text, fmt, ap);
  va_end(ap);
}

// 64 KiB per CUDA thread: a kernel frame is ~0.5 KiB, one with printf ~13 KiB.
static constexpr size_t FIBER_STACK = 64 << 10;

// The fields a switch touches come first: a fiber is 48 bytes, all of a block's fibers
// are one array, and the next fiber to run is a pointer away (no index arithmetic).
struct Fiber {
  Context ctx;
  Fiber* next = nullptr;   // the fiber that runs after this one in this round
  uint3 tid{0, 0, 0};
  int state = EXITED;
  char* stack = nullptr;   // lowest usable byte; a PROT_NONE guard page lies below it
  size_t stack_size = 0;
  void* asan_fake_stack = nullptr;
};

// Everything one OS thread needs to run blocks. Never shared, never freed (the OpenMP
// threads live as long as the process).
struct Worker {
  bool fiber_mode = false;
  unsigned block_threads = 1;
  int order = ORDER_FORWARD;
  std::mt19937 rng;
  void (*run_thread)(void*) = nullptr;  // runs the kernel for the current threadIdx
  void* kernel = nullptr;
  // fibers
  std::vector<Fiber> fibers;
  char* stacks = nullptr; size_t stacks_bytes = 0;
  std::vector<int> runnable;            // loop mode's shuffled thread order; fiber mode's scratch
  Fiber* current = nullptr;             // the running fiber
  Fiber scheduler;                      // ends every round's chain: switching to it ends the round
  unsigned live = 0;                    // fibers that have not exited
  unsigned round_at_block = 0;          // fibers of this round that stopped at a block barrier
  std::vector<uint64_t> lanes;          // one slot per thread for shuffles and votes
  // shared memory: the static arena (emu::static_shared) and the dynamic shared memory,
  // each ending at an inaccessible guard region (map_shared_arenas)
  char* arena = nullptr;                  // the mapping
  char* static_top = nullptr;             // static variables are placed downward from here
  char* dynamic_top = nullptr;            // the block's dynamic shared memory ends here
  size_t static_used = 0;                 // bytes below static_top given to this block's variables
  unsigned long long static_block = 0;    // the block_serial that static_used counts for
  std::vector<unsigned long long> slot_block;  // per __shared__ declaration: block it was placed for
  std::vector<size_t> slot_offset;        // ... and its offset below static_top
  char* dynamic_shared = nullptr; size_t dynamic_capacity = 0;
  unsigned long long block_serial = 0;  // changes at every block: poison hooks compare it
  bool poison = false; unsigned char poison_byte = 0xFF;
  // loop mode: where a device-side assert leaves the kernel
  void* loop_escape[5];
};
static thread_local Worker* tl_worker = nullptr;

// ------------------------------------------------------------- shared memory
// A block's shared memory lives in an arena of its worker, not in thread_local storage
// (which sits in the C heap, where a wild index would overwrite malloc's bookkeeping):
//   [guard page][64 KiB static][16 MiB guard][48 KiB dynamic][16 MiB guard]
// The guards are address space only (PROT_NONE, no memory), large enough that an index
// times a stride far past the end still faults, and that fault becomes a LaunchError.
static constexpr size_t STATIC_SHARED_ROOM = 64 << 10, STATIC_SHARED_LIMIT = 48 << 10;
static constexpr size_t DYNAMIC_SHARED_ROOM = 48 << 10, SHARED_GUARD = 16 << 20;

static bool map_shared_arenas(Worker* w) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t total = page + STATIC_SHARED_ROOM + SHARED_GUARD + DYNAMIC_SHARED_ROOM + SHARED_GUARD;
  void* m = mmap(nullptr, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return false;
  char* base = (char*)m;
  char* static_room = base + page;
  char* dynamic_room = static_room + STATIC_SHARED_ROOM + SHARED_GUARD;
  if (mprotect(static_room, STATIC_SHARED_ROOM, PROT_READ | PROT_WRITE) ||
      mprotect(dynamic_room, DYNAMIC_SHARED_ROOM, PROT_READ | PROT_WRITE)) {
    munmap(m, total);
    return false;
  }
  w->arena = base;
  w->static_top = static_room + STATIC_SHARED_ROOM;
  w->dynamic_top = dynamic_room + DYNAMIC_SHARED_ROOM;
  return true;
}

// Where a static __shared__ variable of this block lives: each declaration (and, in a
// template, each instantiation) has a slot; the first thread of a block to reach it
// places it below the block's previous variables, 16-byte aligned (more if its type
// asks), and every thread of the block then gets the same address. The first variable
// ends right at the guard region, so running off its end faults at once.
static int next_shared_slot() {
  static std::atomic<int> n{0};
  return n.fetch_add(1);
}

static void* static_shared_place(Worker* w, int slot, size_t size, size_t align) {
  if ((size_t)slot >= w->slot_block.size()) {
    w->slot_block.resize(slot + 1, 0);
    w->slot_offset.resize(slot + 1, 0);
  }
  if (w->slot_block[slot] != w->block_serial) {
    if (w->static_block != w->block_serial) { w->static_block = w->block_serial; w->static_used = 0; }
    size_t a = align > 16 ? align : 16;
    size_t offset = (w->static_used + size + a - 1) / a * a;
    if (offset > STATIC_SHARED_LIMIT) {
      report_error(E_RESOURCES, "the block's static __shared__ variables take more than 48 KiB (%zu bytes "
                   "so far; a CUDA block may have 48 KiB of static shared memory)", offset);
      offset = offset > STATIC_SHARED_ROOM ? STATIC_SHARED_ROOM : offset;  // the launch fails anyway
    }
    w->static_used = offset;
    w->slot_offset[slot] = offset;
    w->slot_block[slot] = w->block_serial;
  }
  return w->static_top - w->slot_offset[slot];
}

template <class T, int ID> static inline T& static_shared() {
  static const int slot = next_shared_slot();
  Worker* w = tl_worker;
  return *reinterpret_cast<T*>(static_shared_place(w, slot, sizeof(T), alignof(T)));
}

static const volatile int g_no_stop = 0;

static inline unsigned linear_tid() { return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z); }
static inline char* dynamic_shared() { return tl_worker->dynamic_shared; }

// -------------------------------------------------------------------- fibers
static void fiber_main();

// The running fiber stops (at a barrier, or for good) and the next fiber of this
// round's chain resumes directly, without a detour through the scheduler; the last one
// of the chain is the scheduler itself. No branch, no index: a few loads and stores.
static inline void switch_to_next(Worker* w, Fiber& me, bool exiting) {
  void** fake = exiting ? nullptr : &me.asan_fake_stack;  // nullptr: ASan may drop this stack
  Fiber* nx = me.next;
  w->current = nx;
  threadIdx = nx->tid;
  context_switch(me.ctx, fake, nx->ctx, nx->stack, nx->stack_size);
}

static inline void wait_at(int state) {
  Worker* w = tl_worker;
  Fiber& me = *w->current;
  me.state = state;
  if (state == AT_BLOCK_BARRIER) ++w->round_at_block;  // a constant after inlining
  switch_to_next(w, me, false);
}

static inline void exit_fiber(Worker* w) {
  Fiber& me = *w->current;
  me.state = EXITED;
  --w->live;
  switch_to_next(w, me, true);
}

static void fiber_main() {
  Worker* w = tl_worker;
#ifdef EMU_ASAN
  const void* lo; size_t size;
  __sanitizer_finish_switch_fiber(nullptr, &lo, &size);
#endif
  w->run_thread(w->kernel);
  exit_fiber(w);
  __builtin_trap();  // an exited fiber is never resumed
}

static bool ensure_stacks(Worker* w, unsigned n) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  size_t per_fiber = FIBER_STACK + page;
  if (w->fibers.size() >= n) return true;
  if (w->stacks) {
#ifdef EMU_ASAN  // else the next owner of these pages (Python's allocator) inherits stale stack redzones
    __asan_unpoison_memory_region(w->stacks, w->stacks_bytes);
#endif
    munmap(w->stacks, w->stacks_bytes);
  }
  w->stacks_bytes = per_fiber * n;
  void* m = mmap(nullptr, w->stacks_bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (m == MAP_FAILED) { w->stacks = nullptr; w->fibers.clear(); return false; }
  w->stacks = (char*)m;
  w->fibers.assign(n, Fiber());
  for (unsigned i = 0; i < n; ++i) {
    char* base = w->stacks + i * per_fiber;
    mprotect(base, page, PROT_NONE);  // an overflow faults instead of corrupting a neighbour
    w->fibers[i].stack = base + page;
    w->fibers[i].stack_size = FIBER_STACK;
  }
  return true;
}

// Link this round's READY fibers, in the launch's thread order, into a chain that ends
// at the scheduler. Returns its length.
static unsigned chain_ready(Worker* w, unsigned n) {
  Fiber* f = w->fibers.data();
  Fiber** link = &w->scheduler.next;  // the head
  unsigned len = 0;
  if (w->order == ORDER_RANDOM) {
    w->runnable.clear();
    for (unsigned i = 0; i < n; ++i) if (f[i].state == READY) w->runnable.push_back((int)i);
    std::shuffle(w->runnable.begin(), w->runnable.end(), w->rng);
    for (int i : w->runnable) { *link = &f[i]; link = &f[i].next; }
    len = (unsigned)w->runnable.size();
  } else if (w->order == ORDER_REVERSE) {
    for (int i = (int)n - 1; i >= 0; --i) if (f[i].state == READY) { *link = &f[i]; link = &f[i].next; ++len; }
  } else {
    for (unsigned i = 0; i < n; ++i) if (f[i].state == READY) { *link = &f[i]; link = &f[i].next; ++len; }
  }
  *link = &w->scheduler;
  return len;
}

static void run_block_as_fibers(Worker* w, unsigned n) {
  if (!ensure_stacks(w, n)) { report_error(E_RESOURCES, "cannot map %u fiber stacks (vm.max_map_count?)", n); return; }
  unsigned bx = blockDim.x, by = blockDim.y;
  for (unsigned i = 0; i < n; ++i) {
    Fiber& f = w->fibers[i];
    f.tid = {i % bx, (i / bx) % by, i / (bx * by)};
    f.state = READY;
    f.asan_fake_stack = nullptr;
#ifdef EMU_ASAN  // a fiber that ended never unwound its frames: clear their redzones
    __asan_unpoison_memory_region(f.stack, FIBER_STACK);
#endif
    // stagger the stack tops by 7 cache lines per fiber, so the hot frames of many
    // fibers do not all map to the same cache sets (64 KiB-strided stacks alias)
    size_t stagger = (i * 448u) % 4096u;
    context_init(f.ctx, f.stack, FIBER_STACK - stagger, fiber_main);
  }
  w->live = n;
  unsigned len = chain_ready(w, n);
  for (;;) {
    if (len) {
      w->round_at_block = 0;
      Fiber* first = w->scheduler.next;
      w->current = first;
      threadIdx = first->tid;
      context_switch(w->scheduler.ctx, &w->scheduler.asan_fake_stack, first->ctx, first->stack, first->stack_size);
    }
    if (w->live == 0) break;
    // The common round: every live thread stopped at the block barrier. It opens, and
    // the next round's chain is this one (unless the order is reshuffled every round).
    if (w->round_at_block == len && len == w->live && w->order != ORDER_RANDOM) continue;
    // Every thread has run up to a barrier or its end. Warp barriers open first: a
    // warp's shuffles finish before the block barrier that follows them.
    bool at_warp = false, at_block = false;
    for (unsigned i = 0; i < n; ++i) {
      at_warp |= w->fibers[i].state == AT_WARP_BARRIER;
      at_block |= w->fibers[i].state == AT_BLOCK_BARRIER;
    }
    int opens = at_warp ? AT_WARP_BARRIER : at_block ? AT_BLOCK_BARRIER : -1;
    if (opens < 0) break;  // all threads exited (exited threads never hold a barrier)
    if (opens == AT_BLOCK_BARRIER && w->live < n) {
      // Some threads returned while the others wait at __syncthreads: CUDA requires every
      // thread of the block to reach it (on a GPU this hangs or silently misbehaves).
      report_error(E_BARRIER_DIVERGENCE, "__syncthreads reached by %u of %u threads of block (%u,%u,%u); "
                   "the other %u returned without reaching it (every thread of a block must reach each "
                   "__syncthreads: move the early return after the last barrier, or guard the work instead)",
                   w->live, n, blockIdx.x, blockIdx.y, blockIdx.z, n - w->live);
      break;
    }
    for (unsigned i = 0; i < n; ++i) if (w->fibers[i].state == opens) w->fibers[i].state = READY;
    len = chain_ready(w, n);
  }
}

// ---------------------------------------------------------------- loop mode
template <class Body> __attribute__((noinline)) static void loop_over_threads(Worker* w, const Body& shared_body) {
  // A private copy of the kernel's arguments: its address never escapes, so they live in
  // registers. Through a pointer, every store of the kernel (-fno-strict-aliasing) might
  // change them, and g++ would reload them at every thread and never vectorise.
  Body body = shared_body;
  unsigned bx = blockDim.x, by = blockDim.y, bz = blockDim.z;
  if (w->order == ORDER_FORWARD) {
    for (unsigned z = 0; z < bz; ++z)
      for (unsigned y = 0; y < by; ++y)
        for (unsigned x = 0; x < bx; ++x) { threadIdx = {x, y, z}; body(); }
    return;
  }
  unsigned n = bx * by * bz;
  w->runnable.resize(n);
  for (unsigned i = 0; i < n; ++i) w->runnable[i] = (int)(w->order == ORDER_REVERSE ? n - 1 - i : i);
  if (w->order == ORDER_RANDOM) std::shuffle(w->runnable.begin(), w->runnable.end(), w->rng);
  for (unsigned i = 0; i < n; ++i) {
    unsigned t = (unsigned)w->runnable[i];
    threadIdx = {t % bx, (t / bx) % by, t / (bx * by)};
    body();
  }
}

template <class Body> __attribute__((noinline)) static void run_block_as_loop(Worker* w, Body& body) {
  if (__builtin_setjmp(w->loop_escape)) return;  // a device-side assert ended the block
  loop_over_threads(w, body);
}

// The same block once more, each thread's index stored before it runs: in the fast loop
// the compiler keeps threadIdx in registers, so after a fault the stored one is stale.
// Only run after a fault, to name the thread that faulted.
template <class Body> __attribute__((noinline)) static void run_block_as_loop_precisely(Worker* w, Body& shared_body) {
  Body body = shared_body;
  if (__builtin_setjmp(w->loop_escape)) return;
  for (unsigned z = 0; z < blockDim.z; ++z)
    for (unsigned y = 0; y < blockDim.y; ++y)
      for (unsigned x = 0; x < blockDim.x; ++x) {
        threadIdx = {x, y, z};
        asm volatile("" ::: "memory");  // the store happens before the thread runs
        body();
      }
}

// Which thread of the block faulted, in loop mode: run the block again precisely; the
// same fault comes back at the same thread. (The launch has failed already; the block's
// threads before that one run twice.)
template <class Body> static void find_faulting_thread(Worker* w, Body& body, emu_guard::Frame& first) {
  emu_guard::Frame again;
  again.thread_index = first.thread_index;
  again.block_index = first.block_index;
  if (sigsetjmp(again.escape, 0)) {
    g_guard->leave();
    if (again.reason == emu_guard::FAULT && again.signal == first.signal) first.fault_thread = again.fault_thread;
    return;
  }
  g_guard->enter(&again);
  run_block_as_loop_precisely(w, body);
  g_guard->leave();
}

// ------------------------------------------------------------------ blocks
struct Grid { dim3 grid, block; size_t shared; int flags; long blocks; unsigned threads; };

static Worker* worker_for_launch(const Grid& g, int worker_index) {
  if (!tl_worker) {
    Worker* fresh = new Worker();
    if (!map_shared_arenas(fresh)) { delete fresh; return nullptr; }
    tl_worker = fresh;
  }
  Worker* w = tl_worker;
  w->fiber_mode = false;  // set by the caller
  w->block_threads = g.threads;
  w->order = g.flags & ORDER_MASK;
  w->rng.seed(((unsigned)g.flags >> SEED_SHIFT) * 7919u + (unsigned)worker_index);
  w->poison = (g.flags & FLAG_POISON) != 0;
  w->poison_byte = (unsigned char)((g.flags >> POISON_SHIFT) & 0xFF);
  blockDim = g.block; gridDim = g.grid;
#ifdef EMU_ASAN
  // exact size, so ASan sees an overrun of the dynamic shared memory
  w->dynamic_shared = (char*)malloc(g.shared ? g.shared : 1);
#else
  // the block's bytes end at the guard region (16-byte aligned): an overrun faults
  w->dynamic_shared = w->dynamic_top - ((g.shared + 15) & ~(size_t)15);
#endif
#ifdef EMU_ASAN
  void* lo; size_t size;
#ifdef __APPLE__  // the thread's stack for ASan's fiber-switch annotations; macOS gives its top
  size = pthread_get_stacksize_np(pthread_self());
  lo = (char*)pthread_get_stackaddr_np(pthread_self()) - size;
#else
  pthread_attr_t attr;
  pthread_getattr_np(pthread_self(), &attr);
  pthread_attr_getstack(&attr, &lo, &size);
  pthread_attr_destroy(&attr);
#endif
  w->scheduler.stack = (char*)lo; w->scheduler.stack_size = size;
#endif
  if (w->lanes.size() < ((g.threads + 31) / 32) * 32) w->lanes.assign(((g.threads + 31) / 32) * 32, 0);
  return w;
}

static void worker_done(Worker* w) {
#ifdef EMU_ASAN
  free(w->dynamic_shared); w->dynamic_shared = nullptr;
#else
  (void)w;
#endif
}

template <bool FIBERS, class Body> static inline void run_block(Worker* w, const Grid& g, long b, Body& body) {
  blockIdx = {(unsigned)(b % g.grid.x), (unsigned)((b / g.grid.x) % g.grid.y), (unsigned)(b / ((long)g.grid.x * g.grid.y))};
  ++w->block_serial;
  if (w->poison && g.shared) memset(w->dynamic_shared, w->poison_byte, g.shared);
  if constexpr (FIBERS) run_block_as_fibers(w, g.threads); else run_block_as_loop(w, body);
}

// What the OS threads of one launch share: blocks are taken `chunk` at a time from `next`.
template <class Body> struct GridRun {
  const Grid* g; Body* body; void (*run_thread)(void*);
  long chunk; std::atomic<long> next{0};
};

// After the guard library jumped back to run_blocks: say what happened, as CUDA would.
static void report_stop(Worker* w, const emu_guard::Frame& f) {
  const emu_guard::ThreadIndex t = f.fault_thread, b = f.fault_block;
  if (f.reason == emu_guard::TIMEOUT || f.reason == emu_guard::INTERRUPT) {
    report_error(f.reason == emu_guard::TIMEOUT ? E_TIMEOUT : E_INTERRUPTED, "%s (thread (%u,%u,%u) of block "
                 "(%u,%u,%u) was running); the launch's outputs are incomplete",
                 f.reason == emu_guard::TIMEOUT ? "the kernel ran longer than its timeout and was stopped"
                                                : "interrupted (Ctrl-C)", t.x, t.y, t.z, b.x, b.y, b.z);
    return;
  }
  size_t page = (size_t)sysconf(_SC_PAGESIZE), per_fiber = FIBER_STACK + page;
  uintptr_t a = f.address, lo = (uintptr_t)w->stacks;
  if (w->stacks && a >= lo && a < lo + w->stacks_bytes && (a - lo) % per_fiber < page) {
    report_error(E_STACK_OVERFLOW, "thread (%u,%u,%u) of block (%u,%u,%u) overflowed its %zu KiB stack: the "
                 "kernel's local variables (with those of the functions it calls) are too large for a thread "
                 "that waits at barriers (move big arrays to __shared__ or global memory)",
                 t.x, t.y, t.z, b.x, b.y, b.z, FIBER_STACK >> 10);
  } else if (f.signal == SIGFPE) {
    report_error(E_ARITHMETIC, "%s in thread (%u,%u,%u) of block (%u,%u,%u) (SIGFPE; a GPU does not trap "
                 "and returns an unspecified value)", f.code == FPE_INTOVF ? "integer overflow (INT_MIN / -1)"
                 : f.code == FPE_INTDIV ? "integer division by zero" : "arithmetic exception",
                 t.x, t.y, t.z, b.x, b.y, b.z);
  } else if (f.signal == SIGILL) {
    report_error(E_ILLEGAL_INSTRUCTION, "illegal instruction in thread (%u,%u,%u) of block (%u,%u,%u) (SIGILL)",
                 t.x, t.y, t.z, b.x, b.y, b.z);
  } else if (w->arena && a >= (uintptr_t)w->arena && a < (uintptr_t)w->dynamic_top + SHARED_GUARD) {
    bool dynamic = a >= (uintptr_t)w->static_top + SHARED_GUARD / 2;
    report_error(E_SHARED_FAULT, "an illegal memory access was encountered: %s shared memory by thread "
                 "(%u,%u,%u) of block (%u,%u,%u), %zu bytes %s %s (SIGSEGV)", f.access == 1 ? "a write outside"
                 : f.access == 0 ? "a read outside" : "an access outside", t.x, t.y, t.z, b.x, b.y, b.z,
                 dynamic ? (a >= (uintptr_t)w->dynamic_top ? (size_t)(a - (uintptr_t)w->dynamic_top)
                                                          : (size_t)((uintptr_t)w->dynamic_shared - a))
                         : (a >= (uintptr_t)w->static_top ? (size_t)(a - (uintptr_t)w->static_top)
                                                         : (size_t)((uintptr_t)w->static_top - w->static_used - a)),
                 dynamic ? (a >= (uintptr_t)w->dynamic_top ? "past the end of" : "before the start of")
                         : (a >= (uintptr_t)w->static_top ? "past the end of" : "before the start of"),
                 dynamic ? "the block's dynamic (extern __shared__) memory"
                         : "its static __shared__ variables (an index out of an array's bounds?)");
  } else {
    g_error_address = a;
    report_error(E_MEMORY_FAULT, "an illegal memory access was encountered: %s address %#lx by thread "
                 "(%u,%u,%u) of block (%u,%u,%u) (%s)", f.access == 1 ? "a write to" : f.access == 0 ? "a read of"
                 : "an access to", (unsigned long)a, t.x, t.y, t.z, b.x, b.y, b.z,
                 f.signal == SIGBUS ? "SIGBUS" : "SIGSEGV");
  }
}

template <bool FIBERS, class Body> static void run_blocks(GridRun<Body>& r, int worker_index) {
  const Grid& g = *r.g;
  Worker* w = worker_for_launch(g, worker_index);
  if (!w) { report_error(E_RESOURCES, "cannot map the shared-memory arena of a worker thread"); return; }
  w->fiber_mode = FIBERS; w->run_thread = r.run_thread; w->kernel = r.body;
  emu_guard::Frame frame;
  if (g_guard) {
    frame.thread_index = reinterpret_cast<const emu_guard::ThreadIndex*>(&threadIdx);
    frame.block_index = reinterpret_cast<const emu_guard::ThreadIndex*>(&blockIdx);
    if (sigsetjmp(frame.escape, 0)) {  // a fault or the watchdog: this worker is done
      g_guard->leave();
      if (!FIBERS && frame.reason == emu_guard::FAULT) find_faulting_thread(w, *r.body, frame);
      report_stop(w, frame);
      worker_done(w);
      return;
    }
    g_guard->enter(&frame);
  }
  const volatile int* stop = g_guard ? g_guard->stop : &g_no_stop;
  for (;;) {
    long first = r.next.fetch_add(r.chunk, std::memory_order_relaxed);
    if (first >= g.blocks) break;
    long last = std::min(g.blocks, first + r.chunk);
    for (long b = first; b < last && !g_error.load(std::memory_order_relaxed) && !*stop; ++b)
      run_block<FIBERS>(w, g, b, *r.body);
  }
  if (g_guard) g_guard->leave();
  worker_done(w);
}

template <bool FIBERS, class Body> static int run_grid(const unsigned* dims, size_t shared, int flags, Body& body) {
  g_error = NO_ERROR;
  g_error_address = 0;
  if (g_guard) g_guard->launch_begin();
  Grid g{dim3(dims[0], dims[1], dims[2]), dim3(dims[3], dims[4], dims[5]), shared, flags, 0, 0};
  g.blocks = (long)g.grid.x * g.grid.y * g.grid.z;
  g.threads = g.block.x * g.block.y * g.block.z;
  auto run_thread = [](void* body) { (*static_cast<Body*>(body))(); };
#ifdef _OPENMP
  int workers = g_max_workers > 0 ? g_max_workers : omp_get_max_threads();
#else
  int workers = !g_pool_run ? 1 : g_max_workers > 0 ? g_max_workers : g_pool_threads;
#endif
  if (flags & FLAG_SERIAL) workers = 1;
  // libgomp's thread pool does not survive fork(): in a forked child, run serially.
  // (The runtime's own pool checks this itself.)
  if (g_pool_pid && g_pool_pid != getpid()) workers = 1;
  if (g.blocks < workers) workers = (int)g.blocks;
  // A small loop-mode grid (no barriers: one plain loop per block) costs less on this thread
  // than waking the others, and far less when the machine is busy: an OpenMP team then waits
  // for a core to come free (milliseconds, for microseconds of work). A worker count set
  // explicitly (emu_set_max_workers) is kept.
  if (!FIBERS && g_max_workers == 0 && g.blocks * (long)g.threads <= SMALL_LOOP_LAUNCH_THREADS) workers = 1;
  // tiny loop-mode blocks (vector add) come in chunks, so the shared counter is cheap
  long chunk = FIBERS || workers <= 1 ? 1 : std::max(1L, std::min(64L, g.blocks / (workers * 16L)));
  GridRun<Body> r{&g, &body, run_thread, chunk};
  if (workers <= 1) {
    r.chunk = g.blocks;
    run_blocks<FIBERS>(r, 0);
  } else {
#ifdef _OPENMP
    if (!g_pool_pid) g_pool_pid = getpid();
#pragma omp parallel num_threads(workers)
    run_blocks<FIBERS>(r, omp_get_thread_num());
#else
    g_pool_run(workers, [](void* p, int index) { run_blocks<FIBERS>(*static_cast<GridRun<Body>*>(p), index); }, &r);
#endif
  }
  int stopped = g_guard ? g_guard->launch_end() : emu_guard::NONE;
  if (stopped != emu_guard::NONE && g_error.load() == NO_ERROR)  // stopped between two blocks
    report_error(stopped == emu_guard::INTERRUPT ? E_INTERRUPTED : E_TIMEOUT, "%s; the launch's outputs are "
                 "incomplete", stopped == emu_guard::INTERRUPT ? "interrupted (Ctrl-C)"
                 : "the kernel ran longer than its timeout and was stopped");
  fflush(stdout);  // kernel printf shows up before Python prints anything else
  return g_error.load();
}

// ------------------------------------------------- kernel arguments and signature
// Python passes every argument in an 8-byte slot; each is copied out with the exact
// C parameter type, so the kernel sees values of the types it declared.
template <class T> static inline T from_slot(const uint64_t* slot) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>,
                "the emulator passes kernel parameters of at most 8 bytes");
  T v; memcpy(&v, slot, sizeof(T)); return v;
}

template <class F> struct KernelType;
template <class... A> struct KernelType<void (*)(A...)> {
  using Args = std::tuple<std::decay_t<A>...>;
  static constexpr size_t count = sizeof...(A);
  template <size_t... I> static Args unpack(const uint64_t* slots, std::index_sequence<I...>) {
    return Args(from_slot<std::decay_t<A>>(slots + I)...);
  }
};

// What Python needs to check an argument: per parameter (kind, size, pointee kind, pointee size).
enum TypeKind : int { K_POINTER = 0, K_SIGNED = 1, K_UNSIGNED = 2, K_FLOAT = 3, K_BOOL = 4, K_OTHER = 5 };
template <class T> static constexpr int kind_of() {
  if constexpr (std::is_pointer_v<T>) return K_POINTER;
  else if constexpr (std::is_same_v<T, bool>) return K_BOOL;
  else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) return std::is_signed_v<T> ? K_SIGNED : K_UNSIGNED;
  else if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, __half>) return K_FLOAT;
  else return K_OTHER;
}
template <class T> static void describe_one(int* out) {
  out[0] = kind_of<T>(); out[1] = (int)sizeof(T); out[2] = K_OTHER; out[3] = 0;
  if constexpr (std::is_pointer_v<T>) {
    using E = std::remove_cv_t<std::remove_pointer_t<T>>;
    if constexpr (!std::is_void_v<E>) { out[2] = kind_of<E>(); out[3] = (int)sizeof(E); }
  }
}
template <class F> struct Signature;
template <class... A> struct Signature<void (*)(A...)> {
  static int describe(int* out, int max_params) {
    int i = 0;
    ((i < max_params ? describe_one<std::decay_t<A>>(out + 4 * i) : void(), ++i), ...);
    return (int)sizeof...(A);
  }
};

template <auto K, bool FIBERS> static int launch(const unsigned* dims, size_t shared, const uint64_t* slots, int flags) {
  using T = KernelType<decltype(K)>;
  const typename T::Args args = T::unpack(slots, std::make_index_sequence<T::count>{});
  auto body = [args]() { std::apply([](auto... a) { K(a...); }, args); };
  return run_grid<FIBERS>(dims, shared, flags, body);
}

// `extern __shared__ T x[];` at file scope becomes `static emu::DynamicShared<T> x;`:
// it reads the running block's dynamic shared memory each time it is used.
template <class T> struct DynamicShared {
  operator T*() const { return reinterpret_cast<T*>(tl_worker->dynamic_shared); }
  template <class U> explicit operator U*() const { return reinterpret_cast<U*>(tl_worker->dynamic_shared); }
  T& operator[](ptrdiff_t i) const { return reinterpret_cast<T*>(tl_worker->dynamic_shared)[i]; }
};
}  // namespace emu

// The loader appends one of these per __global__ function.
#define CUDA_EMU_KERNEL(k, fibers)                                                                \
  EMU_EXPORT int emu_launch_##k(const unsigned* dims, size_t shared, const uint64_t* slots, int flags) { \
    return ::emu::launch<&k, fibers>(dims, shared, slots, flags);                                 \
  }                                                                                               \
  EMU_EXPORT int emu_signature_##k(int* out, int max_params) {                                    \
    return ::emu::Signature<decltype(&k)>::describe(out, max_params);                             \
  }
// ... and one of these per __constant__ variable.
#define CUDA_EMU_GLOBAL(v) \
  EMU_EXPORT void* emu_global_##v(size_t* nbytes) { *nbytes = sizeof(v); return (void*)&(v); }

// The loader puts this after each `__shared__` declaration in a function: with
// poisoning on, the first thread of each block to declare the array fills it with the
// poison byte, so a read of an element no thread wrote shows up in the results.
// It also refuses, as nvcc's ptxas does, a variable over the 48 KiB of static shared
// memory a block may have (the loader adds the same check for the sum of a function's).
#define CUDA_EMU_SHARED_DECLARED(v)                                                     \
  do {                                                                                  \
    static_assert(sizeof(v) <= 48 * 1024, "this __shared__ variable is larger than the 48 KiB of static " \
                  "shared memory a CUDA block may have (ptxas: uses too much shared data)");          \
    ::emu::Worker* emu_w_ = ::emu::tl_worker;                                           \
    if (emu_w_ && emu_w_->poison) {                                                     \
      static thread_local unsigned long long emu_block_seen_ = 0;                       \
      if (emu_block_seen_ != emu_w_->block_serial) {                                    \
        emu_block_seen_ = emu_w_->block_serial;                                         \
        memset((void*)&(v), emu_w_->poison_byte, sizeof(v));                            \
      }                                                                                 \
    }                                                                                   \
  } while (0)

EMU_EXPORT const char* emu_error_text() { return emu::g_error_text; }
EMU_EXPORT void emu_set_max_workers(int n) { emu::g_max_workers = n; }
EMU_EXPORT unsigned long long emu_error_address() { return emu::g_error_address; }
// The guard library's entry points (cuda_emu_guard.h); until then, faults are not caught.
EMU_EXPORT void emu_set_guard(const emu_guard::Api* api) { emu::g_guard = api; }
// 1 if this module spreads blocks with OpenMP; else Python hands it the runtime's pool.
#ifdef _OPENMP
EMU_EXPORT int emu_uses_openmp() { return 1; }
#else
EMU_EXPORT int emu_uses_openmp() { return 0; }
#endif
EMU_EXPORT void emu_set_pool(void (*run)(int, void (*)(void*, int), void*), int threads) {
  emu::g_pool_run = run; emu::g_pool_threads = threads > 0 ? threads : 1;
}
