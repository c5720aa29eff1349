"""Elementwise functions of one tensor: y = f(x), dx = grad * f'(x).

Kernels: ops/unary.cu, one `<name>_forward` and one `<name>_backward` per op.
Each op saves what its derivative is cheapest to compute from: the input x
(log, relu, ...) or the output y (exp: f' = y, sigmoid: f' = y (1 - y)).
"""
import numpy as np

from tinygrad_cu.op import Domain, Meta, Op, register

SOURCE = "unary.cu"
MAX_ELEMENTS = 2**31 - 2**26   # kernels index with int; headroom for the grid-stride step


def launch_config(gpu, n, family="unary"):
    """Grid and block of every kernel in unary.cu (and binary.cu, which works the same
    way): one thread per element, grid-stride."""
    if n > MAX_ELEMENTS:
        raise ValueError(f"{family} ops on {gpu.name}: {n} elements exceed the int-indexed "
                         f"kernels' limit of {MAX_ELEMENTS}")
    return gpu.grid_1d(n, block=256)


class UnaryOp(Op):
    saves = ("inputs",)
    source = SOURCE            # families built on this pattern (activation, unary_math) set theirs

    def __init__(self):
        self.kernels = (f"{self.name}_forward", f"{self.name}_backward")

    def infer(self, x, **attrs):
        self.check_float(x)
        return Meta(x.shape, x.dtype)

    def derivative(self, x, y, **attrs):
        """f'(x), from the saved input x or output y."""
        raise NotImplementedError

    def backward(self, ctx, grad, **attrs):
        x = ctx.inputs[0] if ctx.inputs else None
        return (grad * self.derivative(x, ctx.output, **attrs),)

    # CUDA: <name>_forward(const float* x, float* y, int n) and
    #       <name>_backward(const float* grad, const float* saved, float* dx, int n),
    #       each followed by scalar_args() (clip: float lo, float hi).
    def gpu_forward(self, gpu, ctx, x, **attrs):
        gpu.require_dtype(self.name, x)
        y = gpu.empty(x.shape, x.dtype)
        if y.size:
            grid, block = launch_config(gpu, y.size)
            gpu.launch(self.source, self.kernel_pair(**attrs)[0], grid, block, x, y, np.int32(y.size),
                       *self.scalar_args(**attrs))
        return y

    def gpu_backward(self, gpu, ctx, grad, **attrs):
        if not ctx.needs_input_grad[0]:
            return (None,)
        # ops whose derivative needs nothing (neg, sign) get grad as a stand-in argument
        saved = ctx.output if "output" in self.saves else (ctx.inputs[0] if ctx.inputs else grad)
        dx = gpu.empty(grad.shape, grad.dtype)
        if dx.size:
            grid, block = launch_config(gpu, dx.size)
            gpu.launch(self.source, self.kernel_pair(**attrs)[1], grid, block, grad, saved, dx, np.int32(dx.size),
                       *self.scalar_args(**attrs))
        return (dx,)

    def scalar_args(self, **attrs):
        return ()

    def kernel_pair(self, **attrs):
        """(forward, backward) kernel names for these attrs (gelu picks its variant)."""
        return self.kernels


@register
class Neg(UnaryOp):
    name = "neg"
    saves = ()
    def forward(self, ctx, x): return -x
    def derivative(self, x, y): return -1.0


@register
class Exp(UnaryOp):
    name = "exp"
    saves = ("output",)
    domain = Domain(-3, 3)
    def forward(self, ctx, x): return np.exp(x)
    def derivative(self, x, y): return y


@register
class Log(UnaryOp):
    name = "log"
    domain = Domain(0.1, 4)

    def forward(self, ctx, x):
        with np.errstate(divide="ignore", invalid="ignore"):   # log(0) = -inf, log(-1) = nan
            return np.log(x)

    def derivative(self, x, y):
        with np.errstate(divide="ignore"):
            return 1.0 / x


@register
class Sqrt(UnaryOp):
    name = "sqrt"
    saves = ("output",)
    domain = Domain(0.1, 4)

    def forward(self, ctx, x):
        with np.errstate(invalid="ignore"):
            return np.sqrt(x)

    def derivative(self, x, y):
        with np.errstate(divide="ignore"):
            return 0.5 / y


@register
class Abs(UnaryOp):
    name = "abs"
    domain = Domain(-2, 2, avoid_zero=True)
    def forward(self, ctx, x): return np.abs(x)
    def derivative(self, x, y): return np.sign(x)      # 0 at x = 0, as PyTorch


@register
class Relu(UnaryOp):
    name = "relu"
    domain = Domain(-2, 2, avoid_zero=True)
    def forward(self, ctx, x): return np.maximum(x, 0).astype(x.dtype, copy=False)  # no copy when already x.dtype
    def derivative(self, x, y): return (x > 0).astype(x.dtype)   # relu'(0) = 0, as PyTorch


@register
class Sigmoid(UnaryOp):
    name = "sigmoid"
    saves = ("output",)
    domain = Domain(-6, 6)
    def forward(self, ctx, x):
        # 1 / (1 + exp(-x)) in one buffer. For x below about -88 (float32) exp(-x)
        # overflows to inf and 1 / inf = 0, the right limit, so the overflow warning is
        # silenced rather than avoided (logaddexp did that at 5x the cost: docs/benchmarks.md).
        y = np.negative(x, out=np.empty_like(x))   # out=: a 0-d input stays an array
        with np.errstate(over="ignore"):
            np.exp(y, out=y)
        y += 1
        return np.reciprocal(y, out=y)
    def derivative(self, x, y): return y * (1 - y)


@register
class Tanh(UnaryOp):
    name = "tanh"
    saves = ("output",)
    domain = Domain(-3, 3)
    def forward(self, ctx, x): return np.tanh(x)
    def derivative(self, x, y): return 1 - y * y


@register
class Softplus(UnaryOp):
    """log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (PyTorch's
    F.softplus: there the two differ by less than e^-threshold / beta)."""
    name = "softplus"
    domain = Domain(-6, 6)
    test_attrs = (dict(beta=1.0, threshold=20.0), dict(beta=3.0, threshold=10.0))

    def infer(self, x, beta=1.0, threshold=20.0):
        return super().infer(x)

    def forward(self, ctx, x, beta=1.0, threshold=20.0):
        bx = x * x.dtype.type(beta)
        return np.where(bx > threshold, x, np.logaddexp(0, bx) / x.dtype.type(beta)).astype(x.dtype)

    def derivative(self, x, y, beta=1.0, threshold=20.0):
        bx = x * beta
        return np.asarray(np.where(bx > threshold, 1.0, np.exp(-np.logaddexp(0, -bx))), x.dtype)  # sigmoid(beta x)

    def scalar_args(self, beta=1.0, threshold=20.0): return (np.float32(beta), np.float32(threshold))


@register
class Sign(UnaryOp):
    """The perceptron's step function: its gradient is 0 everywhere (and undefined
    at 0), which is why the lecture moves on to sigmoid."""
    name = "sign"
    saves = ()
    domain = Domain(-2, 2, avoid_zero=True)
    def forward(self, ctx, x): return np.sign(x)
    def derivative(self, x, y): return 0.0

    def backward(self, ctx, grad):
        return (np.zeros_like(grad),)


@register
class Clip(UnaryOp):
    """min(max(x, lo), hi); the gradient passes where lo <= x <= hi (as PyTorch's clamp).
    lo > hi is allowed, as in PyTorch: every element becomes hi, and no gradient passes."""
    name = "clip"
    test_attrs = (dict(min=-0.5, max=0.5), dict(min=0.2, max=None), dict(min=None, max=0.1),
                  dict(min=0.5, max=-0.5))

    def forward(self, ctx, x, min=None, max=None):
        lo = -np.inf if min is None else min
        hi = np.inf if max is None else max
        return np.minimum(np.maximum(x, x.dtype.type(lo)), x.dtype.type(hi))    # max wins over min

    def derivative(self, x, y, min=None, max=None):
        lo = -np.inf if min is None else min
        hi = np.inf if max is None else max
        return ((x >= lo) & (x <= hi)).astype(x.dtype)

    def scalar_args(self, min=None, max=None):
        return (np.float32(-np.inf if min is None else min), np.float32(np.inf if max is None else max))
