// CUDA's language extensions, mapped onto C++ for the CPU.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

// Execution-space qualifiers mean nothing on the CPU: every function is host code.
#define __global__
#define __device__
#define __host__
#define __managed__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict
// __constant__ memory is an ordinary global; the loader finds it by an exported accessor.
#define __constant__
// A block runs on one OS thread at a time, and one OS thread runs one block at a time,
// so a thread_local array is exactly "one copy per running block". At block scope,
// thread_local implies static, so all the block's fibers see the same array.
// (`extern __shared__ T x[];` is rewritten by the loader: see emu_source.py.)
#define __shared__ thread_local

#define EMU_EXPORT extern "C" __attribute__((visibility("default")))

struct uint3 { unsigned int x, y, z; };
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return {x, y, z}; }
};

// Vector types with CUDA's alignment (a float4 load is one 16-byte access on a GPU).
#define EMU_VECTOR2(T, N, ALIGN) struct __attribute__((aligned(ALIGN))) N##2 { T x, y; }; \
  static inline N##2 make_##N##2(T a, T b) { return {a, b}; }
#define EMU_VECTOR3(T, N) struct N##3 { T x, y, z; }; \
  static inline N##3 make_##N##3(T a, T b, T c) { return {a, b, c}; }
#define EMU_VECTOR4(T, N, ALIGN) struct __attribute__((aligned(ALIGN))) N##4 { T x, y, z, w; }; \
  static inline N##4 make_##N##4(T a, T b, T c, T d) { return {a, b, c, d}; }
EMU_VECTOR2(float, float, 8)     EMU_VECTOR3(float, float)   EMU_VECTOR4(float, float, 16)
EMU_VECTOR2(int, int, 8)         EMU_VECTOR3(int, int)       EMU_VECTOR4(int, int, 16)
EMU_VECTOR2(unsigned, uint, 8)                               EMU_VECTOR4(unsigned, uint, 16)
EMU_VECTOR2(double, double, 16)
static inline uint3 make_uint3(unsigned a, unsigned b, unsigned c) { return {a, b, c}; }

static constexpr int warpSize = 32;

// The built-in index variables: one copy per OS worker thread. The scheduler writes
// threadIdx before it runs (loop mode) or resumes (fiber mode) each CUDA thread.
static thread_local uint3 threadIdx, blockIdx;
static thread_local dim3 blockDim, gridDim;
