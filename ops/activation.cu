// Activation functions: y = f(x) and dx = grad * f'(x), as PyTorch's (ops/activation.py).
//
// Who computes what: one thread per element, in a grid-stride loop (the host caps the
// grid, so thread t handles elements t, t + T, t + 2T, ... with T the number of threads
// in the grid); consecutive threads touch consecutive floats, so loads and stores are
// coalesced. Shared memory and barriers: none; threads never exchange data.
// Every kernel is memory bound: a handful of flops (one exp/erf/tanh at most) per 8
// bytes moved forward (x in, y out) and per 12 bytes backward (grad and x in, dx out).
//
// The backward always reads the saved INPUT x (never y): every derivative here is
// cheapest, or only well defined at the kinks, from x. Scalar arguments (slope, alpha,
// the hardtanh bounds) follow n as float kernel parameters, in the parameter space: no
// upload. Derivatives at the kinks are PyTorch's: leaky_relu'(0) = slope, elu'(0) =
// alpha, celu'(0) = 1, selu'(0) = scale alpha, hardtanh' = 0 at both bounds, hardsigmoid' = 0 at -3 and 3, hardswish'(-3) = 0,
// hardswish'(3) = 1. NaN passes through every forward.

#define GRID_STRIDE_LOOP(i, n) \
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// The logistic function without overflow: exp is only taken of -|x| <= 0.
__device__ __forceinline__ float sigmoid_of(float x) {
    const float e = expf(-fabsf(x));
    return x >= 0.f ? 1.f / (1.f + e) : e / (1.f + e);
}

// log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x, exact for very negative x.
__device__ __forceinline__ float softplus_of(float x) {
    return fmaxf(x, 0.f) + log1pf(expf(-fabsf(x)));
}

#define SELU_ALPHA 1.67326324235437728f      // Klambauer et al. 2017, as PyTorch
#define SELU_SCALE 1.05070098735548049f
#define SQRT_HALF 0.70710678118654752f       // 1 / sqrt(2)
#define INV_SQRT_2PI 0.39894228040143268f    // 1 / sqrt(2 pi)
#define SQRT_2_OVER_PI 0.79788456080286536f  // sqrt(2 / pi)
#define GELU_CUBIC 0.044715f
#define COMMA ,                              // separates extra parameters inside a macro argument

// d/dx of x (1 + tanh(u)) / 2, u = sqrt(2/pi) (x + 0.044715 x^3)
__device__ __forceinline__ float gelu_tanh_derivative(float x) {
    const float t = tanhf(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x));
    return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * SQRT_2_OVER_PI * (1.f + 3.f * GELU_CUBIC * x * x);
}

// d/dx of x s(x) = s (1 + x (1 - s)), s = sigmoid(x)
__device__ __forceinline__ float silu_derivative(float x) {
    const float s = sigmoid_of(x);
    return s * (1.f + x * (1.f - s));
}

// d/dx of x tanh(sp(x)) = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x)), sp' = sigmoid
__device__ __forceinline__ float mish_derivative(float x) {
    const float t = tanhf(softplus_of(x));
    return t + x * sigmoid_of(x) * (1.f - t * t);
}

// ACTIVATION(name, extra parameters, y = f(x), dx from g = grad[i] and x) defines
//   name_forward (const float* in, float* out, int n <extra>)
//   name_backward(const float* grad, const float* saved_x, float* dx, int n <extra>)
// where <extra> is empty or ", float p, ..." (the op's scalar_args, in that order).
#define ACTIVATION(name, EXTRA, forward_expr, backward_expr)                                 \
    __global__ void name##_forward(const float* __restrict__ in, float* __restrict__ out,    \
                                   int n EXTRA) {                                            \
        GRID_STRIDE_LOOP(i, n) {                                                             \
            const float x = in[i];                                                           \
            out[i] = (forward_expr);                                                         \
        }                                                                                    \
    }                                                                                        \
    __global__ void name##_backward(const float* __restrict__ grad,                          \
                                    const float* __restrict__ saved,                         \
                                    float* __restrict__ dx, int n EXTRA) {                   \
        GRID_STRIDE_LOOP(i, n) {                                                             \
            const float g = grad[i], x = saved[i];                                           \
            dx[i] = (backward_expr);                                                         \
        }                                                                                    \
    }

ACTIVATION(leaky_relu, COMMA float slope,
           x > 0.f ? x : x * slope,
           x > 0.f ? g : g * slope)
// elu: expm1 keeps alpha (e^x - 1) exact near 0; exp only ever sees x <= 0.
ACTIVATION(elu, COMMA float alpha,
           x > 0.f ? x : alpha * expm1f(x),
           x > 0.f ? g : g * alpha * expf(x))
// celu: elu with x / alpha inside the exponential, so that the derivative is 1 at 0
ACTIVATION(celu, COMMA float alpha,
           x > 0.f ? x : alpha * expm1f(x / alpha),
           x > 0.f ? g : g * expf(x / alpha))
ACTIVATION(selu, ,
           SELU_SCALE * (x > 0.f ? x : SELU_ALPHA * expm1f(x)),
           x > 0.f ? g * SELU_SCALE : g * (SELU_SCALE * SELU_ALPHA) * expf(x))
// logsigmoid = -softplus(-x) = min(x, 0) - log1p(e^-|x|); d/dx = sigmoid(-x)
ACTIVATION(logsigmoid, ,
           fminf(x, 0.f) - log1pf(expf(-fabsf(x))),
           g * sigmoid_of(-x))
// gelu: x Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2; Phi'(x) is the normal density.
ACTIVATION(gelu, ,
           0.5f * x * (1.f + erff(x * SQRT_HALF)),
           g * (0.5f * (1.f + erff(x * SQRT_HALF)) + x * INV_SQRT_2PI * expf(-0.5f * x * x)))
// gelu, approximate='tanh': x (1 + tanh(u)) / 2 with u = sqrt(2/pi) (x + 0.044715 x^3)
ACTIVATION(gelu_tanh, ,
           0.5f * x * (1.f + tanhf(SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x))),
           g * gelu_tanh_derivative(x))
ACTIVATION(silu, ,
           x * sigmoid_of(x),
           g * silu_derivative(x))
// hardtanh: comparisons (not fminf/fmaxf) so that NaN passes through; gradient 0 at the bounds
ACTIVATION(hardtanh, COMMA float lo COMMA float hi,
           x < lo ? lo : (x > hi ? hi : x),
           (x <= lo || x >= hi) ? 0.f : g)
ACTIVATION(hardsigmoid, ,
           x <= -3.f ? 0.f : (x >= 3.f ? 1.f : (x + 3.f) / 6.f),
           (x > -3.f && x < 3.f) ? g / 6.f : 0.f)
ACTIVATION(hardswish, ,
           x <= -3.f ? 0.f * x : (x >= 3.f ? x : x * (x + 3.f) / 6.f),
           x <= -3.f ? 0.f : (x < 3.f ? g * (x / 3.f + 0.5f) : g))
ACTIVATION(softsign, ,
           x / (1.f + fabsf(x)),
           g / ((1.f + fabsf(x)) * (1.f + fabsf(x))))
ACTIVATION(mish, ,
           x * tanhf(softplus_of(x)),
           g * mish_derivative(x))
