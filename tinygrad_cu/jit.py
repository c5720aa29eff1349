"""`tg.jit`: capture a training step once, then replay it without the framework.

The idea behind TinyJit and CUDA graphs. Eager tinygrad_cu spends most of a small step
in Python: building tensors, inferring shapes, recording the graph, walking it
backwards. None of that changes from one step to the next, only the data does. So:

    @tg.jit
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for x, y in loader:
        loss = step(x, y)            # call 1: eager; call 2: eager while recording; then replay

* Call 1 runs eagerly: kernels compile, the optimiser makes its state, the memory pool
  fills.
* Call 2 runs eagerly too, while this thread's devices report every call they make
  (tinygrad_cu/device/recording.py): on `cpu`, each numpy reference call with its input
  and output buffers; on `emu`/`cuda`, each kernel launch with its argument list, and
  each memset and device copy.
* Later calls replay that tape with the new inputs' buffers swapped in: no Tensor
  objects, no shape inference, no graph, no backward walk. On a GPUDevice each step is one
  prepared launch of a recorded argument list.

Rules (docs/jit.md has the long form):
* Results equal eager results (tests/test_jit.py checks every device to 1e-6).
* Arguments are tensors (or lists/tuples of them) and hashable Python values. A new
  shape, dtype, device or Python value is a new signature: it is captured anew (a few
  signatures are kept, the oldest dropped).
* A function whose Python depends on tensor values (`.item()`, `.numpy()`, `if t:`),
  or that makes tensors from host data inside (`tg.tensor(...)`, a numpy dropout mask),
  is refused with JitError while it is captured: replay could not reproduce it.
* Gradients must be zeroed inside the function (`opt.zero_grad()`), else they would
  accumulate into a buffer the tape does not own: refused, with that advice.
* Optimiser steps are captured; their hyperparameters (lr, Adam's step count) are read
  again at every replay, so schedulers and Adam's bias correction stay right.
* Outputs are the same buffers on every replay (as with CUDA graphs and TinyJit): a
  returned loss is overwritten by the next call; `.item()` it (or copy it) before then.
  They carry no graph (`requires_grad` is False).
* If a tensor the tape reads was given a new buffer since the capture (`load_state_dict`,
  `Module.to`, `assign` outside the function), the next call captures again.
"""
import functools
import warnings
from collections import OrderedDict

import numpy as np

from .device import recording
from .tensor import Tensor


class JitError(RuntimeError):
    """The function cannot be captured (it reads tensor values, uploads host data, ...)."""


def jit(fn):
    """Decorator: `tg.jit(step)` captures `step` on its second call and replays it after."""
    return Jit(fn)


class Jit:
    MAX_SIGNATURES = 8

    def __init__(self, fn):
        self.fn = fn
        self._entries = OrderedDict()      # signature -> _Entry
        functools.update_wrapper(self, fn)

    def __call__(self, *args, **kwargs):
        if recording.current() is not None:            # inside another capture: inline
            return self.fn(*args, **kwargs)
        tensors, signature = _signature(args, kwargs)
        entry = self._entries.get(signature)
        if entry is None:
            entry = self._entries[signature] = _Entry()
            if len(self._entries) > self.MAX_SIGNATURES:
                self._entries.popitem(last=False)
        program = entry.program
        if program is not None:
            stale = program.stale()
            if stale is None:
                return program.replay(tensors)
            warnings.warn(f"tg.jit({self.__name__}): {stale}; capturing the step again", stacklevel=2)
            entry.program = None
        elif entry.calls == 0:
            entry.calls = 1
            return self.fn(*args, **kwargs)
        capture = Capture(tensors)
        with recording.recording(capture):
            out = self.fn(*args, **kwargs)
        entry.program = capture.finish(out)
        return out

    @property
    def captured(self):
        """How many signatures have a captured tape (for tests and curious users)."""
        return sum(e.program is not None for e in self._entries.values())

    def reset(self):
        """Forget every tape: the next call runs eagerly again."""
        self._entries.clear()

    def __get__(self, obj, objtype=None):             # @tg.jit on a method
        return self if obj is None else functools.partial(self.__call__, obj)


class _Entry:
    __slots__ = ("calls", "program")

    def __init__(self):
        self.calls, self.program = 0, None


def _signature(args, kwargs):
    """(the tensor arguments in order, a hashable key of everything that shapes the tape:
    each tensor's shape, dtype and device, which arguments are the same tensor, and the
    other arguments' values)."""
    tensors, first = [], {}

    def key_of(value):
        if isinstance(value, Tensor):
            if id(value) in first:
                return ("same", first[id(value)])
            first[id(value)] = len(tensors)
            tensors.append(value)
            return ("tensor", value.shape, value.dtype.str, value.device)
        if isinstance(value, (list, tuple)):
            return (type(value).__name__,) + tuple(key_of(v) for v in value)
        try:
            hash(value)
        except TypeError:
            raise TypeError(f"tg.jit: argument of type {type(value).__name__} is neither a tensor nor "
                            "hashable; pass data as tensors") from None
        return ("value", type(value).__name__, value)

    key = tuple(key_of(a) for a in args) + tuple((k, key_of(v)) for k, v in sorted(kwargs.items()))
    return tensors, key


# --- capture ---------------------------------------------------------------------------
class Capture:
    """The recorder devices report to while a call is captured (see recording.py).

    Python-level effects the tape must repeat are noted too: which leaf tensors got a
    `.grad` and which were given new buffers (`assign`), and which tensors from outside
    the call were read (so that a later change of their buffer is noticed)."""

    def __init__(self, inputs):
        self.inputs = inputs
        self.device = None
        self.tape = None
        self.guards = {}              # id(tensor) -> (tensor, buffer) read from outside
        self.grad_writes = {}         # id(tensor) -> (tensor, buffer)
        self.rebinds = {}             # id(tensor) -> (tensor, buffer)
        self.hyper_source = None      # set by the optimiser just before an update
        for t in inputs:
            self.tape_for(t._dev)

    # --- what devices report (recording.py) ------------------------------------------------
    def tape_for(self, device):
        """The tape of `device`'s calls: a CPUTape or a GPUTape, made on first use."""
        if self.tape is None:
            self.device = device
            self.tape = CPUTape(self.inputs) if device.name == "cpu" else GPUTape(device, self.inputs)
        elif device is not self.device:
            raise JitError(f"tg.jit: the function uses devices {self.device.name} and {device.name}; "
                           "a captured step runs on one device")
        return self.tape

    def begin_update(self, device, op, bufs, attrs):
        source, self.hyper_source = self.hyper_source, None
        self.tape_for(device).begin_update(op, bufs, attrs, source)

    def end_update(self, device):
        self.tape_for(device).end_update()

    def upload(self, device, what):
        raise JitError(f"tg.jit: the function copies host data to {device.name} while it is captured "
                       f"({what}); a replay would repeat the same data. Make such tensors outside and "
                       "pass them as arguments (random masks such as dropout's cannot be captured yet)")

    def download(self, device, what):
        raise JitError(f"tg.jit: the function reads tensor values on the host while it is captured "
                       f"({what}: .item(), .numpy(), .tolist(), bool(tensor)); Python control flow that "
                       "depends on values cannot be replayed. Return the tensor and read it after the call")

    # --- what autograd and Tensor report -----------------------------------------------------
    def tensors_read(self, tensors):
        tape = self.tape
        for t in tensors:
            if tape is not None and tape.is_external(t.buf) and id(t) not in self.guards:
                self.guards[id(t)] = (t, t.buf)

    def grad_written(self, t, buf, previous):
        if previous is not None and self.tape.is_external(previous):
            raise JitError(f"tg.jit: the gradient of a tensor {t.shape} accumulates into .grad from before "
                           "the call; call optimizer.zero_grad() (or model.zero_grad()) inside the function")
        self.grad_writes[id(t)] = (t, buf)

    def rebound(self, t, buf):
        self.rebinds[id(t)] = (t, buf)

    # --- the result ------------------------------------------------------------------------
    def finish(self, out):
        if self.tape is None:
            raise JitError("tg.jit: the function ran nothing on any device; there is nothing to capture")
        tape = self.tape
        grad_writes = [(t, tape.ref(buf)) for t, buf in self.grad_writes.values()]
        rebinds = [(t, tape.ref(buf)) for t, buf in self.rebinds.values()]
        outputs = tape.output_template(out)
        return Program(self.device, tape.finish(), outputs, grad_writes, rebinds, list(self.guards.values()))


class Program:
    """A captured call: the device tape, the outputs' shape, the Python effects to redo."""

    def __init__(self, device, run_tape, outputs, grad_writes, rebinds, guards):
        self.device, self.run_tape, self.outputs = device, run_tape, outputs
        self.grad_writes, self.rebinds, self.guards = grad_writes, rebinds, guards

    def stale(self):
        """Why the tape no longer describes the step (None if it does)."""
        for t, buf in self.guards:
            if t.buf is not buf:
                return f"a tensor {t.shape} read by the step was given a new buffer since it was captured"
        return None

    def replay(self, inputs):
        resolve = self.run_tape([t.buf for t in inputs])
        device = self.device
        for t, ref in self.grad_writes:
            t.grad = Tensor._from_buffer(resolve(ref), device)
        for t, ref in self.rebinds:
            t.buf = resolve(ref)
        return _build(self.outputs, resolve, device)


def _build(template, resolve, device):
    kind = template[0]
    if kind == "tensor":
        return Tensor._from_buffer(resolve(template[1]), device)
    if kind in ("list", "tuple"):
        items = [_build(t, resolve, device) for t in template[1]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {k: _build(t, resolve, device) for k, t in template[1].items()}
    return template[1]


class _Tape:
    """What both tapes share: mapping the function's outputs to tape references."""

    def output_template(self, out):
        if isinstance(out, Tensor):
            return ("tensor", self.ref(out.buf))
        if isinstance(out, (list, tuple)):
            return (type(out).__name__, [self.output_template(o) for o in out])
        if isinstance(out, dict):
            return ("dict", {k: self.output_template(v) for k, v in out.items()})
        return ("value", out)


# --- cpu: numpy reference calls over slots ---------------------------------------------------
class CPUTape(_Tape):
    """Each recorded call reads and writes numbered slots. Slot values are the inputs'
    arrays, constants (arrays from before the call: parameters, optimiser state), and the
    arrays the calls return. Replay fills the input slots and runs the calls in order."""

    def __init__(self, inputs):
        self.slot_of = {}          # id(array) -> slot
        self.keep = []             # every array seen: ids stay unique while capturing
        self.constants = []        # slot -> constant array, or None
        self.made = set()          # slots written by the tape
        self.steps = []
        self.updating = None
        self.input_slots = [self._new(t.buf, made=True) for t in inputs]

    def _new(self, array, made, constant=None):
        slot = len(self.constants)
        self.slot_of[id(array)] = slot
        self.keep.append(array)
        self.constants.append(constant)
        if made:
            self.made.add(slot)
        return slot

    def _read(self, array):
        slot = self.slot_of.get(id(array))
        if slot is None:                       # from before the call: a constant
            slot = self._new(array, made=False, constant=array)
        return slot

    def is_external(self, array):
        slot = self.slot_of.get(id(array))
        return slot is None or slot not in self.made

    def ref(self, array):
        return self._read(array)

    # reports from CPUDevice
    def cpu_forward(self, op, ctx, xs, attrs, out):
        ins = [self._read(x) for x in xs]
        self.steps.append(_cpu_forward_step(op, ctx, ins, attrs, self._new(out, made=True)))

    def cpu_backward(self, op, ctx, grad, attrs, grads):
        g = self._read(grad)                  # before the outputs: a gradient may be grad itself
        outs = [None if gi is None else self._new(gi, made=True) for gi in grads]
        self.steps.append(_cpu_backward_step(op, ctx, g, attrs, outs))

    def cpu_fill(self, shape, value, dtype, out):
        slot = self._new(out, made=True)

        def fill(slots):
            slots[slot] = np.full(shape, value, dtype)
        self.steps.append(fill)

    def cpu_copy(self, src, out):
        i, o = self._read(src), self._new(out, made=True)

        def copy(slots):
            slots[o] = np.array(slots[i], order="C", copy=True)
        self.steps.append(copy)

    def begin_update(self, op, bufs, attrs, source):
        self.steps.append(_cpu_update_step(op, [self._read(b) for b in bufs], attrs, source))

    def end_update(self):
        pass

    def finish(self):
        constants, input_slots, steps = self.constants, self.input_slots, self.steps
        self.keep, self.slot_of = None, None          # ids only mattered while capturing

        def run(input_arrays):
            slots = constants.copy()
            for s, a in zip(input_slots, input_arrays):
                slots[s] = a
            for step in steps:
                step(slots)
            return slots.__getitem__
        return run


def _cpu_forward_step(op, ctx, ins, attrs, o):
    forward, saves_inputs, saves_output = op.forward, op.saves_inputs, op.saves_output

    def step(slots):
        xs = [slots[i] for i in ins]
        out = forward(ctx, *xs, **attrs)
        if out.__class__ is not np.ndarray:
            out = np.asarray(out)
        if saves_inputs:
            ctx.inputs = xs
        if saves_output:
            ctx.output = out
        slots[o] = out
    return step


def _cpu_backward_step(op, ctx, g, attrs, outs):
    backward = op.backward

    def step(slots):
        for o, gi in zip(outs, backward(ctx, slots[g], **attrs)):
            if o is not None:
                slots[o] = gi if gi.__class__ is np.ndarray else np.asarray(gi)
    return step


def _cpu_update_step(op, ins, attrs, source):
    update = op.update

    def step(slots):
        update(*[slots[i] for i in ins], **(source() if source is not None else attrs))
    return step


# --- emu / cuda: kernel launches with recorded argument lists ------------------------------
class GPUTape(_Tape):
    """Each recorded launch keeps its prepared kernel, grid, block, driver-level
    argument list and shared memory size; the device buffers behind the arguments are
    kept alive by the tape (so the pool cannot hand them to anyone else). Arguments that
    are the call's input buffers are patched with the new inputs' addresses on replay."""

    def __init__(self, device, inputs):
        self.device = device
        self.input_address = {}             # address -> index of the input
        for i, t in enumerate(inputs):
            self.input_address.setdefault(int(t.buf.alloc), i)
        self.input_allocs = {id(t.buf.alloc) for t in inputs}
        self.made = set()                   # id(allocation) of buffers the tape writes
        self.keep = []                      # allocations the tape reads or writes
        self.steps = []                     # (kind, payload)
        self.update = None                  # the update being recorded
        record = device._error_record
        self.error_address = None if record is None else int(record.alloc)
        self.uses_error_record = False

    def is_external(self, buf):
        return id(buf.alloc) not in self.made and id(buf.alloc) not in self.input_allocs

    def ref(self, buf):
        return buf

    def _patches(self, kernel, args):
        patches = []
        for pos, (kind, value) in enumerate(zip(kernel.format, args)):
            if kind == "P":
                index = self.input_address.get(value)
                if index is not None:
                    patches.append((pos, index))
                if value == self.error_address:
                    self.uses_error_record = True
        return tuple(patches)

    def _target(self):
        return self.update[3] if self.update is not None else self.steps

    def gpu_launch(self, kernel, grid, block, driver_args, shared, buffers):
        for b in buffers:
            if id(b.alloc) not in self.input_allocs:
                self.keep.append(b.alloc)
        if self.error_address is None and self.device._error_record is not None:
            self.error_address = int(self.device._error_record.alloc)
        self._target().append(("launch", (kernel, grid, block, list(driver_args), shared,
                                          self._patches(kernel, driver_args))))

    def gpu_allocated(self, buf):
        """A buffer allocated during the capture: the tape owns it."""
        self.made.add(id(buf.alloc))

    def gpu_memset(self, dest, value, nbytes):
        self.keep.append(dest)
        self._target().append(("memset", (dest, value, nbytes)))

    def gpu_copy(self, dest, src, nbytes):
        self.keep += [dest, src]
        self._target().append(("copy", (dest, src, nbytes)))

    def begin_update(self, op, bufs, attrs, source):
        self.update = (op, list(bufs), dict(attrs), [], source)

    def end_update(self):
        op, bufs, attrs, launches, source = self.update
        self.update = None
        self.steps.append(("update", (op, bufs, attrs, launches, source)))

    def finish(self):
        device, uses_error_record = self.device, self.uses_error_record
        steps = [self._replayable(kind, payload) for kind, payload in self.steps]
        keep = self.keep

        def run(input_bufs):
            keep  # noqa: B018  (the tape's buffers live as long as the tape)
            addresses = [int(b.alloc) for b in input_bufs]
            for step in steps:
                step(addresses)
            if uses_error_record:                    # as eager: the next .item() checks it
                device._errors_pending = True
            return _identity
        return run

    def _replayable(self, kind, payload):
        """A function of the new inputs' addresses that repeats one recorded step."""
        device = self.device
        if kind == "launch":
            return self._replayable_launch(*payload)
        if kind == "memset":
            return lambda addresses: device.memset_d8(*payload)
        if kind == "copy":
            return lambda addresses: device.memcpy_dtod(*payload)
        op, bufs, attrs, launches, source = payload
        inner = [self._replayable(k, p) for k, p in launches]

        def update(addresses):
            hyper = source() if source is not None else attrs
            if hyper == attrs:
                for step in inner:
                    step(addresses)
            else:                                   # a new lr, Adam's next step: launch anew
                op.gpu_update(device, *bufs, **hyper)
        return update

    def _replayable_launch(self, kernel, grid, block, args, shared, patches):
        device = self.device
        bind = getattr(kernel.function, "bind", None)
        if bind is None or device.sync_every_launch:
            # PyCUDA (to 2026.1) has no CUDA graph API: one prepared_call per launch
            def launch(addresses):
                call_args = args
                if patches:
                    call_args = args.copy()
                    for pos, index in patches:
                        call_args[pos] = addresses[index]
                device.launch_prepared(kernel, grid, block, call_args, shared)
            return launch
        bound = bind(grid, block, *args, shared_size=shared)   # the emulator: packed once

        def bound_launch(addresses):
            for pos, index in patches:
                bound.set_address(pos, addresses[index])
            try:
                bound()
            except Exception as e:
                raise RuntimeError(f"{device.name}: replayed launch of kernel {kernel.name} from "
                                   f"ops/{kernel.source_file} with grid={grid} block={block} failed: {e}") from e
        return bound_launch


def _identity(buf):
    return buf
