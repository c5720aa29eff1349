"""Which ops the backward pass spends its time in: a simple per-node timer.

`time_backward(root)` runs `root.backward(retain_graph=True)` a few times and measures each
op's backward (the device's `backward(op, ctx, grad, attrs)`, the one call per graph
node that runs the op's backward kernels). On emu and cuda the device is synchronised
before and after each node, so that a kernel's time lands on the node that launched
it; this makes the measured pass slower than a normal one, but the shares are right.
Gradient accumulation between branches is not an op's backward and is left out.

It is a diagnostic for pictures (tg.graph(..., backward_time=True) and
tg.draw_graph), not a profiler: the device's backward is wrapped on the instance for
the duration of the call, and only calls from this thread are timed. The leaves'
.grad are restored afterwards, so drawing a graph never changes a training run.
"""
import threading
import time


def _synchronizer(device):
    sync = getattr(device, "synchronize", None)
    return sync if callable(sync) else (lambda: None)


def time_backward(root, runs=2):
    """{id(graph node): seconds of its op's backward} for a backward from `root` (a
    scalar tensor that requires grad): the fastest of `runs` passes after a warm-up
    pass. Keys are the op nodes' keys in tg.graph(root)."""
    from ..computation_graph import build_graph
    g = build_graph(root)
    node_of_ctx = {id(a["obj"].ctx): key for key, a in g.nodes(data=True) if a["kind"] == "op"}
    leaves = [a["obj"] for _, a in g.nodes(data=True)
              if a["kind"] == "tensor" and a["obj"]._node is None and a["obj"].requires_grad]
    saved = [t.grad for t in leaves]
    device = root._dev
    plain_backward, sync, me = device.backward, _synchronizer(device), threading.get_ident()
    seconds = {}

    def timed_backward(op, ctx, grad, attrs):
        if threading.get_ident() != me:
            return plain_backward(op, ctx, grad, attrs)
        sync()
        start = time.perf_counter()
        out = plain_backward(op, ctx, grad, attrs)
        sync()
        key = node_of_ctx.get(id(ctx))
        if key is not None:
            seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - start
        return out

    device.backward = timed_backward          # an instance attribute shadows the method
    try:
        # a first pass pays one-time costs (kernel preparation, pools, caches); the
        # time kept for each node is its fastest of the passes after it
        passes = []
        for _ in range(1 + runs):
            seconds.clear()
            root.backward(retain_graph=True)
            passes.append(dict(seconds))
        seconds = {k: min(p.get(k, 0.0) for p in passes[1:]) for k in passes[-1]}
    finally:
        del device.backward
        for t, grad in zip(leaves, saved):
            t.grad = grad
    return seconds
