// Elementwise functions of one tensor: y = f(x) and dx = grad * f'(x).
//
// Who computes what: one thread per element, in a grid-stride loop. The host caps
// the grid (GPUDevice.MAX_BLOCKS), so thread t handles elements t, t + T, t + 2T, ...
// where T = gridDim.x * blockDim.x is the number of threads in the grid; consecutive
// threads touch consecutive floats, so every warp's loads and stores are coalesced.
// Shared memory and barriers: none; threads never exchange data.
// Arithmetic intensity: a few flops (one exp/log at most) per 8 bytes moved in the
// forward (load x, store y) and per 12 bytes in the backward (load grad and the saved
// tensor, store dx): every kernel here is memory bound.
//
// The backward reads what the op saved (ops/unary.py, `saves`): the input x when f'
// is cheapest from x (log, relu, ...), the output y when it is cheapest from y
// (exp: f' = y, sigmoid: f' = y (1 - y)). Ops whose derivative needs nothing (neg,
// sign) are given grad itself as the stand-in `saved` argument and ignore it.
//
// Edge cases follow the numpy references exactly: relu'(0) = 0, abs'(0) = 0,
// sign' = 0, log(0) = -inf, NaN passes through relu/abs/sign/clip, and sigmoid /
// softplus never overflow for large |x|.

#define GRID_STRIDE_LOOP(i, n) \
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// Numerically stable logistic function: exp is only ever taken of -|x| <= 0, so it
// cannot overflow (1 / (1 + exp(-x)) would give exp(80) = inf for x = -80 in float).
__device__ __forceinline__ float stable_sigmoid(float x) {
    const float e = expf(-fabsf(x));
    return x >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
}

// sign with sign(0) = 0 and sign(NaN) = NaN, as np.sign.
__device__ __forceinline__ float sign_of(float x) {
    return x > 0.f ? 1.f : (x < 0.f ? -1.f : x);
}

// UNARY_OP(name, forward expression of x, the saved value's name (x or y),
//          backward expression of g = grad and that saved value) defines
//   name_forward (const float* in, float* out, int n)                      out = f(in)
//   name_backward(const float* grad, const float* saved, float* dx, int n) dx = g f'
#define UNARY_OP(name, forward_expr, saved_name, backward_expr)                           \
    __global__ void name##_forward(const float* __restrict__ in, float* __restrict__ out,  \
                                   int n) {                                                \
        GRID_STRIDE_LOOP(i, n) {                                                           \
            const float x = in[i];                                                         \
            out[i] = (forward_expr);                                                       \
        }                                                                                  \
    }                                                                                      \
    __global__ void name##_backward(const float* __restrict__ grad,                        \
                                    const float* __restrict__ saved,                       \
                                    float* __restrict__ dx, int n) {                       \
        GRID_STRIDE_LOOP(i, n) {                                                           \
            [[maybe_unused]] const float g = grad[i];          /* unused by sign */        \
            [[maybe_unused]] const float saved_name = saved[i]; /* unused: neg, sign */    \
            dx[i] = (backward_expr);                                                       \
        }                                                                                  \
    }

//        name      y = f(x)                              saved  dx
UNARY_OP(neg,      -x,                                    x,     -g)      // saved: stand-in
UNARY_OP(exp,      expf(x),                               y,     g * y)
UNARY_OP(log,      logf(x),                               x,     g * (1.f / x))
UNARY_OP(sqrt,     sqrtf(x),                              y,     g * (0.5f / y))
UNARY_OP(abs,      fabsf(x),                              x,     g * sign_of(x))
UNARY_OP(relu,     x < 0.f ? 0.f : x,                     x,     g * (x > 0.f ? 1.f : 0.f))
UNARY_OP(sigmoid,  stable_sigmoid(x),                     y,     g * (y * (1.f - y)))
UNARY_OP(tanh,     tanhf(x),                              y,     g * (1.f - y * y))
UNARY_OP(sign,     sign_of(x),                            x,     0.f)     // saved: stand-in

// softplus(x) = log(1 + e^(b x)) / b with b = beta, and x itself where b x > threshold
// (PyTorch's F.softplus). log(1 + e^z) = max(z, 0) + log1p(e^-|z|): no overflow, and
// exact for large negative z where 1 + e^z rounds to 1; its derivative is sigmoid(b x).
__global__ void softplus_forward(const float* __restrict__ in, float* __restrict__ out, int n,
                                 float beta, float threshold) {
    GRID_STRIDE_LOOP(i, n) {
        const float x = in[i], z = x * beta;
        out[i] = z > threshold ? x : (fmaxf(z, 0.f) + log1pf(expf(-fabsf(z)))) / beta;
    }
}

__global__ void softplus_backward(const float* __restrict__ grad, const float* __restrict__ saved,
                                  float* __restrict__ dx, int n, float beta, float threshold) {
    GRID_STRIDE_LOOP(i, n) {
        const float z = saved[i] * beta;
        dx[i] = z > threshold ? grad[i] : grad[i] * stable_sigmoid(z);
    }
}

// clip: y = min(max(x, lo), hi); lo = -inf / hi = +inf stand for "no bound". The
// gradient passes where lo <= x <= hi (PyTorch's clamp), including at the bounds.
// Written with comparisons, not fminf/fmaxf, so that NaN passes through as in np.clip;
// the bound hi is applied last, so that lo > hi gives hi everywhere (PyTorch's clamp).
__global__ void clip_forward(const float* __restrict__ in, float* __restrict__ out, int n,
                             float lo, float hi) {
    GRID_STRIDE_LOOP(i, n) {
        const float raised = in[i] < lo ? lo : in[i];   // min(max(x, lo), hi): all hi when lo > hi
        out[i] = raised > hi ? hi : raised;             // (as PyTorch's clamp); NaN stays NaN
    }
}

__global__ void clip_backward(const float* __restrict__ grad, const float* __restrict__ saved,
                              float* __restrict__ dx, int n, float lo, float hi) {
    GRID_STRIDE_LOOP(i, n) {
        const float x = saved[i];
        dx[i] = grad[i] * ((x >= lo && x <= hi) ? 1.f : 0.f);
    }
}
