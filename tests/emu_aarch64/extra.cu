// Kernels for the cross-architecture check (tests/test_emulator_aarch64.py) that cover
// what shared_memory.cu and elementwise.cu do not: a device-side assert in fiber mode,
// warp votes and __syncthreads_count, half precision, a `char` parameter.

// Thread 5 of block 1 fails its assert between two barriers; the launch must report it
// and the other threads must not hang at the second barrier.
__global__ void assert_between_barriers(int* out)
{
    __shared__ int s[64];
    s[threadIdx.x] = (int)threadIdx.x;
    __syncthreads();
    assert(!(blockIdx.x == 1 && threadIdx.x == 5));
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = s[blockDim.x - 1 - threadIdx.x];
}

// Per warp: the ballot of odd lanes, and per block: how many threads have an even index.
__global__ void votes(const int* x, unsigned* ballots, int* counts)
{
    int t = threadIdx.x;
    unsigned b = __ballot_sync(0xffffffffu, x[blockIdx.x * blockDim.x + t] & 1);
    if ((t & 31) == 0) ballots[(blockIdx.x * blockDim.x + t) / 32] = b;
    int c = __syncthreads_count((x[blockIdx.x * blockDim.x + t] & 1) == 0);
    if (t == 0) counts[blockIdx.x] = c;
}

// Half precision through float: y = (half)(x * 2 + 1).
__global__ void half_axpy(const float* x, float* y, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        __half h = __float2half(x[i]);
        y[i] = __half2float(__hfma(h, __float2half(2.0f), __float2half(1.0f)));
    }
}

// A signed char parameter (plain `char` is unsigned on aarch64, as it is for nvcc there).
__global__ void add_signed_char(int* y, signed char c, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += c;
}

// Many values live across barriers: they must survive in the callee-saved registers
// (x19-x28, d8-d15 on aarch64; rbx, rbp, r12-r15 on x86-64) or on the fiber's stack
// while other fibers run with different values in the same registers.
__global__ void many_live_values(float* out, int rounds)
{
    float t = (float)threadIdx.x;
    float f0 = t + 0.5f, f1 = t * 2.0f, f2 = t - 3.0f, f3 = t * 0.25f, f4 = t + 7.0f, f5 = t * 3.0f;
    float f6 = t - 1.0f, f7 = t + 11.0f, f8 = t * 5.0f, f9 = t + 13.0f, f10 = t * 0.5f, f11 = t - 9.0f;
    int i0 = threadIdx.x, i1 = threadIdx.x * 3, i2 = threadIdx.x + 5, i3 = threadIdx.x * 7, i4 = threadIdx.x + 17;
    int i5 = threadIdx.x * 11, i6 = threadIdx.x + 29, i7 = threadIdx.x * 13, i8 = threadIdx.x + 31, i9 = threadIdx.x ^ 5;
    for (int r = 0; r < rounds; ++r) {
        __syncthreads();
        f0 += 1.0f; f1 += f0; f2 -= 1.0f; f3 += f2; f4 *= 1.0f; f5 += 2.0f;
        f6 -= f5; f7 += 1.0f; f8 += f7; f9 -= 0.5f; f10 += f9; f11 += 3.0f;
        i0 += 1; i1 += i0; i2 -= 1; i3 += i2; i4 ^= r; i5 += 2; i6 -= i5; i7 += 1; i8 += i7; i9 += r;
        __syncwarp();
    }
    out[threadIdx.x] = f0 + f1 + f2 + f3 + f4 + f5 + f6 + f7 + f8 + f9 + f10 + f11 +
                       (float)(i0 + i1 + i2 + i3 + i4 + i5 + i6 + i7 + i8 + i9);
}
