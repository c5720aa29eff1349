"""`tg.check_op(name, *inputs)`: one call that checks an op's kernels, for a custom op
(docs/custom_ops.md) or a built-in one.

On random inputs (shapes are sampled in the op's `domain`; arrays are used as given):
  1. the numpy reference backward against central finite differences (tg.gradcheck,
     float64, on cpu): a wrong reference would make every later comparison wrong too;
  2. when a kernel of the op waits at barriers: its launches under the emulator's race
     mode (three thread orders, poisoned shared memory: a missing __syncthreads or a
     read of unwritten shared memory), first, since its message names the cause;
  3. the forward kernels against the reference forward, and the backward kernels against
     the reference backward, on the emulator (or `device=`);
  4. the same launches in bounds mode (AddressSanitizer, every buffer at its exact size:
     one element past the end is caught), where the compiler has the sanitizer runtime.
The first failure raises CheckOpError (an AssertionError) saying which check, which
input's gradient and the first mismatching index; otherwise a CheckReport says what ran.
Race and bounds mode build every module a launch function uses in that mode: an op
whose launch code calls gpu.full (movement.cu's fill kernel) compiles that file with
AddressSanitizer once too (minutes on a small machine; cached afterwards).
"""
import functools

import numpy as np

from .op import Context, Meta, get_op

RTOL, ATOL = 2e-4, 2e-5


class CheckOpError(AssertionError):
    """check_op found a kernel (or the reference) wrong."""


class CheckReport:
    """What check_op ran and found: `lines`, printed by str()."""

    def __init__(self, name):
        self.name, self.lines, self.skipped = name, [], []

    def add(self, line):
        self.lines.append(line)

    def skip(self, what, why):
        self.skipped.append(what)
        self.lines.append(f"{what}: skipped ({why})")

    def __str__(self):
        return f"check_op({self.name!r}):\n" + "\n".join("  " + line for line in self.lines)

    __repr__ = __str__


def check_op(name, *inputs, attrs=None, seed=0, device="emu", rtol=RTOL, atol=ATOL, race=None, bounds=True,
             gradcheck=True):
    """Check op `name` (see the module's docstring). `inputs`: one shape (tuple) or
    numpy array per input; `attrs`: the op's keyword attributes. race=None runs race
    mode when a kernel waits at barriers; bounds=True runs bounds mode where available.
    Returns a CheckReport; raises CheckOpError on the first mismatch."""
    from .device import get_device
    op = get_op(name)
    attrs = dict(attrs or {})
    rng = np.random.default_rng(seed)
    arrays = [_sample(op, x, rng) for x in inputs]
    report = CheckReport(name)
    if op.differentiable and gradcheck:
        _check_reference_gradient(op, arrays, attrs, seed)
        report.add("reference backward matches central finite differences (float64)")
    kernel_inputs = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays]
    want = _reference(op, kernel_inputs, attrs, rng)
    gpu = get_device(device)
    waiting = list(getattr(getattr(op, "source", None), "barrier_kernels", ()) or ())
    if race is None:
        race = bool(waiting)
    # race mode first: where a barrier is missing, its message says so, where a plain
    # run would only show wrong numbers
    if race:
        if gpu.name != "emu":
            report.skip("race mode", f"an emulator mode; device is {gpu.name}")
        else:
            _compare(op, _emulator("race"), kernel_inputs, attrs, want, rtol, atol, "race mode")
            report.add(f"race mode: same results under three thread orders with poisoned shared memory "
                       f"(kernels with barriers: {', '.join(waiting) or 'none named'})")
    _compare(op, gpu, kernel_inputs, attrs, want, rtol, atol, "kernels")
    report.add(f"forward{' and backward' if want[1] is not None else ''} kernels match the reference on {gpu.name} "
               f"(rtol={rtol:g}, atol={atol:g})")
    if bounds:
        why = _bounds_unavailable() if gpu.name == "emu" else f"an emulator mode; device is {gpu.name}"
        if why:
            report.skip("bounds mode", why)
        else:
            _compare(op, _emulator("bounds"), kernel_inputs, attrs, want, rtol, atol, "bounds mode")
            report.add("bounds mode: no access outside any buffer (AddressSanitizer, exact-size buffers)")
    return report


def _sample(op, x, rng):
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (tuple, list)) and all(isinstance(n, (int, np.integer)) for n in x):
        d = op.domain
        values = rng.uniform(d.low, d.high, size=tuple(x))
        if d.avoid_zero:      # finite differences must not straddle a kink at 0
            values = np.where(np.abs(values) < 0.05, np.where(values < 0, -0.05, 0.05), values)
        return values
    raise TypeError(f"check_op({op.name!r}): each input is a shape (tuple of ints) or a numpy array, "
                    f"got {type(x).__name__}")


def _check_reference_gradient(op, arrays, attrs, seed):
    from .autograd import apply
    from .gradcheck import gradcheck
    from .tensor import Tensor
    tensors = [Tensor(a.astype(np.float64), dtype=np.float64, requires_grad=True) if a.dtype.kind == "f"
               else Tensor(a, dtype=a.dtype) for a in arrays]
    try:
        gradcheck(lambda *ts: apply(op.name, *ts, **attrs), *tensors, seed=seed)
    except AssertionError as e:
        raise CheckOpError(f"check_op({op.name!r}): the numpy reference backward disagrees with finite "
                           f"differences: {e}") from None


def _needs(arrays):
    return tuple(a.dtype.kind == "f" for a in arrays)


def _reference(op, arrays, attrs, rng):
    """(output, [gradient per input or None], output gradient) from the numpy reference."""
    ctx = Context(_needs(arrays), tuple(Meta(a.shape, a.dtype) for a in arrays))
    out = np.asarray(op.forward(ctx, *arrays, **attrs))
    if not op.differentiable or out.dtype.kind != "f":
        return out, None, None
    ctx.inputs, ctx.output = list(arrays), out
    out_grad = rng.standard_normal(out.shape).astype(out.dtype)
    grads = [None if g is None else np.asarray(g) for g in op.backward(ctx, out_grad, **attrs)]
    return out, grads, out_grad


def _compare(op, gpu, arrays, attrs, want, rtol, atol, check):
    want_out, want_grads, out_grad = want
    where = f"check_op({op.name!r}) {check} on {gpu.name}"
    bufs = [gpu.from_numpy(a) for a in arrays]
    ctx = Context(_needs(arrays), tuple(Meta(a.shape, a.dtype) for a in arrays))
    try:
        out = op.gpu_forward(gpu, ctx, *bufs, **attrs)
        got = gpu.to_numpy(out)
    except Exception as e:
        raise CheckOpError(f"{where}: the forward failed: {e}") from e
    _same(got, want_out, f"{where}: the forward kernel's output", rtol, atol)
    if want_grads is None:
        return
    if op.saves_inputs:
        ctx.inputs = bufs
    if op.saves_output:
        ctx.output = out
    try:
        grads = op.gpu_backward(gpu, ctx, gpu.from_numpy(out_grad), **attrs)
        grads = [None if g is None else gpu.to_numpy(g) for g in grads]
    except Exception as e:
        raise CheckOpError(f"{where}: the backward failed: {e}") from e
    if len(grads) != len(want_grads):
        raise CheckOpError(f"{where}: the backward returned {len(grads)} gradient(s), the reference "
                           f"{len(want_grads)}")
    for k, (g, w) in enumerate(zip(grads, want_grads)):
        if (g is None) != (w is None):
            raise CheckOpError(f"{where}: the gradient of input {k} is {'None' if g is None else 'given'} from "
                               f"the kernels but {'None' if w is None else 'given'} from the reference")
        if w is not None:
            _same(g, w, f"{where}: the backward kernel's gradient of input {k} (shape {tuple(w.shape)})",
                  rtol, atol)


def _same(got, want, what, rtol, atol):
    if got.shape != want.shape or got.dtype != want.dtype:
        raise CheckOpError(f"{what} is {tuple(got.shape)} {got.dtype}, the reference {tuple(want.shape)} {want.dtype}")
    close = np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    if not close.all():
        index = tuple(int(i) for i in np.argwhere(~close)[0])
        raise CheckOpError(f"{what} differs from the reference at index {index}: kernel {got[index]!r}, "
                           f"reference {want[index]!r} ({int((~close).sum())} of {close.size} elements differ; "
                           f"rtol={rtol:g}, atol={atol:g})")


class _ExactAllocator:
    """Device memory of the size asked for, not a pool's rounded-up block. Bounds mode:
    the sanitizer's redzone starts right after each buffer's last byte. Race mode
    compares the whole allocation behind each argument between thread orders: then that
    is the buffer itself (rounded up to 8 bytes, a whole number of elements)."""
    active_blocks = held_blocks = 0

    def __init__(self, granule):
        self.granule = granule

    def allocate(self, nbytes):
        from .runtime import emu
        return emu.mem_alloc(-(-nbytes // self.granule) * self.granule)


@functools.lru_cache(maxsize=None)
def _emulator(mode):
    """An emulator device whose modules are built in `mode` ("race", "bounds"); made
    once, so each mode compiles an op's source once per process."""
    from .device.gpu import GPUDevice
    from .runtime import emu
    pool = _ExactAllocator(1 if mode == "bounds" else 8)
    return GPUDevice("emu", emu, functools.partial(emu.SourceModule, check=mode), memory_pool=pool)


def _bounds_unavailable():
    from .runtime import emu_bounds, emu_toolchain
    if emu_toolchain.asan_preloaded():
        return None
    if emu_bounds.asan_runtime() is None:
        return f"{emu_toolchain.compiler()} has no AddressSanitizer runtime here"
    return None
