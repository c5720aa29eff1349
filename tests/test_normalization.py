"""BatchNorm, LayerNorm, GroupNorm and Embedding against float64 numpy formulas written
out here, on cpu and emu (the norm kernels); BatchNorm's train/eval behaviour and running
statistics after several steps; gradients against central differences."""
import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F
from tinygrad_cu import nn
from tinygrad_cu.device.gpu import GPUDevice

from conftest import device_or_skip
from test_nn_layers import assert_layer_gradients

DEVICES = ["cpu", "emu"]


def tol(device):
    return dict(rtol=1e-5, atol=1e-6) if device == "cpu" else dict(rtol=2e-4, atol=2e-5)


def batch_norm64(x, mean, var, w, b, eps):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * w.reshape(shape) + b.reshape(shape)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm2d_train_steps_running_stats_and_eval(device, momentum):
    device_or_skip(device)
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2d(3, momentum=momentum).to(device)
    w, b = rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    bn.load_state_dict({**bn.state_dict(), "weight": w, "bias": b})
    run_mean, run_var = np.zeros(3), np.ones(3)
    for step in range(1, 5):
        x = rng.standard_normal((4, 3, 5, 6)) * 3 + 1
        y = bn(tg.Tensor(x, device=device))
        mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
        np.testing.assert_allclose(y.numpy(), batch_norm64(x, mean, var, w, b, 1e-5), **tol(device))
        m = 1 / step if momentum is None else momentum
        n = 4 * 5 * 6
        run_mean = (1 - m) * run_mean + m * mean
        run_var = (1 - m) * run_var + m * var * n / (n - 1)          # the unbiased variance
    state = bn.state_dict()
    np.testing.assert_allclose(state["running_mean"], run_mean, **tol(device))
    np.testing.assert_allclose(state["running_var"], run_var, **tol(device))
    assert state["num_batches_tracked"] == 4
    bn.eval()
    x = rng.standard_normal((2, 3, 4, 4))
    np.testing.assert_allclose(bn(tg.Tensor(x, device=device)).numpy(),
                               batch_norm64(x, run_mean, run_var, w, b, 1e-5), **tol(device))
    np.testing.assert_allclose(bn.running_mean.numpy(), run_mean, **tol(device))   # eval leaves them


def test_batchnorm_state_dict_round_trip_and_options():
    bn = nn.BatchNorm1d(4)
    bn(tg.randn(8, 4))
    fresh = nn.BatchNorm1d(4)
    fresh.load_state_dict(bn.state_dict())
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k], v)
    assert int(fresh.num_batches_tracked.numpy()) == 1 and fresh.num_batches_tracked.device == "cpu"
    # without running statistics: batch statistics in eval too, and none in the state dict
    plain = nn.BatchNorm1d(4, affine=False, track_running_stats=False).eval()
    x = np.random.default_rng(1).standard_normal((6, 4, 3))
    mean, var = x.mean(axis=(0, 2), keepdims=True), x.var(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(plain(tg.Tensor(x, dtype=tg.float64)).numpy(), (x - mean) / np.sqrt(var + 1e-5),
                               rtol=1e-10)
    assert list(plain.state_dict()) == []
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(4)(tg.randn(1, 4))
    with pytest.raises(ValueError, match="BatchNorm2d: expected a 4-D input"):
        nn.BatchNorm2d(4)(tg.randn(2, 4))


@pytest.mark.parametrize("device", DEVICES)
def test_layer_norm_and_group_norm_match_formulas(device):
    device_or_skip(device)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 5, 2)) * 2 - 1
    ln = nn.LayerNorm((5, 2)).to(device)
    w, b = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    ln.load_state_dict({"weight": w, "bias": b})
    mean, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    np.testing.assert_allclose(ln(tg.Tensor(x, device=device)).numpy(), (x - mean) / np.sqrt(var + 1e-5) * w + b,
                               **tol(device))
    gn = nn.GroupNorm(2, 4).to(device)
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    gn.load_state_dict({"weight": w, "bias": b})
    grouped = x.reshape(3, 2, 2 * 5 * 2)
    normed = ((grouped - grouped.mean(axis=2, keepdims=True)) /
              np.sqrt(grouped.var(axis=2, keepdims=True) + 1e-5)).reshape(x.shape)
    np.testing.assert_allclose(gn(tg.Tensor(x, device=device)).numpy(),
                               normed * w.reshape(1, 4, 1, 1) + b.reshape(1, 4, 1, 1), **tol(device))


@pytest.mark.parametrize("layer, x_shape", [
    (lambda: nn.LayerNorm(4), (3, 4)),
    (lambda: nn.LayerNorm((2, 3), bias=False), (2, 2, 3)),
    (lambda: nn.GroupNorm(2, 4), (2, 4, 3)),
    (lambda: nn.GroupNorm(1, 2, affine=False), (2, 2, 2, 2)),
])
def test_layer_gradients(layer, x_shape):
    assert_layer_gradients(layer(), x_shape)


def test_batch_norm_gradients_train_and_eval():
    rng = np.random.default_rng(3)
    f64 = lambda a: tg.Tensor(a, dtype=tg.float64, requires_grad=True)
    x, w, b = f64(rng.standard_normal((4, 3, 2))), f64(rng.uniform(0.5, 1.5, 3)), f64(rng.standard_normal(3))
    rm, rv = tg.Tensor(rng.standard_normal(3), dtype=tg.float64), tg.Tensor(rng.uniform(0.5, 2, 3), dtype=tg.float64)
    assert tg.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), x, w, b)
    assert tg.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), x, w, b)


@pytest.mark.parametrize("device", DEVICES)
def test_embedding_lookup_gradient_and_padding_idx(device):
    device_or_skip(device)
    emb = nn.Embedding(5, 3, padding_idx=1).to(device)
    table = emb.weight.numpy()
    assert not table[1].any()                       # the padding row starts at zero
    idx = np.array([[0, 1, 4], [4, 4, 1]])
    out = emb(idx)
    np.testing.assert_array_equal(out.numpy(), table[idx])
    out.backward(tg.ones(2, 3, 3, device=device))
    # row 4 is looked up 3 times, row 0 once, row 1 is padding: no gradient
    np.testing.assert_array_equal(emb.weight.grad.numpy()[:, 0], [1, 0, 0, 0, 3])
    with pytest.raises(IndexError, match="Embedding|embedding: index 5 is out of range"):
        emb(np.array([5]))


def test_norm_kernels_beyond_one_grid(monkeypatch):
    """Grids capped at 2 blocks: the kernels' grid-stride loops over q and over elements."""
    device_or_skip("emu")
    monkeypatch.setattr(GPUDevice, "MAX_BLOCKS", 2)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5, 70)).astype(np.float32)     # 5 channels of 420 values each
    w, b = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    u = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for device in ("cpu", "emu"):
        ts = [tg.Tensor(a, device=device, requires_grad=True) for a in (x, w, b)]
        y = F.batch_norm(ts[0], None, None, ts[1], ts[2], training=True)
        (y * tg.Tensor(u, device=device)).sum().backward()
        results.append([y.numpy()] + [t.grad.numpy() for t in ts])
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)


def test_conv_batchnorm_training_same_on_emu_as_cpu():
    """A few SGD steps of conv + BatchNorm + ReLU + linear: the same losses and running
    statistics from the kernels as from the numpy references."""
    device_or_skip("emu")
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((8, 2, 6, 6)).astype(np.float32), rng.integers(0, 3, 8)
    results = {}
    for device in ("cpu", "emu"):
        tg.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(2, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                              nn.Linear(4 * 16, 3), nn.BatchNorm1d(3)).to(device)
        opt = tg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        losses = []
        for _ in range(4):
            opt.zero_grad()
            loss = F.cross_entropy(model(tg.Tensor(x, device=device)), tg.Tensor(y, device=device))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        results[device] = losses, model.state_dict()
    np.testing.assert_allclose(results["emu"][0], results["cpu"][0], rtol=1e-4)
    for name, value in results["cpu"][1].items():
        np.testing.assert_allclose(results["emu"][1][name], value, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("make, shape", [(lambda: nn.BatchNorm2d(3), (4, 3, 5, 5)),
                                         (lambda: nn.LayerNorm(5), (4, 3, 5)),
                                         (lambda: nn.GroupNorm(3, 3), (2, 3, 4))])
def test_normalisation_is_a_fused_kernel_pair(make, shape, monkeypatch):
    """Forward: statistics + normalise (2 launches); backward: statistics, data, affine (3)."""
    device_or_skip("emu")
    launched = []
    real = GPUDevice.launch
    monkeypatch.setattr(GPUDevice, "launch", lambda self, src, name, *a, **k: (launched.append(name),
                                                                                real(self, src, name, *a, **k))[1])
    layer = make().to("emu")
    x = tg.Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32), device="emu",
                  requires_grad=True)
    grad = tg.Tensor(np.ones(shape, np.float32), device="emu")
    launched.clear()
    y = layer(x)
    assert launched == ["norm_statistics", "norm_forward"]
    launched.clear()
    y.backward(grad)
    assert sorted(launched) == ["norm_backward_affine", "norm_backward_data", "norm_backward_statistics"]


def test_embedding_gradcheck():
    w = tg.Tensor(np.random.default_rng(6).standard_normal((4, 3)), dtype=tg.float64, requires_grad=True)
    idx = np.array([[0, 2, 2], [1, 3, 0]])
    assert tg.gradcheck(lambda w: F.embedding(idx, w), w)
    # padding_idx: the same gradient with the padding row zeroed (by design, as PyTorch: the
    # output still reads that row, so finite differences would not be zero there)
    u = np.random.default_rng(7).standard_normal((2, 3, 3))
    grads = []
    for pad in (None, 2):
        w.grad = None
        (F.embedding(idx, w, padding_idx=pad) * tg.Tensor(u, dtype=tg.float64)).sum().backward()
        grads.append(w.grad.numpy())
    grads[0][2] = 0
    np.testing.assert_array_equal(grads[1], grads[0])
