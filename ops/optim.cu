// Optimiser updates (ops/optim.py): SGD (momentum, dampening, Nesterov, weight decay),
// Adam / AdamW, RMSprop and Adagrad, applied in place on the parameter's device.
//
// One thread per parameter element, in a grid-stride loop: every element's update
// depends only on its own parameter, gradient and state, so threads never talk to
// each other: no shared memory, no barriers, no atomics. A whole training step thus
// never copies parameters to the host.
// Arithmetic intensity: SGD reads 3 and writes 2 floats for ~6 FLOPs (~0.3 FLOP/byte),
// Adam reads 4 and writes 3 floats for ~15 FLOPs and a square root (~0.5 FLOP/byte):
// both are bound by memory bandwidth, which is why each optimiser is ONE kernel
// (separate kernels per line of the formula would read and write everything again).
//
// The formulas are exactly those of the numpy `update` methods in ops/optim.py,
// computed in float32 as numpy does with float32 arrays and Python-float
// hyperparameters. The pointers are not __restrict__: without momentum the optimiser
// passes the gradient as the (untouched) momentum buffer.

// g = grad + weight_decay * p
// buf = first ? g : momentum * buf + (1 - dampening) g   (only if momentum != 0)
// p -= lr * (nesterov ? g + momentum * buf : buf) (g itself if momentum == 0)
__global__ void sgd_step(float* param, const float* grad, float* momentum_buffer, long long n,
                         float lr, float momentum, float weight_decay, int nesterov, float dampening, int first)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const float p = param[i];
        float g = grad[i];
        if (weight_decay != 0.0f)
            g += weight_decay * p;
        if (momentum != 0.0f) {
            // the first step starts the buffer at g (PyTorch), later ones dampen g
            const float buf = first ? g : momentum * momentum_buffer[i] + (1.0f - dampening) * g;
            momentum_buffer[i] = buf;
            g = nesterov ? g + momentum * buf : buf;
        }
        param[i] = p - lr * g;
    }
}

// AdamW (decoupled):  p -= lr * weight_decay * p;   Adam (L2): g = grad + weight_decay * p
// m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
// p -= lr * (m / bias_correction1) / (sqrt(v / bias_correction2) + eps)
// The bias corrections 1 - beta^t depend only on the step t: the host computes them
// once, in double precision, instead of every thread calling powf.
__global__ void adam_step(float* param, const float* grad, float* m, float* v, long long n,
                          float lr, float beta1, float beta2, float eps, float weight_decay,
                          int decoupled, float bias_correction1, float bias_correction2)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        float p = param[i];
        float g = grad[i];
        if (weight_decay != 0.0f) {
            if (decoupled)
                p -= lr * weight_decay * p;
            else
                g += weight_decay * p;
        }
        const float m_new = beta1 * m[i] + (1.0f - beta1) * g;
        const float v_new = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = m_new;
        v[i] = v_new;
        const float m_hat = m_new / bias_correction1, v_hat = v_new / bias_correction2;
        param[i] = p - lr * m_hat / (sqrtf(v_hat) + eps);
    }
}

// RMSprop: sq = alpha sq + (1 - alpha) g^2; avg = sqrt(sq [- ga^2 if centered]) + eps;
// p -= lr * (momentum ? (buf = momentum buf + g / avg) : g / avg). grad_avg and
// momentum_buffer may be the (untouched) gradient when not centered / no momentum.
__global__ void rmsprop_step(float* param, const float* grad, float* square_avg, float* grad_avg,
                             float* momentum_buffer, long long n, float lr, float alpha, float eps,
                             float weight_decay, float momentum, int centered)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const float p = param[i];
        float g = grad[i];
        if (weight_decay != 0.0f)
            g += weight_decay * p;
        const float sq = alpha * square_avg[i] + (1.0f - alpha) * g * g;
        square_avg[i] = sq;
        float avg;
        if (centered) {
            const float ga = alpha * grad_avg[i] + (1.0f - alpha) * g;
            grad_avg[i] = ga;
            avg = sqrtf(sq - ga * ga) + eps;
        } else {
            avg = sqrtf(sq) + eps;
        }
        if (momentum != 0.0f) {
            const float buf = momentum * momentum_buffer[i] + g / avg;
            momentum_buffer[i] = buf;
            param[i] = p - lr * buf;
        } else {
            param[i] = p - lr * g / avg;
        }
    }
}

// Adagrad: sum += g^2; p -= decayed_lr * g / (sqrt(sum) + eps), with
// decayed_lr = lr / (1 + (t - 1) lr_decay) computed by the host (it depends only on t).
__global__ void adagrad_step(float* param, const float* grad, float* sum, long long n,
                             float decayed_lr, float eps, float weight_decay)
{
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const float p = param[i];
        float g = grad[i];
        if (weight_decay != 0.0f)
            g += weight_decay * p;
        const float s = sum[i] + g * g;
        sum[i] = s;
        param[i] = p - decayed_lr * g / (sqrtf(s) + eps);
    }
}
