// Helpers shared by the kernels that read an int64 index tensor (gather.cu, scatter.cu).
//
// Geometry: the host passes a small int64 table `geom` (GPUDevice.table, cached by
// content). Its first row is always the shape the threads walk (one thread per element
// of it, row-major, last dim fastest); the next rows are strides, in elements, of the
// tensors the kernel reads or writes. A 0-d tensor is passed as shape (1,) so that every
// kernel has at least one dim. Nothing here uses shared memory or barriers.
//
// Bad indices are checked on the device: reading them back to the host would make the
// host wait for the device in every step. A thread that meets an index outside [0, size)
// touches no memory with it and reports it in the device's error record
// (GPUDevice.error_record), which the host raises at its next synchronisation.
#pragma once

#include "element_move.cuh"     // GRID_LOOP, move_element, store_zero

// Element i of the walked shape (geom[0..ndim)): its coordinate along `dim` in *coord, and
// the offsets of its other coordinates along stride rows 1 .. rows of geom (rows is 1 or
// 2: offsets[r - 1] = sum over d != dim of coord_d * geom[r * ndim + d]). A plain
// function, not a template: kernel sources are compiled as extern "C", as PyCUDA does.
__device__ __forceinline__ void offsets_without_dim(long long i, const long long* geom, int ndim, int dim,
                                                    int rows, long long* coord, long long* offsets)
{
    offsets[0] = offsets[1] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
        const long long n = geom[d];
        const long long c = i % n;
        i /= n;
        if (d == dim) {
            *coord = c;
            continue;
        }
        offsets[0] += c * geom[ndim + d];
        if (rows == 2) offsets[1] += c * geom[2 * ndim + d];
    }
}

// Record a bad index. The report must not depend on which thread runs first, so it
// names the bad index of the LOWEST element i: words 1 and 2 are atomicMax-ed with keys
// (n - i) << 32 | (32 bits of the value), the high and the low half (n < 2^31, checked on
// the host), so together they hold the exact 64-bit value of that element. Word 3 is a
// detail the host packed (the dim and its size). Only the kernel whose code is in word 0
// writes the details.
__device__ __forceinline__ void report_bad_index(unsigned long long* record, unsigned long long code,
                                                 long long i, long long n, long long value,
                                                 unsigned long long detail)
{
    const unsigned long long old = atomicCAS(&record[0], 0ull, code);
    if (old == 0ull || old == code) {
        const unsigned long long rank = (unsigned long long)(n - i) << 32;
        const unsigned long long bits = (unsigned long long)value;
        atomicMax(&record[1], rank | (bits >> 32));
        atomicMax(&record[2], rank | (bits & 0xffffffffull));
        record[3] = detail;                        // the same value from every thread
    }
}
