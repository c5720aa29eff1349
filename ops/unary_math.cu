// Elementwise math of one tensor (ops/unary_math.py): sin cos tan asin acos atan sinh
// cosh asinh acosh atanh erf erfc exp2 log2 log1p expm1 rsqrt reciprocal square, and the
// roundings floor ceil round trunc.
//
// Who computes what: one thread per element, in a grid-stride loop (the host caps the
// grid, so thread t handles elements t, t + T, t + 2T, ... with T the number of threads
// in the grid); consecutive threads touch consecutive floats, so every warp's loads and
// stores are coalesced. Shared memory and barriers: none; threads never exchange data.
// Memory bound: one libm-class function per 8 bytes moved forward, 12 bytes backward.
//
// The backward reads what the op saves (ops/unary_math.py, `saves`): the input x (sin,
// cos, log2, log1p, square) or the output y where f' is cheapest from it (tan: 1 + y^2,
// exp2: y ln 2, expm1: y + 1, rsqrt: -y^3 / 2, reciprocal: -y^2). The roundings have
// derivative 0 and are given grad as a stand-in `saved` argument, which they ignore.
// The inverse and hyperbolic functions and erf read x: their derivatives (1/sqrt(1 - x^2),
// cosh x, 2/sqrt(pi) e^(-x^2), ...) are from x; outside a domain libm gives NaN, as PyTorch.
// round is rintf: to nearest, halves to even, as torch.round and np.round.

#define GRID_STRIDE_LOOP(i, n) \
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

#define LN2 0.69314718055994531f
#define TWO_OVER_SQRT_PI 1.12837916709551257f   // erf'(x) = 2 / sqrt(pi) e^(-x^2)

// MATH_OP(name, y = f(x), the saved value's name (x or y), dx from g = grad and it):
//   name_forward (const float* in, float* out, int n)
//   name_backward(const float* grad, const float* saved, float* dx, int n)
#define MATH_OP(name, forward_expr, saved_name, backward_expr)                               \
    __global__ void name##_forward(const float* __restrict__ in, float* __restrict__ out,     \
                                   int n) {                                                   \
        GRID_STRIDE_LOOP(i, n) {                                                              \
            const float x = in[i];                                                            \
            out[i] = (forward_expr);                                                          \
        }                                                                                     \
    }                                                                                         \
    __global__ void name##_backward(const float* __restrict__ grad,                           \
                                    const float* __restrict__ saved,                          \
                                    float* __restrict__ dx, int n) {                          \
        GRID_STRIDE_LOOP(i, n) {                                                              \
            [[maybe_unused]] const float g = grad[i];           /* unused: roundings */       \
            [[maybe_unused]] const float saved_name = saved[i]; /* unused: roundings */       \
            dx[i] = (backward_expr);                                                          \
        }                                                                                     \
    }

//      name        y = f(x)           saved  dx
MATH_OP(sin,        sinf(x),           x,     g * cosf(x))
MATH_OP(cos,        cosf(x),           x,     -g * sinf(x))
MATH_OP(tan,        tanf(x),           y,     g * (1.f + y * y))
MATH_OP(asin,       asinf(x),          x,     g / sqrtf(1.f - x * x))
MATH_OP(acos,       acosf(x),          x,     -g / sqrtf(1.f - x * x))
MATH_OP(atan,       atanf(x),          x,     g / (1.f + x * x))
MATH_OP(sinh,       sinhf(x),          x,     g * coshf(x))
MATH_OP(cosh,       coshf(x),          x,     g * sinhf(x))
MATH_OP(asinh,      asinhf(x),         x,     g / sqrtf(x * x + 1.f))
MATH_OP(acosh,      acoshf(x),         x,     g / sqrtf(x * x - 1.f))
MATH_OP(atanh,      atanhf(x),         x,     g / (1.f - x * x))
MATH_OP(erf,        erff(x),           x,     g * TWO_OVER_SQRT_PI * expf(-x * x))
MATH_OP(erfc,       erfcf(x),          x,     -g * TWO_OVER_SQRT_PI * expf(-x * x))
MATH_OP(exp2,       exp2f(x),          y,     g * y * LN2)
MATH_OP(log2,       log2f(x),          x,     g / (x * LN2))
MATH_OP(log1p,      log1pf(x),         x,     g / (1.f + x))
MATH_OP(expm1,      expm1f(x),         y,     g * (y + 1.f))
MATH_OP(rsqrt,      rsqrtf(x),         y,     g * (-0.5f * y * y * y))
MATH_OP(reciprocal, 1.f / x,           y,     g * (-y * y))
MATH_OP(square,     x * x,             x,     g * (2.f * x))
MATH_OP(floor,      floorf(x),         x,     0.f)       // saved: stand-in
MATH_OP(ceil,       ceilf(x),          x,     0.f)
MATH_OP(round,      rintf(x),          x,     0.f)
MATH_OP(trunc,      truncf(x),         x,     0.f)
