"""Normalisation (BatchNorm, LayerNorm, GroupNorm) as one op with a fused kernel pair.

x, seen as a contiguous (P, Q, R) array (`layout`), is normalised per q over its P*R
elements: xhat = (x - mean_q) / sqrt(var_q + eps), with the biased variance; then,
with `affine`, y = xhat * weight[a] + bias[a], where element i has a = (i // stride) % A
(A = weight.size, stride = `affine_stride`). The three layers are three layouts:

    batch_norm  x (N, C, *S):  (P, Q, R) = (N, C, S),  a = channel: stride S, A = C
    layer_norm  x (M, *norm):  (1, M, K),              a = position in the normalised dims: stride 1, A = K
    group_norm  x (N, C, *S):  (1, N*G, C/G*S),        a = channel: stride S, A = C

With `update_running`, two more inputs, running_mean and running_var (Q,), are updated
in place as PyTorch's batch_norm does in training: r = (1 - momentum) r + momentum * s,
with the unbiased batch variance, inside the statistics kernel (no extra launch, no
copy to the host). They get no gradient.

Backward (n = P*R, dxhat = dy * weight[a]):
    dx = rstd * (dxhat - mean_q(dxhat) - xhat * mean_q(dxhat * xhat))
    dweight[a] = sum over a's elements of dy * xhat,  dbias[a] = sum of dy
Kernels: ops/norm.cu, forward = statistics + normalise (2 launches), backward =
statistics + data + affine (3 launches), whatever the layer.
"""
import numpy as np

from tinygrad_cu.op import Meta, Op, register

from .reduce import launch_config as reduction_config

SOURCE = "norm.cu"


def affine_view(a, stride, size):
    """a (any shape with a.size divisible by stride * size) as (B, A, stride): axis 1 is the
    affine index a = (i // stride) % A of element i."""
    return a.reshape(-1, size, stride)


@register
class Norm(Op):
    name = "norm"
    n_inputs = None         # x [, weight, bias] [, running_mean, running_var]
    kernels = ("norm_statistics", "norm_forward", "norm_backward_statistics", "norm_backward_data",
               "norm_backward_affine")

    def infer(self, x, *params, layout, eps, affine=False, affine_stride=1, update_running=False, momentum=0.1):
        self.check_float(x, *params)
        self.check_same_dtype(x, *params)
        if len(params) != 2 * bool(affine) + 2 * bool(update_running):
            raise TypeError(f"norm: expected x{', weight, bias' if affine else ''}"
                            f"{', running_mean, running_var' if update_running else ''}, got {1 + len(params)} inputs")
        P, Q, R = (int(v) for v in layout)
        if min(P, Q, R) < 0 or P * Q * R != int(np.prod(x.shape, dtype=np.int64)):
            raise ValueError(f"norm: layout {tuple(layout)} does not cover the input {x.shape}")
        if affine:
            w, b = params[:2]
            A = int(np.prod(w.shape, dtype=np.int64))
            if w.shape != b.shape or affine_stride < 1 or (P * Q * R) % max(A * affine_stride, 1):
                raise ValueError(f"norm: weight {w.shape} and bias {b.shape} do not tile the input {x.shape} "
                                 f"with stride {affine_stride}")
        if update_running:
            for m in params[-2:]:
                if m.shape != (Q,):
                    raise ValueError(f"norm: running statistics must have shape ({Q},), got {m.shape}")
        if not eps > 0:
            raise ValueError(f"norm: eps must be > 0, got {eps}")
        return Meta(x.shape, x.dtype)

    # --- numpy reference ------------------------------------------------------------
    def forward(self, ctx, x, *params, layout, eps, affine=False, affine_stride=1, update_running=False,
                momentum=0.1):
        xv = x.reshape(layout)
        mean = xv.mean(axis=(0, 2))
        centred = xv - mean[:, None]
        var = (centred * centred).mean(axis=(0, 2))
        rstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
        if update_running:
            n = layout[0] * layout[2]
            running_mean, running_var = params[-2:]
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += momentum * var * (n / max(n - 1, 1))
        ctx.save(mean=mean, rstd=rstd)
        y = (centred * rstd[:, None]).reshape(x.shape)
        if affine:
            w, b = params[:2]
            yv = affine_view(y, affine_stride, w.size)
            yv *= w.reshape(-1, 1)
            yv += b.reshape(-1, 1)
        return y

    def backward(self, ctx, grad, layout, eps, affine=False, affine_stride=1, update_running=False, momentum=0.1):
        x, params = ctx.inputs[0], ctx.inputs[1:]
        needs = ctx.needs_input_grad
        mean, rstd = ctx.saved["mean"], ctx.saved["rstd"]
        xhat = ((x.reshape(layout) - mean[:, None]) * rstd[:, None]).reshape(x.shape)
        grads = [None] * (1 + len(params))
        dxhat = grad
        if affine:
            w = params[0]
            dxhat = (affine_view(grad, affine_stride, w.size) * w.reshape(-1, 1)).reshape(x.shape)
            if needs[1]:
                grads[1] = affine_view(grad * xhat, affine_stride, w.size).sum(axis=(0, 2)).reshape(w.shape)
            if needs[2]:
                grads[2] = affine_view(grad, affine_stride, w.size).sum(axis=(0, 2)).reshape(w.shape)
        if needs[0]:
            d, h = dxhat.reshape(layout), xhat.reshape(layout)
            m1, m2 = d.mean(axis=(0, 2)), (d * h).mean(axis=(0, 2))
            grads[0] = ((d - m1[:, None] - h * m2[:, None]) * rstd[:, None]).reshape(x.shape)
        return tuple(grads)

    # --- CUDA (ops/norm.cu) -------------------------------------------------------------
    # every kernel takes the geometry: total, P, Q, R, A, affine_stride, has_affine
    def geometry(self, x_shape, params, layout, affine, affine_stride):
        A = int(np.prod(params[0].shape, dtype=np.int64)) if affine else 1
        total = int(np.prod(x_shape, dtype=np.int64))
        return total, (np.int64(total), np.int32(layout[0]), np.int32(layout[1]), np.int32(layout[2]),
                       np.int32(A), np.int32(affine_stride), np.int32(bool(affine)))

    def gpu_forward(self, gpu, ctx, x, *params, layout, eps, affine=False, affine_stride=1, update_running=False,
                    momentum=0.1):
        gpu.require_dtype(self.name, x, *params)
        total, geom = self.geometry(x.shape, params, layout, affine, affine_stride)
        P, Q, R = layout
        y = gpu.empty(x.shape, x.dtype)
        mean, rstd = gpu.empty((Q,), x.dtype), gpu.empty((Q,), x.dtype)
        ctx.save(mean=mean, rstd=rstd)
        w, b = params[:2] if affine else (x, x)                        # x: a never-read stand-in
        running = params[-2:] if update_running else (mean, rstd)      # never written unless updating
        if Q:
            grid, block = reduction_config(gpu, Q, P * R)
            gpu.launch(SOURCE, "norm_statistics", grid, block, x, mean, rstd, *running, *geom, np.float32(eps),
                       np.float32(momentum), np.int32(bool(update_running)))
        if total:
            grid, block = gpu.grid_1d(total)
            gpu.launch(SOURCE, "norm_forward", grid, block, x, mean, rstd, w, b, y, *geom)
        return y

    def gpu_backward(self, gpu, ctx, grad, layout, eps, affine=False, affine_stride=1, update_running=False,
                     momentum=0.1):
        x, params = ctx.inputs[0], ctx.inputs[1:]
        needs = ctx.needs_input_grad
        total, geom = self.geometry(x.shape, params, layout, affine, affine_stride)
        P, Q, R = layout
        mean, rstd = ctx.saved["mean"], ctx.saved["rstd"]
        w = params[0] if affine else x
        grads = [None] * (1 + len(params))
        if needs[0]:
            dx = grads[0] = gpu.empty(x.shape, x.dtype)
            if total:
                sums = gpu.empty((2, Q), x.dtype)          # per q: sum dxhat, sum dxhat * xhat
                grid, block = reduction_config(gpu, Q, P * R)
                gpu.launch(SOURCE, "norm_backward_statistics", grid, block, x, grad, mean, rstd, w, sums, *geom)
                grid, block = gpu.grid_1d(total)
                gpu.launch(SOURCE, "norm_backward_data", grid, block, x, grad, mean, rstd, w, sums, dx, *geom)
        if affine and (needs[1] or needs[2]):
            A = int(geom[4])
            dw, db = gpu.empty(params[0].shape, x.dtype), gpu.empty(params[1].shape, x.dtype)
            if A:
                grid, block = reduction_config(gpu, A, total // A)
                gpu.launch(SOURCE, "norm_backward_affine", grid, block, x, grad, mean, rstd, dw, db, *geom)
            grads[1], grads[2] = (dw if needs[1] else None), (db if needs[2] else None)
        return tuple(grads)
