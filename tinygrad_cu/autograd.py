"""Recording ops into a graph, and running the chain rule backwards through it.

`apply(op_name, *tensors, **attrs)` is the single door through which every op runs:
it checks devices, shapes and dtypes, runs the op on the tensors' device, and, if any
input needs a gradient, records a `Node` (PyTorch's grad_fn) on the result.

`backward(root, grad)` walks the recorded nodes in reverse creation order and calls
each op's backward. Every node gets a sequence number when it is made, and its inputs
existed before it, so "newest first" is a reverse topological order of the graph
(PyTorch's autograd engine orders its work the same way). The walk checks, edge by edge,
that every input is older than the op that reads it, which proves the graph acyclic.

The graph is also exported to networkx and checked there (a DAG, every input present,
in that order: tinygrad_cu.computation_graph) whenever backward meets a graph *structure*
it has not checked before, so a training loop that runs the same graph pays it once; set
TINYGRAD_CU_CHECK_GRAPH=1 (or `autograd.CHECK_EVERY_GRAPH = True`) to check every backward.
"""
import itertools
import os
import threading

from . import computation_graph as graph_mod, errors
# grad mode lives in its own module; these names stay importable from here
from .grad_mode import _mode as _grad_mode, enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401,E501
from .device.recording import state as recording
from .op import Context, Meta, REGISTRY, get_op
from .version_counter import share_counter

Tensor = None          # set by tensor.py when it is imported (it imports this module)

CHECK_EVERY_GRAPH = os.environ.get("TINYGRAD_CU_CHECK_GRAPH", "0") == "1"
_checked_structures = set()       # structure keys of graphs networkx has checked
MAX_CHECKED_STRUCTURES = 4096
_sequence = itertools.count()     # node creation order (next() is atomic under the GIL)


class Node:
    """The op that produced a tensor: its inputs (Tensors), attributes and context.
    `seq` orders nodes by creation: a node's inputs always have smaller numbers."""
    __slots__ = ("op", "attrs", "inputs", "ctx", "seq")

    def __init__(self, op, attrs, inputs, ctx):
        self.op, self.attrs, self.inputs, self.ctx = op, attrs, inputs, ctx
        self.seq = next(_sequence)

    def name(self):
        return "".join(p.capitalize() for p in self.op.name.split("_")) + "Backward"

    def __repr__(self):
        return f"<{self.name()}>"


class InplaceNode(Node):
    """The node an in-place op (x.add_(y)) gives x (tinygrad_cu/tensor_inplace.py): its
    first input is the stand-in for x's value before the write, which holds x's old node."""
    __slots__ = ()


def apply(op_name, *inputs, **attrs):
    """Run op `op_name` on tensors `inputs` and record it for backward if needed."""
    op = REGISTRY.get(op_name) or get_op(op_name)
    if not inputs:
        raise TypeError(f"{op_name}: expected tensor input(s), got none")
    return run(op, inputs, attrs)


def run(op, inputs, attrs):
    """`apply` with the op already looked up: the hot path of every Tensor method, kept
    lean (docs/autograd.md, "What one op call costs"): one loop over the inputs, shape
    inference from a cache, one Context, and a Node only when the call is recorded."""
    device = inputs[0]._dev
    key, bufs, needs = [op], [], False
    for t in inputs:
        if t._dev is not device:
            raise RuntimeError(f"{op.name}: all inputs must be on the same device, got "
                               f"{', '.join(t.device for t in inputs)}")
        buf = t.buf
        bufs.append(buf)
        key += (buf.shape, buf.dtype)
        needs = needs or t.requires_grad
    if attrs:
        key.append(tuple(attrs.items()))
    try:
        metas, out_meta = _inferred[tuple(key)]
    except (KeyError, TypeError):     # TypeError: unhashable attributes (index arrays)
        metas, out_meta = _infer(op, bufs, attrs, key)
    record = needs and op.differentiable and _grad_mode.enabled and out_meta.dtype.kind == "f"
    if recording.recorder is not None:                 # tg.jit is capturing this thread
        recording.recorder.tensors_read(inputs)
    ctx = Context(tuple([t.requires_grad for t in inputs]) if record else _NO_GRADS[len(inputs)], metas)
    out = device.forward(op, ctx, bufs, attrs)
    if out.shape != out_meta.shape or out.dtype != out_meta.dtype:
        raise RuntimeError(f"{op.name} on {device.name} returned {tuple(out.shape)} {out.dtype}, "
                           f"expected {tuple(out_meta.shape)} {out_meta.dtype} (a bug in the op)")
    result = Tensor._from_buffer(out, device, record)
    if record:
        if op.saves_inputs:
            ctx.inputs = bufs
        if op.saves_output:
            ctx.output = out
        if op.saves_inputs or op.saves_output:       # backward must find them unmodified
            ctx.versions = tuple([0 if t._vc is None else t._vc.value for t in inputs]) + (0,)
        result._node = Node(op, attrs, inputs, ctx)
    if op.shares_input_storage:
        share_counter(result, inputs[0])
    return result


class _NoGrads(dict):
    def __missing__(self, n):
        self[n] = (False,) * n
        return self[n]


_NO_GRADS = _NoGrads()


_inferred = {}            # (op, shapes and dtypes, attrs) -> (input metas, output meta)
MAX_INFERRED = 1 << 14


def _infer(op, bufs, attrs, key):
    """The op's own shape and dtype inference (`Op.infer`), remembered by `key` (the op,
    the inputs' shapes and dtypes, the attributes): a training loop calls every op with
    the same shapes each step. Calls whose attributes cannot be hashed are not cached."""
    if op.n_inputs is not None and len(bufs) != op.n_inputs:
        raise TypeError(f"{op.name}: expected {op.n_inputs} tensor input(s), got {len(bufs)}")
    metas = tuple([Meta(b.shape, b.dtype) for b in bufs])
    try:
        found = metas, op.infer(*metas, **attrs)
    except (ValueError, TypeError) as e:    # also RuntimeError, as PyTorch raises (errors.py)
        typed = errors.as_op_error(e)
        if typed is e:
            raise
        raise typed.with_traceback(e.__traceback__) from None
    try:
        key = tuple(key)
        hash(key)
    except TypeError:
        return found
    if len(_inferred) >= MAX_INFERRED:
        _inferred.clear()
    _inferred[key] = found
    return found


class _AfterBackward(threading.local):
    def __init__(self):
        self.callbacks = []


_after_backward = _AfterBackward()


def queue_after_backward(callback):
    """Call `callback()` once, at the end of this thread's next backward(), after every
    leaf's .grad is written (PyTorch's engine has queue_callback for this): the seam
    DistributedDataParallel uses to all-reduce the gradients. The engine deposits leaf
    gradients only after the whole walk, so there is no earlier point per parameter."""
    _after_backward.callbacks.append(callback)


def _accumulate(device, a, b):
    if a is None:
        return b
    add = REGISTRY["add"]
    return device.forward(add, Context((False, False), ()), [a, b], {})


def backward(root, grad=None, retain_graph=False):
    """Reverse-mode autodiff from `root` (see Tensor.backward for the semantics)."""
    device = root._dev
    if not root.requires_grad:
        raise RuntimeError(f"backward: the tensor of shape {root.shape} does not require grad "
                           "and has no grad_fn (did you forget requires_grad=True, or use no_grad?)")
    if grad is None:
        if root.numel() != 1:
            raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs, "
                               f"got shape {root.shape}; pass a gradient of that shape")
        seed = device.full(root.shape, 1.0, root.dtype)     # made on the device: nothing uploaded
    else:
        if not isinstance(grad, Tensor):
            grad = Tensor(grad, dtype=root.dtype, device=root.device)
        if grad.shape != root.shape or grad.dtype != root.dtype or grad._dev is not device:
            raise RuntimeError(f"backward: gradient {grad.shape} {grad.dtype} on {grad.device} does not "
                               f"match the output {root.shape} {root.dtype} on {root.device}")
        seed = grad.buf

    work, leaves, structure = _collect(root)
    if CHECK_EVERY_GRAPH or structure not in _checked_structures:
        _check_with_networkx(root, work)
        if len(_checked_structures) >= MAX_CHECKED_STRUCTURES:
            _checked_structures.clear()
        _checked_structures.add(structure)

    grads = {id(root): seed}
    ran = []
    for _, out_id, node, out in work:
        out_grad = grads.pop(out_id, None)
        if out_grad is None:
            continue                                  # branch with no gradient flowing
        ctx = node.ctx
        if ctx.versions is not None:
            _check_saved_versions(node, out)
        in_grads = device.backward(node.op, ctx, out_grad, node.attrs)
        for t, meta, gi, need in zip(node.inputs, ctx.input_metas, in_grads, ctx.needs_input_grad):
            if not need or gi is None:
                continue
            if gi.shape != meta.shape:
                raise RuntimeError(f"{node.op.name} backward returned a gradient of shape "
                                   f"{tuple(gi.shape)} for an input of shape {meta.shape} (op bug)")
            key = id(t)
            grads[key] = _accumulate(device, grads.get(key), gi)
        if not retain_graph:
            ctx.free()
            ran.append(node)
    deposited = set() if grad is None else {_storage(seed)}
    for t in leaves:
        g = grads.pop(id(t), None)
        if g is not None:
            # one buffer may reach two leaves (a + b hands both the same gradient on cpu)
            # or be the caller's `grad`: each .grad gets its own, as in-place ops may follow
            if _storage(g) in deposited:
                g = device.copy(g)
            deposited.add(_storage(g))
            _deposit_leaf_grad(t, g)
    # Release the graph as PyTorch does: a node keeps no inputs once it ran, so every
    # intermediate tensor (and its device memory) dies now by reference counting, even
    # while `root` (and its grad_fn) is still alive. Done after the walk, so that no
    # tensor whose id keys `grads` can die, and its id be reused, during it.
    for node in ran:
        node.inputs = ()
    if _after_backward.callbacks:
        callbacks, _after_backward.callbacks = _after_backward.callbacks, []
        for callback in callbacks:
            callback()


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """tg.autograd.grad, PyTorch's torch.autograd.grad: the gradients of `outputs` with
    respect to `inputs`, returned, .grad untouched (tinygrad_cu/autograd_grad.py; imported
    on first use, so that this module does not import it)."""
    from .autograd_grad import grad as functional_grad
    return functional_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused)


def _collect(root):
    """The nodes a gradient can flow through from `root`, newest first, the leaves that
    receive gradients, and a key of the graph's structure.

    Walks the recorded inputs once. Every edge is checked to run from an older node to a
    newer one: if all do, sorting by sequence number is a topological order and the graph
    has no cycle (a graph edited by hand, or corrupted, fails here)."""
    work, leaves, structure = [], [], []
    index = {id(root): 0}
    stack = [root]
    while stack:
        t = stack.pop()
        node = t._node
        if node is None:
            leaves.append(t)
            structure.append(None)
            continue
        if node.ctx.freed:
            raise _freed_error(node)
        seq = node.seq
        work.append((seq, id(t), node, t))
        links = [node.op]
        for x in node.inputs:
            producer = x._node
            if producer is not None and producer.seq >= seq:
                x = _input_as_used(node, x)
                producer = x._node
            if not x.requires_grad:
                links.append(-1)
                continue
            key = id(x)
            position = index.get(key)
            if position is None:
                position = index[key] = len(index)
                stack.append(x)
            links.append(position)
        structure.append(tuple(links))
    work.sort(reverse=True)      # by sequence number: unique, so nodes are never compared
    return work, leaves, tuple(structure)


def _input_as_used(node, x):
    """`node` read x, and x was changed in place afterwards (its grad_fn rebased onto a
    newer InplaceNode): follow the in-place chain back to the stand-in that holds x's
    value as `node` read it, and make that node's input (as PyTorch's edges point to the
    grad_fn of the time). Anything else newer than its reader is a corrupted graph."""
    t = x
    while isinstance(t._node, InplaceNode) and t._node.seq > node.seq and t._node.inputs:
        t = t._node.inputs[0]
    producer = t._node
    if producer is not None and producer.seq >= node.seq:
        if producer.ctx.freed:
            raise _freed_error(producer)
        raise RuntimeError(f"the computation graph has a cycle or was modified: {node.name()} reads "
                           f"the output of {producer.name()}, which was recorded after it")
    node.inputs = tuple(t if i is x else i for i in node.inputs)
    return t


def _check_saved_versions(node, out):
    """Raise if a tensor `node` saved for backward was modified in place since."""
    op, ctx = node.op, node.ctx
    versions = ctx.versions
    if op.saves_inputs:
        for i in op.inputs_read_by_backward(ctx.needs_input_grad):
            t = node.inputs[i]
            if versions[i] is not None and t._version != versions[i]:
                raise _modified_error(node, t, f"input {i} of {node.name()}", versions[i])
    if op.saves_output and versions[-1] is not None and out._version != versions[-1]:
        raise _modified_error(node, out, f"output 0 of {node.name()}", versions[-1])


def _modified_error(node, t, which, expected):
    return RuntimeError(f"one of the variables needed for gradient computation has been modified by an "
                        f"inplace operation: [{t.dtype} tensor of shape {list(t.shape)}], which is {which}, "
                        f"is at version {t._version}; expected version {expected} instead "
                        f"({node.name()} saved it for its backward)")


def _storage(buf):
    """What a buffer's memory belongs to: a device allocation, or a numpy array's base."""
    alloc = getattr(buf, "alloc", None)
    if alloc is not None:
        return id(alloc)
    while getattr(buf, "base", None) is not None:
        buf = buf.base
    return id(buf)


def _freed_error(node):
    return RuntimeError(f"backward: trying to backward through {node.name()} a second time: its saved "
                        "tensors and inputs were freed by the first backward; call "
                        "backward(retain_graph=True) the first time to backward through the graph again")


def _check_with_networkx(root, work):
    """The full check, on a graph structure seen for the first time: export to networkx,
    check it (a DAG, every input present) and confirm that the walk's order is one of its
    topological orders."""
    g = graph_mod.build_graph(root, for_backward=True)
    try:
        order = graph_mod.topological_order(g)
        graph_mod.check_graph(g, order)
        position = {key: i for i, key in enumerate(order)}
        for _, _, node, _ in work:
            for x in node.inputs:
                if x.requires_grad and x._node is not None and position[id(x._node)] > position[id(node)]:
                    raise RuntimeError(f"backward order disagrees with the graph: {node.name()} runs "
                                       f"before {x._node.name()}")
    finally:
        # drop the tensors now, and the views networkx caches on the graph (in_degree,
        # pred, ...), which refer back to it: without that the DiGraph is a cycle that
        # only the garbage collector frees
        g.clear()
        vars(g).clear()


def _deposit_leaf_grad(t, g):
    previous = None if t.grad is None else t.grad.buf
    if previous is not None:
        g = _accumulate(t._dev, previous, g)
    t.grad = Tensor._from_buffer(g, t._dev)
    if recording.recorder is not None:
        recording.recorder.grad_written(t, g, previous)


def __getattr__(name):
    """tg.autograd.Function and FunctionCtx (PyTorch's torch.autograd.Function) live in
    function.py, which builds on Node above: imported when first asked for, so that this
    module never imports it (the dependency stays one-way)."""
    if name in ("Function", "FunctionCtx"):
        from . import function
        return getattr(function, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
