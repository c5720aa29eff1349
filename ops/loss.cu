// Pointwise losses (ops/loss.py): loss[i] = f(x[i], t[i]), and both gradients
// dx = grad * df/dx, dt = grad * df/dt, for reduction='none'; the mean or sum is a
// reduce op afterwards (nn.functional).
//
// Who computes what: one thread per element in a grid-stride loop (as ops/unary.cu),
// consecutive threads on consecutive floats (coalesced). No shared memory, no
// barriers: threads never exchange data. Memory bound: a few flops and at most one
// exp/log per 12 bytes (forward) or 20 bytes (backward) moved.
// need_x / need_t: which gradients to write; the host passes a stand-in pointer for a
// gradient that is not wanted, and it is never written.
// Numerics as the numpy references: BCE's logs clamped at -100 and its derivative's
// x (1 - x) at 1e-12 (so x = 0 or 1 is finite, as PyTorch); BCE with logits never
// takes exp of a positive number; KL divergence is 0 where the target is 0.

#define GRID_STRIDE_LOOP(i, n) \
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

__device__ __forceinline__ float clamped_log(float v) { return fmaxf(logf(v), -100.f); }
__device__ __forceinline__ float sign_of(float v) { return (float)((v > 0.f) - (v < 0.f)); }

// The pair of kernels of one loss, from two device functions of (x, t, p), where p is
// the loss's one scalar (beta, delta, log_target as 0 / 1; unused by the others):
//   NAME_value(x, t, p)            the loss
//   NAME_grads(x, t, p, &dx, &dt)  its partial derivatives
#define POINTWISE_LOSS_KERNELS(NAME)                                                               \
__global__ void NAME##_forward(const float* __restrict__ x, const float* __restrict__ t,          \
                               float* __restrict__ loss, int n, float p) {                          \
    GRID_STRIDE_LOOP(i, n) loss[i] = NAME##_value(x[i], t[i], p);                                  \
}                                                                                                  \
POINTWISE_LOSS_BACKWARD(NAME)

#define POINTWISE_LOSS_BACKWARD(NAME)                                                              \
__global__ void NAME##_backward(const float* __restrict__ grad, const float* __restrict__ x,      \
                                const float* __restrict__ t, float* dx, float* dt, int n,          \
                                int need_x, int need_t, float p) {                                   \
    GRID_STRIDE_LOOP(i, n) {                                                                       \
        float gx, gt;                                                                              \
        NAME##_grads(x[i], t[i], p, &gx, &gt);                                                     \
        if (need_x) dx[i] = grad[i] * gx;                                                          \
        if (need_t) dt[i] = grad[i] * gt;                                                          \
    }                                                                                              \
}

// ---- binary_cross_entropy: -(t log x + (1 - t) log(1 - x))
__device__ __forceinline__ float binary_cross_entropy_value(float x, float t, float) {
    return -(t * clamped_log(x) + (1.f - t) * clamped_log(1.f - x));
}
__device__ __forceinline__ void binary_cross_entropy_grads(float x, float t, float, float* dx, float* dt) {
    *dx = (x - t) / fmaxf(x * (1.f - x), 1e-12f);
    *dt = clamped_log(1.f - x) - clamped_log(x);
}

// ---- binary_cross_entropy_with_logits: max(z, 0) - t z + log1p(exp(-|z|))
__device__ __forceinline__ float binary_cross_entropy_with_logits_value(float z, float t, float) {
    return fmaxf(z, 0.f) - t * z + log1pf(expf(-fabsf(z)));
}
__device__ __forceinline__ void binary_cross_entropy_with_logits_grads(float z, float t, float, float* dz, float* dt) {
    const float e = expf(-fabsf(z));
    *dz = (z >= 0.f ? 1.f / (1.f + e) : e / (1.f + e)) - t;
    *dt = -z;
}

// ---- l1_loss: |x - t|
__device__ __forceinline__ float l1_loss_value(float x, float t, float) { return fabsf(x - t); }
__device__ __forceinline__ void l1_loss_grads(float x, float t, float, float* dx, float* dt) {
    *dx = sign_of(x - t);
    *dt = -*dx;
}

// ---- smooth_l1_loss (p = beta)
__device__ __forceinline__ float smooth_l1_loss_value(float x, float t, float beta) {
    const float d = fabsf(x - t);
    if (beta == 0.f) return d;
    return d < beta ? 0.5f * d * d / beta : d - 0.5f * beta;
}
__device__ __forceinline__ void smooth_l1_loss_grads(float x, float t, float beta, float* dx, float* dt) {
    const float d = x - t;
    *dx = (beta != 0.f && fabsf(d) < beta) ? d / beta : sign_of(d);
    *dt = -*dx;
}

// ---- huber_loss (p = delta)
__device__ __forceinline__ float huber_loss_value(float x, float t, float delta) {
    const float d = fabsf(x - t);
    return d < delta ? 0.5f * d * d : delta * (d - 0.5f * delta);
}
__device__ __forceinline__ void huber_loss_grads(float x, float t, float delta, float* dx, float* dt) {
    const float d = x - t;
    *dx = fabsf(d) < delta ? d : delta * sign_of(d);
    *dt = -*dx;
}

// ---- kl_div (p = log_target): t (log t - x), 0 where t = 0; or e^t (t - x)
__device__ __forceinline__ float kl_div_value(float x, float t, float log_target) {
    if (log_target != 0.f) return expf(t) * (t - x);
    return t > 0.f ? t * (logf(t) - x) : 0.f;
}
__device__ __forceinline__ void kl_div_grads(float x, float t, float log_target, float* dx, float* dt) {
    if (log_target != 0.f) {
        const float e = expf(t);
        *dx = -e;
        *dt = e * (t - x + 1.f);
    } else {
        *dx = -t;
        *dt = t > 0.f ? logf(t) + 1.f - x : 0.f;
    }
}

// binary_cross_entropy's forward checks its values on the device, as PyTorch does (its
// "all elements of input/target should be between 0 and 1"): an input or target outside
// [0, 1] (NaN included) gives a NaN loss and is reported in the device's error record
// (GPUDevice.error_record), raised by the host at its next synchronisation. Word 1 is
// atomicMax-ed with 2 for a bad input, 1 for a bad target, so a bad input is the one
// reported whichever thread runs first (the cpu reference checks the input first too).
__global__ void binary_cross_entropy_forward(const float* __restrict__ x, const float* __restrict__ t,
                                             float* __restrict__ loss, int n, float p,
                                             unsigned long long* error_record, unsigned long long error_code) {
    GRID_STRIDE_LOOP(i, n) {
        const float xi = x[i], ti = t[i];
        const bool bad_x = !(xi >= 0.f && xi <= 1.f), bad_t = !(ti >= 0.f && ti <= 1.f);
        if (bad_x || bad_t) {
            loss[i] = NAN;
            const unsigned long long old = atomicCAS(&error_record[0], 0ull, error_code);
            if (old == 0ull || old == error_code)
                atomicMax(&error_record[1], bad_x ? 2ull : 1ull);
        } else {
            loss[i] = binary_cross_entropy_value(xi, ti, p);
        }
    }
}
POINTWISE_LOSS_BACKWARD(binary_cross_entropy)
POINTWISE_LOSS_KERNELS(binary_cross_entropy_with_logits)
POINTWISE_LOSS_KERNELS(l1_loss)
POINTWISE_LOSS_KERNELS(smooth_l1_loss)
POINTWISE_LOSS_KERNELS(huber_loss)
POINTWISE_LOSS_KERNELS(kl_div)
