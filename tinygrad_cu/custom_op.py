"""Custom ops: your own CUDA kernels, outside the package, as first-class ops.

    SOURCE = r'''
    __global__ void my_relu_forward(const float* x, float* y, int n) { ... }
    __global__ void my_relu_backward(const float* g, const float* x, float* dx, int n) { ... }
    '''

    @tg.custom_op("my_relu", source=SOURCE, kernels=("my_relu_forward", "my_relu_backward"))
    class MyRelu:
        def forward(self, ctx, x):                     # numpy reference: the cpu device, the oracle
            return np.maximum(x, 0)
        def backward(self, ctx, grad):
            return (grad * (ctx.inputs[0] > 0),)
        def gpu_forward(self, gpu, ctx, x):            # the launch function: emu and cuda
            y = gpu.empty(x.shape, x.dtype)
            if y.size:
                grid, block = gpu.grid_1d(y.size)
                self.launch(gpu, "my_relu_forward", grid, block, x, y, np.int32(y.size))
            return y
        def gpu_backward(self, gpu, ctx, grad): ...

    y = MyRelu(x)                    # or tg.autograd.apply("my_relu", x)
    tg.check_op("my_relu", (3, 5))   # kernels against the reference, race and bounds modes

The decorator makes the class an `Op` (tinygrad_cu/op.py) and registers it, so the op is
the same kind of thing as a built-in: it runs through autograd.apply, is recorded in the
graph, differentiates, runs on cpu (the reference) and emu/cuda (the kernels), and works
with tg.gradcheck and tg.jit. Defaults: `saves = ("inputs",)`, float inputs of one
dtype, output shaped as the first input (define `infer` to say otherwise), inputs
sampled in [-2, 2] by check_op (set `domain = tg.custom_op.Domain(...)`).

`source` is CUDA C text, or the path of a .cu file. The compiler is told where the text
came from (a `#line` directive: your .py file and the line the string starts on, or your
.cu file), so its messages, AddressSanitizer's reports and gdb point at your own lines.
`#include "..."` finds files beside that file, and the project's ops/ (block_reduce.cuh).
"""
import hashlib
import inspect
import os
import re

from .device.gpu import CUSTOM_SOURCES
from .op import REGISTRY, Domain, Meta, Op
from .check_op import check_op  # noqa: F401  (tg.check_op; it lives in its own module)

BARRIER_CALLS = re.compile(r"\b(__syncthreads\w*|__syncwarp|__shfl\w*_sync|__ballot_sync|__any_sync|__all_sync)\b")


class CustomOpCompileError(RuntimeError):
    """A custom op's CUDA source did not compile: the compiler's message, naming your file."""


class KernelSource:
    """A custom op's CUDA C: the text the compiler gets (with its `#line`), where it came
    from, and which of its kernels wait at barriers."""

    def __init__(self, op_name, source, caller_file):
        path = os.fspath(source) if isinstance(source, os.PathLike) else None
        if path is None and isinstance(source, str) and "\n" not in source and source.endswith((".cu", ".cuh")):
            path = source
        if path is not None:
            path = os.path.abspath(path)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"custom_op({op_name!r}): source file {path} does not exist")
            with open(path) as f:
                text = f.read()
            self.file, first_line, self.include_dirs = path, 1, (os.path.dirname(path),)
        elif isinstance(source, str):
            text = source
            self.file, first_line = _where_in_file(source, caller_file, op_name)
            self.include_dirs = (os.path.dirname(caller_file),) if caller_file else ()
        else:
            raise TypeError(f"custom_op({op_name!r}): source must be CUDA C text or a path, "
                            f"got {type(source).__name__}")
        self.original = text
        self.first_line = first_line
        # the file name as the compiler will write it (backslashes and quotes escaped)
        quoted = self.file.replace("\\", "\\\\").replace('"', '\\"')
        self.text = f'#line {first_line} "{quoted}"\n{text}'
        digest = hashlib.sha256(self.text.encode()).hexdigest()[:12]
        self.key = f"custom-{op_name}-{digest}.cu"        # what launches name; new text, new key
        self.shown = f"{self.file} (custom op {op_name})"
        self.barrier_kernels = _waiting_kernels(text)

    def line(self, n):
        """Line n of the source as the compiler numbers it (for messages)."""
        return self.first_line + n - 1


def _where_in_file(text, caller_file, op_name):
    """(file, line) where a source string starts in the file that defined it, found by
    its text (a triple-quoted string is stored there verbatim); else a stand-in name,
    numbered from the string's first line."""
    if caller_file and os.path.isfile(caller_file):
        try:
            with open(caller_file) as f:
                content = f.read()
        except (OSError, UnicodeDecodeError):
            content = ""
        at = content.find(text) if text else -1
        if at >= 0 and content.find(text, at + 1) < 0:
            return os.path.abspath(caller_file), content.count("\n", 0, at) + 1
    return f"<source of custom op {op_name}>", 1


def _waiting_kernels(text):
    """Names of the __global__ functions whose bodies name a barrier or warp primitive
    (a first look, for check_op; the emulator's own analysis decides how they run)."""
    from .runtime.emu_source import blank_comments_and_strings
    text = blank_comments_and_strings(text)
    text = re.sub(r"__launch_bounds__\s*\([^)]*\)", lambda m: " " * len(m.group()), text)
    names = []
    for m in re.finditer(r"__global__\s+[\w\s*&]*?(\w+)\s*\(", text):
        body_start = text.find("{", m.end())
        depth, i = 0, body_start
        while 0 <= i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        if BARRIER_CALLS.search(text[body_start:i]):
            names.append(m.group(1))
    return names


class CustomOp(Op):
    """The base of every custom op: defaults for what the user leaves out, `launch`, and
    calling the op like a function."""
    saves = ("inputs",)
    source = None            # a KernelSource, set by custom_op()
    runs_tensor_ops = False

    def infer(self, *metas, **attrs):
        if self.float_only:
            self.check_float(*metas)
        self.check_same_dtype(*metas)
        return Meta(metas[0].shape, metas[0].dtype)

    def launch(self, gpu, kernel_name, grid, block, *args, shared=0):
        """gpu.launch for one of this op's kernels: what your launch function calls."""
        if kernel_name not in self.kernels:
            raise ValueError(f"custom op {self.name}: kernel {kernel_name!r} is not one of its kernels "
                             f"{self.kernels} (name it in custom_op(..., kernels=...))")
        try:
            gpu.launch(self.source.key, kernel_name, grid, block, *args, shared=shared)
        except Exception as e:
            if type(e).__name__ not in ("CompileError", "SourceError"):
                raise
            raise CustomOpCompileError(
                f"custom op {self.name}: the CUDA source from {self.source.file} did not compile for "
                f"{gpu.name}:\n{_compiler_lines(str(e), self.source.file)}") from None

    def __call__(self, *tensors, **attrs):
        from .autograd import apply
        return apply(self.name, *tensors, **attrs)


def _compiler_lines(message, file):
    """The compiler's own message, from its first line about `file` (the emulator's
    preamble names only its generated file)."""
    lines = message.splitlines()
    for i, line in enumerate(lines):
        if file in line:
            return "\n".join(lines[i:])
    return message


def custom_op(name, source, kernels, *, replace=True):
    """Class decorator: register the class as op `name` with CUDA C `source` (text or a
    path) whose `kernels` (names of __global__ functions) its launch functions launch.
    Returns the registered op, which you call like a function (`op.definition` is the
    class as you wrote it, to register variants of it). Registering a custom op
    under the same name again (re-running a notebook cell) replaces it; a built-in op's
    name is refused."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"custom_op: name must be an identifier, got {name!r}")
    kernels = (kernels,) if isinstance(kernels, str) else tuple(kernels)
    if not kernels or not all(isinstance(k, str) and k.isidentifier() for k in kernels):
        raise ValueError(f"custom_op({name!r}): kernels must name the source's __global__ functions, got {kernels!r}")
    caller = inspect.currentframe().f_back.f_code.co_filename    # the file that wrote the source string
    kernel_source = KernelSource(name, source, caller)
    missing = [k for k in kernels if not re.search(rf"\b{re.escape(k)}\s*\(", kernel_source.original)]
    if missing:
        raise ValueError(f"custom_op({name!r}): kernel(s) {missing} do not appear in the source "
                         f"({kernel_source.file})")

    def decorate(cls):
        previous = REGISTRY.get(name)
        if previous is not None and not (replace and isinstance(previous, CustomOp)):
            raise ValueError(f"custom_op: {name!r} is already a built-in op; choose another name")
        for required in ("forward", "backward", "gpu_forward", "gpu_backward"):
            if not callable(getattr(cls, required, None)):
                if required.endswith("backward") and getattr(cls, "differentiable", True) is False:
                    continue
                raise TypeError(f"custom op {name}: the class must define {required}() (the numpy reference "
                                "forward/backward and the launch functions gpu_forward/gpu_backward)")
        op_class = type(cls.__name__, (cls, CustomOp), {
            "name": name, "kernels": kernels, "source": kernel_source, "definition": cls,
            "__module__": cls.__module__, "__doc__": cls.__doc__})
        if "n_inputs" not in vars(cls):
            op_class.n_inputs = _positional_count(cls.forward)
        op = op_class()
        op.saves_inputs, op.saves_output = "inputs" in op.saves, "output" in op.saves
        CUSTOM_SOURCES[kernel_source.key] = kernel_source
        REGISTRY[name] = op
        return op
    return decorate


def _positional_count(forward):
    """Inputs of forward(self, ctx, *inputs, **attrs): None when it takes *args."""
    params = list(inspect.signature(forward).parameters.values())[2:]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(1 for p in params if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty)


def unregister(name):
    """Remove custom op `name` from the registry (tests, notebooks)."""
    op = REGISTRY.get(name)
    if not isinstance(op, CustomOp):
        raise ValueError(f"unregister: {name!r} is not a custom op")
    del REGISTRY[name]


custom_op.Meta = Meta                # what infer() returns
custom_op.Domain = Domain            # `domain = tg.custom_op.Domain(-3, 3)` without another import
custom_op.unregister = unregister
