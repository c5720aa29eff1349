// Shared-memory kernels for the emulator's tests: they wait at barriers, so the
// emulator runs each CUDA thread as a fiber.
// hot: matmul_tiled
#define TILE 16

// C = A B, A is MxK, B is KxN, row-major. Block (16,16) computes a 16x16 tile of C:
// thread (tx, ty) owns C[row][col]. Per step the block stages a 16x16 tile of A and of
// B in shared memory (zero-padded at the edges, so sizes need not divide by 16).
// First barrier: the tiles are complete before anyone reads them. Second: everyone is
// done reading before the next step overwrites them.
__global__ void matmul_tiled(const float* A, const float* B, float* C, int M, int N, int K)
{
    __shared__ float As[TILE][TILE];
    __shared__ float Bs[TILE][TILE];
    int tx = threadIdx.x, ty = threadIdx.y;
    int row = blockIdx.y * TILE + ty, col = blockIdx.x * TILE + tx;
    float acc = 0.0f;
    for (int t = 0; t < (K + TILE - 1) / TILE; ++t) {
        int ka = t * TILE + tx, kb = t * TILE + ty;
        As[ty][tx] = (row < M && ka < K) ? A[row * K + ka] : 0.0f;
        Bs[ty][tx] = (kb < K && col < N) ? B[kb * N + col] : 0.0f;
        __syncthreads();
        for (int k = 0; k < TILE; ++k) acc += As[ty][k] * Bs[k][tx];
        __syncthreads();
    }
    if (row < M && col < N) C[row * N + col] = acc;
}

// Tree reduction: block of 256 threads sums 512 inputs into partial[blockIdx.x].
// Each thread adds two inputs into sdata[tid]; the barrier after each halving step
// makes the step's sums visible before the next step reads them.
__global__ void block_sum(const float* in, float* partial, int n)
{
    __shared__ float sdata[256];
    unsigned tid = threadIdx.x;
    unsigned i = blockIdx.x * blockDim.x * 2 + tid;
    float v = 0.0f;
    if (i < n) v += in[i];
    if (i + blockDim.x < n) v += in[i + blockDim.x];
    sdata[tid] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) sdata[tid] += sdata[tid + s];
        __syncthreads();
    }
    if (tid == 0) partial[blockIdx.x] = sdata[0];
}

// The same reduction with the barrier inside the loop missing: a race on a GPU,
// which race mode must catch.
__global__ void block_sum_racy(const float* in, float* partial, int n)
{
    __shared__ float sdata[256];
    unsigned tid = threadIdx.x;
    unsigned i = blockIdx.x * blockDim.x + tid;
    sdata[tid] = (i < n) ? in[i] : 0.0f;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) sdata[tid] += sdata[tid + s];
    }
    if (tid == 0) partial[blockIdx.x] = sdata[0];
}

// Reads shared memory nobody wrote: thread t writes s[t] for t < 128 only, thread 0
// sums all 256 entries. Barrier: the writes are complete before the read.
__global__ void reads_unwritten_shared(float* out)
{
    __shared__ float s[256];
    if (threadIdx.x < 128) s[threadIdx.x] = 1.0f;
    __syncthreads();
    if (threadIdx.x == 0) {
        float total = 0.0f;
        for (int k = 0; k < 256; ++k) total += s[k];
        out[blockIdx.x] = total;
    }
}

// Dynamic shared memory: two arrays carved from the `shared=` bytes (blockDim.x floats,
// then blockDim.x ints). Each block reverses its slice of `in` and counts positives.
// Barrier: all values and flags are stored before other threads read them.
__global__ void reverse_and_count(const float* in, float* out, int* positives, int n)
{
    extern __shared__ float buffer[];
    float* values = buffer;
    int* flags = (int*)&buffer[blockDim.x];
    int t = threadIdx.x, i = blockIdx.x * blockDim.x + t;
    values[t] = (i < n) ? in[i] : 0.0f;
    flags[t] = (i < n && in[i] > 0.0f) ? 1 : 0;
    __syncthreads();
    int j = blockIdx.x * blockDim.x + (blockDim.x - 1 - t);
    if (j < n) out[j] = values[t];
    if (t == 0) {
        int c = 0;
        for (int k = 0; k < (int)blockDim.x; ++k) c += flags[k];
        positives[blockIdx.x] = c;
    }
}

// Warp-shuffle reduction: each warp sums its 32 values with __shfl_down_sync (no shared
// memory, no block barrier), lane 0 adds the warp's sum into *out atomically.
__device__ __forceinline__ float warp_sum(float v)
{
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
    return v;
}
__global__ void shuffle_sum(const float* __restrict__ x, float* out, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = (i < n) ? __ldg(&x[i]) : 0.0f;
    v = warp_sum(v);
    if ((threadIdx.x & 31) == 0) atomicAdd(out, v);
}

// Bounds mode: a 32-element shared array indexed by a 33-thread block.
__global__ void shared_overrun(float* y)
{
    __shared__ float s[32];
    s[threadIdx.x] = 2.0f;  // thread 32 writes past the end
    __syncthreads();
    if (threadIdx.x == 0) y[0] = s[0];
}
