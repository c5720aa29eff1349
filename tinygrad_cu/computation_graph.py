"""The computation graph as a networkx DiGraph: export, checks, order, pictures.

Nodes are tensors and ops. Edges run input tensor -> op -> output tensor, so a
topological order of the graph is an order in which the forward pass could have
run, and its reverse is the order backward needs. Node attributes: `kind`
("tensor" or "op"), `label`, `op`, `shape`, `dtype`, `device`, `requires_grad`; from
graph(), tensors also have `role` and `name` (the leaves named from the model), and op
nodes `backward_share` when backward was timed. Pictures: graph_picture.py.
"""
import os
import shutil
import subprocess

import networkx as nx


def _tensor_attrs(t, name=None):
    label = name or ("leaf" if t._node is None else "")
    return dict(kind="tensor", obj=t, op=None, shape=t.shape, dtype=t.dtype,
                device=t.device, requires_grad=t.requires_grad,
                label=f"{label} {t.shape}".strip())


def build_graph(root, for_backward=False):
    """The ancestors of `root`. With for_backward=True, only the part through which a
    gradient can flow: tensors that require grad and the ops that produced them, with
    only the attributes backward reads (kind, op, obj, out, requires_grad), since this
    graph is built on every backward.

    The nodes and edges are collected in plain lists and handed to networkx in one
    add_nodes_from / add_edges_from each: the same DiGraph, at a fraction of the cost
    of adding them one by one."""
    if for_backward:
        tensor_attrs = lambda t, name=None: dict(kind="tensor", obj=t, op=None, requires_grad=True)
    else:
        tensor_attrs = _tensor_attrs
    nodes, edges = [(id(root), tensor_attrs(root, "output"))], []
    stack, seen = [root], {id(root)}
    while stack:
        t = stack.pop()
        node = t._node
        if node is None:
            continue
        if for_backward:
            attrs = dict(kind="op", obj=node, out=t, op=node.op.name, requires_grad=True)
        else:
            attrs = dict(kind="op", obj=node, out=t, op=node.op.name, shape=t.shape, dtype=t.dtype,
                         device=t.device, requires_grad=True, label=node.op.name, attrs=dict(node.attrs))
        nodes.append((id(node), attrs))
        edges.append((id(node), id(t)))
        for i, x in enumerate(node.inputs):
            if for_backward and not x.requires_grad:
                continue
            if id(x) not in seen:
                seen.add(id(x))
                nodes.append((id(x), tensor_attrs(x)))
                stack.append(x)
            edges.append((id(x), id(node)) if for_backward else (id(x), id(node), {"index": i}))
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    return g


def check_graph(g, order=None):
    """A valid autograd graph is a DAG whose op nodes have all their inputs present.
    `order`: the graph's topological order if the caller already has it (backward
    does), which proves it a DAG without sorting it twice."""
    if order is None:
        order = topological_order(g)
    pred, succ = g.pred, g.succ
    for key, attrs in g.nodes(data=True):
        if attrs["kind"] != "op":
            continue
        node = attrs["obj"]
        present = pred[key]
        if any(need and id(x) not in present for x, need in zip(node.inputs, node.ctx.needs_input_grad)):
            raise RuntimeError(f"the graph is missing inputs of {node.name()}")
        if len(succ[key]) != 1:
            raise RuntimeError(f"{node.name()} must have exactly one output in the graph")


def topological_order(g):
    """Nodes in an order in which the forward pass could have run (networkx's
    topological sort); a RuntimeError naming the cycle if there is none."""
    try:
        return list(nx.topological_sort(g))
    except nx.NetworkXUnfeasible:
        raise RuntimeError("the computation graph has a cycle: " + str(nx.find_cycle(g))) from None


def graph(t, params=None, inputs=None, backward_time=False):
    """The graph that produced tensor `t`, without the Python objects (safe to keep).

    Every tensor node has a `role`: "parameter" (a leaf that requires grad), "input" (a
    leaf that does not), "intermediate" or "output", and a `name` ("" if unknown).
    params: {name: tensor}, e.g. dict(model.named_parameters()), names the parameters
    (as torchviz does); inputs: {name: tensor}, e.g. {"input": x, "labels": y}. Without
    `inputs`, unnamed leaves that need no grad are called "labels" if they hold
    integers and "input" otherwise. The label of a named leaf is "<name> <shape>".
    backward_time=True runs one backward from `t` (retain_graph; the leaves' .grad are
    left as they were) and gives each op node `backward_seconds` and `backward_share`,
    its share of the whole pass (tinygrad_cu/utils/backward_timing.py)."""
    g = build_graph(t)
    names = {id(x): n for n, x in {**(params or {}), **(inputs or {})}.items()}
    param_ids = {id(x) for x in (params or {}).values()}        # frozen parameters are parameters too
    unnamed_inputs = []
    for key, attrs in g.nodes(data=True):
        if attrs["kind"] != "tensor":
            continue
        x = attrs["obj"]
        if key == id(t):
            role = "output"
        elif x._node is not None:
            role = "intermediate"
        else:
            role = "parameter" if x.requires_grad or key in param_ids else "input"
        attrs["role"], attrs["name"] = role, names.get(key, "output" if role == "output" else "")
        if role == "input" and not attrs["name"]:
            unnamed_inputs.append(attrs)
        if attrs["name"]:
            attrs["label"] = f"{attrs['name']} {x.shape}"
    if inputs is None:
        for attrs in unnamed_inputs:
            attrs["name"] = "labels" if attrs["dtype"].kind in "iub" else "input"
            attrs["label"] = f"{attrs['name']} {attrs['shape']}"
    if backward_time and t.requires_grad:
        from .utils.backward_timing import time_backward
        seconds = time_backward(t)
        total = sum(seconds.values()) or 1.0
        for key, attrs in g.nodes(data=True):
            if attrs["kind"] == "op":
                attrs["backward_seconds"] = seconds.get(key, 0.0)
                attrs["backward_share"] = seconds.get(key, 0.0) / total
    for _, attrs in g.nodes(data=True):
        attrs.pop("obj", None)
        attrs.pop("out", None)
        attrs["dtype"] = str(attrs["dtype"])
    return g


def to_dot(g, title=None):
    """Graphviz DOT text of the picture graph (graph_picture.py): one box per leaf and
    output, one rounded box per op with the shape it made, a legend and a title."""
    from . import graph_picture
    return graph_picture.to_dot(graph_picture.picture_graph(g), title or graph_picture.default_title(g))


def draw_graph(t, path, params=None, inputs=None, title=None, backward_time=False):
    """Write the graph of `t` (a tensor, or a DiGraph from tg.graph) to `path`: .dot
    text, or a .svg/.png/.pdf picture, laid out in layers from the inputs at the top to
    the loss at the bottom, with a legend and the batch size in the title. Graphviz's
    `dot` draws it when installed, else matplotlib with graph_picture.py's layered
    layout. params/inputs name the leaves and backward_time colours each op by its
    share of backward time (see graph()); title replaces "computation graph of one
    batch of N"."""
    g = graph(t, params=params, inputs=inputs, backward_time=backward_time) if not isinstance(t, nx.DiGraph) else t
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in ("dot", "png", "svg", "pdf"):
        raise ValueError(f"draw_graph: unknown picture format {ext!r}; use .dot, .png, .svg or .pdf")
    from . import graph_picture
    title = title or graph_picture.default_title(g)
    picture = graph_picture.picture_graph(g)
    if ext == "dot":
        with open(path, "w") as f:
            f.write(graph_picture.to_dot(picture, title))
        return path
    if shutil.which("dot"):
        subprocess.run(["dot", f"-T{ext}", "-o", path], input=graph_picture.to_dot(picture, title), text=True,
                       check=True)
        return path
    return graph_picture.draw_matplotlib(picture, path, title)
