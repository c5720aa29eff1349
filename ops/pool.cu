// Max and average pooling in 1, 2 or 3 spatial dims over (N, C, *spatial) (ops/pool.py).
//
// Every pool is run as a 3-D one: a 1-D or 2-D pool is a 3-D pool whose leading spatial
// dims have size 1 (kernel 1, stride 1, no padding). The geometry comes in a small
// read-only device table (gpu.table, uploaded once per geometry and cached): see
// PoolGeometry below for its layout.
//
// Forward: one thread per OUTPUT element (plane, od, oh, ow) walks its window.
// Backward: one thread per INPUT element (plane, id, ih, iw) finds the windows that
// cover it (for each kernel tap t, the window o with o * stride - pad + t * dilation = i,
// if the stride divides) and gathers their gradient. Windows overlap when
// stride < kernel, so "one thread per window scatters into its inputs" would need
// atomicAdd; gathering writes each input gradient exactly once, with no atomics, no
// races, and the same summation order on every run.
// No shared memory, no barriers; every loop over elements is grid-stride. The kernels
// are bound by memory bandwidth (about one comparison or add per element read).
//
// Padding: positions outside the input are skipped. Max pooling keeps, for each window,
// the flat index of its maximum in the input plane ((id * H + ih) * W + iw, PyTorch's
// return_indices; -1 for a window with no input element, which only tinygrad's per-side
// padding can make); its backward adds a window's gradient to the input whose flat index
// it kept. The first maximum wins ties; a NaN replaces anything (PyTorch: the last NaN).
// Average pooling divides by avg_divisor (PyTorch's count_include_pad and
// divisor_override rules). ceil_mode only changes the output size (ops/pool.py).

// The geometry table, int64: planes (N*C), then for each of the 3 dims (D, H, W):
// size, out, kernel, stride, pad (before), pad_end (after), dilation.
struct PoolGeometry {
    long long planes, in_plane, out_plane;
    int size[3], out[3], kernel[3], stride[3], pad[3], pad_end[3], dilation[3];
};

__device__ __forceinline__ PoolGeometry read_geometry(const long long* table)
{
    PoolGeometry g;
    g.planes = table[0];
    for (int d = 0; d < 3; ++d) {
        g.size[d] = (int)table[1 + d];
        g.out[d] = (int)table[4 + d];
        g.kernel[d] = (int)table[7 + d];
        g.stride[d] = (int)table[10 + d];
        g.pad[d] = (int)table[13 + d];
        g.pad_end[d] = (int)table[16 + d];
        g.dilation[d] = (int)table[19 + d];
    }
    g.in_plane = (long long)g.size[0] * g.size[1] * g.size[2];
    g.out_plane = (long long)g.out[0] * g.out[1] * g.out[2];
    return g;
}

// The first maximum of output o's window (o counts within all planes) and its flat
// index in the input plane; -1 and the lowest value when the window holds no input.
// One definition per element type (the emulator compiles kernels as extern "C", so no
// templates): WINDOW_MAX(float) defines window_max_float, and so on.
#define WINDOW_MAX(T)                                                                              \
__device__ __forceinline__ void window_max_##T(const T* x, const PoolGeometry& g, long long o,    \
                                               T lowest, T* best, long long* best_at)              \
{                                                                                                  \
    const int ow = (int)(o % g.out[2]), oh = (int)(o / g.out[2] % g.out[1]);                       \
    const int od = (int)(o / ((long long)g.out[2] * g.out[1]) % g.out[0]);                         \
    const T* plane = x + o / g.out_plane * g.in_plane;                                             \
    T top = lowest;                                                                                \
    long long at = -1;                                                                             \
    for (int a = 0; a < g.kernel[0]; ++a) {                                                        \
        const int id = od * g.stride[0] - g.pad[0] + a * g.dilation[0];                            \
        if (id < 0 || id >= g.size[0]) continue;                                                   \
        for (int b = 0; b < g.kernel[1]; ++b) {                                                    \
            const int ih = oh * g.stride[1] - g.pad[1] + b * g.dilation[1];                        \
            if (ih < 0 || ih >= g.size[1]) continue;                                               \
            for (int c = 0; c < g.kernel[2]; ++c) {                                                \
                const int iw = ow * g.stride[2] - g.pad[2] + c * g.dilation[2];                    \
                if (iw < 0 || iw >= g.size[2]) continue;                                           \
                const long long flat = ((long long)id * g.size[1] + ih) * g.size[2] + iw;          \
                const T v = plane[flat];                                                           \
                /* the first element always; then strictly greater (first max wins) or NaN */     \
                if (at < 0 || v > top || v != v) {                                                 \
                    top = v;                                                                       \
                    at = flat;                                                                     \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
    *best = top;                                                                                   \
    *best_at = at;                                                                                 \
}
typedef long long int64;           // one token, for the ## in window_max_##T
WINDOW_MAX(float)
WINDOW_MAX(int)
WINDOW_MAX(int64)

// y[o] = the maximum of window o; index[o] = its flat index in the input plane.
#define MAX_POOL_FORWARD(NAME, T, LOWEST)                                                          \
__global__ void NAME(const T* x, T* y, long long* index, const long long* table)                  \
{                                                                                                  \
    const PoolGeometry g = read_geometry(table);                                                   \
    const long long n = g.planes * g.out_plane;                                                    \
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < n;                    \
         o += (long long)gridDim.x * blockDim.x)                                                   \
        window_max_##T(x, g, o, LOWEST, &y[o], &index[o]);                                         \
}
MAX_POOL_FORWARD(max_pool_forward, float, -INFINITY)
MAX_POOL_FORWARD(max_pool_forward_i32, int, (int)(-2147483647 - 1))
MAX_POOL_FORWARD(max_pool_forward_i64, int64, (int64)(-9223372036854775807LL - 1))

// The windows covering input position i along dim d at kernel tap t: the window o with
// o * stride - pad + t * dilation = i, if any (else -1).
__device__ __forceinline__ int covering_window(const PoolGeometry& g, int d, int i, int t)
{
    const int start = i + g.pad[d] - t * g.dilation[d];
    if (start < 0 || start % g.stride[d]) return -1;
    const int o = start / g.stride[d];
    return o < g.out[d] ? o : -1;
}

// dx[i] = sum of grad over the windows covering i whose kept index is i's own.
__global__ void max_pool_backward(const float* grad, const long long* index, float* dx, const long long* table)
{
    const PoolGeometry g = read_geometry(table);
    const long long n = g.planes * g.in_plane;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const long long flat = i % g.in_plane, plane = i / g.in_plane * g.out_plane;
        const int iw = (int)(flat % g.size[2]), ih = (int)(flat / g.size[2] % g.size[1]);
        const int id = (int)(flat / ((long long)g.size[2] * g.size[1]));
        float sum = 0.0f;
        for (int a = 0; a < g.kernel[0]; ++a) {
            const int od = covering_window(g, 0, id, a);
            if (od < 0) continue;
            for (int b = 0; b < g.kernel[1]; ++b) {
                const int oh = covering_window(g, 1, ih, b);
                if (oh < 0) continue;
                for (int c = 0; c < g.kernel[2]; ++c) {
                    const int ow = covering_window(g, 2, iw, c);
                    if (ow < 0) continue;
                    const long long o = plane + ((long long)od * g.out[1] + oh) * g.out[2] + ow;
                    if (index[o] == flat) sum += grad[o];
                }
            }
        }
        dx[i] = sum;
    }
}

// index[o] only (F.max_pool*d's return_indices): the same window walk, without y.
#define MAX_POOL_INDICES(NAME, T, LOWEST)                                                          \
__global__ void NAME(const T* x, long long* index, const long long* table)                        \
{                                                                                                  \
    const PoolGeometry g = read_geometry(table);                                                   \
    const long long n = g.planes * g.out_plane;                                                    \
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < n;                    \
         o += (long long)gridDim.x * blockDim.x) {                                                 \
        T best;                                                                                    \
        window_max_##T(x, g, o, LOWEST, &best, &index[o]);                                         \
    }                                                                                              \
}
MAX_POOL_INDICES(max_pool_indices, float, -INFINITY)
MAX_POOL_INDICES(max_pool_indices_i32, int, (int)(-2147483647 - 1))
MAX_POOL_INDICES(max_pool_indices_i64, int64, (int64)(-9223372036854775807LL - 1))

// The divisor of average pooling's window o (one dim at a time), PyTorch's rule: the
// window clipped to the padded input (count_include_pad; the kernel size unless
// ceil_mode's last windows overhang it) or to the input itself, unless
// divisor_override (> 0) replaces it.
__device__ __forceinline__ float avg_divisor(const PoolGeometry& g, const int* o, int count_include_pad,
                                             int divisor_override)
{
    if (divisor_override > 0) return (float)divisor_override;
    long long count = 1;
    for (int d = 0; d < 3; ++d) {
        int lo = o[d] * g.stride[d] - g.pad[d];
        int hi = min(lo + g.kernel[d], g.size[d] + g.pad_end[d]);
        if (!count_include_pad) {
            lo = max(lo, 0);
            hi = min(hi, g.size[d]);
        }
        count *= hi - lo;
    }
    return (float)count;
}

// y[o] = (sum of window o's inputs) / its divisor, padding as 0.
__global__ void avg_pool_forward(const float* x, float* y, const long long* table, int count_include_pad,
                                 int divisor_override)
{
    const PoolGeometry g = read_geometry(table);
    const long long n = g.planes * g.out_plane;
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < n;
         o += (long long)gridDim.x * blockDim.x) {
        const int at[3] = {(int)(o / ((long long)g.out[2] * g.out[1]) % g.out[0]),
                           (int)(o / g.out[2] % g.out[1]), (int)(o % g.out[2])};
        const float* plane = x + o / g.out_plane * g.in_plane;
        int lo[3], hi[3];
        for (int d = 0; d < 3; ++d) {
            lo[d] = max(at[d] * g.stride[d] - g.pad[d], 0);
            hi[d] = min(at[d] * g.stride[d] - g.pad[d] + g.kernel[d], g.size[d]);
        }
        float sum = 0.0f;
        for (int id = lo[0]; id < hi[0]; ++id)
            for (int ih = lo[1]; ih < hi[1]; ++ih)
                for (int iw = lo[2]; iw < hi[2]; ++iw)
                    sum += plane[((long long)id * g.size[1] + ih) * g.size[2] + iw];
        y[o] = sum / avg_divisor(g, at, count_include_pad, divisor_override);
    }
}

// dx[i] = sum over the windows covering i of grad / that window's divisor.
__global__ void avg_pool_backward(const float* grad, float* dx, const long long* table, int count_include_pad,
                                  int divisor_override)
{
    const PoolGeometry g = read_geometry(table);
    const long long n = g.planes * g.in_plane;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        const long long flat = i % g.in_plane, plane = i / g.in_plane * g.out_plane;
        const int pos[3] = {(int)(flat / ((long long)g.size[2] * g.size[1])), (int)(flat / g.size[2] % g.size[1]),
                            (int)(flat % g.size[2])};
        float sum = 0.0f;
        int o[3];
        for (int a = 0; a < g.kernel[0]; ++a) {
            if ((o[0] = covering_window(g, 0, pos[0], a)) < 0) continue;
            for (int b = 0; b < g.kernel[1]; ++b) {
                if ((o[1] = covering_window(g, 1, pos[1], b)) < 0) continue;
                for (int c = 0; c < g.kernel[2]; ++c) {
                    if ((o[2] = covering_window(g, 2, pos[2], c)) < 0) continue;
                    sum += grad[plane + ((long long)o[0] * g.out[1] + o[1]) * g.out[2] + o[2]] /
                           avg_divisor(g, o, count_include_pad, divisor_override);
                }
            }
        }
        dx[i] = sum;
    }
}
