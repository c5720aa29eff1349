"""The computation graph as a networkx DiGraph: export, checks, order, pictures.

Nodes are tensors and ops. Edges run input tensor -> op -> output tensor, so a
topological order of the graph is an order in which the forward pass could have
run, and its reverse is the order backward needs. Node attributes: `kind`
("tensor" or "op"), `label`, `op`, `shape`, `dtype`, `device`, `requires_grad`.
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


def graph(t):
    """The graph that produced tensor `t`, without the Python objects (safe to keep)."""
    g = build_graph(t)
    for _, attrs in g.nodes(data=True):
        attrs.pop("obj", None)
        attrs.pop("out", None)
        attrs["dtype"] = str(attrs["dtype"])
    return g


def to_dot(g):
    """Graphviz DOT text: tensors as boxes, ops as ellipses."""
    lines = ["digraph tinygrad_cu {", "  rankdir=TB; node [fontname=Helvetica fontsize=10];"]
    for key, a in g.nodes(data=True):
        shape = "ellipse" if a["kind"] == "op" else "box"
        color = "lightblue" if a["kind"] == "op" else ("khaki" if a["requires_grad"] else "white")
        text = a["label"] if a["kind"] == "op" else f"{a['label']}\\n{a['dtype']} {a['device']}"
        lines.append(f'  n{key} [label="{text}" shape={shape} style=filled fillcolor={color}];')
    lines += [f"  n{u} -> n{v};" for u, v in g.edges()]
    return "\n".join(lines + ["}"]) + "\n"


def draw_graph(t, path):
    """Write the graph of `t` to `path`: .dot text, or a .svg/.png picture (Graphviz's
    `dot` if installed, else matplotlib with a layered networkx layout)."""
    g = graph(t) if not isinstance(t, nx.DiGraph) else t
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext == "dot":
        with open(path, "w") as f:
            f.write(to_dot(g))
        return path
    if ext not in ("png", "svg", "pdf"):
        raise ValueError(f"draw_graph: unknown picture format {ext!r}; use .dot, .png, .svg or .pdf")
    if shutil.which("dot"):
        subprocess.run(["dot", f"-T{ext}", "-o", path], input=to_dot(g), text=True, check=True)
        return path
    return _draw_matplotlib(g, path)


def _draw_matplotlib(g, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    layers = [list(keys) for keys in nx.topological_generations(g)]
    for depth, keys in enumerate(layers):
        for k in keys:
            g.nodes[k]["layer"] = depth
    pos = nx.multipartite_layout(g, subset_key="layer", align="horizontal")
    pos = {k: (x, -y) for k, (x, y) in pos.items()}           # inputs at the top
    # room for every layer of the graph and for the widest one, so deep nets stay legible
    fig, ax = plt.subplots(figsize=(min(40, max(6, 1.8 * max(map(len, layers)))),
                                    min(60, max(4, 0.6 * len(layers)))))
    ops = [k for k, a in g.nodes(data=True) if a["kind"] == "op"]
    tensors = [k for k in g.nodes if k not in set(ops)]
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=True, arrowsize=10, node_size=900)
    nx.draw_networkx_nodes(g, pos, nodelist=ops, node_color="lightblue", node_size=900, ax=ax)
    nx.draw_networkx_nodes(g, pos, nodelist=tensors, node_shape="s", node_size=600,
                           node_color=["khaki" if g.nodes[k]["requires_grad"] else "white"
                                       for k in tensors], edgecolors="gray", ax=ax)
    nx.draw_networkx_labels(g, pos, {k: g.nodes[k]["label"] for k in g.nodes}, font_size=7, ax=ax)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
