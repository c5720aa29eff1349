// Movement ops: permute, expand, getitem, cat, pad, cast (ops/movement.py), and the
// device-side fill behind GPUDevice.full (ones, scalar operands, the seed gradient).
//
// Every kernel here is a copy (fill: a copy of one value given as a kernel argument): one thread per output element (a grid-stride loop, so
// any size runs on a capped grid), no shared memory, no barriers, no arithmetic on the
// data. Arithmetic intensity is 0 FLOP/byte: each element is read once and written
// once, so these kernels are bound by memory bandwidth, and by the index arithmetic
// (one division and one modulo per dimension) on small elements.
//
// The idea students should take away: a permuted, broadcast, sliced or padded tensor
// is the same memory seen through different *strides*. Thread i turns its output
// index into coordinates (divide by the shape, last dim fastest) and the coordinates
// into a source offset (dot product with the source's strides; stride 0 repeats an
// element, which is broadcasting). The host passes the geometry as a small int64
// device array `geom` = [shape[0..ndim), strides[0..ndim)] (pad adds a third row).
//
// A copy does not care what the bits mean, so the copy kernels move elements of
// `esize` bytes (1: bool/uint8, 4: float32/int32, 8: int64) and serve every dtype.
// Only scatter_add_backward (adds gradients) and cast_forward (converts) look at values.

// Copy one element of `esize` bytes: dst[i] = src[j] (esize is the same for every
// thread of a launch, so the switch never diverges).
__device__ __forceinline__ void copy_element(void* dst, long long i, const void* src, long long j,
                                             int esize)
{
    switch (esize) {
    case 8: static_cast<unsigned long long*>(dst)[i] = static_cast<const unsigned long long*>(src)[j]; break;
    case 4: static_cast<unsigned int*>(dst)[i] = static_cast<const unsigned int*>(src)[j]; break;
    default: static_cast<unsigned char*>(dst)[i] = static_cast<const unsigned char*>(src)[j]; break;
    }
}

// Store the low `esize` bytes of `bits` as element i (little-endian, as x86 and every GPU).
__device__ __forceinline__ void store_bits(void* dst, long long i, unsigned long long bits, int esize)
{
    switch (esize) {
    case 8: static_cast<unsigned long long*>(dst)[i] = bits; break;
    case 4: static_cast<unsigned int*>(dst)[i] = static_cast<unsigned int>(bits); break;
    default: static_cast<unsigned char*>(dst)[i] = static_cast<unsigned char>(bits); break;
    }
}

// The offset reached from `base` by the coordinates of flat index i (row-major over
// shape = geom[0..ndim)) along the strides geom[ndim..2 ndim).
__device__ __forceinline__ long long strided_offset(long long i, const long long* geom, int ndim,
                                                    long long base)
{
    long long offset = base;
    for (int d = ndim - 1; d >= 0; --d) {
        const long long n = geom[d];
        offset += (i % n) * geom[ndim + d];
        i /= n;
    }
    return offset;
}

// permute, expand, slices (cat backward) and pad backward: read through strides,
// write contiguously. dst[i] = src[base + coords(i) . strides]
__global__ void strided_copy(const void* src, void* dst, const long long* geom, int ndim,
                             long long base, long long n, int esize)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        copy_element(dst, i, src, strided_offset(i, geom, ndim, base), esize);
}

// cat forward: read contiguously, write through strides into one input's slab of the
// output. dst[base + coords(i) . strides] = src[i]  (one launch per input)
__global__ void strided_store(const void* src, void* dst, const long long* geom, int ndim,
                              long long base, long long n, int esize)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        copy_element(dst, strided_offset(i, geom, ndim, base), src, i, esize);
}

// getitem forward: the host has computed the flat source position of every output
// element (any numpy index: ints, slices, arrays, None, ...). dst[i] = src[index[i]]
__global__ void gather_forward(const void* src, void* dst, const long long* index, long long n,
                               int esize)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        copy_element(dst, i, src, index[i], esize);
}

// getitem backward: dx (zeroed by the host) [index[i]] += grad[i]. An index may repeat
// (x[[0, 0]]), so two threads can hit one element: atomicAdd makes the sum correct
// (in an unspecified order, so the last bits may differ from run to run).
__global__ void scatter_add_backward(const float* grad, float* dx, const long long* index, long long n)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        atomicAdd(&dx[index[i]], grad[i]);
}

// pad forward: thread i finds its coordinates in the output; inside the interior it
// copies the input element, in the border it writes the constant (`value_bits`: the
// bit pattern of the value in the tensor's dtype). geom = [out_shape, in_shape, before].
__global__ void pad_forward(const void* src, void* dst, const long long* geom, int ndim, long long n,
                            int esize, unsigned long long value_bits)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        long long rest = i, offset = 0, in_stride = 1;
        bool inside = true;
        for (int d = ndim - 1; d >= 0; --d) {
            const long long c = rest % geom[d] - geom[2 * ndim + d];   // coordinate in the input
            rest /= geom[d];
            inside = inside && c >= 0 && c < geom[ndim + d];
            offset += c * in_stride;
            in_stride *= geom[ndim + d];
        }
        if (inside)
            copy_element(dst, i, src, offset, esize);
        else
            store_bits(dst, i, value_bits, esize);
    }
}

// GPUDevice.full with a non-zero value (zero is a driver memset): dst[i] = value.
// The value travels as a kernel argument, the bit pattern of the value in the tensor's
// dtype (`value_bits`, as pad_forward's border), so filling a tensor uploads nothing:
// no host buffer, no copy, just the launch. One thread per element, grid-stride loop.
__global__ void fill(void* dst, long long n, int esize, unsigned long long value_bits)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x)
        store_bits(dst, i, value_bits, esize);
}

// cast: dtype codes as in ops/movement.py CAST_CODES.
#define DTYPE_FLOAT32 0
#define DTYPE_INT32 1
#define DTYPE_INT64 2
#define DTYPE_UINT8 3
#define DTYPE_BOOL 4

// Store an integer value as `code` (narrowing wraps around, as numpy's astype).
__device__ __forceinline__ void store_integer(void* dst, long long i, long long v, int code)
{
    switch (code) {
    case DTYPE_FLOAT32: static_cast<float*>(dst)[i] = static_cast<float>(v); break;
    case DTYPE_INT32: static_cast<int*>(dst)[i] = static_cast<int>(v); break;
    case DTYPE_INT64: static_cast<long long*>(dst)[i] = v; break;
    case DTYPE_UINT8: static_cast<unsigned char*>(dst)[i] = static_cast<unsigned char>(v); break;
    default: static_cast<unsigned char*>(dst)[i] = v != 0; break;
    }
}

// cast forward: dst[i] = (dst type) src[i]. Floats go to integers by truncation toward
// zero, to bool as x != 0 (NaN is true), as numpy's astype.
__global__ void cast_forward(const void* src, void* dst, long long n, int src_code, int dst_code)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        if (src_code == DTYPE_FLOAT32) {
            const float x = static_cast<const float*>(src)[i];
            if (dst_code == DTYPE_FLOAT32)
                static_cast<float*>(dst)[i] = x;
            else if (dst_code == DTYPE_BOOL)
                static_cast<unsigned char*>(dst)[i] = x != 0.0f;
            else
                store_integer(dst, i, static_cast<long long>(x), dst_code);
        } else {
            long long v;
            switch (src_code) {
            case DTYPE_INT32: v = static_cast<const int*>(src)[i]; break;
            case DTYPE_INT64: v = static_cast<const long long*>(src)[i]; break;
            default: v = static_cast<const unsigned char*>(src)[i]; break;   // uint8, bool
            }
            store_integer(dst, i, v, dst_code);
        }
    }
}
