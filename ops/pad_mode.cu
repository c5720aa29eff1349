// Padding that repeats the input instead of writing a constant (ops/pad_mode.py):
// PyTorch's F.pad modes 'reflect', 'replicate' and 'circular'. (mode='constant' is
// movement.cu's pad_forward; negative pads are a crop after these kernels, by the host.)
//
// Work mapping: one thread per OUTPUT element, in a grid-stride loop (any size on a
// capped grid). Thread i turns i into output coordinates (last dim fastest); in each
// dim the coordinate minus the `before` pad, c, may lie outside [0, n) and is folded
// back into the input by the mode:
//   reflect    c < 0 -> -c,  c >= n -> 2(n - 1) - c   (the edge is not repeated; the
//              host checks pad < n, so one fold lands inside)
//   replicate  c clamped to [0, n - 1]
//   circular   c modulo n (the host checks pad <= n: at most one wrap)
// and the input coordinates give the source offset (row-major strides of the input).
// geom = [out_shape, in_shape, before], a small int64 device table.
//
// Forward copies the source element (any dtype, by element size). Backward runs the
// same mapping: every output gradient is added to the input element it was copied
// from. Several outputs share a source (the edge, and reflected rows), so the adds
// are atomicAdd into dx, zeroed by the host first; their order is unspecified (the
// last bits of a float sum may differ run to run, as PyTorch's CUDA backward).
// No shared memory, no barriers. Memory bound: one read and one write (or atomic
// add) per output element, plus a division and a modulo per dim.
#include "element_move.cuh"

#define PAD_REFLECT 0
#define PAD_REPLICATE 1
#define PAD_CIRCULAR 2

// The input coordinate that output coordinate c (before pads already subtracted) copies.
__device__ __forceinline__ long long fold_coordinate(long long c, long long n, int mode)
{
    if (mode == PAD_REPLICATE) return c < 0 ? 0 : (c >= n ? n - 1 : c);
    if (mode == PAD_CIRCULAR) return ((c % n) + n) % n;
    if (c < 0) return -c;                                  // PAD_REFLECT
    return c >= n ? 2 * (n - 1) - c : c;
}

// Offset in the input of the element output element i copies.
__device__ __forceinline__ long long source_offset(long long i, const long long* geom, int ndim, int mode)
{
    long long rest = i, offset = 0, in_stride = 1;
    for (int d = ndim - 1; d >= 0; --d) {
        const long long n = geom[ndim + d];
        const long long c = fold_coordinate(rest % geom[d] - geom[2 * ndim + d], n, mode);
        rest /= geom[d];
        offset += c * in_stride;
        in_stride *= n;
    }
    return offset;
}

// dst (the padded output, n elements) = src read through the mode's fold.
__global__ void pad_mode_forward(const void* src, void* dst, const long long* geom, int ndim, long long n,
                                 int esize, int mode)
{
    GRID_LOOP(i, n)
        move_element(dst, i, src, source_offset(i, geom, ndim, mode), esize);
}

// dx (zeroed, the input's shape) += grad of every output element copied from it.
__global__ void pad_mode_backward(const float* grad, float* dx, const long long* geom, int ndim, long long n,
                                  int mode)
{
    GRID_LOOP(i, n)
        atomicAdd(&dx[source_offset(i, geom, ndim, mode)], grad[i]);
}
