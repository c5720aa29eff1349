"""Matrix product C = A B for (..., M, K) x (..., K, N), batch dimensions broadcast.

Backward (the chain rule for a product): dA = dC B^T, dB = A^T dC, each summed over
the batch dimensions that were broadcast. The kernels (ops/matmul.cu) read the
transposed operands in place, without making transposed copies.
Tensor.matmul handles 1-D operands (numpy's rules) before calling this op.
"""
import numpy as np

from tinygrad_cu.op import Meta, Op, broadcast_shapes, factors_read_by_backward, register, sum_to_shape

SOURCE = "matmul.cu"


@register
class Matmul(Op):
    name = "matmul"
    n_inputs = 2

    def inputs_read_by_backward(self, needs): return factors_read_by_backward(needs)
    kernels = ("matmul_forward", "matmul_backward_a", "matmul_backward_b")

    def infer(self, a, b):
        self.check_float(a, b)
        self.check_same_dtype(a, b)
        if len(a.shape) < 2 or len(b.shape) < 2:
            raise ValueError(f"matmul: operands must have at least 2 dims, got {a.shape} and {b.shape}")
        if a.shape[-1] != b.shape[-2]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not match: "
                             f"inner dimensions {a.shape[-1]} != {b.shape[-2]}")
        batch = broadcast_shapes(self.name, a.shape[:-2], b.shape[:-2])
        return Meta(batch + (a.shape[-2], b.shape[-1]), a.dtype)

    def forward(self, ctx, a, b):
        return np.matmul(a, b)

    def backward(self, ctx, grad):
        a, b = ctx.inputs
        need_a, need_b = ctx.needs_input_grad
        ga = sum_to_shape(np.matmul(grad, np.swapaxes(b, -1, -2)), a.shape) if need_a else None
        gb = sum_to_shape(np.matmul(np.swapaxes(a, -1, -2), grad), b.shape) if need_b else None
        return ga, gb

    # --- CUDA (ops/matmul.cu) ---------------------------------------------------
    # matmul_forward(a, b, c, offsets, batches, M, N, K)
    # matmul_backward_a(dc, b, da, offsets, batches, group, M, N, K)
    # matmul_backward_b(a, dc, db, offsets, batches, group, M, N, K)
    def gpu_forward(self, gpu, ctx, a, b):
        gpu.require_dtype(self.name, a, b)
        (m, k), n = a.shape[-2:], b.shape[-1]
        batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        c = gpu.empty(batch + (m, n), a.dtype)
        if c.size == 0:
            return c
        if k == 0:
            return gpu.zeros(c.shape, c.dtype)
        ia, ib = batch_index(a.shape[:-2], batch), batch_index(b.shape[:-2], batch)
        offsets = np.stack([ia * (m * k), ib * (k * n)], axis=-1)           # (batches, 2)
        launch_gemm(gpu, "matmul_forward", a, b, c, offsets, len(ia), None, m, n, k)
        return c

    def gpu_backward(self, gpu, ctx, grad):
        a, b = ctx.inputs
        need_a, need_b = ctx.needs_input_grad
        (m, k), n = a.shape[-2:], b.shape[-1]
        batch = grad.shape[:-2]
        ia, ib = batch_index(a.shape[:-2], batch), batch_index(b.shape[:-2], batch)
        ic = np.arange(len(ia), dtype=np.int64)
        ga = gb = None
        if need_a:      # dA = dC B^T, summed over the batch entries broadcast onto each A
            ga = gpu.zeros(a.shape, a.dtype) if 0 in (n, len(ic)) else gpu.empty(a.shape, a.dtype)
            if ga.size and n and len(ic):
                offsets = group_offsets(ia, ic * (m * n), ib * (k * n))
                launch_gemm(gpu, "matmul_backward_a", grad, b, ga, offsets, *offsets.shape[:2], m, n, k)
        if need_b:      # dB = A^T dC, summed over the batch entries broadcast onto each B
            gb = gpu.zeros(b.shape, b.dtype) if 0 in (m, len(ic)) else gpu.empty(b.shape, b.dtype)
            if gb.size and m and len(ic):
                offsets = group_offsets(ib, ia * (m * k), ic * (m * n))
                launch_gemm(gpu, "matmul_backward_b", a, grad, gb, offsets, *offsets.shape[:2], m, n, k)
        return ga, gb



@register
class MatmulNT(Op):
    """C = A B^T for A (M, K) and B (N, K): a linear layer's x W^T with W stored as
    PyTorch stores it, (out_features, in_features). No transpose is ever copied: the
    three products are the GEMM kernels with the right operand read transposed in place.
      forward  C  = A B^T  -> matmul_backward_a's kernel (dC B^T has this form)
      dA = dC B            -> matmul_forward
      dB = dC^T A          -> matmul_backward_b (A^T dC, with A := dC, dC := A)"""
    name = "matmul_nt"
    n_inputs = 2
    kernels = ("matmul_backward_a", "matmul_forward", "matmul_backward_b")

    def infer(self, a, b):
        self.check_float(a, b)
        self.check_same_dtype(a, b)
        if len(a.shape) != 2 or len(b.shape) != 2 or a.shape[1] != b.shape[1]:
            raise ValueError(f"matmul_nt: expected A (M, K) and B (N, K), got {a.shape} and {b.shape}")
        return Meta((a.shape[0], b.shape[0]), a.dtype)

    def forward(self, ctx, a, b):
        return a @ b.T

    def backward(self, ctx, grad):
        a, b = ctx.inputs
        need_a, need_b = ctx.needs_input_grad
        return (grad @ b if need_a else None), (grad.T @ a if need_b else None)

    def gpu_forward(self, gpu, ctx, a, b):
        gpu.require_dtype(self.name, a, b)
        return gpu_matmul_nt(gpu, a, b)

    def gpu_backward(self, gpu, ctx, grad):
        a, b = ctx.inputs
        return gpu_matmul_nt_grads(gpu, grad, a, b, *ctx.needs_input_grad)


def gpu_matmul_nt(gpu, a, b):
    """C = A B^T for A (M, K) and B (N, K): the GEMM reads B transposed in place."""
    (m, k), n = a.shape, b.shape[0]
    if m * n == 0 or k == 0:
        return gpu.zeros((m, n), a.dtype)
    c = gpu.empty((m, n), a.dtype)
    launch_gemm(gpu, "matmul_backward_a", a, b, c, ONE_MATRIX_GROUPED, 1, 1, m, k, n)
    return c


def gpu_matmul_nt_grads(gpu, grad, a, b, need_a, need_b):
    """(dA = dC B, dB = dC^T A) of C = A B^T, None where not needed."""
    (m, k), n = a.shape, b.shape[0]
    ga = gb = None
    if need_a:
        ga = gpu.zeros(a.shape, a.dtype) if 0 in (m, k, n) else gpu.empty(a.shape, a.dtype)
        if ga.size and n:
            launch_gemm(gpu, "matmul_forward", grad, b, ga, ONE_MATRIX, 1, None, m, k, n)
    if need_b:
        gb = gpu.zeros(b.shape, b.dtype) if 0 in (m, k, n) else gpu.empty(b.shape, b.dtype)
        if gb.size and m:
            launch_gemm(gpu, "matmul_backward_b", grad, a, gb, ONE_MATRIX_GROUPED, 1, 1, m, k, n)
    return ga, gb


@register
class Linear(Op):
    """y = x W^T + b: a fully-connected layer as one op (PyTorch's addmm), x (M, K),
    weight (N, K) as nn.Linear stores it, optional bias (N,).

        dx = dy W        dW = dy^T x        db = sum over rows of dy
    One op instead of matmul_nt + a broadcast add: half the dispatches of an MLP layer,
    and the bias gradient is a column sum instead of a general broadcast reduction.
    Kernels: the three GEMMs of matmul_nt, then add_bias_rows (forward, in place) and
    bias_grad_columns (backward)."""
    name = "linear"
    n_inputs = None            # x, weight[, bias]
    kernels = ("matmul_backward_a", "matmul_forward", "matmul_backward_b", "add_bias_rows",
               "bias_grad_columns")

    def infer(self, x, w, b=None):
        metas = (x, w) if b is None else (x, w, b)
        self.check_float(*metas)
        self.check_same_dtype(*metas)
        if len(x.shape) != 2 or len(w.shape) != 2 or x.shape[1] != w.shape[1]:
            raise ValueError(f"linear: expected input (M, K) and weight (N, K), got {x.shape} and {w.shape}")
        if b is not None and b.shape != (w.shape[0],):
            raise ValueError(f"linear: bias must have shape ({w.shape[0]},) for weight {w.shape}, got {b.shape}")
        return Meta((x.shape[0], w.shape[0]), x.dtype)

    def forward(self, ctx, x, w, b=None):
        y = x @ w.T
        if b is not None:
            y += b
        return y

    def backward(self, ctx, grad):
        x, w = ctx.inputs[0], ctx.inputs[1]
        needs = ctx.needs_input_grad
        grads = [grad @ w if needs[0] else None, grad.T @ x if needs[1] else None]
        if len(needs) == 3:
            grads.append(grad.sum(axis=0) if needs[2] else None)
        return grads

    def gpu_forward(self, gpu, ctx, x, w, b=None):
        gpu.require_dtype(self.name, x, w, *(() if b is None else (b,)))
        y = gpu_matmul_nt(gpu, x, w)
        if b is not None and y.size:
            grid, block = gpu.grid_1d(y.size)
            gpu.launch(SOURCE, "add_bias_rows", grid, block, y, b, np.int64(y.shape[0]), np.int64(y.shape[1]))
        return y

    def gpu_backward(self, gpu, ctx, grad):
        x, w = ctx.inputs[0], ctx.inputs[1]
        grads = list(gpu_matmul_nt_grads(gpu, grad, x, w, *ctx.needs_input_grad[:2]))
        if len(ctx.needs_input_grad) == 3:
            db = None
            if ctx.needs_input_grad[2]:
                m, n = grad.shape
                db = gpu.empty((n,), grad.dtype)
                if n:
                    grid, block = gpu.grid_1d(n)
                    gpu.launch(SOURCE, "bias_grad_columns", grid, block, grad, db, np.int64(m), np.int64(n))
            grads.append(db)
        return tuple(grads)


# offsets tables for a single (unbatched) product: forward (1, 2), gradient kernels (1, 1, 2)
ONE_MATRIX = np.zeros((1, 2), np.int64)
ONE_MATRIX_GROUPED = np.zeros((1, 1, 2), np.int64)

def batch_index(shape, batch):
    """For each output batch entry (C order), the flat index of the operand's matrix
    that broadcasting pairs with it."""
    shape = (1,) * (len(batch) - len(shape)) + tuple(shape)
    flat = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    return np.broadcast_to(flat, batch).reshape(-1)


def group_offsets(owner, first, second):
    """Offsets table (owners, group, 2) for a gradient kernel: output matrix i of the
    gradient sums the products of every batch entry whose `owner` is i."""
    order = np.argsort(owner, kind="stable")
    n_owners = int(owner.max()) + 1
    return np.stack([first[order], second[order]], axis=-1).reshape(n_owners, -1, 2)


def launch_config(gpu, batches, rows, cols):
    """The one place that sizes matmul launches: 256 threads per 64x64 tile of the
    output, one block per tile up to the grid cap (blocks loop over the rest)."""
    tiles = batches * -(-rows // 64) * -(-cols // 64)
    return (max(1, min(gpu.MAX_BLOCKS, tiles)), 1, 1), (256, 1, 1)


def launch_gemm(gpu, kernel, x, y, out, offsets, batches, group, m, n, k):
    rows, cols = {"matmul_forward": (m, n), "matmul_backward_a": (m, k),
                  "matmul_backward_b": (k, n)}[kernel]
    grid, block = launch_config(gpu, batches, rows, cols)
    table = gpu.table(np.asarray(offsets, dtype=np.int64))
    groups = () if group is None else (np.int32(group),)
    gpu.launch(SOURCE, kernel, grid, block, x, y, out, table, np.int32(batches), *groups,
               np.int32(m), np.int32(n), np.int32(k))
