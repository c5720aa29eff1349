"""The reductions group and sorting through the Tensor API (tinygrad_cu/tensor_reductions.py),
on cpu and emu: PyTorch's return types, tie and NaN rules, gradients with zeros, and the
edge cases, against values worked out by hand (the registry tests compare each op with
tests/reference64.py and finite differences)."""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.device.gpu import GPUDevice

from conftest import device_or_skip

DEVICES = ["cpu", "emu"]
NAN = float("nan")


def grad_of(device, values, fn):
    x = tg.tensor(values, device=device, requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


@pytest.mark.parametrize("device", DEVICES)
def test_max_with_dim_returns_values_and_first_indices_and_routes_the_gradient(device):
    device_or_skip(device)
    x = tg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], device=device)
    out = x.max(1)
    assert isinstance(out, tg.return_types.max) and out._fields == ("values", "indices")
    values, indices = out
    assert values.tolist() == [3.0, 2.0] and indices.tolist() == [1, 0]
    assert x.min(dim=0, keepdim=True).indices.tolist() == [[0, 1, 1]]
    assert x.max().shape == () and x.max().item() == 3.0            # no dim: a tensor
    # the gradient of max(dim) goes to the chosen element; amax and max() split ties
    rows = [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]
    np.testing.assert_allclose(grad_of(device, rows, lambda t: t.max(1).values), [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_allclose(grad_of(device, rows, lambda t: t.amax(1)), [[0, .5, .5], [.5, .5, 0]])
    np.testing.assert_allclose(grad_of(device, rows, lambda t: t.max()), [[0, .5, .5], [0, 0, 0]])
    assert x.amin(dim=(0, 1)).item() == 0.0 and x.amax(()).item() == 3.0
    scalar = tg.tensor(5.0, device=device).max(0)
    assert scalar.values.item() == 5.0 and scalar.indices.item() == 0


def test_max_errors_name_the_op():
    x = tg.randn(2, 3)
    with pytest.raises(TypeError, match="amax"):
        x.max(dim=(0, 1))
    if "maximum" not in tg.REGISTRY:
        with pytest.raises(TypeError, match="maximum"):
            x.max(tg.randn(2, 3))
    with pytest.raises(ValueError, match="argtopk"):
        x.topk(4)


@pytest.mark.parametrize("device", DEVICES)
def test_prod_and_cumprod_gradients_with_zeros(device):
    device_or_skip(device)
    # d/dx of 2 * 0 * 3: only the zero's neighbours' product survives (PyTorch: [0, 6, 0])
    np.testing.assert_allclose(grad_of(device, [2.0, 0.0, 3.0], lambda t: t.prod()), [0, 6, 0])
    np.testing.assert_allclose(grad_of(device, [[0.0, 5.0, 0.0], [1.0, 2.0, 4.0]], lambda t: t.prod(1)),
                               [[0, 0, 0], [8, 4, 2]])
    # cumprod of [2, 0, 3, 0, 4]: PyTorch's gradient of its sum is [1, 8, 0, 0, 0]
    np.testing.assert_allclose(grad_of(device, [2.0, 0.0, 3.0, 0.0, 4.0], lambda t: t.cumprod(0)),
                               [1, 8, 0, 0, 0])
    assert tg.tensor(np.zeros((0, 3)), device=device).prod(0).tolist() == [1.0, 1.0, 1.0]
    assert tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=device).prod(1, keepdim=True).tolist() == [[2.0], [12.0]]


@pytest.mark.parametrize("device", DEVICES)
def test_var_and_std_with_correction(device):
    device_or_skip(device)
    x = tg.tensor([1.0, 2.0, 4.0], device=device)                  # mean 7/3, squares sum 14/3
    np.testing.assert_allclose(x.var().item(), 7 / 3, rtol=1e-6)
    np.testing.assert_allclose(x.var(unbiased=False).item(), 14 / 9, rtol=1e-6)
    np.testing.assert_allclose(x.var(correction=2).item(), 14 / 3, rtol=1e-6)
    np.testing.assert_allclose(x.std(correction=0).item(), np.sqrt(14 / 9), rtol=1e-6)
    m = tg.tensor([[1.0, 3.0], [2.0, 2.0]], device=device)
    np.testing.assert_allclose(m.var(dim=1).numpy(), [2.0, 0.0])
    assert m.std(0, keepdim=True).shape == (1, 2)
    assert np.isnan(tg.tensor([3.0], device=device).var().item())   # 0 / 0, as PyTorch
    assert tg.tensor([1.0, 2.0], device=device).var(correction=2).item() == np.inf
    with pytest.raises(TypeError, match="var"):
        x.var(unbiased=True, correction=1)


def test_var_gradient_matches_finite_differences():
    x = tg.tensor(np.random.default_rng(0).standard_normal((3, 4)), dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda t: t.var(dim=1, correction=0), x)
    assert tg.gradcheck(lambda t: t.std(), x)


@pytest.mark.parametrize("device", DEVICES)
def test_any_and_all(device):
    device_or_skip(device)
    x = tg.tensor([[0.0, 0.0, NAN], [1.0, 2.0, 3.0]], device=device)
    assert x.any(1).tolist() == [True, True] and x.all(1).tolist() == [False, True]
    assert x.any().dtype == tg.bool_ and x.all(dim=(0, 1), keepdim=True).shape == (1, 1)
    assert tg.tensor(np.zeros((0, 2)), device=device).any().item() is False
    assert tg.tensor(np.zeros((0, 2)), device=device).all(0).tolist() == [True, True]
    counts = tg.tensor(np.array([0, 3], np.uint8), device=device)
    assert counts.any().dtype == tg.uint8 and counts.all().item() == 0      # uint8 stays uint8
    assert tg.tensor([True, False], device=device).any().item() is True


@pytest.mark.parametrize("device", DEVICES)
def test_logsumexp_is_stable_and_takes_dim_tuples(device):
    device_or_skip(device)
    big = tg.tensor([[1000.0, 1000.0], [-np.inf, -np.inf]], device=device)
    out = big.logsumexp(1).numpy()
    np.testing.assert_allclose(out[0], 1000 + np.log(2), rtol=1e-6)
    assert out[1] == -np.inf
    a = np.random.default_rng(2).standard_normal((2, 3, 4)).astype(np.float32)
    want = np.log(np.exp(a).sum(axis=(0, 2), keepdims=True))
    got = tg.tensor(a, device=device).logsumexp((0, 2), keepdim=True)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5)
    x = tg.tensor(a, device=device, requires_grad=True)
    x.logsumexp((0, 2)).sum().backward()                           # softmax over the merged dims
    e = np.exp(a - a.max())
    np.testing.assert_allclose(x.grad.numpy(), e / e.sum(axis=(0, 2), keepdims=True), rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_cumulative_ops_follow_pytorchs_tie_and_nan_rules(device):
    device_or_skip(device)
    x = tg.tensor([1.0, 1.0, 0.0, 1.0, NAN, 2.0, NAN], device=device)
    out = x.cummax(0)                                  # values from PyTorch 2.x
    assert type(out).__name__ == "cummax"
    assert out.indices.tolist() == [0, 1, 1, 3, 4, 4, 6]
    np.testing.assert_array_equal(out.values.numpy(), [1, 1, 1, 1, NAN, NAN, NAN])
    assert tg.tensor([1.0, 1.0, 2.0, 1.0], device=device).cummin(0).indices.tolist() == [0, 1, 1, 3]
    # the gradient of cummax's values adds up at each running maximum
    np.testing.assert_allclose(grad_of(device, [1.0, 3.0, 2.0, 5.0], lambda t: t.cummax(0).values), [1, 2, 0, 1])
    np.testing.assert_allclose(grad_of(device, [[1.0, 2.0, 3.0]], lambda t: t.cumsum(1)), [[3, 2, 1]])
    assert tg.tensor(3.0, device=device).cumsum(0).item() == 3.0
    counts = tg.tensor([1, 2, 3], device=device)                  # int64: float kernels, so dtype= first
    assert counts.cumsum(0, dtype=tg.float32).tolist() == [1.0, 3.0, 6.0]
    assert counts.prod(dtype=tg.float32).item() == 6.0 and counts.cumprod(0, dtype=tg.float32).tolist()[-1] == 6.0


@pytest.mark.parametrize("device", DEVICES)
def test_sort_argsort_topk(device):
    device_or_skip(device)
    x = tg.tensor([3.0, NAN, 1.0, 3.0], device=device)
    up, down = x.sort(), x.sort(descending=True, stable=True)
    assert type(up).__name__ == "sort" and up.indices.tolist() == [2, 0, 3, 1]   # NaN last
    assert down.indices.tolist() == [1, 0, 3, 2]                                   # NaN first, ties in order
    np.testing.assert_array_equal(down.values.numpy(), [NAN, 3, 3, 1])
    assert x.argsort(descending=True).tolist() == [1, 0, 3, 2]
    t = tg.tensor([1.0, 3.0, 3.0, 2.0], device=device)
    assert t.topk(2).indices.tolist() == [1, 2] and t.topk(2, largest=False).indices.tolist() == [0, 3]
    assert type(t.topk(1)).__name__ == "topk" and t.topk(0).values.shape == (0,)
    m = tg.tensor([[2.0, 9.0], [7.0, 1.0]], device=device)
    assert m.sort(dim=0).values.tolist() == [[2.0, 1.0], [7.0, 9.0]]
    np.testing.assert_allclose(grad_of(device, [3.0, 1.0, 2.0], lambda t: t.topk(2).values * tg.tensor(
        [10.0, 1.0], device=device)), [10, 0, 1])
    np.testing.assert_allclose(grad_of(device, [3.0, 1.0, 2.0], lambda t: t.sort().values * tg.tensor(
        [1.0, 2.0, 3.0], device=device)), [3, 1, 2])


def test_sort_values_gradient_matches_finite_differences():
    x = tg.tensor(np.random.default_rng(3).standard_normal((3, 5)), dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda t: t.sort(dim=1, descending=True).values, x)
    assert tg.gradcheck(lambda t: t.topk(2, dim=0).values, x)
    assert tg.gradcheck(lambda t: t.max(dim=1).values, x)


def test_long_rows_sort_on_the_global_memory_path():
    """Rows longer than the shared-memory limit (1024) take the multi-launch bitonic path."""
    device_or_skip("emu")
    a = np.random.default_rng(4).integers(0, 300, size=(2, 1500)).astype(np.float32)
    got = tg.tensor(a, device="emu").sort(dim=1, descending=True)
    want = np.argsort(-a, axis=1, kind="stable")
    np.testing.assert_array_equal(got.indices.numpy(), want)
    np.testing.assert_array_equal(got.values.numpy(), np.take_along_axis(a, want, 1))
    assert tg.tensor(a, device="emu").topk(5, dim=1).indices.tolist() == want[:, :5].tolist()


def test_bad_indices_are_reported_not_read():
    """values_at is public through tg.autograd.apply: an index outside the row raises on
    both devices (emu: from the kernel's error record, at the next synchronisation)."""
    from tinygrad_cu.autograd import apply
    for device in ("cpu", "emu"):
        device_or_skip(device)
        x = tg.tensor([[1.0, 2.0]], device=device)
        bad = tg.tensor(np.array([[0, 5]]), device=device)
        with pytest.raises(IndexError, match="5"):
            apply("values_at", x, bad, axis=1, unique=False).numpy()


def test_kernels_loop_over_more_rows_than_blocks(monkeypatch):
    """With grids capped at 2 blocks, every kernel's loop over rows / elements runs."""
    device_or_skip("emu")
    monkeypatch.setattr(GPUDevice, "MAX_BLOCKS", 2)
    a = np.random.default_rng(5).standard_normal((40, 9)).astype(np.float32)
    on = {d: tg.tensor(a, device=d, requires_grad=True) for d in DEVICES}
    checks = [lambda t: t.sort(1).values, lambda t: t.topk(3, 1).values, lambda t: t.cumsum(1),
              lambda t: t.cumprod(1), lambda t: t.cummax(1).values, lambda t: t.prod(1),
              lambda t: t.logsumexp(1), lambda t: t.max(1).values]
    for fn in checks:
        outs = {}
        for d, t in on.items():
            t.grad = None
            y = fn(t)
            y.backward(tg.tensor(np.ones(y.shape, np.float32), device=d))
            outs[d] = (y.numpy(), t.grad.numpy())
        np.testing.assert_allclose(outs["emu"][0], outs["cpu"][0], rtol=2e-4, atol=2e-5)
        np.testing.assert_allclose(outs["emu"][1], outs["cpu"][1], rtol=2e-4, atol=2e-5)
    assert tg.tensor(a, device="emu").any(1).tolist() == [True] * 40


@pytest.mark.parametrize("device", DEVICES)
def test_zero_d_and_empty_shapes(device):
    """Every op of the group on a 0-d tensor and on empty rows: the values PyTorch gives
    (empty product 1, logsumexp -inf, all() True), and a backward that runs."""
    device_or_skip(device)
    z = tg.tensor(2.0, device=device, requires_grad=True)
    assert [z.sort().values.item(), z.sort().indices.item(), z.topk(1).values.item(), z.cumsum(0).item(),
            z.cummax(0).indices.item(), z.prod().item(), z.logsumexp(0).item(), z.argsort().item()] == \
        [2.0, 0, 2.0, 2.0, 0, 2.0, 2.0, 0]
    (z.sort().values + z.cummax(0).values + z.prod() + z.logsumexp(0) + z.cumprod(0)).backward()
    assert z.grad.item() == 5.0
    for shape in [(0,), (3, 0), (0, 4)]:
        e = tg.tensor(np.zeros(shape, np.float32), device=device, requires_grad=True)
        assert e.sort(-1).values.shape == e.argsort(0).shape == e.cummin(-1).values.shape == shape
        assert e.topk(0, -1).values.shape == shape[:-1] + (0,)
        flat = lambda t: t.numpy().ravel().tolist()
        rows = int(np.prod(shape[:-1]))
        assert flat(e.prod(-1)) == flat(e.all(-1).float()) == [1.0] * rows
        assert flat(e.logsumexp(-1)) == [-np.inf] * rows and e.any().item() is False
        (e.sort(-1).values.sum() + e.cumprod(0).sum() + e.cummax(-1).values.sum() + e.prod(-1).sum()).backward()
        assert e.grad.shape == shape


def test_function_spellings_call_the_methods():
    x = tg.tensor([[3.0, 1.0, 2.0]])
    assert tg.sort(x, 1).indices.tolist() == [[1, 2, 0]] and tg.max(x, dim=1).indices.tolist() == [0]
    assert tg.max(x).item() == 3.0 and tg.topk(x, 2, dim=1).values.tolist() == [[3.0, 2.0]]
    assert tg.cumsum(x, 1).tolist() == [[3.0, 4.0, 6.0]] and tg.all(x).item() is True
    np.testing.assert_allclose(tg.var(x, correction=0).item(), 2 / 3, rtol=1e-6)


def test_multi_chunk_scans_and_full_sorts_pass_race_mode(monkeypatch):
    """The registry's race-mode test runs short rows; here rows of 300 make the scans carry
    across chunks (the barrier after reading a chunk's total) and the sort run every stage."""
    device_or_skip("emu")
    import functools
    from tinygrad_cu.device import _devices
    from tinygrad_cu.runtime import emu
    monkeypatch.setitem(_devices, "emu", GPUDevice("emu", emu, functools.partial(emu.SourceModule, check="race")))
    a = np.random.default_rng(6).integers(0, 5, size=(3, 300)).astype(np.float32)
    for fn in [lambda t: t.cumsum(1), lambda t: t.cumprod(1), lambda t: t.cummax(1).indices,
               lambda t: t.sort(1, descending=True).indices]:
        np.testing.assert_allclose(fn(tg.tensor(a, device="emu")).numpy(), fn(tg.tensor(a)).numpy(), rtol=2e-4)
