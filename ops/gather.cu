// Reading through an index tensor: gather, index_select, one_hot (ops/gather.py).
//
// Who computes what: one thread per OUTPUT element in a grid-stride loop (the host caps
// the grid at GPUDevice.MAX_BLOCKS), 256 threads a block. Thread i turns its flat index
// into coordinates of the walked shape (geom row 0), reads the int64 index that belongs
// to it, and from the coordinates, with the coordinate along `dim` replaced by that
// index, the source offset (geom row 1: the source's strides). Shared memory and
// barriers: none; threads never exchange data.
//   gather        out[c] = x[c with c_dim := index[c]]          walks index's shape
//   index_select  out[c] = x[c with c_dim := index[c_dim]]      walks out's shape
//   one_hot       out[r, k] = (index[r] == k)                    walks out's shape
// Arithmetic intensity: 0 FLOP/byte; one index load, one gather load and one store per
// element: bound by memory bandwidth (the gather load is uncoalesced where indices jump).
//
// Backward (the adjoint of a gather is a scatter-add): dx starts as zeros (a memset)
// and each thread adds its grad element at the position its forward read from. Indices
// may repeat (gather with index [0, 0]; index_select([1, 1])), so several threads can add
// to ONE dx element at once: a plain `+=` would lose updates (read, add, write races),
// so the adds are atomicAdd. Their order is unspecified: the last bits of a sum of
// several gradients may differ from run to run.
//
// Bad indices (outside [0, size)) are reported through the device's error record (see
// index_tensor.cuh) and their element is written as 0; the host raises before any value
// can be read. The backward kernels skip them (the forward has reported them).
#include "index_tensor.cuh"

// gather: geom = [index shape (ndim), x strides (ndim)]; n = index.size; size = x.shape[dim]
__global__ void gather_forward(const void* x, void* out, const long long* index, const long long* geom,
                               int ndim, int dim, long long n, long long size, int esize,
                               unsigned long long* error_record, unsigned long long error_code,
                               unsigned long long detail)
{
    GRID_LOOP(i, n) {
        long long c, offset[2];
        offsets_without_dim(i, geom, ndim, dim, 1, &c, offset);
        const long long j = index[i];
        if (j < 0 || j >= size) {
            report_bad_index(error_record, error_code, i, n, j, detail);
            store_zero(out, i, esize);
            continue;
        }
        move_element(out, i, x, offset[0] + j * geom[ndim + dim], esize);
    }
}

// dx (zeroed) [c with c_dim := index[c]] += grad[c]; atomic: indices may repeat
__global__ void gather_backward(const float* grad, float* dx, const long long* index, const long long* geom,
                                int ndim, int dim, long long n, long long size)
{
    GRID_LOOP(i, n) {
        long long c, offset[2];
        offsets_without_dim(i, geom, ndim, dim, 1, &c, offset);
        const long long j = index[i];
        if (j >= 0 && j < size)
            atomicAdd(&dx[offset[0] + j * geom[ndim + dim]], grad[i]);
    }
}

// index_select: geom = [out shape (ndim), x strides (ndim)]; n = out.size; index has
// `length` = out.shape[dim] entries. A bad entry is reported by its position in the index.
__global__ void index_select_forward(const void* x, void* out, const long long* index, const long long* geom,
                                     int ndim, int dim, long long n, long long size, long long length,
                                     int esize, unsigned long long* error_record,
                                     unsigned long long error_code, unsigned long long detail)
{
    GRID_LOOP(i, n) {
        long long c, offset[2];
        offsets_without_dim(i, geom, ndim, dim, 1, &c, offset);
        const long long j = index[c];
        if (j < 0 || j >= size) {
            report_bad_index(error_record, error_code, c, length, j, detail);
            store_zero(out, i, esize);
            continue;
        }
        move_element(out, i, x, offset[0] + j * geom[ndim + dim], esize);
    }
}

// dx (zeroed) [c with c_dim := index[c_dim]] += grad[c]; atomic: an index may repeat
__global__ void index_select_backward(const float* grad, float* dx, const long long* index,
                                      const long long* geom, int ndim, int dim, long long n, long long size)
{
    GRID_LOOP(i, n) {
        long long c, offset[2];
        offsets_without_dim(i, geom, ndim, dim, 1, &c, offset);
        const long long j = index[c];
        if (j >= 0 && j < size)
            atomicAdd(&dx[offset[0] + j * geom[ndim + dim]], grad[i]);
    }
}

// one_hot: out (int64, rows x classes) [r, k] = (index[r] == k). The thread of column 0
// checks the row's class (one report per row, not one per column).
__global__ void one_hot_forward(const long long* index, long long* out, long long n, long long classes,
                                unsigned long long* error_record, unsigned long long error_code,
                                unsigned long long detail)
{
    GRID_LOOP(i, n) {
        const long long r = i / classes, k = i % classes;
        const long long label = index[r];
        if (k == 0 && (label < 0 || label >= classes))
            report_bad_index(error_record, error_code, r, n / classes, label, detail);
        out[i] = label == k ? 1 : 0;
    }
}
