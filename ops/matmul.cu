// Batched matrix product C = A B and its two gradients, one tiled GEMM body.
// hot: matmul_forward matmul_backward_a matmul_backward_b
//
// Who computes what: a block of 256 threads owns a 64x64 tile of C; thread (tx, ty)
// (tx, ty in 0..15) owns the 4x4 micro-tile of rows ty + 16i and columns tx + 16j
// (i, j < 4), kept in 16 registers. Strided rows/columns (instead of 4 neighbours)
// keep the shared-memory reads conflict-free and the final stores coalesced.
//
// Shared memory: one 16-deep slab of the reduction at a time, As[16][64] (op(A),
// stored k-major) and Bs[16][64] (op(B)), 8 KB. Each thread loads 4 elements of each;
// elements outside the matrix are stored as 0, so any M, N, K works.
// Barriers: the first __syncthreads makes the whole slab visible before anyone
// multiplies; the second stops a fast thread overwriting the slab for the next k0
// while slower threads still read it.
//
// Arithmetic intensity: per slab a block loads (64 + 64) x 16 floats from global memory
// and does 64 x 64 x 16 multiply-adds: 2*64*64*16 / ((64+64)*16*4 B) = 16 FLOP/byte
// (naive one-thread-per-output: 2 FLOP per 8 bytes = 0.25 FLOP/byte). From shared
// memory each thread reads 4 + 4 floats per 16 multiply-adds.
//
// Transposes are read in place: op(A)[m][k] is A[m*K + k], or A[k*M + m] when
// a_trans; op(B)[k][n] is B[k*N + n], or B[n*K + k] when b_trans. The tile loader lets
// consecutive threads walk the operand's contiguous dimension (coalesced reads) either way.
//   forward     C  = A B      (M x K)(K x N)
//   backward_a  dA = dC B^T   GEMM with M'=M, N'=K, K'=N, B read transposed
//   backward_b  dB = A^T dC   GEMM with M'=K, N'=N, K'=M, A read transposed
// Batches: `offsets` holds, for each output matrix b and each of `group` terms g, the
// element offsets of the two operands: offsets[(b*group + g)*2 + {0,1}]. The host
// computes it from the broadcast batch shapes (any number of batch dims). Output
// matrix b is the SUM over g of its products: group is 1 in the forward, and in a
// backward it is the number of batch entries that were broadcast onto one input
// matrix, so its gradient is summed inside the kernel (the reduction simply gets
// group*K' long) -- no atomics, no extra reduction pass.
// Blocks walk the (batch, tile row, tile column) list with a grid-stride loop.
// `acc += a * b`, not fmaf(): nvcc contracts it into an FMA anyway, and on the emulator
// (g++ without -mfma) fmaf is a libm call per multiply-add, several times slower.
//
// The linear layer's bias (y = x W^T + b, ops/matmul.py Linear) has two small kernels
// at the end of this file, one thread per element, no shared memory, no barriers:
// add_bias_rows adds b to every row of C in place; bias_grad_columns sums dC over its
// rows, one thread per column, so that neighbouring threads read neighbouring columns
// of a row (coalesced) as they walk down the rows.

#define MM_TILE 64            // rows and columns of C per block
#define MM_BK 16              // reduction slab depth
#define MM_THREADS 256        // 16 x 16 threads, 4 x 4 outputs each

__device__ __forceinline__ void gemm_tiles(const float* __restrict__ A, const float* __restrict__ B,
                                           float* __restrict__ C, const long long* __restrict__ offsets,
                                           int batches, int group, int M, int N, int K,
                                           bool a_trans, bool b_trans) {
  __shared__ float As[MM_BK][MM_TILE + 1];   // +1: conflict-free k-major stores
  __shared__ float Bs[MM_BK][MM_TILE + 1];
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  const int tiles_m = (M + MM_TILE - 1) / MM_TILE, tiles_n = (N + MM_TILE - 1) / MM_TILE;
  const long long n_tiles = (long long)batches * tiles_m * tiles_n;

  for (long long tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {   // uniform per block
    const int batch = (int)(tile / ((long long)tiles_m * tiles_n));
    const int rest = (int)(tile % ((long long)tiles_m * tiles_n));
    const int row0 = (rest / tiles_n) * MM_TILE, col0 = (rest % tiles_n) * MM_TILE;
    float acc[4][4] = {};

    for (int g = 0; g < group; ++g) {
      const float* a = A + offsets[((long long)batch * group + g) * 2];
      const float* b = B + offsets[((long long)batch * group + g) * 2 + 1];
      for (int k0 = 0; k0 < K; k0 += MM_BK) {
        // stage op(A)[row0.., k0..] and op(B)[k0.., col0..]; 4 elements of each per thread
        for (int r = 0; r < 4; ++r) {
          int k, m;
          if (a_trans) { m = t % 64; k = t / 64 + 4 * r; }    // M contiguous in memory
          else         { k = t % 16; m = t / 16 + 16 * r; }   // K contiguous in memory
          const int gm = row0 + m, gk = k0 + k;
          As[k][m] = (gm < M && gk < K) ? a[a_trans ? (long long)gk * M + gm : (long long)gm * K + gk] : 0.f;
          int n;
          if (b_trans) { k = t % 16; n = t / 16 + 16 * r; }   // K contiguous in memory
          else         { n = t % 64; k = t / 64 + 4 * r; }    // N contiguous in memory
          const int gn = col0 + n, gk2 = k0 + k;
          Bs[k][n] = (gn < N && gk2 < K) ? b[b_trans ? (long long)gn * K + gk2 : (long long)gk2 * N + gn] : 0.f;
        }
        __syncthreads();                       // slab complete before anyone reads it
        for (int k = 0; k < MM_BK; ++k) {
          float av[4], bv[4];
          for (int i = 0; i < 4; ++i) av[i] = As[k][ty + 16 * i];
          for (int j = 0; j < 4; ++j) bv[j] = Bs[k][tx + 16 * j];
          for (int i = 0; i < 4; ++i)
            for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
        }
        __syncthreads();                       // everyone done reading before the next slab
      }
    }
    float* c = C + (long long)batch * M * N;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        const int gm = row0 + ty + 16 * i, gn = col0 + tx + 16 * j;
        if (gm < M && gn < N) c[(long long)gm * N + gn] = acc[i][j];
      }
  }
}

// C[b] = A[b] B[b] (M x K)(K x N); offsets per output batch (group = 1).
__global__ void __launch_bounds__(MM_THREADS)
matmul_forward(const float* a, const float* b, float* c, const long long* offsets,
               int batches, int M, int N, int K) {
  gemm_tiles(a, b, c, offsets, batches, 1, M, N, K, false, false);
}

// dA[i] = sum_g dC[g] B[g]^T: dc (M x N), b (K x N) read transposed, da (M x K).
__global__ void __launch_bounds__(MM_THREADS)
matmul_backward_a(const float* dc, const float* b, float* da, const long long* offsets,
                  int batches, int group, int M, int N, int K) {
  gemm_tiles(dc, b, da, offsets, batches, group, M, K, N, false, true);
}

// dB[i] = sum_g A[g]^T dC[g]: a (M x K) read transposed, dc (M x N), db (K x N).
__global__ void __launch_bounds__(MM_THREADS)
matmul_backward_b(const float* a, const float* dc, float* db, const long long* offsets,
                  int batches, int group, int M, int N, int K) {
  gemm_tiles(a, dc, db, offsets, batches, group, K, N, M, true, false);
}


// C[r][c] += bias[c] for the M x N matrix C: one thread per element, grid-stride.
__global__ void add_bias_rows(float* c, const float* bias, long long M, long long N) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < M * N;
       i += (long long)gridDim.x * blockDim.x)
    c[i] += bias[i % N];
}

// db[c] = sum_r dC[r][c]: one thread per column, grid-stride over columns.
__global__ void bias_grad_columns(const float* dc, float* db, long long M, long long N) {
  for (long long col = blockIdx.x * (long long)blockDim.x + threadIdx.x; col < N;
       col += (long long)gridDim.x * blockDim.x) {
    float sum = 0.f;
    for (long long r = 0; r < M; ++r) sum += dc[r * N + col];
    db[col] = sum;
  }
}
