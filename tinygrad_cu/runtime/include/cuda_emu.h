// cuda_emu.h -- what a .cu file sees when the emulator compiles it with g++ or clang++.
//
// Force-included (c++ -include cuda_emu.h) in front of an unmodified kernel source,
// so the same text compiles with nvcc for a GPU and with g++ or clang++ for the CPU.  The pieces,
// in dependency order:
//   cuda_emu_lang.h       qualifiers, built-in types, threadIdx/blockIdx/...
//   cuda_emu_math.h       CUDA math functions and intrinsics
//   cuda_emu_half.h       __half: _Float16, __fp16 or a software type (a feature test picks)
//   cuda_emu_atomics.h    atomicAdd & co. (blocks run on several OS threads)
//   cuda_emu_fiber.h      the per-thread stacks and the context switch
//   cuda_emu_scheduler.h  blocks over OpenMP or the runtime's own thread pool (cuda_emu_pool.h),
//                         threads as a loop or as fibers, launch
//   cuda_emu_sync.h       __syncthreads, __syncwarp, warp shuffles and votes, assert
#pragma once
#define __CUDA_EMU__ 1
#include "cuda_emu_lang.h"
#include "cuda_emu_math.h"
#include "cuda_emu_half.h"
#include "cuda_emu_atomics.h"
#include "cuda_emu_fiber.h"
#include "cuda_emu_scheduler.h"
#include "cuda_emu_sync.h"
// last: libstdc++'s own headers spell __attribute__((__noinline__)), which this would break
#define __noinline__ __attribute__((noinline))
