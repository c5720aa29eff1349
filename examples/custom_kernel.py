"""Write your own op: a fused bias + ReLU with CUDA kernels of your own, in the lecture MLP.

    python examples/custom_kernel.py --device emu --train-limit 2000 --epochs 2
    python examples/custom_kernel.py --device emu --profile 3   # custom op against add + relu

y = max(x + b, 0) for x of shape [..., C] and a bias b of shape [C]: one kernel instead
of the built-in `add` then `relu` (two launches, and the sum x + b written to memory and
read back). The op is checked with tg.check_op (kernels against the numpy reference,
the bias kernel under the emulator's race mode, all of them in bounds mode), then used
as the hidden layer of the 784-10-10 MLP, and profiled against the built-in ops.
The walkthrough this follows: docs/custom_ops.md.
"""
import numpy as np

import tinygrad_cu as tg
from tinygrad_cu import nn
from tinygrad_cu.nn import functional as F

from tinygrad_cu.utils import training

SOURCE = r"""
// Fused bias + ReLU: y = max(x + b[c], 0) over rows of C columns (x is [rows, C]).
//
// bias_relu_forward / bias_relu_backward_input: one thread per element in a
// grid-stride loop; consecutive threads touch consecutive floats (coalesced). No shared
// memory, no barriers. The backward reads the saved output y: relu'(x + b) is y > 0.
//
// bias_relu_backward_bias: db[c] = sum over rows of g * (y > 0). One block per column
// (grid-stride over columns); its threads stride down the rows, each keeping a partial
// sum, then add the partials in shared memory, halving the active threads each step.
// Shared memory: one float per thread (blockDim.x must be the power of two 256).
// Barriers: after the partials are written (every thread's partial must be in shared
// memory before any thread reads another's), and after each halving step (the next step
// reads what this one wrote). Reads of a column stride by C floats: uncoalesced, fine
// for the small C of an MLP's hidden layer.

#define BIAS_RELU_THREADS 256

__global__ void bias_relu_forward(const float* __restrict__ x, const float* __restrict__ b,
                                  float* __restrict__ y, int n, int C) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
        const float v = x[i] + b[i % C];
        y[i] = v > 0.f ? v : 0.f;
    }
}

__global__ void bias_relu_backward_input(const float* __restrict__ g, const float* __restrict__ y,
                                         float* __restrict__ dx, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x)
        dx[i] = y[i] > 0.f ? g[i] : 0.f;
}

__global__ void __launch_bounds__(BIAS_RELU_THREADS)
bias_relu_backward_bias(const float* __restrict__ g, const float* __restrict__ y,
                        float* __restrict__ db, int rows, int C) {
    __shared__ float partial[BIAS_RELU_THREADS];
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        float sum = 0.f;
        for (int r = threadIdx.x; r < rows; r += blockDim.x) {
            const int i = r * C + c;
            sum += y[i] > 0.f ? g[i] : 0.f;
        }
        partial[threadIdx.x] = sum;
        __syncthreads();                                   // all partials written
        for (int half = blockDim.x / 2; half > 0; half /= 2) {
            if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
            __syncthreads();                               // this step done before the next reads it
        }
        if (threadIdx.x == 0) db[c] = partial[0];
        __syncthreads();                                   // partial[0] read before the next column overwrites it
    }
}
"""
THREADS = 256


@tg.custom_op("bias_relu", source=SOURCE,
              kernels=("bias_relu_forward", "bias_relu_backward_input", "bias_relu_backward_bias"))
class BiasReLU:
    """max(x + b, 0), x [..., C], b [C]: saves the output, from which both gradients follow."""
    saves = ("output",)
    domain = tg.custom_op.Domain(-2, 2, avoid_zero=True)     # finite differences away from the kink

    def infer(self, x, b):
        self.check_float(x, b)
        self.check_same_dtype(x, b)
        if len(x.shape) < 1 or len(b.shape) != 1 or x.shape[-1] != b.shape[0]:
            raise ValueError(f"bias_relu: x of shape {tuple(x.shape)} and bias of shape {tuple(b.shape)}: the bias "
                             "must be 1-D with as many elements as x's last dimension")
        return tg.custom_op.Meta(x.shape, x.dtype)

    # numpy reference: the cpu device, and the oracle check_op compares the kernels with
    def forward(self, ctx, x, b):
        return np.maximum(x + b, 0).astype(x.dtype)

    def backward(self, ctx, grad):
        dx = grad * (ctx.output > 0)
        db = dx.reshape(-1, dx.shape[-1]).sum(axis=0) if ctx.needs_input_grad[1] else None
        return (dx if ctx.needs_input_grad[0] else None, db)

    # the launch functions: emu and cuda
    def gpu_forward(self, gpu, ctx, x, b):
        gpu.require_dtype(self.name, x, b)
        y = gpu.empty(x.shape, x.dtype)
        if y.size:
            grid, block = gpu.grid_1d(y.size, block=THREADS)
            self.launch(gpu, "bias_relu_forward", grid, block, x, b, y, np.int32(y.size), np.int32(b.shape[0]))
        return y

    def gpu_backward(self, gpu, ctx, grad):
        y, C = ctx.output, ctx.input_metas[1].shape[0]
        dx = db = None
        if ctx.needs_input_grad[0]:
            dx = gpu.empty(grad.shape, grad.dtype)
            if dx.size:
                grid, block = gpu.grid_1d(dx.size, block=THREADS)
                self.launch(gpu, "bias_relu_backward_input", grid, block, grad, y, dx, np.int32(dx.size))
        if ctx.needs_input_grad[1]:
            db = gpu.empty((C,), grad.dtype)
            if C and grad.size:
                self.launch(gpu, "bias_relu_backward_bias", (min(C, gpu.MAX_BLOCKS), 1, 1), (THREADS, 1, 1),
                            grad, y, db, np.int32(grad.size // C), np.int32(C))
            elif C:
                gpu.memset_d8(db.alloc, 0, db.nbytes)       # no rows: the bias gets no gradient
        return (dx, db)


class HiddenLayer(nn.Module):
    """relu(x W^T + b): the product is the built-in GEMM (F.linear without a bias), then
    either the custom op (fused=True) or the built-in add and relu it replaces."""

    def __init__(self, in_features, out_features, fused=True):
        super().__init__()
        layer = nn.Linear(in_features, out_features)         # nn.Linear's initialisation
        self.weight, self.bias, self.fused = layer.weight, layer.bias, fused

    def forward(self, x):
        xw = F.linear(x, self.weight)
        return BiasReLU(xw, self.bias) if self.fused else (xw + self.bias).relu()


def lecture_mlp(fused=True):
    """The lecture's 784-10-10 MLP with a ReLU hidden layer."""
    return nn.Sequential(HiddenLayer(784, 10, fused), nn.Linear(10, 10))


def compare_profiles(args, train_set, steps):
    """`steps` training steps of each model under the profiler, after a warm-up step:
    the fused op's time against the built-in add and relu it replaces."""
    spent = {}
    for fused in (True, False):
        tg.manual_seed(args.seed)
        model = lecture_mlp(fused).to(args.device)
        optimizer = training.make_optimizer(args, model.parameters())
        loss_fn = nn.CrossEntropyLoss()
        batches = iter(tg.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, seed=args.seed,
                                          device=args.device))

        def step():
            x, y = next(batches)
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()

        step()                                         # compiles the kernels, fills the memory pool
        with tg.profiler.profile() as prof:
            for _ in range(steps):
                step()
        names = ("bias_relu", "bias_relu backward") if fused else ("add", "add backward", "relu", "relu backward")
        label = "fused bias_relu (custom op)" if fused else "built-in add + relu"
        spent[label] = sum(r["total_ns"] for r in prof.key_averages() if r["name"] in names) / steps
        print(f"\n{label}, {steps} step(s):")
        print(prof.table(row_limit=12))
    for label, ns in spent.items():
        print(f"bias + ReLU, forward and backward, per step: {tg.profiler.format_time(ns)}  {label}")


def main():
    args = training.parse_args(__doc__.splitlines()[0], epochs=2, lr=0.5)
    if args.device != "cpu":
        print(tg.check_op("bias_relu", (37, 10), (10,), device=args.device))
    tg.manual_seed(args.seed)
    train_set, val_set, test_set, source = training.load_splits(args, layout="flat")
    if args.profile:
        compare_profiles(args, train_set, args.profile)
        return
    model = lecture_mlp().to(args.device)
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = training.make_optimizer(args, model.parameters())
    history = training.train(model, loss_fn, optimizer, train_set, val_set, args)
    training.report_and_save(args, "custom_kernel_mlp", model, loss_fn, test_set, source, history,
                             first_layer_weights=model[0].weight.numpy())


if __name__ == "__main__":
    main()
