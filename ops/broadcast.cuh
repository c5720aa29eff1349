// Broadcasting by index arithmetic, for elementwise kernels of two inputs (#include'd).
//
// The host (ops/binary.py broadcast_geometry) merges the output shape into at most
// MAX_DIMS dims and passes, as SCALAR int kernel arguments, MAX_DIMS sizes and MAX_DIMS
// strides per operand (0 along dims in which the operand is broadcast; slot 0 is the
// outermost dim, unused slots have size 1). Scalars travel in the launch's parameter
// space: no table in device memory, no upload. Output element i is split into
// coordinates, innermost first, and each operand's offset is their dot product with its
// strides. ops/binary.cu explains the scheme at length (it has the same helpers inline).
#pragma once

#define BCAST_MAX_DIMS 6   // = MAX_DIMS in ops/binary.py

#define BCAST_GRID_STRIDE_LOOP(i, n) \
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// BCAST_MAX_DIMS scalar parameters p0..p5, and the braced list {p0, ..., p5} that gathers them.
#define BCAST_DIMS_PARAMS(p) int p##0, int p##1, int p##2, int p##3, int p##4, int p##5
#define BCAST_DIMS_LIST(p) {p##0, p##1, p##2, p##3, p##4, p##5}

struct BroadcastGeometry {
    int shape[BCAST_MAX_DIMS];
    int a_stride[BCAST_MAX_DIMS];
    int b_stride[BCAST_MAX_DIMS];
};

// Offsets of output element i in a and b. Indexed only by unrolled constants, so the
// struct lives in registers.
__device__ __forceinline__ void broadcast_pair_offsets(const BroadcastGeometry& geo, int i, int& ia, int& ib)
{
    ia = 0;
    ib = 0;
#pragma unroll
    for (int d = BCAST_MAX_DIMS - 1; d > 0; --d) {
        if (geo.shape[d] != 1) {
            const int coord = i % geo.shape[d];
            i /= geo.shape[d];
            ia += coord * geo.a_stride[d];
            ib += coord * geo.b_stride[d];
        }
    }
    ia += i * geo.a_stride[0];
    ib += i * geo.b_stride[0];
}
