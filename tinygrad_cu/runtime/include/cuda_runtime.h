/* Stub for the emulator: CUDA's declarations are all in cuda_emu.h, which
   g++ force-includes, so a kernel's own #include <cuda_runtime.h> finds nothing more. */
#pragma once
