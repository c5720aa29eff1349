"""The movement ops of issue 11 beyond the registry tests (which check every registered op's
forward against tests/reference64_movement.py and its gradient by finite differences):
the composites (split, chunk, narrow, tile, take_along_dim, repeat_interleave, einsum),
PyTorch's argument forms, errors, bad indices found on the device without a host
synchronisation, colliding atomic updates, and gradients at zeros and ties, against
hand-computed values, numpy's einsum and central finite differences."""
import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F
from tinygrad_cu.autograd import apply
from tinygrad_cu.device.gpu import GPUDevice

from conftest import device_or_skip

DEVICES = ["cpu", "emu"]


def on(device):
    return device if device == "cpu" else device_or_skip(device)


def leaf(array, device, grad=True):
    return tg.Tensor(np.asarray(array, np.float32), device=device, requires_grad=grad)


# --- slices: split, chunk, narrow -----------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_split_chunk_and_narrow_cut_as_pytorch_does(device):
    x = tg.tensor(np.arange(10.0).reshape(2, 5), device=on(device))
    assert [t.shape for t in x.chunk(3, 1)] == [(2, 2), (2, 2), (2, 1)]
    assert [t.shape for t in x.chunk(6, dim=-1)] == [(2, 1)] * 5          # fewer pieces than asked
    assert [t.shape for t in tg.split(x, 2, 1)] == [(2, 2), (2, 2), (2, 1)]
    np.testing.assert_array_equal(x.split([1, 4], dim=1)[1].numpy(), [[1, 2, 3, 4], [6, 7, 8, 9]])
    np.testing.assert_array_equal(x.narrow(1, -2, 2).numpy(), [[3, 4], [8, 9]])
    np.testing.assert_array_equal(tg.narrow(x, 0, 1, 1).numpy(), [[5, 6, 7, 8, 9]])
    assert [t.shape for t in tg.zeros(0).chunk(3)] == [(0,)] * 3


def test_slice_errors_name_the_sizes():
    x = tg.zeros(2, 5)
    with pytest.raises(ValueError, match=r"start \(4\) \+ length \(2\) exceeds dimension size \(5\)"):
        x.narrow(1, 4, 2)
    with pytest.raises(ValueError, match="sum exactly to 5"):
        x.split([1, 1], dim=1)
    with pytest.raises(ValueError, match="chunks must be a positive int"):
        x.chunk(0)
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        x.split(1, dim=2)


def test_split_gradients_reach_their_slices():
    x = leaf(np.arange(6.0).reshape(2, 3), "cpu")
    a, b = x.split([1, 2], dim=1)
    (a.sum() * 2 + (b * b).sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 2, 4], [2, 8, 10]])


# --- tile, take_along_dim, repeat_interleave ------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_tile_pads_dims_on_the_left(device):
    x = tg.tensor([[1.0, 2.0]], device=on(device))
    np.testing.assert_array_equal(x.tile(2).numpy(), [[1, 2, 1, 2]])
    np.testing.assert_array_equal(tg.tile(x, (2, 1, 1)).numpy(), [[[1, 2]], [[1, 2]]])
    np.testing.assert_array_equal(x.repeat(2, 1).numpy(), [[1, 2], [1, 2]])


@pytest.mark.parametrize("device", DEVICES)
def test_take_along_dim_broadcasts_outside_dim(device):
    d = on(device)
    x = tg.tensor([[10.0, 11.0, 12.0], [20.0, 21.0, 22.0]], device=d)
    np.testing.assert_array_equal(x.take_along_dim(tg.tensor([[2, 0]], device=d), dim=1).numpy(),
                                  [[12, 10], [22, 20]])                    # index row broadcast
    np.testing.assert_array_equal(tg.take_along_dim(x, tg.tensor([5, 0], device=d)).numpy(), [22, 10])
    with pytest.raises(ValueError, match="same number of dims"):
        x.take_along_dim(tg.tensor([0], device=d), dim=1)


@pytest.mark.parametrize("device", DEVICES)
def test_repeat_interleave_takes_an_int_or_a_tensor(device):
    d = on(device)
    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=d)
    np.testing.assert_array_equal(x.repeat_interleave(2).numpy(), [1, 1, 2, 2, 3, 3, 4, 4])
    np.testing.assert_array_equal(x.repeat_interleave(tg.tensor([1, 2], device=d), dim=0).numpy(),
                                  [[1, 2], [3, 4], [3, 4]])
    np.testing.assert_array_equal(tg.repeat_interleave(x, tg.tensor([0, 3]), dim=1).numpy(),
                                  [[2, 2, 2], [4, 4, 4]])
    with pytest.raises(ValueError, match="need one per element"):
        x.repeat_interleave(tg.tensor([1, 2, 3]), dim=0)
    with pytest.raises(ValueError, match="non-negative"):
        x.repeat_interleave(-1, dim=0)


def test_composite_gradients_match_finite_differences(rng):
    x = tg.Tensor(rng.standard_normal((3, 4)), dtype=tg.float64, requires_grad=True)
    index = tg.tensor([[3, 0, 0]])
    assert tg.gradcheck(lambda t: t.take_along_dim(index, dim=1), x)
    assert tg.gradcheck(lambda t: t.repeat_interleave(tg.tensor([2, 0, 1]), dim=0), x)
    assert tg.gradcheck(lambda t: t.tile(2, 1, 2), x)
    assert tg.gradcheck(lambda t: t.chunk(2, dim=1)[1] * 3, x)


# --- einsum ------------------------------------------------------------------------------------
EINSUMS = [("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk", [(2, 3, 4), (2, 4, 5)]), ("ii->i", [(3, 3)]),
           ("ii", [(3, 3)]), ("iji->j", [(3, 2, 3)]), ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
           ("i,j", [(3,), (4,)]), ("ij,jk,kl->li", [(2, 3), (3, 4), (4, 5)]), ("bA,ba", [(2, 3), (2, 4)]),
           ("ij,jk", [(2, 1), (3, 4)]), ("...i->i", [(2, 3)]), (",ij->ij", [(), (2, 3)])]


@pytest.mark.parametrize("equation, shapes", EINSUMS, ids=[e for e, _ in EINSUMS])
def test_einsum_matches_numpy(equation, shapes, rng):
    arrays = [rng.standard_normal(s) for s in shapes]
    got = tg.einsum(equation, *[tg.Tensor(a, dtype=tg.float64) for a in arrays]).numpy()
    if equation == "ij,jk":      # numpy broadcasts size-1 dims only under '...'; PyTorch, any letter's
        arrays[0] = np.broadcast_to(arrays[0], (2, 3))
    # an output without '...' sums the '...' dims in PyTorch; numpy refuses it: spell it out
    numpy_equation = {"...i->i": "ji->i"}.get(equation, equation)
    np.testing.assert_allclose(got, np.einsum(numpy_equation, *arrays), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("equation, shapes", [("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]), ("ii->", [(3, 3)]),
                                              ("...ij->...ji", [(2, 3, 4)]), ("ij,jk", [(2, 1), (3, 4)])])
def test_einsum_gradients_match_finite_differences(equation, shapes, rng):
    tensors = [tg.Tensor(rng.standard_normal(s), dtype=tg.float64, requires_grad=True) for s in shapes]
    assert tg.gradcheck(lambda *ts: tg.einsum(equation, *ts), *tensors)


def test_einsum_takes_a_list_and_sublists(rng):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    ta, tb = tg.Tensor(a, dtype=tg.float64), tg.Tensor(b, dtype=tg.float64)
    np.testing.assert_allclose(tg.einsum("ij,jk->ki", [ta, tb]).numpy(), (a @ b).T, rtol=1e-12)
    np.testing.assert_allclose(tg.einsum(ta, [0, 1], tb, [1, 27], [27, 0]).numpy(), (a @ b).T, rtol=1e-12)
    np.testing.assert_allclose(tg.einsum(ta, [Ellipsis, 5], [5]).numpy(), a.sum(axis=0), rtol=1e-12)


def test_einsum_on_emu_matches_cpu(rng):
    device_or_skip("emu")
    a, b = rng.standard_normal((2, 3, 3)).astype(np.float32), rng.standard_normal((2, 3, 4)).astype(np.float32)
    grads = {}
    for device in DEVICES:
        ta, tb = leaf(a, device), leaf(b, device)
        out = tg.einsum("bii,bij->bj", ta, tb)
        out.backward(tg.ones(*out.shape, device=device))
        grads[device] = (out.numpy(), ta.grad.numpy(), tb.grad.numpy())
    for got, want in zip(grads["emu"], grads["cpu"]):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("equation, shapes, message", [
    ("ij,jk", [(2, 3)], "2 operand terms but 1 operands"),
    ("ij->ii", [(2, 2)], "appears more than once"),
    ("ij->k", [(2, 2)], "appears in no operand"),
    ("ij,jk", [(2, 3), (4, 5)], "has size 4 in operand 1"),
    ("ii", [(1, 3)], "repeated in operand 0"),
    ("i?", [(2, 3)], "invalid subscript"),
    ("ijk", [(2, 3)], "3 subscripts for operand 0 with 2 dims")])
def test_einsum_errors_say_what_is_wrong(equation, shapes, message):
    with pytest.raises(ValueError, match=message):
        tg.einsum(equation, *[tg.zeros(*s) for s in shapes])


# --- PyTorch's argument forms ------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_scatter_takes_src_or_a_value_and_reduce(device):
    d = on(device)
    x = tg.zeros(2, 3, device=d)
    index = tg.tensor([[2], [0]], device=d)
    np.testing.assert_array_equal(x.scatter(1, index, value=5.0).numpy(), [[0, 0, 5], [5, 0, 0]])
    np.testing.assert_array_equal(x.scatter(1, index, 7).numpy(), [[0, 0, 7], [7, 0, 0]])
    src = tg.tensor([[1.0], [2.0]], device=d)
    twice = tg.tensor([[2, 2], [0, 0]], device=d)
    np.testing.assert_array_equal(x.scatter(1, twice, tg.tensor([[1.0, 2.0], [3.0, 4.0]], device=d),
                                            reduce="add").numpy(), [[0, 0, 3], [7, 0, 0]])
    np.testing.assert_array_equal(tg.scatter_add(x, 1, index, src).numpy(), [[0, 0, 1], [2, 0, 0]])
    np.testing.assert_array_equal(x.index_select(1, tg.tensor([1], dtype=tg.int32, device=d)).numpy(), [[0], [0]])
    np.testing.assert_array_equal(tg.flip(src, [0]).numpy(), [[2], [1]])
    np.testing.assert_array_equal(src.roll(1).numpy(), [[2], [1]])


@pytest.mark.parametrize("device", DEVICES)
def test_keyword_spellings_of_pytorch(device):
    d = on(device)
    x = tg.tensor([[1.0, 2.0, 3.0]], device=d)
    np.testing.assert_array_equal(tg.flip(x, dims=[1]).numpy(), [[3, 2, 1]])
    np.testing.assert_array_equal(x.tile(dims=(2, 1)).numpy(), [[1, 2, 3], [1, 2, 3]])
    assert [t.shape for t in x.split(split_size=2, dim=1)] == [(1, 2), (1, 1)]
    np.testing.assert_array_equal(tg.gather(x, 1, tg.tensor([[2]], device=d), sparse_grad=False).numpy(), [[3]])
    np.testing.assert_array_equal(x.roll(shifts=1, dims=1).numpy(), [[3, 1, 2]])
    np.testing.assert_array_equal(x.narrow(dim=1, start=1, length=1).numpy(), [[2]])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [tg.int64, tg.int32])
def test_scatter_add_counts_in_integers(device, dtype):
    """A histogram: 1s added into integer zeros, with indices that collide (atomics)."""
    d = on(device)
    labels = np.array([3, 0, 3, 3, 1, 0, 3])
    ones = tg.Tensor(np.ones(7), dtype=dtype, device=d)
    counts = tg.Tensor(np.zeros(5), dtype=dtype, device=d).scatter_add(0, tg.tensor(labels, device=d), ones)
    assert counts.dtype == dtype
    np.testing.assert_array_equal(counts.numpy(), [2, 1, 0, 4, 0])
    big = tg.Tensor(np.array([2**40 if dtype == tg.int64 else 2**20]), dtype=dtype, device=d)
    np.testing.assert_array_equal(big.scatter_add(0, tg.tensor([0, 0], device=d),
                                                  tg.Tensor(np.array([-3, 1]), dtype=dtype, device=d)).numpy(),
                                  [int(big.numpy()[0]) - 2])


@pytest.mark.parametrize("device", DEVICES)
def test_one_hot_is_int64_and_can_infer_the_classes(device):
    d = on(device)
    out = F.one_hot(tg.tensor([0, 2], device=d))
    assert out.dtype == tg.int64 and out.shape == (2, 3)
    np.testing.assert_array_equal(out.numpy(), [[1, 0, 0], [0, 0, 1]])
    assert F.one_hot(tg.tensor([1], device=d), num_classes=4).shape == (1, 4)
    with pytest.raises(TypeError, match="int64"):
        F.one_hot(tg.tensor([0.0], device=d))


# --- errors: dtypes, shapes, dims ----------------------------------------------------------------
@pytest.mark.parametrize("call, error, message", [
    (lambda x: apply("gather", x, tg.tensor([[0]], dtype=tg.int32), dim=0), TypeError, "int64 tensor"),
    (lambda x: x.gather(0, tg.tensor([[0.0]])), TypeError, "int64 .or int32. tensor"),
    (lambda x: x.gather(0, tg.tensor([0])), ValueError, "as many dims"),
    (lambda x: x.gather(0, tg.tensor([[0, 0, 0, 0, 0]])), ValueError, "larger than the input"),
    (lambda x: x.gather(2, tg.tensor([[0]])), IndexError, "dim 2 is out of range"),
    (lambda x: x.index_select(0, tg.tensor([[0]])), ValueError, "1-D or 0-d"),
    (lambda x: x.scatter(0, tg.tensor([[0]]), tg.tensor([[1]])), TypeError, "same dtype"),
    (lambda x: x.scatter_add(0, tg.tensor([[0, 0]]), tg.zeros(1, 1)), ValueError, "no larger than src"),
    (lambda x: x.scatter_reduce(0, tg.tensor([[0]]), tg.zeros(1, 1), "max"), ValueError, "reduce must be"),
    (lambda x: x.flip(0, -2), ValueError, "more than once"),
    (lambda x: x.roll((1, 2), 0), ValueError, "same non-zero length"),
    (lambda x: x.repeat(2), ValueError, "at least one per dim"),
    (lambda x: x.reshape(-1).triu(), ValueError, "at least 2 dims")])
def test_bad_arguments_raise_pytorch_like_errors_naming_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call(tg.zeros(3, 4))


# --- bad index values: cpu at once, emu at the next synchronisation, without waiting -----------
BAD_INDEX = [
    ("gather", lambda x, i: x.gather(1, i), [[1, 7, -2]], RuntimeError,
     "gather: index 7 is out of bounds for dimension 1 with size 4"),
    ("index_select", lambda x, i: x.index_select(1, i.reshape(-1)), [[1, -1, 9]], IndexError,
     "index_select: index -1 is out of range for dimension 1 with size 4"),
    ("scatter", lambda x, i: x.scatter(1, i, tg.zeros(1, 3, device=x.device)), [[0, 4, 1]], RuntimeError,
     "scatter: index 4 is out of bounds for dimension 1 with size 4"),
    ("scatter_add", lambda x, i: x.scatter_add(1, i, tg.zeros(1, 3, device=x.device)), [[-5, 4, 1]],
     RuntimeError, "scatter: index -5 is out of bounds"),
    ("scatter_reduce", lambda x, i: x.scatter_reduce(1, i, tg.zeros(1, 3, device=x.device), "amax"),
     [[0, 1, 8]], RuntimeError, "scatter: index 8 is out of bounds"),
    ("one_hot", lambda x, i: F.one_hot(i.reshape(-1), 4), [[2, 4, 0]], RuntimeError,
     "one_hot: class value 4 is out of range for 4 classes")]


@pytest.mark.parametrize("name, call, index, error, message", BAD_INDEX, ids=[b[0] for b in BAD_INDEX])
def test_bad_index_is_reported_with_the_same_message_on_cpu(name, call, index, error, message):
    with pytest.raises(error, match=message):
        call(tg.zeros(2, 4), tg.tensor(index))


@pytest.mark.parametrize("name, call, index, error, message", BAD_INDEX, ids=[b[0] for b in BAD_INDEX])
def test_bad_index_on_emu_is_raised_at_the_next_sync_not_before(name, call, index, error, message, monkeypatch):
    device_or_skip("emu")
    x, i = tg.zeros(2, 4, device="emu"), tg.tensor(index, device="emu")
    copies = []
    real = GPUDevice.memcpy_dtoh
    monkeypatch.setattr(GPUDevice, "memcpy_dtoh", lambda self, host, src: (copies.append(src), real(self, host, src)))
    out = call(x, i)                                   # the kernel records the bad index ...
    assert copies == [], f"{name} copied device data to the host inside the op"
    with pytest.raises(error, match=message):          # ... and the sync reports it
        out.numpy()
    np.testing.assert_array_equal(x.gather(1, tg.tensor([[3], [0]], device="emu")).numpy(), [[0], [0]])


# --- colliding atomics, grids smaller than the work, and exact gradients at zeros and ties ------
def test_colliding_updates_sum_exactly_on_emu(rng, monkeypatch):
    """Thousands of threads add into a few elements, on a grid of 2 blocks (grid-stride)."""
    device_or_skip("emu")
    monkeypatch.setattr(GPUDevice, "MAX_BLOCKS", 2)
    x = rng.standard_normal((3, 5)).astype(np.float32)
    index = rng.integers(0, 3, size=(900, 5))
    src = rng.standard_normal((900, 5)).astype(np.float32)
    out_grad = rng.standard_normal((900, 5)).astype(np.float32)
    results = {}
    for device in DEVICES:
        tx, ts, ti = leaf(x, device), leaf(src, device), tg.tensor(index, device=device)
        gathered = tx.gather(0, ti)
        gathered.backward(tg.Tensor(out_grad, device=device))
        added = tg.Tensor(x, device=device).scatter_add(0, ti, tg.Tensor(src, device=device))
        biggest = tg.Tensor(x, device=device).scatter_reduce(0, ti, tg.Tensor(src, device=device), "amax")
        picked = tg.Tensor(x, device=device).index_select(0, ti[:, 0])
        results[device] = [gathered.numpy(), tx.grad.numpy(), added.numpy(), biggest.numpy(), picked.numpy(),
                           tg.Tensor(x, device=device).repeat(40, 3).numpy()]
    for got, want in zip(results["emu"], results["cpu"]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_scatter_reduce_gradients_at_zeros_and_ties(device):
    d = on(device)
    # prod: out = [2 * 0 * 5, 3 * 4]; d/d value = the product of the others
    x, src = leaf([2.0, 3.0], d), leaf([0.0, 5.0, 4.0], d)
    x.scatter_reduce(0, tg.tensor([0, 0, 1], device=d), src, "prod").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 4])
    np.testing.assert_array_equal(src.grad.numpy(), [10, 0, 3])
    # amax with a tie between x and src: the gradient is split evenly
    x, src = leaf([1.0], d), leaf([1.0, 0.5], d)
    x.scatter_reduce(0, tg.tensor([0, 0], device=d), src, "amax").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.5])
    np.testing.assert_array_equal(src.grad.numpy(), [0.5, 0])
    # mean without self: untouched elements keep x and its gradient
    x, src = leaf([1.0, 7.0], d), leaf([2.0, 4.0], d)
    out = x.scatter_reduce(0, tg.tensor([0, 0], device=d), src, "mean", include_self=False)
    out.backward(tg.tensor([1.0, 1.0], device=d))
    np.testing.assert_array_equal(out.numpy(), [3, 7])
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1])
    np.testing.assert_array_equal(src.grad.numpy(), [0.5, 0.5])


@pytest.mark.parametrize("device", DEVICES)
def test_a_step_with_index_ops_replays_under_jit(device):
    """An embedding lookup, a scatter_add and a flip/roll in a captured training step: the
    replays (new indices each step) match the eager steps."""
    d = on(device)

    def train(capture):
        rng = np.random.default_rng(0)
        w = leaf(rng.standard_normal((10, 4)), d)
        opt = tg.optim.SGD([w], lr=0.1)

        def step(idx, y):
            opt.zero_grad()
            rows = w.index_select(0, idx)
            spread = tg.zeros(10, 4, device=d).scatter_add(0, idx.reshape(-1, 1).expand(5, 4), rows * y)
            loss = (spread * spread).sum() + rows.flip(1).roll(1, 0)[0].sum()
            loss.backward()
            opt.step()
            return loss
        run = tg.jit(step) if capture else step
        losses = [run(tg.tensor(rng.integers(0, 10, 5), device=d),
                      tg.Tensor(rng.standard_normal((5, 4)).astype(np.float32), device=d)).item() for _ in range(4)]
        return losses, w.numpy()
    (eager, w_eager), (replayed, w_replayed) = train(False), train(True)
    np.testing.assert_allclose(replayed, eager, rtol=1e-5)
    np.testing.assert_allclose(w_replayed, w_eager, rtol=1e-5, atol=1e-6)
