"""Autograd semantics, one test each, as PyTorch defines them."""
import networkx as nx
import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.computation_graph as graph_mod


def test_scalar_backward_fills_leaf_grads():
    x = tg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -4.0, 6.0])


def test_non_scalar_backward_needs_an_explicit_gradient():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    y.backward(tg.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 30.0])


def test_gradient_of_wrong_shape_is_rejected():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(3,\)"):
        (x * 2.0).backward(tg.tensor([1.0, 1.0, 1.0]))


def test_gradients_accumulate_until_zeroed():
    x = tg.tensor([2.0], requires_grad=True)
    for _ in range(3):
        (x * 5.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [15.0])
    x.grad = None
    (x * 5.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0])


def test_non_leaf_tensors_keep_no_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2.0
    h.sum().backward()
    assert not h.is_leaf and h.grad is None and x.is_leaf and x.grad is not None


def test_tensor_used_many_times_gets_summed_gradient():
    a = tg.tensor([1.5, -0.5], requires_grad=True)
    b = a + a
    c = b * b                      # c = 4 a^2, dc/da = 8 a
    c.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 8 * np.array([1.5, -0.5]))


def test_broadcast_gradients_are_reduced_to_input_shapes():
    a = tg.ones(3, 1, requires_grad=True)
    b = tg.ones(4, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,)
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), 4.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 3.0))


def test_second_backward_through_freed_graph_raises():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_no_grad_records_nothing():
    x = tg.tensor([1.0], requires_grad=True)
    with tg.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None
    assert tg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = tg.tensor([3.0], requires_grad=True)
    y = x * x.detach()             # d/dx = x (the detached factor is a constant)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0])


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.tensor([1.0]).sum().backward()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        tg.tensor([1, 2], requires_grad=True)


def test_backward_runs_in_reverse_topological_order_of_the_networkx_graph(monkeypatch):
    x = tg.tensor([0.5, 1.0], requires_grad=True)
    w = tg.tensor([2.0, 3.0], requires_grad=True)
    loss = ((x * w).sigmoid() + x).sum()
    seen = []
    real = graph_mod.topological_order

    def spy(g):
        order = real(g)
        seen.append((g.copy(), order))
        return order
    monkeypatch.setattr(graph_mod, "topological_order", spy)
    loss.backward()
    g, order = seen[0]
    assert nx.is_directed_acyclic_graph(g)
    pos = {k: i for i, k in enumerate(order)}
    assert all(pos[u] < pos[v] for u, v in g.edges())
    ops = [g.nodes[k]["op"] for k in order if g.nodes[k]["kind"] == "op"]
    assert ops == ["mul", "sigmoid", "add", "sum"]


def test_branches_that_need_no_gradient_are_skipped():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    c = tg.tensor([3.0, 4.0])
    loss = (x * 2.0 + (c.exp() * c)).sum()
    g = graph_mod.build_graph(loss, for_backward=True)
    assert "exp" not in {a["op"] for _, a in g.nodes(data=True)}
    loss.backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_graph_checks_reject_a_cycle():
    g = nx.DiGraph()
    g.add_node(1, kind="tensor")
    g.add_node(2, kind="tensor")
    g.add_edges_from([(1, 2), (2, 1)])
    with pytest.raises(RuntimeError, match="cycle"):
        graph_mod.check_graph(g)
