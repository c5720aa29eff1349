// Convolution: x (N, C, *S), w (O, C/groups, *K), bias (O,); stride, padding, dilation per dim.
// hot: conv2d_forward conv2d_backward_data conv2d_backward_weight
//
// 2-D (the tuned path): all three passes are IMPLICIT GEMMs -- the im2col matrix is
// never written to memory; each block gathers the slab of it that it needs straight
// into shared memory, then multiplies tiles as in ops/matmul.cu.
//   forward          y[o, (n,p)]        = sum_{(c,kh,kw)} w[o, (c,kh,kw)] * cols[(c,kh,kw), (n,p)]
//   backward-data    dx[c, (n,ih,iw)]   = sum_{(o,kh,kw)} w[o, c, kh, kw] * dy[n, o, oh, ow]
//                    with oh = (ih + pad - kh) / stride when that divides exactly (the
//                    flipped kernel; every thread gathers, no atomics)
//   backward-weight  dw[o, (c,kh,kw)]   = sum_{(n,p)} dy[n, o, p] * cols[(c,kh,kw), (n,p)]
//                    plus one extra column of ones in cols, whose result is the bias
//                    gradient db[o] = sum dy[n, o, p].
// forward / backward-data: a block of 64 threads owns an 8 x 128 tile (8 output /
// input channels x 128 positions); thread (tx < 32, ty < 2) owns channels ty + 2i and
// positions tx + 32j (i, j < 4): 16 accumulators. 8 channels per tile fits the small
// channel counts of LeNet-sized nets (6, 16) with little padding waste.
// Shared memory per slab: Ws[16][8] (weights) and Xs[16][128] (the gathered input or
// output-gradient slab), 8.5 KB. Thread t gathers positions t and t+64 for the 16 rows of
// the slab, walking (c, kh, kw) by increments rather than divisions.
// backward-weight: the reduction runs over the N*OH*OW positions, which is long while
// the output is small, so it is split into chunks (split-K): a block owns an 8 x 32
// tile of dw for one chunk (thread: 4 output channels x 1 weight column) and writes a
// partial sum; conv_sum_partials adds the chunks (deterministic, no atomics).
// Barriers (each slab): one after staging (the slab must be complete before anyone
// multiplies), one after the multiply (nobody may overwrite a slab still being read).
// Arithmetic intensity (forward, per slab): 2*8*128*16 FLOP over (8 + 128)*16 floats
// gathered = 15 FLOP per float gathered (3.8 FLOP/byte; each input element is reused
// by the 8 channels of the tile from shared memory and by KH*KW windows through the
// cache); a direct one-thread-per-output kernel does 2 FLOP per 2 floats read.
//
// 1-D, 3-D, and any grouped or dilated conv: plain direct kernels over a 3-D index space
// (1-D and 2-D are 3-D with size-1 dims), one thread per output / input / weight element,
// grid-stride loops, no shared memory and so no barriers: 2 FLOP per 2 loads
// (0.25 FLOP/byte), relying on the cache. Groups G: output channel o reads only the
// Cg = C/G input channels of its group g = o / (O/G), with weight w[o, c - g*Cg, ...];
// dilation (ld, lh, lw) spaces the kernel taps: tap kd reads input od*sd - pd + kd*ld.
// The transposed convolution (ops/conv.py) runs these same passes in the other order.

#define CONV_BM 8          // channels per tile (forward, backward-data, backward-weight)
#define CONV_BN 128        // positions per tile (forward, backward-data)
#define CONV_BK 16         // reduction slab depth (forward, backward-data)
#define CONV_THREADS 64
#define CONVW_BN 32        // weight columns per tile (backward-weight)
#define CONVW_BK 32        // positions per slab (backward-weight)

// acc[i][j] += sum_k a[k][ty + 2i] * b[k][tx + 32j] over one staged 16-deep slab
// (forward, backward-data: 4 channels x 4 positions per thread).
__device__ __forceinline__ void conv_multiply_slab_4x4(const float (*a)[CONV_BM + 1], const float (*b)[CONV_BN],
                                                       float (*acc)[4], int tx, int ty) {
  for (int k = 0; k < CONV_BK; ++k) {
    float av[4], bv[4];
    for (int i = 0; i < 4; ++i) av[i] = a[k][ty + 2 * i];
    for (int j = 0; j < 4; ++j) bv[j] = b[k][tx + 32 * j];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
  }
}

// acc[i] += sum_k a[k][ty + 2i] * b[k][tx] over one staged 32-deep slab
// (backward-weight: 4 output channels x 1 weight column per thread).
__device__ __forceinline__ void conv_multiply_slab_4x1(const float (*a)[CONV_BM + 1], const float (*b)[CONVW_BN + 1],
                                                       float* acc, int tx, int ty) {
  for (int k = 0; k < CONVW_BK; ++k) {
    const float bv = b[k][tx];
    for (int i = 0; i < 4; ++i) acc[i] += a[k][ty + 2 * i] * bv;
  }
}

// y (N, O, OH, OW) = conv(x (N, C, H, W), w (O, C, KH, KW)) + bias (if has_bias).
// Block tile: output channels o0..o0+7 x flat output positions (n, oh, ow) q0..q0+127.
__global__ void __launch_bounds__(CONV_THREADS)
conv2d_forward(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
               float* __restrict__ y, int has_bias, int N, int C, int H, int W, int O, int KH, int KW,
               int OH, int OW, int sh, int sw, int ph, int pw) {
  __shared__ float Ws[CONV_BK][CONV_BM + 1];
  __shared__ float Xs[CONV_BK][CONV_BN];
  const int t = threadIdx.x, tx = t % 32, ty = t / 32;
  const int KHW = KH * KW, K = C * KHW, P = OH * OW;
  const long long NP = (long long)N * P;
  const int tiles_m = (O + CONV_BM - 1) / CONV_BM;
  const long long n_tiles = tiles_m * ((NP + CONV_BN - 1) / CONV_BN);

  for (long long tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
    const int o0 = (int)(tile % tiles_m) * CONV_BM;
    const long long q0 = (tile / tiles_m) * CONV_BN;
    // the two positions this thread gathers: batch image, top-left input corner
    const float* xn[2]; int ih0[2], iw0[2]; bool ok[2];
    for (int s = 0; s < 2; ++s) {
      const long long q = q0 + t + 64 * s;
      ok[s] = q < NP;
      const int n = ok[s] ? (int)(q / P) : 0, p = ok[s] ? (int)(q % P) : 0;
      xn[s] = x + (long long)n * C * H * W;
      ih0[s] = (p / OW) * sh - ph; iw0[s] = (p % OW) * sw - pw;
    }
    float acc[4][4] = {};
    for (int k0 = 0; k0 < K; k0 += CONV_BK) {
      for (int r = 0; r < 2; ++r) {           // weights: 8 x 16, k contiguous in memory
        const int k = t % 16, m = t / 16 + 4 * r;
        Ws[k][m] = (o0 + m < O && k0 + k < K) ? w[(long long)(o0 + m) * K + k0 + k] : 0.f;
      }
      int c = k0 / KHW, kh = (k0 % KHW) / KW, kw = k0 % KW;
      for (int k = 0; k < CONV_BK; ++k) {     // input slab: rows (c, kh, kw), 2 positions
        for (int s = 0; s < 2; ++s) {
          const int ih = ih0[s] + kh, iw = iw0[s] + kw;
          const bool in = ok[s] && k0 + k < K && ih >= 0 && ih < H && iw >= 0 && iw < W;
          Xs[k][t + 64 * s] = in ? xn[s][((long long)c * H + ih) * W + iw] : 0.f;
        }
        if (++kw == KW) { kw = 0; if (++kh == KH) { kh = 0; ++c; } }
      }
      __syncthreads();                        // slab complete before the multiply
      conv_multiply_slab_4x4(Ws, Xs, acc, tx, ty);
      __syncthreads();                        // slab consumed before it is overwritten
    }
    for (int j = 0; j < 4; ++j) {
      const long long q = q0 + tx + 32 * j;
      if (q >= NP) continue;
      const long long n = q / P, p = q % P;
      for (int i = 0; i < 4; ++i) {
        const int o = o0 + ty + 2 * i;
        if (o < O) y[(n * O + o) * P + p] = acc[i][j] + (has_bias ? bias[o] : 0.f);
      }
    }
  }
}

// dx (N, C, H, W) from dy (N, O, OH, OW) and w: block tile = input channels c0..c0+7 x
// flat input positions (n, ih, iw); reduction over (o, kh, kw). A slab entry is
// dy[n, o, oh, ow] where (ih + ph - kh) = oh * sh exactly (same for w), else 0.
__global__ void __launch_bounds__(CONV_THREADS)
conv2d_backward_data(const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx,
                     int N, int C, int H, int W, int O, int KH, int KW,
                     int OH, int OW, int sh, int sw, int ph, int pw) {
  __shared__ float Ws[CONV_BK][CONV_BM + 1];
  __shared__ float Gs[CONV_BK][CONV_BN];
  const int t = threadIdx.x, tx = t % 32, ty = t / 32;
  const int KHW = KH * KW, K = O * KHW, HW = H * W;
  const long long NQ = (long long)N * HW;
  const bool unit_stride = sh == 1 && sw == 1;
  const int tiles_m = (C + CONV_BM - 1) / CONV_BM;
  const long long n_tiles = tiles_m * ((NQ + CONV_BN - 1) / CONV_BN);

  for (long long tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
    const int c0 = (int)(tile % tiles_m) * CONV_BM;
    const long long q0 = (tile / tiles_m) * CONV_BN;
    const float* dyn[2]; int th[2], tw[2]; bool ok[2];
    for (int s = 0; s < 2; ++s) {
      const long long q = q0 + t + 64 * s;
      ok[s] = q < NQ;
      const int n = ok[s] ? (int)(q / HW) : 0, p = ok[s] ? (int)(q % HW) : 0;
      dyn[s] = dy + (long long)n * O * OH * OW;
      th[s] = p / W + ph; tw[s] = p % W + pw;
    }
    float acc[4][4] = {};
    for (int k0 = 0; k0 < K; k0 += CONV_BK) {
      for (int r = 0; r < 2; ++r) {           // w[o, c, kh, kw] for k = (o, kh, kw)
        const int k = t % 16, m = t / 16 + 4 * r, gk = k0 + k;
        Ws[k][m] = (c0 + m < C && gk < K)
                       ? w[((long long)(gk / KHW) * C + c0 + m) * KHW + gk % KHW] : 0.f;
      }
      int o = k0 / KHW, kh = (k0 % KHW) / KW, kw = k0 % KW;
      for (int k = 0; k < CONV_BK; ++k) {
        for (int s = 0; s < 2; ++s) {
          const int yh = th[s] - kh, yw = tw[s] - kw;          // = oh*sh, ow*sw if covered
          // stride 1 (the common case, a block-uniform branch) needs no integer division
          const int oh = unit_stride ? yh : yh / sh, ow = unit_stride ? yw : yw / sw;
          const bool in = ok[s] && k0 + k < K && yh >= 0 && yw >= 0 && oh * sh == yh &&
                          ow * sw == yw && oh < OH && ow < OW;
          Gs[k][t + 64 * s] = in ? dyn[s][((long long)o * OH + oh) * OW + ow] : 0.f;
        }
        if (++kw == KW) { kw = 0; if (++kh == KH) { kh = 0; ++o; } }
      }
      __syncthreads();                        // slab complete before the multiply
      conv_multiply_slab_4x4(Ws, Gs, acc, tx, ty);
      __syncthreads();                        // slab consumed before it is overwritten
    }
    for (int j = 0; j < 4; ++j) {
      const long long q = q0 + tx + 32 * j;
      if (q >= NQ) continue;
      const long long n = q / HW, p = q % HW;
      for (int i = 0; i < 4; ++i) {
        const int c = c0 + ty + 2 * i;
        if (c < C) dx[(n * C + c) * HW + p] = acc[i][j];
      }
    }
  }
}

// Partial weight (and bias) gradients of one chunk of positions:
// partial[chunk, o, col] = sum_{(n,p) in chunk} dy[n, o, p] * cols[col, (n,p)], where
// col < C*KH*KW is a weight (c, kh, kw) and col == C*KH*KW (if ncols says so) is the
// bias, whose "input" is the constant 1. Block tile: o0..o0+7 x col0..col0+31.
__global__ void __launch_bounds__(CONV_THREADS)
conv2d_backward_weight(const float* __restrict__ x, const float* __restrict__ dy,
                       float* __restrict__ partial, int ncols, int chunk, int n_chunks,
                       int N, int C, int H, int W, int O, int KH, int KW,
                       int OH, int OW, int sh, int sw, int ph, int pw) {
  __shared__ float Gs[CONVW_BK][CONV_BM + 1];      // dy slab: positions x channels
  __shared__ float Xs[CONVW_BK][CONVW_BN + 1];     // cols slab: positions x weight columns
  const int t = threadIdx.x, tx = t % 32, ty = t / 32;
  const int KHW = KH * KW, CKK = C * KHW, P = OH * OW;
  const long long NP = (long long)N * P;
  const int tiles_m = (O + CONV_BM - 1) / CONV_BM, tiles_n = (ncols + CONVW_BN - 1) / CONVW_BN;
  const long long n_tiles = (long long)tiles_m * tiles_n * n_chunks;

  for (long long tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
    const int o0 = (int)(tile % tiles_m) * CONV_BM;
    const int col0 = (int)((tile / tiles_m) % tiles_n) * CONVW_BN;
    const int ch = (int)(tile / ((long long)tiles_m * tiles_n));
    const long long kbeg = (long long)ch * chunk, kend = min(kbeg + chunk, NP);
    // this thread gathers position k = t % 32 of each slab, for columns cb..cb+15
    const int kk = t % 32, cb = (t / 32) * 16;
    float acc[4] = {};
    for (long long k0 = kbeg; k0 < kend; k0 += CONVW_BK) {
      const long long q = k0 + kk;
      const bool ok = q < kend;
      const int n = ok ? (int)(q / P) : 0, p = ok ? (int)(q % P) : 0;
      for (int r = 0; r < 4; ++r) {           // dy[n, o, p], o = o0 + t/32 + 2r
        const int m = t / 32 + 2 * r;
        Gs[kk][m] = (ok && o0 + m < O) ? dy[((long long)n * O + o0 + m) * P + p] : 0.f;
      }
      const int ih0 = (p / OW) * sh - ph, iw0 = (p % OW) * sw - pw;
      const float* xn = x + (long long)n * C * H * W;
      int col = col0 + cb, c = col / KHW, kh = (col % KHW) / KW, kw = col % KW;
      for (int j = 0; j < 16; ++j, ++col) {
        const int ih = ih0 + kh, iw = iw0 + kw;
        float v = 0.f;
        if (ok && col < CKK) {
          if (ih >= 0 && ih < H && iw >= 0 && iw < W) v = xn[((long long)c * H + ih) * W + iw];
        } else if (ok && col < ncols) {
          v = 1.f;                            // the bias column
        }
        Xs[kk][cb + j] = v;
        if (++kw == KW) { kw = 0; if (++kh == KH) { kh = 0; ++c; } }
      }
      __syncthreads();                        // slab complete before the multiply
      conv_multiply_slab_4x1(Gs, Xs, acc, tx, ty);
      __syncthreads();                        // slab consumed before it is overwritten
    }
    const int col = col0 + tx;
    for (int i = 0; i < 4; ++i) {
      const int o = o0 + ty + 2 * i;
      if (o < O && col < ncols) partial[((long long)ch * O + o) * ncols + col] = acc[i];
    }
  }
}

// dw[o, col] (col < CKK) and db[o] (col == CKK, if ncols > CKK) = sum over chunks.
__global__ void conv_sum_partials(const float* __restrict__ partial, float* __restrict__ dw,
                                  float* __restrict__ db, int n_chunks, int O, int ncols, int CKK) {
  const long long total = (long long)O * ncols;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    float s = 0.f;
    for (int ch = 0; ch < n_chunks; ++ch) s += partial[ch * total + i];
    const int o = (int)(i / ncols), col = (int)(i % ncols);
    if (col < CKK) dw[(long long)o * CKK + col] = s;
    else db[o] = s;
  }
}

// ---------------------------------------------------------------- direct (1-D / 3-D / grouped / dilated)
// Shapes are passed as 3-D: a 1-D conv has D = H = 1, KD = KH = 1, and so on.
#define CONV3_DIMS int N, int C, int D, int H, int W, int O, int KD, int KH, int KW, \
                   int OD, int OH, int OW, int sd, int sh, int sw, int pd, int ph, int pw, \
                   int G, int ld, int lh, int lw

// One thread per output element y[n, o, od, oh, ow]: the dot product of its window over
// the Cg input channels of o's group.
__global__ void conv_forward(const float* __restrict__ x, const float* __restrict__ w,
                             const float* __restrict__ bias, float* __restrict__ y, int has_bias,
                             CONV3_DIMS) {
  const long long total = (long long)N * O * OD * OH * OW;
  const int Cg = C / G, Og = O / G;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const int ow = (int)(i % OW), oh = (int)(i / OW % OH), od = (int)(i / ((long long)OW * OH) % OD);
    const int o = (int)(i / ((long long)OW * OH * OD) % O), n = (int)(i / ((long long)OW * OH * OD * O));
    const int c0 = (o / Og) * Cg;
    float s = has_bias ? bias[o] : 0.f;
    for (int cl = 0; cl < Cg; ++cl)
      for (int kd = 0; kd < KD; ++kd) {
        const int id = od * sd - pd + kd * ld;
        if (id < 0 || id >= D) continue;
        for (int kh = 0; kh < KH; ++kh) {
          const int ih = oh * sh - ph + kh * lh;
          if (ih < 0 || ih >= H) continue;
          for (int kw = 0; kw < KW; ++kw) {
            const int iw = ow * sw - pw + kw * lw;
            if (iw < 0 || iw >= W) continue;
            s += x[(((long long)n * C + c0 + cl) * D + id) * H * W + (long long)ih * W + iw] *
                   w[(((long long)o * Cg + cl) * KD + kd) * KH * KW + kh * KW + kw];
          }
        }
      }
    y[i] = s;
  }
}

// One thread per input element dx[n, c, id, ih, iw]: gathers dy over the outputs of c's
// group whose windows cover it (tap k covers it when (i + pad - k * dilation) is a
// multiple of the stride). Gathering, not scattering: no atomics, a fixed order.
__global__ void conv_backward_data(const float* __restrict__ dy, const float* __restrict__ w,
                                   float* __restrict__ dx, CONV3_DIMS) {
  const long long total = (long long)N * C * D * H * W;
  const int Cg = C / G, Og = O / G;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const int iw = (int)(i % W), ih = (int)(i / W % H), id = (int)(i / ((long long)W * H) % D);
    const int c = (int)(i / ((long long)W * H * D) % C), n = (int)(i / ((long long)W * H * D * C));
    const int cl = c % Cg, o0 = (c / Cg) * Og;
    float s = 0.f;
    for (int kd = 0; kd < KD; ++kd) {
      const int zd = id + pd - kd * ld, od = zd / sd;
      if (zd < 0 || od * sd != zd || od >= OD) continue;
      for (int kh = 0; kh < KH; ++kh) {
        const int zh = ih + ph - kh * lh, oh = zh / sh;
        if (zh < 0 || oh * sh != zh || oh >= OH) continue;
        for (int kw = 0; kw < KW; ++kw) {
          const int zw = iw + pw - kw * lw, ow = zw / sw;
          if (zw < 0 || ow * sw != zw || ow >= OW) continue;
          for (int o = o0; o < o0 + Og; ++o)
            s += dy[(((long long)n * O + o) * OD + od) * OH * OW + (long long)oh * OW + ow] *
                   w[(((long long)o * Cg + cl) * KD + kd) * KH * KW + kh * KW + kw];
        }
      }
    }
    dx[i] = s;
  }
}

// One thread per weight element dw[o, cl, kd, kh, kw] (and, for col == Cg*KD*KH*KW when
// ncols says so, per bias element db[o]): reduces over the batch and output positions.
__global__ void conv_backward_weight(const float* __restrict__ x, const float* __restrict__ dy,
                                     float* __restrict__ dw, float* __restrict__ db, int ncols,
                                     CONV3_DIMS) {
  const int Cg = C / G, Og = O / G, CKK = Cg * KD * KH * KW;
  const long long total = (long long)O * ncols;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const int o = (int)(i / ncols), col = (int)(i % ncols);
    const int kw = col % KW, kh = col / KW % KH, kd = col / (KW * KH) % KD;
    const int c = (o / Og) * Cg + col / (KW * KH * KD);
    const bool is_bias = col == CKK;
    float s = 0.f;
    for (int n = 0; n < N; ++n)
      for (int od = 0; od < OD; ++od) {
        const int id = od * sd - pd + kd * ld;
        if (!is_bias && (id < 0 || id >= D)) continue;
        for (int oh = 0; oh < OH; ++oh) {
          const int ih = oh * sh - ph + kh * lh;
          if (!is_bias && (ih < 0 || ih >= H)) continue;
          for (int ow = 0; ow < OW; ++ow) {
            const int iw = ow * sw - pw + kw * lw;
            if (!is_bias && (iw < 0 || iw >= W)) continue;
            const float g = dy[(((long long)n * O + o) * OD + od) * OH * OW + (long long)oh * OW + ow];
            s += is_bias ? g : g * x[(((long long)n * C + c) * D + id) * H * W + (long long)ih * W + iw];
          }
        }
      }
    if (is_bias) db[o] = s;
    else dw[(long long)o * CKK + col] = s;
  }
}
