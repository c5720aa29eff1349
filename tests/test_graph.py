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
