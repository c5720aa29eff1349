// Elementwise functions of two tensors with numpy broadcasting, and sum_to_shape.
//
// Who computes what: one thread per OUTPUT element, in a grid-stride loop (the host
// caps the grid, so thread t handles elements t, t + T, t + 2T, ... with T the number
// of threads in the grid). sum_to_shape is the exception: one thread per element of
// the SMALL shape, looping over that element's broadcast positions.
// Shared memory and barriers: none; threads never exchange data.
// Arithmetic intensity: about one flop per 12 bytes moved (load a, load b, store
// out): memory bound. The only other work is the integer index arithmetic below.
//
// Broadcasting by index arithmetic (no broadcast copy is ever made): the output index
// i, row-major over the output shape, is split into coordinates, and a's element is
// at sum_d coord_d * a_stride_d, where a_stride_d = 0 along every dim in which a has
// size 1 (a dim a lacks counts as size 1); the same for b.
// The host (ops/binary.py) simplifies the geometry first: it drops size-1 output dims
// and merges neighbouring dims that every operand walks as one, e.g.
//     (4, 5, 6) * (6,)   ->  shape (20, 6), a strides (6, 1), b strides (0, 1)
//     (3, 5)    * (3, 5) ->  shape (15,),   a strides (1,),   b strides (1,)
// so the common cases cost at most one integer division per element, and none when
// the operands have the same shape.
// The geometry is passed as SCALAR int kernel arguments, MAX_DIMS per list (shape, a
// strides, b strides): slot 0 holds the outermost merged dim, unused slots hold size 1
// (and are skipped). Scalars travel in the launch's parameter space (constant memory
// on a GPU): no allocation and no host-to-device copy per launch, which a small
// geometry array in device memory would cost. Inside the kernel they are gathered
// into a struct whose arrays are only indexed by unrolled constant indices, so it
// lives in registers (ptxas: 0 bytes stack frame).
//
// Scalar operands: `x * 2.0` arrives as mul(x, 0-d tensor). The *_forward_sa and
// *_forward_sb kernels take the one-element operand (a, resp. b) by POINTER and each
// thread loads it once, before its loop, into a register; the other operand then has
// exactly the output's layout, so no index arithmetic is needed at all. Reading the
// value on the host instead would need a device-to-host copy, which on a GPU waits
// for all queued work to finish: a synchronisation per op, far dearer than one cached
// load per thread.
//
// Backward: <op>_backward_a / <op>_backward_b write d out/d a * grad (resp. b) at the
// OUTPUT shape (grad is contiguous in that shape, so it is read at index i). Where
// the input was broadcast, the host then reduces that full-shaped gradient with
// sum_to_shape, in a fixed order per thread: deterministic, no atomics.

#include "broadcast.cuh"   // MAX_DIMS, Broadcast, BINARY_FORWARD_T, BINARY_BACKWARD, ...

// ---------------------------------------------------------------- sum_to_shape
// out[o] = sum of grad over every position that element o of the small shape was
// broadcast to. The host splits grad's (merged) dims into KEPT dims (present in the
// small shape; o runs over them row-major) and REDUCED dims (size 1 in the small
// shape; n_reduced positions in all), both with grad's strides. One thread per o.
__global__ void sum_to_shape(const float* __restrict__ grad, float* __restrict__ out,
                             int n_out, int n_reduced,
                             DIMS_PARAMS(kept_shape), DIMS_PARAMS(kept_stride),
                             DIMS_PARAMS(reduced_shape), DIMS_PARAMS(reduced_stride)) {
    const int kept_s[MAX_DIMS] = DIMS_LIST(kept_shape), kept_t[MAX_DIMS] = DIMS_LIST(kept_stride);
    const int red_s[MAX_DIMS] = DIMS_LIST(reduced_shape), red_t[MAX_DIMS] = DIMS_LIST(reduced_stride);
    GRID_STRIDE_LOOP(o, n_out) {
        const float* base = grad + strided_offset(kept_s, kept_t, o);
        float sum = 0.f;
        for (int j = 0; j < n_reduced; ++j)
            sum += base[strided_offset(red_s, red_t, j)];
        out[o] = sum;
    }
}

// ---------------------------------------------------------------- forward kernels
// (BINARY_FORWARD_T / BINARY_FORWARD: ops/broadcast.cuh)
BINARY_FORWARD(add, float, a + b)
BINARY_FORWARD(sub, float, a - b)
BINARY_FORWARD(mul, float, a * b)
BINARY_FORWARD(div, float, a / b)
BINARY_FORWARD(pow, float, powf(a, b))
// comparisons write bool (1 byte, as numpy's bool_); they have no backward
BINARY_FORWARD(eq, bool, a == b)
BINARY_FORWARD(ne, bool, a != b)
BINARY_FORWARD(lt, bool, a < b)
BINARY_FORWARD(le, bool, a <= b)
BINARY_FORWARD(gt, bool, a > b)
BINARY_FORWARD(ge, bool, a >= b)
// integer arithmetic on int64 (labels, indices, counts); no gradient, so no backward
BINARY_FORWARD_T(add_i64, long long, long long, a + b)
BINARY_FORWARD_T(sub_i64, long long, long long, a - b)
BINARY_FORWARD_T(mul_i64, long long, long long, a * b)
// the same comparisons on int64 (labels against predicted classes: `argmax == y`)
BINARY_FORWARD_T(eq_i64, long long, bool, a == b)
BINARY_FORWARD_T(ne_i64, long long, bool, a != b)
BINARY_FORWARD_T(lt_i64, long long, bool, a < b)
BINARY_FORWARD_T(le_i64, long long, bool, a <= b)
BINARY_FORWARD_T(gt_i64, long long, bool, a > b)
BINARY_FORWARD_T(ge_i64, long long, bool, a >= b)
// ... and on int32, uint8 and bool (bool as its 0 / 1 byte: False < True, as PyTorch)
typedef unsigned char compare_u8;
#define COMPARISONS_FOR(T, suffix)                        \
    BINARY_FORWARD_T(eq_##suffix, T, bool, a == b)        \
    BINARY_FORWARD_T(ne_##suffix, T, bool, a != b)        \
    BINARY_FORWARD_T(lt_##suffix, T, bool, a < b)         \
    BINARY_FORWARD_T(le_##suffix, T, bool, a <= b)        \
    BINARY_FORWARD_T(gt_##suffix, T, bool, a > b)         \
    BINARY_FORWARD_T(ge_##suffix, T, bool, a >= b)
COMPARISONS_FOR(int, i32)
COMPARISONS_FOR(compare_u8, u8)

// ---------------------------------------------------------------- backward kernels
// (BINARY_BACKWARD: ops/broadcast.cuh)
// add: both gradients are grad itself (no kernel); sub: a's is grad, b's is -grad.
__global__ void sub_backward_b(const float* __restrict__ grad, float* __restrict__ d, int n) {
    GRID_STRIDE_LOOP(i, n) d[i] = -grad[i];
}
BINARY_BACKWARD(mul, a, g * b)
BINARY_BACKWARD(mul, b, g * a)
BINARY_BACKWARD(div, a, g / b)
BINARY_BACKWARD(div, b, -g * a / (b * b))
BINARY_BACKWARD(pow, a, b == 0.f ? 0.f : g * b * powf(a, b - 1.f))   // 0 at b == 0, even for a == 0
// d(a^b)/db = a^b log a, as PyTorch: 0 where a == 0 and b >= 0 (the limit), else the
// formula: -inf for a == 0 and b < 0 (inf * log 0), NaN for a negative base
BINARY_BACKWARD(pow, b, (a == 0.f && b >= 0.f) ? 0.f : g * powf(a, b) * logf(a))
