// Rearranging a tensor without an index tensor: flip, roll, repeat, tril, triu
// (ops/rearrange.py).
//
// Who computes what: one thread per OUTPUT element in a grid-stride loop (grid capped
// at GPUDevice.MAX_BLOCKS, 256 threads a block); thread i turns its flat index into
// coordinates (last dim fastest) and those into the one source element it copies.
// repeat's backward is the exception: one thread per INPUT element, which sums the
// gradient of all its copies itself, so no two threads write one element (no atomics,
// and the same sum in the same order on every run). Shared memory and barriers: none;
// threads never exchange data.
// Arithmetic intensity: 0 FLOP/byte for the copies (one load, one store per element,
// plus a division and a modulo per dim of index arithmetic): bandwidth bound.
//
// The copies move elements by size (element_move.cuh) and serve every dtype; the
// backward of each copy is the same kernel on the gradient (flip is its own inverse,
// roll's inverse rolls back, a triangle's gradient is the same triangle).
#include "element_move.cuh"

// flip and roll: geom = [shape, offset, flipped] (3 rows of ndim). Output coordinate c
// reads source coordinate ((flipped ? n - 1 - c : c) + offset) % n along each dim: flip
// has offset 0, roll by `shift` has offset (-shift) mod n (out[c] = x[c - shift]).
__global__ void reindex_copy(const void* src, void* dst, const long long* geom, int ndim, long long n,
                             int esize)
{
    GRID_LOOP(i, n) {
        long long rest = i, offset = 0, stride = 1;
        for (int d = ndim - 1; d >= 0; --d) {
            const long long size = geom[d];
            long long c = rest % size;
            rest /= size;
            if (geom[2 * ndim + d]) c = size - 1 - c;
            offset += ((c + geom[ndim + d]) % size) * stride;
            stride *= size;
        }
        move_element(dst, i, src, offset, esize);
    }
}

// repeat: geom = [out shape, in shape]; out[c] = x[c % in_shape] (x seen with as many
// dims as the repeats, leading dims of size 1)
__global__ void repeat_forward(const void* src, void* dst, const long long* geom, int ndim, long long n,
                               int esize)
{
    GRID_LOOP(i, n) {
        long long rest = i, offset = 0, stride = 1;
        for (int d = ndim - 1; d >= 0; --d) {
            const long long c = rest % geom[d];
            rest /= geom[d];
            offset += (c % geom[ndim + d]) * stride;
            stride *= geom[ndim + d];
        }
        move_element(dst, i, src, offset, esize);
    }
}

// repeat backward, one thread per input element j: dx[j] = sum over the `copies` copies k
// (k's coordinates in the grid of repeats) of grad[(k * in_shape + j) . out_strides].
// geom = [in shape, repeats, out strides].
__global__ void repeat_backward(const float* grad, float* dx, const long long* geom, int ndim, long long n,
                                long long copies)
{
    GRID_LOOP(j, n) {
        float sum = 0.0f;
        for (long long k = 0; k < copies; ++k) {
            long long rj = j, rk = k, offset = 0;
            for (int d = ndim - 1; d >= 0; --d) {
                const long long in = geom[d], reps = geom[ndim + d];
                offset += ((rk % reps) * in + rj % in) * geom[2 * ndim + d];
                rj /= in;
                rk /= reps;
            }
            sum += grad[offset];
        }
        dx[j] = sum;
    }
}

// tril / triu over the last two dims (rows x cols matrices, any number of them):
// keep element (r, c) when c - r <= diagonal (tril) or c - r >= diagonal (triu), else 0
__global__ void triangle_mask(const void* src, void* dst, long long rows, long long cols, long long n,
                              long long diagonal, int upper, int esize)
{
    GRID_LOOP(i, n) {
        const long long r = (i / cols) % rows, c = i % cols;
        const bool keep = upper ? c - r >= diagonal : c - r <= diagonal;
        if (keep)
            move_element(dst, i, src, i, esize);
        else
            store_zero(dst, i, esize);
    }
}
