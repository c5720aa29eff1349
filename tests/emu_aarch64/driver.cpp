// A stand-alone driver for the emulator's C++ runtime, without Python: it includes the
// translation units the loader generates (<key>.emu.cpp: the rewritten kernel source
// plus one CUDA_EMU_KERNEL entry point per kernel) and calls the exported
// emu_launch_<kernel> functions directly with host buffers, as emu.py does through
// ctypes. Every result is checked against a value computed here.
//
// Built by tests/emu_aarch64/build.py (see there): with the loader's own flags, for
// aarch64 (run under qemu-aarch64) and natively for x86-64 as the control. Exit status
// 0 and "ALL OK" on the last line when every check passed.
//
// The generated units are listed in emu_units.inc, written by build.py next to them.
#include "emu_units.inc"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

// Python's SlotBuffer: every argument in an 8-byte slot, low bytes first.
struct Slots {
  std::vector<uint64_t> s;
  template <class T> void add(T v) {
    static_assert(sizeof(T) <= 8, "8-byte slots");
    uint64_t slot = 0;
    std::memcpy(&slot, &v, sizeof(T));
    s.push_back(slot);
  }
};
template <class... A> Slots pack(A... a) { Slots s; (s.add(a), ...); return s; }

using Entry = int (*)(const unsigned*, size_t, const uint64_t*, int);

template <class... A> int launch(Entry f, dim3 grid, dim3 block, size_t shared, int flags, A... args) {
  unsigned dims[6] = {grid.x, grid.y, grid.z, block.x, block.y, block.z};
  Slots s = pack(args...);
  return f(dims, shared, s.s.data(), flags);
}

// The launch modes race mode uses, plus the default (parallel, forward order).
struct Mode { const char* name; int flags; };
const Mode MODES[] = {
  {"parallel", 0},
  {"serial reverse poisoned", emu::FLAG_SERIAL | emu::ORDER_REVERSE | emu::FLAG_POISON | (0x7F << emu::POISON_SHIFT)},
  {"serial random poisoned", emu::FLAG_SERIAL | emu::ORDER_RANDOM | emu::FLAG_POISON | (0xFF << emu::POISON_SHIFT) | (7 << emu::SEED_SHIFT)},
};

std::mt19937 rng(1234);
std::vector<float> uniform(size_t n, float lo = 0.f, float hi = 1.f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

bool close(double got, double want, double rtol, double atol = 0) {
  return std::fabs(got - want) <= atol + rtol * std::fabs(want);
}

// ------------------------------------------------------------ shared_memory.cu
void test_matmul(int M, int N, int K, const Mode& mode) {
  auto A = uniform((size_t)M * K, -1, 1), B = uniform((size_t)K * N, -1, 1);
  std::vector<float> C((size_t)M * N, -7.f);
  int rc = launch(emu_launch_matmul_tiled, dim3((N + 15) / 16, (M + 15) / 16), dim3(16, 16), 0, mode.flags,
                  A.data(), B.data(), C.data(), M, N, K);
  bool ok = rc == 0;
  for (int i = 0; i < M && ok; ++i)
    for (int j = 0; j < N && ok; ++j) {
      double want = 0;
      for (int k = 0; k < K; ++k) want += (double)A[(size_t)i * K + k] * B[(size_t)k * N + j];
      ok = close(C[(size_t)i * N + j], want, 1e-4, 1e-4);
    }
  check(ok, "matmul_tiled " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) + " (" + mode.name + ")");
}

void test_block_sum(const Mode& mode) {
  int n = 256 * 2 * 9 + 77;
  auto x = uniform(n);
  int blocks = (n + 511) / 512;
  std::vector<float> partial(blocks, -1.f);
  int rc = launch(emu_launch_block_sum, dim3(blocks), dim3(256), 0, mode.flags, x.data(), partial.data(), n);
  bool ok = rc == 0;
  for (int b = 0; b < blocks && ok; ++b) {
    double want = 0;
    for (int i = b * 512; i < std::min(n, b * 512 + 512); ++i) want += x[i];
    ok = close(partial[b], want, 1e-5);
  }
  check(ok, std::string("block_sum tree reduction (") + mode.name + ")");
}

void test_shuffle_sum(const Mode& mode) {
  int n = 10000;
  auto x = uniform(n);
  float out = 0.f;
  int rc = launch(emu_launch_shuffle_sum, dim3((n + 95) / 96), dim3(96), 0, mode.flags, x.data(), &out, n);
  double want = 0;
  for (float v : x) want += v;
  check(rc == 0 && close(out, want, 1e-4), std::string("shuffle_sum warp shuffles + atomicAdd (") + mode.name + ")");
}

void test_reverse_and_count(const Mode& mode) {
  int n = 1000, bs = 128, blocks = (n + bs - 1) / bs;
  auto x = uniform(n, -1, 1);
  std::vector<float> y(n, 0.f);
  std::vector<int> positives(blocks, -1);
  int rc = launch(emu_launch_reverse_and_count, dim3(blocks), dim3(bs), (size_t)bs * 8, mode.flags,
                  x.data(), y.data(), positives.data(), n);
  bool ok = rc == 0;
  for (int b = 0; b < blocks && ok; ++b) {
    int count = 0;
    for (int t = 0; t < bs; ++t) {
      int i = b * bs + t, j = b * bs + (bs - 1 - t);
      if (i < n && x[i] > 0) ++count;
      if (j < n) ok = ok && y[j] == (i < n ? x[i] : 0.f);
    }
    ok = ok && positives[b] == count;
  }
  check(ok, std::string("reverse_and_count dynamic shared memory (") + mode.name + ")");
}

void test_poison() {
  float out[2] = {0, 0};
  int flags = emu::FLAG_SERIAL | emu::FLAG_POISON | (0xFF << emu::POISON_SHIFT);
  int rc = launch(emu_launch_reads_unwritten_shared, dim3(2), dim3(256), 0, flags, out);
  bool poisoned = rc == 0 && std::isnan(out[0]) && std::isnan(out[1]);
  rc = launch(emu_launch_block_sum, dim3(1), dim3(256), 0, flags, out, out + 1, 0);  // writes every element
  check(poisoned && rc == 0 && out[1] == 0.f, "__shared__ poison hook (thread_local arrays)");
}

// -------------------------------------------------------------- elementwise.cu
void test_loop_mode() {
  int n = 100003;
  auto a = uniform(n), b = uniform(n);
  std::vector<float> c(n, 0.f);
  int rc = launch(emu_launch_vector_add, dim3((n + 255) / 256), dim3(256), 0, 0, a.data(), b.data(), c.data(), n);
  bool ok = rc == 0;
  for (int i = 0; i < n && ok; ++i) ok = c[i] == a[i] + b[i];
  check(ok, "vector_add (loop mode, parallel)");

  std::vector<float> y(n, 0.f);
  rc = launch(emu_launch_softplus_forward, dim3((n + 255) / 256), dim3(256), 0, 0, a.data(), y.data(), n);
  ok = rc == 0;
  for (int i = 0; i < n && ok; ++i) ok = close(y[i], std::log1p(std::exp((double)a[i])), 1e-5);
  check(ok, "softplus_forward (a kernel generated by a macro)");

  size_t nbytes = 0;
  float* coef = (float*)emu_global_poly_coef(&nbytes);
  const float cs[4] = {1.f, -2.f, 0.5f, 0.25f};
  std::memcpy(coef, cs, sizeof cs);
  rc = launch(emu_launch_polynomial, dim3((n + 255) / 256), dim3(256), 0, 0, a.data(), y.data(), n);
  ok = rc == 0 && nbytes == 16;
  for (int i = 0; i < n && ok; ++i) {
    double v = a[i];
    ok = close(y[i], cs[0] + v * (cs[1] + v * (cs[2] + v * cs[3])), 1e-5, 1e-6);
  }
  check(ok, "polynomial (__constant__ memory)");

  std::vector<int> idx(2 * 3 * 2 * 4 * 2 * 3, -1);
  rc = launch(emu_launch_index_3d, dim3(2, 3, 2), dim3(4, 2, 3), 0, 0, idx.data());
  ok = rc == 0;
  for (int b = 0, k = 0; b < 12; ++b)
    for (int t = 0; t < 24; ++t, ++k) ok = ok && idx[k] == b * 10000 + t;
  check(ok, "index_3d (3-D grid and block)");

  double out[5] = {0, 0, 0, 0, 0};
  rc = launch(emu_launch_scalar_types, dim3(1), dim3(1), 0, 0, out, -7, 3000000000u, 1.5f, 2.25, (long long)-(1LL << 40));
  check(rc == 0 && out[0] == -7 && out[1] == 3e9 && out[2] == 1.5 && out[3] == 2.25 && out[4] == -(double)(1LL << 40),
        "scalar_types (int, unsigned, float, double, long long slots)");

  int m = 50000;
  auto x = uniform(m);
  float sum = 0.f;
  int count = 0, maximum = -1, first = -1;
  rc = launch(emu_launch_atomics, dim3((m + 127) / 128), dim3(128), 0, 0, x.data(), m, &sum, &count, &maximum, &first);
  double want = 0; int want_max = -1;
  for (float v : x) { want += v; want_max = std::max(want_max, (int)(v * 1000.0f)); }
  check(rc == 0 && count == m && close(sum, want, 1e-4) && maximum == want_max && first >= 0 && first < m,
        "atomics from many blocks (atomicAdd float/int, atomicMax, atomicCAS)");

  std::vector<float> cx(1000, 1.f), cy(1000, 0.f);
  cx[777] = -1.f;
  rc = launch(emu_launch_checked_copy, dim3(8), dim3(128), 0, 0, cx.data(), cy.data(), 1000);
  std::string text = emu_error_text();
  bool reported = rc == emu::E_DEVICE_ASSERT && text.find("device-side assert triggered") != std::string::npos &&
                  text.find("x[i] >= 0") != std::string::npos;
  cx[777] = 1.f;
  rc = launch(emu_launch_checked_copy, dim3(8), dim3(128), 0, 0, cx.data(), cy.data(), 1000);
  check(reported && rc == 0 && cy == cx, "device-side assert in loop mode (__builtin_longjmp), then a clean launch");
}

// ------------------------------------------------------------------- extra.cu
void test_extra() {
  std::vector<int> out(3 * 64, -1);
  int rc = launch(emu_launch_assert_between_barriers, dim3(3), dim3(64), 0, emu::FLAG_SERIAL, out.data());
  std::string text = emu_error_text();
  bool reported = rc == emu::E_DEVICE_ASSERT && text.find("thread (5,0,0)") != std::string::npos &&
                  text.find("block (1,0,0)") != std::string::npos;
  bool block0 = true;
  for (int t = 0; t < 64; ++t) block0 = block0 && out[t] == 63 - t;
  check(reported && block0, "device-side assert in fiber mode (between two barriers)");

  int n = 4 * 96;
  std::vector<int> x(n);
  for (int i = 0; i < n; ++i) x[i] = (int)(rng() % 1000);
  std::vector<unsigned> ballots(n / 32, 0);
  std::vector<int> counts(4, -1);
  rc = launch(emu_launch_votes, dim3(4), dim3(96), 0, 0, x.data(), ballots.data(), counts.data());
  bool ok = rc == 0;
  for (int w = 0; w < n / 32; ++w) {
    unsigned want = 0;
    for (int l = 0; l < 32; ++l) want |= (unsigned)(x[w * 32 + l] & 1) << l;
    ok = ok && ballots[w] == want;
  }
  for (int b = 0; b < 4; ++b) {
    int want = 0;
    for (int t = 0; t < 96; ++t) want += (x[b * 96 + t] & 1) == 0;
    ok = ok && counts[b] == want;
  }
  check(ok, "__ballot_sync and __syncthreads_count");

  auto hx = uniform(1000, -4, 4);
  std::vector<float> hy(1000, 0.f);
  rc = launch(emu_launch_half_axpy, dim3(4), dim3(256), 0, 0, hx.data(), hy.data(), 1000);
  ok = rc == 0;
  for (int i = 0; i < 1000 && ok; ++i) ok = close(hy[i], 2.0 * hx[i] + 1.0, 2e-3, 2e-3);
  check(ok, "half precision (_Float16)");

  std::vector<int> y(300, 10);
  rc = launch(emu_launch_add_signed_char, dim3(2), dim3(256), 0, 0, y.data(), (signed char)-3, 300);
  ok = rc == 0;
  for (int v : y) ok = ok && v == 7;
  check(ok, "signed char parameter");

  // the same arithmetic on the host, per thread, with the same float operations in order
  std::vector<float> lv(128, 0.f);
  int rounds = 5;
  rc = launch(emu_launch_many_live_values, dim3(1), dim3(128), 0, 0, lv.data(), rounds);
  ok = rc == 0;
  for (int th = 0; th < 128; ++th) {
    volatile float t = (float)th;  // no contraction or reordering the kernel could not do
    float f0 = t + 0.5f, f1 = t * 2.0f, f2 = t - 3.0f, f3 = t * 0.25f, f4 = t + 7.0f, f5 = t * 3.0f;
    float f6 = t - 1.0f, f7 = t + 11.0f, f8 = t * 5.0f, f9 = t + 13.0f, f10 = t * 0.5f, f11 = t - 9.0f;
    int i0 = th, i1 = th * 3, i2 = th + 5, i3 = th * 7, i4 = th + 17, i5 = th * 11, i6 = th + 29, i7 = th * 13;
    int i8 = th + 31, i9 = th ^ 5;
    for (int r = 0; r < rounds; ++r) {
      f0 += 1.0f; f1 += f0; f2 -= 1.0f; f3 += f2; f4 *= 1.0f; f5 += 2.0f;
      f6 -= f5; f7 += 1.0f; f8 += f7; f9 -= 0.5f; f10 += f9; f11 += 3.0f;
      i0 += 1; i1 += i0; i2 -= 1; i3 += i2; i4 ^= r; i5 += 2; i6 -= i5; i7 += 1; i8 += i7; i9 += r;
    }
    float want = f0 + f1 + f2 + f3 + f4 + f5 + f6 + f7 + f8 + f9 + f10 + f11 +
                 (float)(i0 + i1 + i2 + i3 + i4 + i5 + i6 + i7 + i8 + i9);
    ok = ok && close(lv[th], want, 1e-5);
  }
  check(ok, "many float and int values live across barriers (callee-saved registers)");
}

}  // namespace

int main() {
  std::printf("emulator runtime check: %s, %s fibers, %d OpenMP threads\n",
#if defined(__aarch64__)
              "aarch64",
#elif defined(__x86_64__)
              "x86-64",
#else
              "other architecture",
#endif
#ifdef EMU_UCONTEXT
              "ucontext",
#else
              "assembly-switch",
#endif
              omp_get_max_threads());
  for (const Mode& m : MODES) {
    test_matmul(40, 30, 20, m);
    test_matmul(33, 17, 70, m);
    test_block_sum(m);
    test_shuffle_sum(m);
    test_reverse_and_count(m);
  }
  test_poison();
  test_loop_mode();
  test_extra();
  std::printf("%s\n", failures ? "FAILED" : "ALL OK");
  return failures ? 1 : 0;
}
