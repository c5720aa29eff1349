// Exact batched matrix product of integer matrices, C = A B for int64, int32 and uint8
// (ops/matmul_int.py; PyTorch's CPU matmul of integer tensors), in the inputs' dtype.
//
// Who computes what: one thread per OUTPUT element C[b][m][n], in a grid-stride loop
// over all batches * M * N outputs; each thread walks row m of A and column n of B
// (K multiply-adds). A simple kernel, not the tiled float GEMM (ops/matmul.cu): integer
// products are rare (index arithmetic, tests) and this one is easy to check. Consecutive
// threads take consecutive n, so the reads of B's row k and the stores to C coalesce;
// A's element is the same for neighbouring threads (a broadcast read).
// Shared memory and barriers: none; threads never exchange data.
//
// Overflow wraps as two's complement, as PyTorch's: the sum is kept in the unsigned type
// of the output's width (unsigned overflow is defined in C++, signed is not), and the
// final cast to T keeps the low bits. uint8 sums in 32 bits and keeps the low 8.
// Batches: offsets[2 b + {0, 1}] are the element offsets of output matrix b's A and B
// matrices, computed by the host from the broadcast batch shapes (as in matmul.cu).

// (A macro, not a template: kernel files are compiled with C linkage, as PyCUDA's
// SourceModule does by default.)
#define INT_MATMUL(suffix, T, Acc)                                                                      \
    __global__ void matmul_int_##suffix##_forward(const T* __restrict__ A, const T* __restrict__ B,   \
                                                  T* __restrict__ C, const long long* __restrict__ offsets, \
                                                  int batches, int M, int N, int K) {                  \
        const long long per_matrix = (long long)M * N, total = batches * per_matrix;                  \
        for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;               \
             i += (long long)gridDim.x * blockDim.x) {                                                \
            const long long b = i / per_matrix, rest = i % per_matrix;                                \
            const long long m = rest / N, n = rest % N;                                               \
            const T* a = A + offsets[2 * b] + m * K;                                                  \
            const T* col = B + offsets[2 * b + 1] + n;                                                \
            Acc acc = 0;                                                                              \
            for (int k = 0; k < K; ++k)                                                               \
                acc += (Acc)a[k] * (Acc)col[(long long)k * N];                                        \
            C[i] = (T)acc;                                                                            \
        }                                                                                             \
    }

INT_MATMUL(i64, long long, unsigned long long)
INT_MATMUL(i32, int, unsigned int)
INT_MATMUL(u8, unsigned char, unsigned int)
