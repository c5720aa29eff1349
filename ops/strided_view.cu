// Ops that read a tensor through a strided window (ops/strided_view.py): diagonal
// (x[..., i, i + offset]: the stride of the diagonal is the sum of the plane's two
// strides) and unfold (windows of `size` elements `step` apart: the windows' dim has
// stride step * stride, the new last dim the dim's own stride). Both are views in
// PyTorch; here they are copies of the view, and the view never goes through the host:
// the host passes geom = [out_shape, strides] (ndim of each, strides in elements of the
// contiguous input) and the offset of the view's first element.
//
// Work mapping: one thread per OUTPUT element, in a grid-stride loop. Thread i turns i
// into output coordinates (last dim fastest) and those into the source offset
// offset + sum_d c_d * stride_d.
// Forward copies that element (any dtype, by element size). Backward adds each output
// gradient to its source element: unfold's windows overlap when step < size, so several
// outputs share a source and the adds are atomicAdd into dx (zeroed by the host first);
// for diagonal no two outputs share one. The order of the adds is unspecified (the last
// bits of a float sum may differ run to run, as PyTorch's CUDA backward).
// No shared memory, no barriers. Memory bound: one read and one write per output element,
// plus a division and a modulo per dim.
#include "element_move.cuh"

__device__ __forceinline__ long long view_source(long long i, const long long* geom, int ndim, long long offset)
{
    long long rest = i, at = offset;
    for (int d = ndim - 1; d >= 0; --d) {
        at += (rest % geom[d]) * geom[ndim + d];
        rest /= geom[d];
    }
    return at;
}

// dst[i] = src[view_source(i)], n output elements of esize bytes
__global__ void strided_view_forward(const void* src, void* dst, const long long* geom, int ndim, long long n,
                                     long long offset, int esize)
{
    GRID_LOOP(i, n)
        move_element(dst, i, src, view_source(i, geom, ndim, offset), esize);
}

// dx (zeroed) += grad at every output's source element
__global__ void strided_view_backward(const float* grad, float* dx, const long long* geom, int ndim, long long n,
                                      long long offset)
{
    GRID_LOOP(i, n)
        atomicAdd(&dx[view_source(i, geom, ndim, offset)], grad[i]);
}
