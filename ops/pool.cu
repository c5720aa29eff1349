// 2-D max and average pooling over (N, C, H, W) (ops/pool.py).
//
// Forward: one thread per OUTPUT element (n, c, oh, ow) walks its kh x kw window.
// Backward: one thread per INPUT element (n, c, h, w) finds the few windows that
// cover it and gathers their gradient. Windows overlap when stride < kernel, so the
// obvious "one thread per window scatters into its inputs" would need atomicAdd;
// gathering writes each input gradient exactly once, with no atomics and no races.
// No shared memory, no barriers; every loop over elements is grid-stride.
// Arithmetic intensity is low (about kh*kw comparisons or adds per output element,
// with reuse of overlapping inputs left to the caches): these kernels are bound by
// memory bandwidth.
//
// Padding follows ops/pool.py: max pooling treats padded positions as -inf (they are
// window positions, so an all -inf window picks position 0, as numpy's argmax); average
// pooling counts them as zeros and divides by avg_divisor (PyTorch's count_include_pad
// and divisor_override rules). ceil_mode only changes the output size: its last windows
// may overhang the padded input, and every kernel already skips positions outside it.

// The pooling geometry, passed as int scalars to every kernel.
#define POOL_GEOMETRY_PARAMS int planes, int height, int width, int out_height, int out_width, \
    int kernel_h, int kernel_w, int stride_h, int stride_w, int pad_h, int pad_w

// The first output row (or column) whose window covers input row h: windows start at
// o * stride - pad and are `kernel` long, so o >= (h + pad - kernel + 1) / stride.
__device__ __forceinline__ int first_window(int h, int pad, int kernel, int stride)
{
    const int t = h + pad - kernel + 1;
    return t <= 0 ? 0 : (t + stride - 1) / stride;
}

// The last output row (or column) whose window covers input row h, clipped to the output.
__device__ __forceinline__ int last_window(int h, int pad, int stride, int out_size)
{
    return min((h + pad) / stride, out_size - 1);
}

// y[n, c, oh, ow] = the first maximum of its window; argmax = its position in the
// window (i * kernel_w + j), kept for the backward. NaN wins (numpy's argmax).
__global__ void max_pool2d_forward(const float* x, float* y, int* argmax, POOL_GEOMETRY_PARAMS)
{
    const long long n = (long long)planes * out_height * out_width;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < n;
         o += (long long)gridDim.x * blockDim.x) {
        const int ow = (int)(o % out_width), oh = (int)(o / out_width % out_height);
        const float* plane = x + o / ((long long)out_width * out_height) * height * width;
        float best = -INFINITY;
        int best_at = 0;
        for (int i = 0; i < kernel_h; ++i) {
            const int h = oh * stride_h - pad_h + i;
            for (int j = 0; j < kernel_w; ++j) {
                const int w = ow * stride_w - pad_w + j;
                const bool inside = h >= 0 && h < height && w >= 0 && w < width;
                const float v = inside ? plane[(long long)h * width + w] : -INFINITY;
                if (v > best || (v != v && best == best)) {   // strictly greater: first max wins
                    best = v;
                    best_at = i * kernel_w + j;
                }
            }
        }
        y[o] = best;
        argmax[o] = best_at;
    }
}

// dx[n, c, h, w] = sum of grad over the windows covering (h, w) whose argmax is (h, w).
__global__ void max_pool2d_backward(const float* grad, const int* argmax, float* dx, POOL_GEOMETRY_PARAMS)
{
    const long long n = (long long)planes * height * width;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const int w = (int)(i % width), h = (int)(i / width % height);
        const long long plane = i / ((long long)width * height) * out_height * out_width;
        float sum = 0.0f;
        for (int oh = first_window(h, pad_h, kernel_h, stride_h);
             oh <= last_window(h, pad_h, stride_h, out_height); ++oh)
            for (int ow = first_window(w, pad_w, kernel_w, stride_w);
                 ow <= last_window(w, pad_w, stride_w, out_width); ++ow) {
                const long long o = plane + (long long)oh * out_width + ow;
                const int here = (h + pad_h - oh * stride_h) * kernel_w + (w + pad_w - ow * stride_w);
                if (argmax[o] == here)
                    sum += grad[o];
            }
        dx[i] = sum;
    }
}

// The divisor of average pooling's window (oh, ow), PyTorch's rule: the window clipped to
// the padded input (count_include_pad; k*k unless ceil_mode's last windows overhang) or
// to the input itself, unless divisor_override (> 0) replaces it.
__device__ __forceinline__ float avg_divisor(int oh, int ow, POOL_GEOMETRY_PARAMS, int count_include_pad,
                                             int divisor_override)
{
    if (divisor_override > 0) return (float)divisor_override;
    int h0 = oh * stride_h - pad_h, w0 = ow * stride_w - pad_w;
    int h1 = min(h0 + kernel_h, height + pad_h), w1 = min(w0 + kernel_w, width + pad_w);
    if (!count_include_pad) {
        h0 = max(h0, 0); w0 = max(w0, 0);
        h1 = min(h1, height); w1 = min(w1, width);
    }
    return (float)((h1 - h0) * (w1 - w0));
}

#define POOL_GEOMETRY_ARGS planes, height, width, out_height, out_width, kernel_h, kernel_w, \
    stride_h, stride_w, pad_h, pad_w

// y[n, c, oh, ow] = (sum of the window's inputs) / its divisor, padding as 0.
__global__ void avg_pool2d_forward(const float* x, float* y, POOL_GEOMETRY_PARAMS, int count_include_pad,
                                   int divisor_override)
{
    const long long n = (long long)planes * out_height * out_width;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < n;
         o += (long long)gridDim.x * blockDim.x) {
        const int ow = (int)(o % out_width), oh = (int)(o / out_width % out_height);
        const float* plane = x + o / ((long long)out_width * out_height) * height * width;
        const int h0 = oh * stride_h - pad_h, w0 = ow * stride_w - pad_w;
        float sum = 0.0f;
        for (int h = max(h0, 0); h < min(h0 + kernel_h, height); ++h)
            for (int w = max(w0, 0); w < min(w0 + kernel_w, width); ++w)
                sum += plane[(long long)h * width + w];
        y[o] = sum / avg_divisor(oh, ow, POOL_GEOMETRY_ARGS, count_include_pad, divisor_override);
    }
}

// dx[n, c, h, w] = sum over the windows covering (h, w) of grad / that window's divisor.
__global__ void avg_pool2d_backward(const float* grad, float* dx, POOL_GEOMETRY_PARAMS, int count_include_pad,
                                    int divisor_override)
{
    const long long n = (long long)planes * height * width;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const int w = (int)(i % width), h = (int)(i / width % height);
        const long long plane = i / ((long long)width * height) * out_height * out_width;
        float sum = 0.0f;
        for (int oh = first_window(h, pad_h, kernel_h, stride_h);
             oh <= last_window(h, pad_h, stride_h, out_height); ++oh)
            for (int ow = first_window(w, pad_w, kernel_w, stride_w);
                 ow <= last_window(w, pad_w, stride_w, out_width); ++ow)
                sum += grad[plane + (long long)oh * out_width + ow] /
                       avg_divisor(oh, ow, POOL_GEOMETRY_ARGS, count_include_pad, divisor_override);
        dx[i] = sum;
    }
}
