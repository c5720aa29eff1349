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
enum ErrorKind : int { NO_ERROR = 0, E_BARRIER_IN_LOOP_MODE = 1, E_DEVICE_ASSERT = 2, E_RESOURCES = 3 };

static std::atomic<int> g_error{NO_ERROR};
static char g_error_text[2048];
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
  // shared memory
  char* dynamic_shared = nullptr; size_t dynamic_capacity = 0;
  unsigned long long block_serial = 0;  // changes at every block: poison hooks compare it
  bool poison = false; unsigned char poison_byte = 0xFF;
  // loop mode: where a device-side assert leaves the kernel
  void* loop_escape[5];
};
static thread_local Worker* tl_worker = nullptr;

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

// ------------------------------------------------------------------ blocks
struct Grid { dim3 grid, block; size_t shared; int flags; long blocks; unsigned threads; };

static Worker* worker_for_launch(const Grid& g, int worker_index) {
  if (!tl_worker) tl_worker = new Worker();
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
  if (w->dynamic_capacity < g.shared || !w->dynamic_shared) {
    free(w->dynamic_shared);
    w->dynamic_capacity = std::max<size_t>(g.shared, 4096);
    w->dynamic_shared = (char*)aligned_alloc(256, (w->dynamic_capacity + 255) & ~(size_t)255);
  }
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

template <bool FIBERS, class Body> static void run_blocks(GridRun<Body>& r, int worker_index) {
  const Grid& g = *r.g;
  Worker* w = worker_for_launch(g, worker_index);
  w->fiber_mode = FIBERS; w->run_thread = r.run_thread; w->kernel = r.body;
  for (;;) {
    long first = r.next.fetch_add(r.chunk, std::memory_order_relaxed);
    if (first >= g.blocks) break;
    long last = std::min(g.blocks, first + r.chunk);
    for (long b = first; b < last && !g_error.load(std::memory_order_relaxed); ++b) run_block<FIBERS>(w, g, b, *r.body);
  }
  worker_done(w);
}

template <bool FIBERS, class Body> static int run_grid(const unsigned* dims, size_t shared, int flags, Body& body) {
  g_error = NO_ERROR;
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
#define CUDA_EMU_SHARED_DECLARED(v)                                                     \
  do {                                                                                  \
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
// 1 if this module spreads blocks with OpenMP; else Python hands it the runtime's pool.
#ifdef _OPENMP
EMU_EXPORT int emu_uses_openmp() { return 1; }
#else
EMU_EXPORT int emu_uses_openmp() { return 0; }
#endif
EMU_EXPORT void emu_set_pool(void (*run)(int, void (*)(void*, int), void*), int threads) {
  emu::g_pool_run = run; emu::g_pool_threads = threads > 0 ? threads : 1;
}
