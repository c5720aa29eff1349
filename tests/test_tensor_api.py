"""The Tensor API with PyTorch's names, checked against numpy."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cu as tg


def test_construction_and_properties():
    t = tg.Tensor([[1, 2, 3], [4, 5, 6]], dtype=tg.float32)
    assert t.shape == (2, 3) and t.ndim == 2 and t.numel() == 6 and t.dtype == tg.float32
    assert t.device == "cpu" and t.grad is None and not t.requires_grad and t.is_leaf
    assert t.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert tg.tensor(3.5).item() == 3.5 and tg.tensor(3.5).shape == ()
    assert tg.tensor([1, 2]).dtype == tg.int64 and tg.tensor([True]).dtype == tg.bool_
    assert tg.tensor(np.array([1.0], np.float64)).dtype == tg.float32   # float32 by default


def test_factories():
    assert tg.zeros(2, 3).numpy().sum() == 0 and tg.ones((2, 3)).numpy().sum() == 6
    np.testing.assert_array_equal(tg.full((2,), 7.0).numpy(), [7.0, 7.0])
    np.testing.assert_array_equal(tg.arange(5).numpy(), np.arange(5))
    np.testing.assert_array_equal(tg.eye(3).numpy(), np.eye(3))
    x = tg.randn(3, 4)
    assert tg.zeros_like(x).shape == (3, 4) and tg.ones_like(x).numpy().sum() == 12
    r = tg.rand(1000).numpy()
    assert 0 <= r.min() and r.max() < 1 and abs(r.mean() - 0.5) < 0.05


def test_manual_seed_makes_random_tensors_reproducible():
    tg.manual_seed(7)
    a = tg.randn(5).numpy()
    tg.manual_seed(7)
    np.testing.assert_array_equal(a, tg.randn(5).numpy())


def test_repr_shows_values_shape_device_and_grad_fn():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(x) and "shape=(2,)" in repr(x) and "cpu" in repr(x)
    r = repr(x * 2.0)
    assert "2." in r and "4." in r and "MulBackward" in r


def test_item_of_many_elements_is_an_error():
    with pytest.raises(ValueError, match=r"\(2,\)"):
        tg.tensor([1.0, 2.0]).item()


def test_arithmetic_with_python_numbers_on_either_side():
    x = tg.tensor([1.0, 2.0, 4.0])
    np.testing.assert_allclose((2 - x).numpy(), [1.0, 0.0, -2.0])
    np.testing.assert_allclose((1 / x).numpy(), [1.0, 0.5, 0.25])
    np.testing.assert_allclose((x ** 2).numpy(), [1.0, 4.0, 16.0])
    np.testing.assert_allclose((2 ** x).numpy(), [2.0, 4.0, 16.0])
    np.testing.assert_allclose((-x).numpy(), [-1.0, -2.0, -4.0])
    assert (x > 1.5).tolist() == [False, True, True] and (x == 2).dtype == tg.bool_


def test_matmul_1d_2d_and_batched_follow_numpy():
    rng = np.random.default_rng(0)
    for sa, sb in [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((5, 2, 3), (3, 4)), ((2, 1, 2, 3), (4, 3, 2))]:
        a, b = rng.standard_normal(sa), rng.standard_normal(sb)
        out = tg.tensor(a, dtype=tg.float64) @ tg.tensor(b, dtype=tg.float64)
        np.testing.assert_allclose(out.numpy(), np.matmul(a, b), rtol=1e-12)


def test_reductions_with_torch_and_numpy_spellings():
    a = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    t = tg.tensor(a, dtype=tg.float64)
    np.testing.assert_allclose(t.sum(dim=1, keepdim=True).numpy(), a.sum(1, keepdims=True))
    np.testing.assert_allclose(t.mean(axis=(0, 2)).numpy(), a.mean((0, 2)))
    np.testing.assert_allclose(t.max().numpy(), 23.0)
    np.testing.assert_allclose(t.amin(dim=-1).numpy(), a.min(-1))
    np.testing.assert_allclose(t.min(dim=-1).values.numpy(), a.min(-1))
    assert t.argmax().item() == 23 and t.argmin(dim=2).tolist() == a.argmin(2).tolist()


def test_shape_ops():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    t = tg.tensor(a)
    assert t.reshape(4, -1).shape == (4, 6) and t.view(24).shape == (24,)
    assert t.flatten(1).shape == (2, 12) and t.flatten().shape == (24,)
    np.testing.assert_array_equal(t.permute(2, 0, 1).numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(t.transpose(0, 2).numpy(), a.swapaxes(0, 2))
    np.testing.assert_array_equal(tg.tensor(a[0]).T.numpy(), a[0].T)
    assert t.unsqueeze(0).shape == (1, 2, 3, 4) and t.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert t.unsqueeze(1).squeeze(1).shape == (2, 3, 4) and tg.ones(1, 3, 1).squeeze().shape == (3,)
    np.testing.assert_array_equal(tg.tensor([[1.0], [2.0]]).expand(2, 3).numpy(), [[1, 1, 1], [2, 2, 2]])
    np.testing.assert_array_equal(t[1, :, ::2].numpy(), a[1, :, ::2])
    np.testing.assert_array_equal(t[[0, 1, 1]].numpy(), a[[0, 1, 1]])
    np.testing.assert_array_equal(t[None, ..., 0].numpy(), a[None, ..., 0])
    np.testing.assert_array_equal(t[tg.tensor([1, 0])].numpy(), a[[1, 0]])
    np.testing.assert_array_equal(tg.cat([t, t], dim=1).numpy(), np.concatenate([a, a], 1))
    np.testing.assert_array_equal(tg.stack([t, t], dim=-1).numpy(), np.stack([a, a], -1))
    np.testing.assert_array_equal(t.pad(((0, 0), (1, 1), (2, 0))).numpy(), np.pad(a, ((0, 0), (1, 1), (2, 0))))
    np.testing.assert_array_equal(tg.nn.functional.pad(t, (1, 2)).numpy(), np.pad(a, ((0, 0), (0, 0), (1, 2))))


def test_getitem_gradient_adds_up_repeated_indices():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2]].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 1.0])


def test_to_dtype_and_cast_gradient():
    x = tg.tensor([1.5, 2.5], requires_grad=True)
    y = x.double()
    assert y.dtype == tg.float64
    (y * y).sum().backward()
    assert x.grad.dtype == tg.float32
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0])
    assert x.long().tolist() == [1, 2]


def test_devices_report_availability():
    devs = tg.devices()
    assert devs["cpu"][0] is True
    ok, reason = devs["cuda"]
    assert isinstance(reason, str) and reason
    if not ok:
        with pytest.raises(RuntimeError, match="cuda"):
            tg.zeros(2, device="cuda")


FLOATS = st.floats(-3, 3, allow_nan=False, width=32)


@st.composite
def broadcastable_pair(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    other = list(shape)
    for i in range(len(other)):
        if draw(st.booleans()):
            other[i] = 1
    other = tuple(other[draw(st.integers(0, len(other))):])   # drop leading dims sometimes
    a, b = (shape, other) if draw(st.booleans()) else (other, shape)
    return (draw(hnp.arrays(np.float64, a, elements=FLOATS)), draw(hnp.arrays(np.float64, b, elements=FLOATS)))


@settings(max_examples=60, deadline=None)
@given(broadcastable_pair(), st.sampled_from(["add", "sub", "mul"]))
def test_broadcast_arithmetic_and_gradients_match_numpy(pair, op):
    a, b = pair
    ta, tb = tg.tensor(a, dtype=tg.float64, requires_grad=True), tg.tensor(b, dtype=tg.float64, requires_grad=True)
    out = {"add": ta + tb, "sub": ta - tb, "mul": ta * tb}[op]
    ref = {"add": a + b, "sub": a - b, "mul": a * b}[op]
    np.testing.assert_allclose(out.numpy(), ref)
    out.sum().backward()
    ones = np.ones(ref.shape)
    ga = {"add": ones, "sub": ones, "mul": ones * b}[op]
    gb = {"add": ones, "sub": -ones, "mul": ones * a}[op]
    # reduce the broadcast gradient by hand: sum over leading and size-1 broadcast axes
    def reduce_to(g, shape):
        while g.ndim > len(shape):
            g = g.sum(0)
        return np.stack([g]).sum(0) if False else np.sum(g, axis=tuple(i for i, n in enumerate(shape) if n == 1),
                                                          keepdims=True).reshape(shape)
    np.testing.assert_allclose(ta.grad.numpy(), reduce_to(np.broadcast_to(ga, ref.shape), a.shape))
    np.testing.assert_allclose(tb.grad.numpy(), reduce_to(np.broadcast_to(gb, ref.shape), b.shape))


def test_assign_copies_the_data():
    a = tg.tensor([1.0, 2.0])
    b = tg.zeros(2)
    b.assign(a)
    a.assign(tg.tensor([5.0, 6.0]))
    assert b.tolist() == [1.0, 2.0]


def test_negative_permute_dims_and_empty_index_lists():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = tg.tensor(a)
    np.testing.assert_array_equal(t.permute(0, -1, -2).numpy(), a.transpose(0, 2, 1))
    assert t[0, 0, []].shape == a[0, 0, []].shape == (0,)


def test_moving_a_leaf_keeps_requires_grad_but_a_non_leaf_is_refused():
    ok, _ = tg.device_status("emu")
    target = "emu" if ok else "cpu"
    w = tg.randn(3, requires_grad=True)
    moved = w.to(target)
    assert moved.requires_grad and moved.is_leaf
    if target != "cpu":
        with pytest.raises(RuntimeError, match="cut the graph"):
            (w * 2.0).to(target)
        with tg.no_grad():
            assert not (w * 2.0).to(target).requires_grad


def test_clamp_with_min_above_max_gives_max_everywhere_as_pytorch():
    """torch.clamp(x, min=3, max=0) is 0 everywhere, with no gradient (hand values)."""
    for device in ("cpu", "emu"):
        x = tg.tensor([-1.0, 1.0, 5.0], device=device, requires_grad=True)
        y = x.clamp(min=3.0, max=0.0)
        assert y.tolist() == [0.0, 0.0, 0.0]
        y.sum().backward()
        assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_cat_and_stack_refuse_what_is_not_a_tensor():
    a = tg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="stack: expected Tensor as element 0, got tuple"):
        tg.stack([(a, a), a])
    with pytest.raises(TypeError, match="cat: expected a sequence of tensors, got one Tensor"):
        tg.cat(a)


def test_a_tuple_inside_an_index_is_an_index_array():
    x = np.arange(24.0).reshape(2, 3, 4)
    t = tg.tensor(x)
    assert t[(((0,),),)].shape == (1, 1, 3, 4)
    np.testing.assert_array_equal(t[(1, 0), (2, 1)].numpy(), x[[1, 0], [2, 1]])


def test_cumsum_takes_dim_or_axis():
    t = tg.tensor([1.0, 2.0, 3.0])
    assert t.cumsum(axis=0).tolist() == [1.0, 3.0, 6.0] == t.cumsum(0).tolist()
    with pytest.raises(TypeError, match="cumsum.. missing its required argument 'dim'"):
        t.cumsum()
