"""The computation graph export (networkx) and its pictures."""
import networkx as nx
import pytest

import tinygrad_cu as tg


def small_model():
    x = tg.randn(4, 3)
    w = tg.randn(3, 2, requires_grad=True)
    return (x @ w).relu().sum()


def test_graph_is_a_networkx_dag_with_op_and_tensor_attributes():
    g = tg.graph(small_model())
    assert isinstance(g, nx.DiGraph) and nx.is_directed_acyclic_graph(g)
    ops = {a["op"] for _, a in g.nodes(data=True) if a["kind"] == "op"}
    assert ops == {"matmul", "relu", "sum"}
    for _, a in g.nodes(data=True):
        assert {"shape", "dtype", "device", "requires_grad", "label"} <= set(a)
    leaves = [a for _, a in g.nodes(data=True) if a["kind"] == "tensor" and g.in_degree] 
    assert any(a["shape"] == (3, 2) and a["requires_grad"] for a in leaves)


def test_graph_of_a_leaf_is_one_node():
    assert tg.graph(tg.ones(2)).number_of_nodes() == 1


def test_dot_export(tmp_path):
    path = tg.draw_graph(small_model(), str(tmp_path / "g.dot"))
    text = open(path).read()
    assert text.startswith("digraph") and "matmul" in text and "->" in text


def test_picture_export(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib (extra 'examples') draws graphs without Graphviz")
    path = tg.draw_graph(small_model(), str(tmp_path / "g.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_unknown_picture_format_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="format"):
        tg.draw_graph(small_model(), str(tmp_path / "g.bmp"))


def mlp_loss():
    model = tg.nn.Sequential(tg.nn.Linear(6, 4), tg.nn.ReLU(), tg.nn.Linear(4, 3))
    x, y = tg.randn(5, 6), tg.tensor([0, 1, 2, 1, 0])
    return model, x, y, tg.nn.functional.cross_entropy(model(x), y)


def test_graph_names_the_leaves_from_the_model():
    model, x, y, loss = mlp_loss()
    g = tg.graph(loss, params=dict(model.named_parameters()))
    tensors = {a["name"]: a for _, a in g.nodes(data=True) if a["kind"] == "tensor" and a["name"]}
    assert set(tensors) == {"0.weight", "0.bias", "2.weight", "2.bias", "input", "labels", "output"}
    assert tensors["0.weight"]["shape"] == (4, 6) and tensors["0.weight"]["role"] == "parameter"
    assert tensors["input"]["shape"] == (5, 6) and tensors["input"]["role"] == "input"
    assert tensors["labels"]["dtype"] == "int64" and tensors["output"]["role"] == "output"
    assert tensors["2.bias"]["label"] == "2.bias (3,)"
    roles = {a["role"] for _, a in g.nodes(data=True) if a["kind"] == "tensor"}
    assert roles == {"parameter", "input", "intermediate", "output"}


def test_graph_takes_the_input_names_given():
    model, x, y, loss = mlp_loss()
    g = tg.graph(loss, inputs={"images": x, "targets": y})
    names = {a["name"] for _, a in g.nodes(data=True) if a["kind"] == "tensor"}
    assert {"images", "targets"} <= names and "input" not in names


def test_networkx_export_keeps_the_names_as_node_attributes():
    model, x, y, loss = mlp_loss()
    g = tg.graph(loss, params=dict(model.named_parameters()))
    exported = nx.DiGraph(g.edges())            # GraphML takes scalar attributes: the names and roles
    nx.set_node_attributes(exported, {k: a.get("name", a["op"] or "") for k, a in g.nodes(data=True)}, "name")
    nx.set_node_attributes(exported, {k: a.get("role", "op") for k, a in g.nodes(data=True)}, "role")
    text = "\n".join(nx.generate_graphml(exported))
    assert "0.weight" in text and "labels" in text and "parameter" in text


def test_backward_time_shares_sum_to_one_and_leave_the_gradients_alone():
    model, x, y, loss = mlp_loss()
    g = tg.graph(loss, backward_time=True)
    shares = [a["backward_share"] for _, a in g.nodes(data=True) if a["kind"] == "op"]
    assert len(shares) == 4 and abs(sum(shares) - 1) < 1e-9 and min(shares) >= 0
    assert all(p.grad is None for p in model.parameters())


def test_layered_layout_never_overlaps_boxes():
    from tinygrad_cu import graph_picture
    model, x, y, loss = mlp_loss()
    p = graph_picture.picture_graph(tg.graph(loss, params=dict(model.named_parameters())))
    pos = graph_picture.layered_layout(p)
    rows = {}
    for k, (px, py) in pos.items():
        rows.setdefault(py, []).append((px - graph_picture._size(p.nodes[k]["text"])[0] / 2,
                                        px + graph_picture._size(p.nodes[k]["text"])[0] / 2))
    for boxes in rows.values():
        boxes.sort()
        assert all(right <= next_left for (_, right), (next_left, _) in zip(boxes, boxes[1:]))
    for u, v in p.edges():
        assert pos[u][1] < pos[v][1]              # every edge points down: inputs on top, loss at the bottom


def test_svg_picture_has_the_names_and_the_batch_size_as_text(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib (extra 'examples') draws graphs without Graphviz")
    model, x, y, loss = mlp_loss()
    path = tg.draw_graph(loss, str(tmp_path / "g.svg"), params=dict(model.named_parameters()))
    text = open(path).read()
    assert "<svg" in text and "0.weight" in text and "one batch of 5" in text
    assert "parameter (requires grad)" in text            # the legend
