"""`tg.autograd.grad`: gradients of outputs with respect to chosen inputs, returned
instead of accumulated into `.grad` (PyTorch's torch.autograd.grad).

    gx, gw = tg.autograd.grad(loss, [x, w])          # x.grad and w.grad are untouched

It runs the same reverse walk as `Tensor.backward` (tinygrad_cu/autograd.py: the
nodes newest first, the saved-version checks, the graph freed unless retain_graph),
from one or several outputs at once, and keeps the gradient of every requested input,
leaf or not, as the walk reaches it. Semantics as PyTorch's:
  * grad_outputs: one gradient per output (None: ones, for one-element outputs only);
  * retain_graph defaults to create_graph; without it the graph is freed;
  * an input that does not require grad is an error; one that the outputs do not depend
    on is an error unless allow_unused=True, which gives None for it;
  * create_graph=True is refused: this engine runs backward on raw device buffers
    (ops' numpy references and CUDA kernels), which records no graph, so gradients of
    gradients (higher order) cannot be taken.
"""
from . import autograd


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    if create_graph:
        raise NotImplementedError(
            "autograd.grad: create_graph=True (higher-order gradients) is not supported: backward runs "
            "each op's gradient on raw device buffers (numpy references, CUDA kernels) and records no "
            "graph of it")
    retain_graph = create_graph if retain_graph is None else retain_graph
    outputs, inputs = _as_tuple(outputs, "outputs"), _as_tuple(inputs, "inputs")
    if not outputs or not inputs:
        raise RuntimeError("autograd.grad: outputs and inputs must not be empty")
    if grad_outputs is None or isinstance(grad_outputs, autograd.Tensor):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"autograd.grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    device = outputs[0]._dev
    for t in outputs + inputs:
        if t._dev is not device:
            raise RuntimeError(f"autograd.grad: all tensors must be on one device, got {t.device} and {device.name}")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"autograd.grad: input {i} (shape {t.shape}) does not require grad")

    grads, work = {}, {}
    for k, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(f"autograd.grad: output {k} (shape {out.shape}) does not require grad and "
                               "has no grad_fn")
        seed = _seed(out, g, k)
        grads[id(out)] = seed if id(out) not in grads else autograd._accumulate(device, grads[id(out)], seed)
        found, _, structure = autograd._collect(out)
        if autograd.CHECK_EVERY_GRAPH or structure not in autograd._checked_structures:
            autograd._check_with_networkx(out, found)
            if len(autograd._checked_structures) >= autograd.MAX_CHECKED_STRUCTURES:
                autograd._checked_structures.clear()
            autograd._checked_structures.add(structure)
        for entry in found:
            work[entry[0]] = entry            # keyed by sequence number: shared nodes once

    wanted = {id(t) for t in inputs}
    kept, ran = {}, []
    for _, out_id, node, out in sorted(work.values(), key=lambda e: e[0], reverse=True):
        out_grad = grads.pop(out_id, None)
        if out_grad is None:
            continue
        if out_id in wanted:                  # a non-leaf input: its gradient is complete now
            kept[out_id] = out_grad
        ctx = node.ctx
        if ctx.versions is not None:
            autograd._check_saved_versions(node, out)
        in_grads = device.backward(node.op, ctx, out_grad, node.attrs)
        for t, meta, gi, need in zip(node.inputs, ctx.input_metas, in_grads, ctx.needs_input_grad):
            if need and gi is not None:
                grads[id(t)] = autograd._accumulate(device, grads.get(id(t)), gi)
        if not retain_graph:
            ctx.free()
            ran.append(node)
    for key in wanted:                        # leaves (and outputs that are inputs themselves)
        if key not in kept and key in grads:
            kept[key] = grads[key]
    for node in ran:
        node.inputs = ()

    result = []
    for i, t in enumerate(inputs):
        g = kept.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError(f"autograd.grad: input {i} (shape {t.shape}) appears to not have been used in "
                               "the graph. Set allow_unused=True if this is the desired behavior.")
        result.append(None if g is None else autograd.Tensor._from_buffer(g, device))
    return tuple(result)


def _as_tuple(x, what):
    if isinstance(x, autograd.Tensor):
        return (x,)
    try:
        items = tuple(x)
    except TypeError:
        raise TypeError(f"autograd.grad: {what} must be a Tensor or a sequence of Tensors, "
                        f"got {type(x).__name__}") from None
    for t in items:
        if not isinstance(t, autograd.Tensor):
            raise TypeError(f"autograd.grad: {what} must be Tensors, got {type(t).__name__}")
    return items


def _seed(out, g, k):
    if g is None:
        if out.numel() != 1:
            raise RuntimeError(f"autograd.grad: grad can be implicitly created only for scalar outputs; "
                               f"output {k} has shape {out.shape}, pass grad_outputs")
        return out._dev.full(out.shape, 1.0, out.dtype)
    if not isinstance(g, autograd.Tensor):
        g = autograd.Tensor(g, dtype=out.dtype, device=out.device)
    if g.shape != out.shape or g.dtype != out.dtype or g._dev is not out._dev:
        raise RuntimeError(f"autograd.grad: grad_outputs[{k}] {g.shape} {g.dtype} on {g.device} does not "
                           f"match output {k}: {out.shape} {out.dtype} on {out.device}")
    return g.buf
