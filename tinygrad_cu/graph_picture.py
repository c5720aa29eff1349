"""Pictures of a computation graph that a learner can read.

tg.graph has a node per tensor and per op. A picture with both is twice as deep as it
needs to be, so `picture_graph` draws each op together with the tensor it made
("matmul_nt / (8, 10)") and keeps boxes of their own only for the leaves (parameters,
inputs) and the output. The layout is layered top to bottom: each op one row below its
deepest input, each leaf in the row just above the op that uses it (so a layer's bias
sits beside it, not in one long row of leaves at the top). Graphviz's `dot` draws it
when installed (`to_dot`); otherwise `layered_layout` places rows and `draw_matplotlib`
draws it, every box sized to its text in a monospaced font and the figure sized to the
layout, so that text never overlaps at any graph size (SVG keeps it crisp).
"""
import networkx as nx

COLORS = {"parameter": "#f0e68c", "input": "#b8e0b8", "op": "#cfe2f3", "output": "#f4b6a6"}
LEGEND = {"parameter": "parameter (requires grad)", "input": "input or labels (no grad)",
          "op": "intermediate: op and the shape it made", "output": "output (the loss)"}
FONT_PT = 9
CHAR_IN = 0.602 * FONT_PT / 72        # DejaVu Sans Mono: every character 0.602 em wide
LINE_IN = 1.25 * FONT_PT / 72
PAD_IN, GAP_IN, ROW_IN = 0.08, 0.25, 0.8


def default_title(g):
    """'computation graph of one batch of N' from the first dimension of the leaf named
    "input", else of the first named float input (inputs={"images": x})."""
    named = [a for _, a in g.nodes(data=True) if a.get("role") == "input" and a.get("name") and a["shape"]
             and "float" in str(a["dtype"])]
    named.sort(key=lambda a: a["name"] != "input")
    return f"computation graph of one batch of {named[0]['shape'][0]}" if named else "computation graph"


def _share_color(share):
    """White (0% of backward time) to red (the largest share)."""
    r, gr, b = (int(round(255 + (c - 255) * share)) for c in (215, 48, 39))
    return f"#{r:02x}{gr:02x}{b:02x}"


def picture_graph(g):
    """The graph to draw: op nodes carry their output's shape; intermediate tensors go.
    Node attributes: role, text (lines), color, and share when backward was timed."""
    p = nx.DiGraph()
    made_by = {}                                   # intermediate tensor -> the op that made it
    shares = [a["backward_share"] for _, a in g.nodes(data=True) if "backward_share" in a]
    top = max(shares) if shares else 0.0
    for key, a in g.nodes(data=True):
        if a["kind"] == "op":
            (out,) = g.successors(key)
            text = [a["op"], str(tuple(g.nodes[out]["shape"]))]
            color = COLORS["op"]
            if "backward_share" in a:
                text.append(f"backward {100 * a['backward_share']:.0f}%")
                color = _share_color(a["backward_share"] / top if top else 0.0)
            p.add_node(key, role="op", text=text, color=color, share=a.get("backward_share"))
            if g.nodes[out]["role"] == "intermediate":
                made_by[out] = key
        elif a["role"] != "intermediate":
            role = a["role"]
            # an unnamed leaf that needs no grad is a constant of the formula (the 2 of x ** 2)
            name = a.get("name") or {"parameter": "leaf", "input": "constant"}.get(role, role)
            p.add_node(key, role=role, color=COLORS[role],
                       text=[name, f"{tuple(a['shape'])} {a['dtype']}"])
    for u, v in g.edges():
        if g.nodes[u]["kind"] == "op":
            if v not in made_by:                   # op -> the output (else: now one node)
                p.add_edge(u, v)
        else:                                      # tensor -> op: from the op that made it
            p.add_edge(made_by.get(u, u), v)
    return p


def _size(text):
    """(width, height) in inches of a box holding these lines."""
    return max(map(len, text)) * CHAR_IN + 2 * PAD_IN, len(text) * LINE_IN + 2 * PAD_IN


def layered_layout(p, sweeps=4):
    """{node: (x, y)} in inches, y growing downwards by row. Rows: an op or the output
    one below its deepest non-leaf input; a leaf one above its first consumer. Order in
    a row: barycentre sweeps (the mean position of the neighbours in the row above,
    then below) to uncross edges; then x positions keep boxes GAP_IN apart, each as
    close to its neighbours' mean as the row allows."""
    leaves = {k for k in p if p.in_degree(k) == 0}
    row = {}
    for k in nx.topological_sort(p):
        if k not in leaves:
            row[k] = 1 + max((row[u] for u in p.predecessors(k) if u not in leaves), default=0)
    for k in leaves:
        row[k] = min((row[v] for v in p.successors(k)), default=1) - 1
    low = min(row.values())
    rows = {}
    for k in nx.topological_sort(p):
        rows.setdefault(row[k] - low, []).append(k)
    rows = [rows[r] for r in sorted(rows)]
    width = {k: _size(p.nodes[k]["text"])[0] for k in p}

    def place(r):
        x, xs = 0.0, {}
        for k in rows[r]:
            xs[k] = x + width[k] / 2
            x += width[k] + GAP_IN
        return xs

    x = {}
    for r in range(len(rows)):
        x.update(place(r))
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        for r in (range(len(rows)) if down else range(len(rows) - 1, -1, -1)):
            def near(k):      # leaves follow the op they feed; others their inputs, then users
                return list(p.successors(k)) if k in leaves or not down else list(p.predecessors(k))
            want = {k: (sum(x[n] for n in near(k)) / len(near(k)) if near(k) else x[k]) for k in rows[r]}
            rows[r].sort(key=lambda k: want[k])
            x.update(_closest_spaced(rows[r], want, width))
    return {k: (x[k], r * ROW_IN) for r, keys in enumerate(rows) for k in keys}


def _closest_spaced(keys, want, width):
    """x for boxes in this order, GAP_IN apart, with the least squared distance to
    `want`: runs of boxes that would overlap merge into blocks placed at their mean."""
    blocks = []                                   # [keys, offsets from the block's left edge, left]
    for k in keys:
        block = [[k], [0.0], want[k] - width[k] / 2]
        blocks.append(block)
        while len(blocks) > 1:
            prev, cur = blocks[-2], blocks[-1]
            prev_right = prev[2] + prev[1][-1] + width[prev[0][-1]]
            if prev_right + GAP_IN <= cur[2]:
                break
            shift = prev[1][-1] + width[prev[0][-1]] + GAP_IN
            keys_, offs = prev[0] + cur[0], prev[1] + [o + shift for o in cur[1]]
            left = sum(want[q] - width[q] / 2 - o for q, o in zip(keys_, offs)) / len(keys_)
            blocks[-2:] = [[keys_, offs, left]]
    return {q: b[2] + o + width[q] / 2 for b in blocks for q, o in zip(b[0], b[1])}
    return {k: (x[k], r * ROW_IN) for r, keys in enumerate(rows) for k in keys}


def draw_matplotlib(p, path, title):
    """Draw `p` (from picture_graph) with matplotlib at a fixed text size: the figure is
    as large as the layout, so a deep graph makes a tall picture, never small text."""
    import matplotlib
    from matplotlib.figure import Figure         # not pyplot: no backend switch (notebooks keep theirs)
    from matplotlib.patches import Patch
    pos = layered_layout(p)
    sizes = {k: _size(p.nodes[k]["text"]) for k in p}
    left = min(pos[k][0] - sizes[k][0] / 2 for k in p)
    right = max(pos[k][0] + sizes[k][0] / 2 for k in p)
    bottom = max(pos[k][1] + sizes[k][1] / 2 for k in p)
    title_lines = title.count("\n") + 1
    header, margin = 0.8 + 0.25 * title_lines, 0.3
    fig_w = max(right - left + 2 * margin, 7.0)
    fig_h = bottom + sizes[max(p, key=lambda k: sizes[k][1])][1] / 2 + header + 2 * margin
    fig = Figure(figsize=(fig_w, fig_h))
    ax = fig.add_axes((0, 0, 1, 1))
    cx = (left + right) / 2
    ax.set_xlim(cx - fig_w / 2, cx + fig_w / 2)
    ax.set_ylim(bottom + margin + 0.3, bottom + margin + 0.3 - fig_h)      # y down, header on top
    ax.set_axis_off()
    for u, v in p.edges():
        (x0, y0), (x1, y1) = pos[u], pos[v]
        ax.annotate("", xy=(x1, y1 - sizes[v][1] / 2), xytext=(x0, y0 + sizes[u][1] / 2), zorder=1,
                    arrowprops=dict(arrowstyle="-|>", color="#777777", lw=0.8, shrinkA=0, shrinkB=0))
    for k, (x, y) in pos.items():
        a = p.nodes[k]
        ax.text(x, y, "\n".join(a["text"]), ha="center", va="center", fontsize=FONT_PT, family="DejaVu Sans Mono",
                zorder=2, linespacing=1.1,
                bbox=dict(boxstyle="round,pad=0.35" if a["role"] == "op" else "square,pad=0.35",
                          fc=a["color"], ec="#555555", lw=0.8))
    fig.suptitle(title, y=1 - 0.1 / fig_h, va="top", fontsize=12)
    handles = [Patch(fc=COLORS[r], ec="#555555", label=LEGEND[r]) for r in COLORS]
    if any(p.nodes[k].get("share") is not None for k in p):
        handles[2] = Patch(fc=_share_color(1.0), ec="#555555",
                           label="op: white -> red = its share of backward time")
    fig.legend(handles=handles, loc="upper center", ncol=2, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 1 - (0.2 + 0.25 * title_lines) / fig_h))
    # SVG text stays text: crisp at any zoom, and searchable (the names are in the file)
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(path, dpi=100)
    return path


def _dot_text(lines):
    return "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)


def to_dot(p, title):
    """Graphviz DOT of `p` (from picture_graph): layered top to bottom, a legend."""
    out = ["digraph tinygrad_cu {",
           f'  rankdir=TB; labelloc=t; label="{_dot_text([title])}"; fontname=Helvetica;',
           "  node [fontname=Courier fontsize=10 style=filled]; edge [color=gray40];"]
    for k, a in p.nodes(data=True):
        style = '"filled,rounded"' if a["role"] == "op" else "filled"
        out.append(f'  n{k} [label="{_dot_text(a["text"])}" shape=box style={style} fillcolor="{a["color"]}"];')
    out += [f"  n{u} -> n{v};" for u, v in p.edges()]
    out.append('  subgraph cluster_legend { label="legend"; fontsize=10;')
    for role, text in LEGEND.items():
        out.append(f'    legend_{role} [label="{text}" shape=box fillcolor="{COLORS[role]}"];')
    out.append("  }")
    return "\n".join(out + ["}"]) + "\n"
