"""The movement/reduction tail (issue t2): diag, diagonal, unflatten, unfold,
masked_select, meshgrid, logcumsumexp, F.pad's modes and negative pads, tg.normal,
sum/mean dtype=, softmax of a 0-d tensor. Forward against plain float64 loops written
here from PyTorch's definitions (sharing no code with tinygrad_cu), gradients against
central finite differences (tg.gradcheck, float64 on cpu) or hand-counted values; on
`emu` the same forward and a gradient against the float64 reference."""
import math

import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F

from conftest import device_or_skip
from reference64_tail import pad_mode as padded_by_mode

DEVICES = ["cpu", "emu"]


def on(device):
    return device if device == "cpu" else device_or_skip(device)


def leaf(array, device):
    dtype = np.float64 if device == "cpu" else np.float32     # gradcheck wants float64
    return tg.Tensor(np.asarray(array, dtype), dtype=dtype, device=device, requires_grad=True)


def close(got, want, device):
    tol = dict(rtol=1e-10, atol=1e-12) if device == "cpu" else dict(rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(np.asarray(got, np.float64), want, **tol)


def check_grad(fn, x, device, want=None):
    """cpu: finite differences; emu: the hand-computed gradient `want` of sum(fn(x) * w)
    for w = 1 (the caller counts it)."""
    if device == "cpu":
        assert tg.gradcheck(fn, x, eps=1e-6, atol=1e-6, rtol=1e-5)
    else:
        fn(x).sum().backward()
        close(x.grad.numpy(), want, device)


# --- plain references ------------------------------------------------------------------
def diag_matrix(v, k):
    n = len(v)
    out = np.zeros((n + abs(k), n + abs(k)))
    for i in range(n):
        out[i + max(-k, 0), i + max(k, 0)] = v[i]
    return out


def diagonal_of(x, k, d1, d2):
    rest = [d for d in range(x.ndim) if d not in (d1, d2)]
    outer = [x.shape[d] for d in rest]
    vals = []
    i = 0
    while 0 <= i - min(k, 0) < x.shape[d1] and 0 <= i + max(k, 0) < x.shape[d2]:
        vals.append(i)
        i += 1
    out = np.zeros(outer + [len(vals)])
    for c in np.ndindex(*outer):
        for j, i in enumerate(vals):
            idx = [0] * x.ndim
            for d, cd in zip(rest, c):
                idx[d] = cd
            idx[d1], idx[d2] = i - min(k, 0), i + max(k, 0)
            out[c + (j,)] = x[tuple(idx)]
    return out


def log_cumulative(x):
    """1-D: out[k] = log(sum_{j <= k} exp(x[j])), shifted by the running max."""
    out = []
    for k in range(len(x)):
        m = max(x[:k + 1])
        out.append(m + math.log(sum(math.exp(v - m) for v in x[:k + 1])))
    return np.array(out)


# --- diag and diagonal -----------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_diag_of_a_vector_is_a_matrix_with_an_offset(device, rng):
    v = rng.standard_normal(4)
    for k in (0, 2, -1):
        x = leaf(v, on(device))
        close(x.diag(k).numpy(), diag_matrix(v, k), device)
        check_grad(lambda t: t.diag(k), x, device, want=np.ones(4))


@pytest.mark.parametrize("device", DEVICES)
def test_diagonal_of_any_plane_goes_last(device, rng):
    a = rng.standard_normal((3, 4, 5))
    for k, d1, d2 in ((0, 0, 1), (1, 0, 2), (-2, 2, 1), (7, 1, 2)):
        x = leaf(a, on(device))
        got = x.diagonal(k, d1, d2)
        close(got.numpy(), diagonal_of(a, k, d1, d2), device)
        hits = np.zeros_like(a)                # each diagonal element's gradient is 1
        for idx in np.ndindex(*a.shape):
            i1, i2 = idx[d1], idx[d2]
            hits[idx] = float(i2 - i1 == k)
        check_grad(lambda t: t.diagonal(k, d1, d2), x, device, want=hits)
    close(tg.tensor(a[0]).diag(-1).numpy(), diagonal_of(a[0], -1, 0, 1), "emu")
    with pytest.raises(ValueError):
        tg.tensor(a).diag()
    with pytest.raises(ValueError):
        tg.tensor(a).diagonal(0, 1, -2)


# --- unflatten, unfold -----------------------------------------------------------------
def test_unflatten_splits_one_dim():
    a = np.arange(24.0).reshape(4, 6)
    x = tg.tensor(a)
    assert x.unflatten(1, (2, 3)).shape == (4, 2, 3)
    assert x.unflatten(-1, (3, -1)).shape == (4, 3, 2)
    assert float(x.unflatten(1, (2, 3))[1, 1, 2].item()) == a[1, 5]
    with pytest.raises(ValueError):
        x.unflatten(0, (3, 2))
    with pytest.raises(IndexError):
        x.unflatten(2, (1, 1))


@pytest.mark.parametrize("device", DEVICES)
def test_unfold_windows_and_their_overlaps_add_in_the_gradient(device, rng):
    a = rng.standard_normal((2, 7, 3))
    for size, step in ((3, 1), (2, 3), (7, 2), (0, 4)):
        x = leaf(a, on(device))
        got = x.unfold(1, size, step)
        count = (7 - size) // step + 1
        want = np.zeros((2, count, 3, size))
        windows = np.zeros(7)                     # how many windows hold each position
        for w in range(count):
            for s in range(size):
                want[:, w, :, s] = a[:, w * step + s, :]
                windows[w * step + s] += 1
        assert got.shape == want.shape
        close(got.numpy(), want, device)
        if size:
            check_grad(lambda t: t.unfold(1, size, step), x, device,
                       want=np.broadcast_to(windows[None, :, None], a.shape))
    with pytest.raises(ValueError):
        tg.tensor(a).unfold(1, 8, 1)
    with pytest.raises(ValueError):
        tg.tensor(a).unfold(1, 2, 0)
    with pytest.raises(IndexError):
        tg.tensor(a).unfold(3, 2, 1)


# --- masked_select, meshgrid -------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_masked_select_broadcasts_the_mask(device, rng):
    a = rng.standard_normal((3, 4))
    m = rng.random((1, 4)) < 0.5
    m[0, 0] = True
    x = leaf(a, on(device))
    want = [a[i, j] for i in range(3) for j in range(4) if m[0, j]]
    got = x.masked_select(tg.Tensor(m, device=on(device)))
    close(got.numpy(), np.array(want), device)
    check_grad(lambda t: t.masked_select(tg.Tensor(m, device=on(device))), x, device,
               want=np.broadcast_to(m, a.shape).astype(np.float64))
    assert tg.tensor(a).masked_select(tg.tensor(True)).shape == (12,)
    with pytest.raises(TypeError):
        tg.tensor(a).masked_select(tg.tensor(m.astype(np.float32)))


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_indexing(indexing):
    a, b, c = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0]), np.array([6.0])
    grids = tg.meshgrid(tg.tensor(a), tg.tensor(b), tg.tensor(c), indexing=indexing)
    shape = (2, 3, 1) if indexing == "ij" else (3, 2, 1)
    for g in grids:
        assert g.shape == shape
    for i in range(2):
        for j in range(3):
            at = (i, j, 0) if indexing == "ij" else (j, i, 0)
            assert [g.numpy()[at] for g in grids] == [a[i], b[j], c[0]]
    with pytest.raises(ValueError):
        tg.meshgrid(tg.tensor(a), indexing="ji")


# --- logcumsumexp ------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_logcumsumexp_is_stable_and_differentiable(device, rng):
    a = rng.standard_normal((3, 5))
    for dim in (1, 0):
        x = leaf(a, on(device))
        want = np.moveaxis(np.array([log_cumulative(row) for row in np.moveaxis(a, dim, -1).reshape(-1, a.shape[dim])])
                           .reshape(np.moveaxis(a, dim, -1).shape), -1, dim)
        close(x.logcumsumexp(dim).numpy(), want, device)
        if device == "cpu":
            check_grad(lambda t: t.logcumsumexp(dim), x, device)
    big = tg.Tensor(np.array([0.0, 100.0, 1000.0, -1000.0]), device=on(device))
    close(big.logcumsumexp(0).numpy(), [0.0, 100.0, 1000.0, 1000.0], device)   # exp would overflow
    assert float(tg.tensor(2.5).logcumsumexp(0).item()) == 2.5
    edges = tg.Tensor(np.array([-np.inf, -np.inf, 1.0, np.inf, np.inf, 2.0]), device=on(device))
    assert edges.logcumsumexp(0).numpy().tolist() == [-np.inf, -np.inf, 1.0, np.inf, np.inf, np.inf]


@pytest.mark.parametrize("device", DEVICES)
def test_logcumsumexp_gradient_on_device_is_the_masked_softmax(device, rng):
    """d/dx_j sum_k y_k = sum_{k >= j} exp(x_j - y_k), counted by hand."""
    a = rng.standard_normal(6)
    x = leaf(a, on(device))
    x.logcumsumexp(0).sum().backward()
    y = log_cumulative(a)
    close(x.grad.numpy(), [sum(math.exp(a[j] - y[k]) for k in range(j, 6)) for j in range(6)], device)


# --- F.pad -------------------------------------------------------------------------------
def padded_then_cropped(a, pairs, mode):
    """PyTorch's order: pad by the positive parts, then crop the negative ones."""
    grown = tuple((max(p, 0), max(q, 0)) for p, q in pairs)
    out = padded_by_mode(a, grown, mode) if mode != "constant" else np.pad(a, grown)
    return out[tuple(slice(-min(p, 0), n + min(q, 0)) for (p, q), n in zip(pairs, out.shape))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_modes_with_pytorch_argument_order(device, mode, rng):
    a = rng.standard_normal((2, 4, 5))
    flat = (2, -1, 3, 1) if mode != "circular" else (2, 5, 3, 1)   # last dim first
    pairs = ((0, 0), (3, 1), (2, -1)) if mode != "circular" else ((0, 0), (3, 1), (2, 5))
    x = leaf(a, on(device))
    got = F.pad(x, flat, mode=mode)
    close(got.numpy(), padded_then_cropped(a, pairs, mode), device)
    if device == "cpu":
        check_grad(lambda t: F.pad(t, flat, mode=mode), x, device)
    else:                       # each input element's gradient: how often it is copied
        ids = padded_then_cropped(np.arange(1, a.size + 1, dtype=np.float64).reshape(a.shape), pairs, mode)
        want = np.bincount(ids.astype(np.int64).ravel(), minlength=a.size + 1)[1:].reshape(a.shape)  # 0: constant
        check_grad(lambda t: F.pad(t, flat, mode=mode), x, device, want=want)


def test_pad_refusals_are_pytorchs():
    x = tg.tensor(np.zeros((1, 1, 5, 5)))
    with pytest.raises(NotImplementedError):
        F.pad(x, (1, 1), mode="typo")
    with pytest.raises(ValueError):                     # reflect: pad < size
        F.pad(x, (3, 5), mode="reflect")
    with pytest.raises(ValueError):                     # circular: at most one wrap
        F.pad(x, (6, 0), mode="circular")
    with pytest.raises(NotImplementedError):
        F.pad(x, (3, -1), mode="circular")
    with pytest.raises(ValueError):
        F.pad(x, (1, 2, 3))
    assert F.pad(x, (4, 4, 0, 4), mode="reflect").shape == (1, 1, 9, 13)
    assert F.pad(x, (3, 11, 0, 30), mode="replicate").shape == (1, 1, 35, 19)
    assert x.pad(((0, 0), (0, 0), (-3, 4), (-1, 2)), value=5.0).shape == (1, 1, 6, 6)


# --- creation and reductions' small cases ------------------------------------------------
def test_normal_is_seeded_and_has_the_right_moments():
    tg.manual_seed(3)
    a = tg.normal(2.0, 0.5, (200, 100)).numpy()
    tg.manual_seed(3)
    assert np.array_equal(a, tg.normal(2.0, 0.5, (200, 100)).numpy())
    assert a.dtype == np.float32 and abs(a.mean() - 2.0) < 0.02 and abs(a.std() - 0.5) < 0.02
    means = tg.tensor(np.array([0.0, 100.0, -100.0]))
    b = tg.normal(means, 0.01).numpy()
    assert b.shape == (3,) and np.all(np.abs(b - [0.0, 100.0, -100.0]) < 0.1)
    w = tg.zeros(4, 3)
    assert w.normal_(5.0, 0.1) is w and abs(float(w.numpy().mean()) - 5.0) < 0.2


def test_sum_and_mean_take_pytorchs_dtype():
    a = np.array([1e8, 1.0, -1e8, 1.0], np.float32)
    s = tg.tensor(a).sum(dtype=tg.float64)
    assert s.dtype == np.float64 and s.item() == 2.0          # float32 would lose the 1s
    m = tg.tensor(np.arange(4, dtype=np.int64)).mean(dtype=tg.float32)
    assert m.dtype == np.float32 and m.item() == 1.5
    for reduce in ("sum", "mean", "prod"):
        with pytest.raises(TypeError):
            getattr(tg.tensor([1.0, 2.0]), reduce)(0, dtype="")


@pytest.mark.parametrize("device", DEVICES)
def test_softmax_of_a_0d_tensor_is_one(device):
    x = tg.Tensor(np.array(3.0, np.float32), device=on(device), requires_grad=True)
    y = x.softmax(0)
    assert y.shape == () and y.item() == 1.0
    assert x.log_softmax(-1).item() == 0.0
    y.backward()
    assert x.grad.item() == 0.0
    with pytest.raises(IndexError):
        x.softmax(1)
    assert tg.stack([x, x]).shape == (2,)
    with pytest.raises(ValueError):
        tg.cat([x, x])
