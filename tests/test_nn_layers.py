"""Every layer's output and gradients against independent references.

Outputs: plain numpy float64 (x W^T + b; convolution and pooling as explicit loops
over output positions). Gradients: central differences on the layer itself (each
parameter and the input perturbed through load_state_dict / a new input, in float64)
against what backward() deposits in .grad, projected on a random direction."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_cu as tg
from tinygrad_cu import nn
from tinygrad_cu.tensor import Tensor

f64 = tg.float64


def numeric_gradients(layer, x, u, eps=1e-6):
    """d/dθ sum(layer(x) * u) for every parameter θ and for x, by central differences."""
    base = layer.state_dict()

    def objective(state, xx):
        layer.load_state_dict(state)
        with tg.no_grad():
            return float((layer(Tensor(xx, dtype=f64)).numpy() * u).sum())

    grads = {}
    for name in list(base) + ["input"]:
        ref = x if name == "input" else base[name]
        g = np.zeros(ref.shape)
        for i in range(ref.size):
            values = []
            for sign in (1, -1):
                state, xx = {k: v.copy() for k, v in base.items()}, x.copy()
                (xx if name == "input" else state[name]).reshape(-1)[i] += sign * eps
                values.append(objective(state, xx))
            g.reshape(-1)[i] = (values[0] - values[1]) / (2 * eps)
        grads[name] = g
    layer.load_state_dict(base)
    return grads


def assert_layer_gradients(layer, x_shape, seed=0, low=-1.0, high=1.0):
    """Analytic (backward) gradients of the float64 layer match central differences."""
    rng = np.random.default_rng(seed)
    layer.double()
    x_np = rng.uniform(low, high, x_shape)
    x = Tensor(x_np, dtype=f64, requires_grad=True)
    out = layer(x)
    u = rng.standard_normal(out.shape)
    (out * Tensor(u, dtype=f64)).sum().backward()
    numeric = numeric_gradients(layer, x_np, u)
    analytic = {name: p.grad.numpy() for name, p in layer.named_parameters()}
    analytic["input"] = x.grad.numpy()
    for name, g in numeric.items():
        np.testing.assert_allclose(analytic[name], g, rtol=1e-5, atol=1e-6, err_msg=name)


def naive_conv(x, w, b, stride, padding):
    """Cross-correlation as PyTorch, one output element at a time, in float64."""
    d = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    out_sp = [(xp.shape[2 + i] - w.shape[2 + i]) // stride[i] + 1 for i in range(d)]
    y = np.zeros((x.shape[0], w.shape[0], *out_sp))
    for n, o in itertools.product(range(x.shape[0]), range(w.shape[0])):
        for pos in itertools.product(*(range(s) for s in out_sp)):
            window = tuple(slice(p * s, p * s + k) for p, s, k in zip(pos, stride, w.shape[2:]))
            y[(n, o) + pos] = (xp[(n, slice(None)) + window] * w[o]).sum() + (b[o] if b is not None else 0)
    return y


def naive_pool(x, k, s, p, reduce, fill):
    xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)], constant_values=fill)
    oh, ow = (xp.shape[2] - k) // s + 1, (xp.shape[3] - k) // s + 1
    y = np.zeros(x.shape[:2] + (oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        y[:, :, i, j] = reduce(xp[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))
    return y


# --- Linear -------------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 4), n_in=st.integers(1, 5), n_out=st.integers(1, 5), bias=st.booleans())
def test_linear_matches_numpy(batch, n_in, n_out, bias):
    layer = nn.Linear(n_in, n_out, bias=bias).double()
    assert layer.weight.shape == (n_out, n_in)
    x = np.random.default_rng(batch).standard_normal((batch, n_in))
    expected = x @ layer.weight.numpy().T + (layer.bias.numpy() if bias else 0)
    np.testing.assert_allclose(layer(Tensor(x, dtype=f64)).numpy(), expected, rtol=1e-12)


def test_linear_gradients():
    assert_layer_gradients(nn.Linear(3, 2), (4, 3))
    assert_layer_gradients(nn.Linear(3, 2, bias=False), (2, 3))


def test_linear_hand_computed_gradients():
    """y = x W^T + b, L = sum(y * u): dW = u^T x, db = sum_n u, dx = u W."""
    layer = nn.Linear(3, 2).double()
    rng = np.random.default_rng(1)
    x, u = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    xt = Tensor(x, dtype=f64, requires_grad=True)
    (layer(xt) * Tensor(u, dtype=f64)).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), u.T @ x)
    np.testing.assert_allclose(layer.bias.grad.numpy(), u.sum(0))
    np.testing.assert_allclose(xt.grad.numpy(), u @ layer.weight.numpy())


def test_default_init_is_pytorch_uniform_and_seeded():
    tg.manual_seed(5)
    a = nn.Linear(400, 30)
    bound = 1 / math.sqrt(400)
    w = a.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.05 * bound          # uniform's std
    assert np.abs(a.bias.numpy()).max() <= bound
    tg.manual_seed(5)
    np.testing.assert_array_equal(nn.Linear(400, 30).weight.numpy(), w)
    conv = nn.Conv2d(3, 8, 5)
    assert np.abs(conv.weight.numpy()).max() <= 1 / math.sqrt(3 * 25)


# --- convolutions -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls,x_shape,kwargs", [
    (nn.Conv1d, (2, 2, 7), dict(kernel_size=3, stride=2, padding=1)),
    (nn.Conv2d, (2, 2, 5, 6), dict(kernel_size=3, stride=1, padding=0)),
    (nn.Conv2d, (1, 3, 6, 5), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))),
    (nn.Conv3d, (1, 2, 4, 3, 5), dict(kernel_size=2, stride=1, padding=1)),
    (nn.Conv2d, (1, 2, 4, 4), dict(kernel_size=2, bias=False)),
])
def test_conv_matches_naive_loop(cls, x_shape, kwargs):
    layer = cls(x_shape[1], 3, **kwargs).double()
    d = len(x_shape) - 2
    assert layer.weight.shape == (3, x_shape[1]) + layer.kernel_size and len(layer.kernel_size) == d
    x = np.random.default_rng(0).standard_normal(x_shape)
    b = layer.bias.numpy() if layer.bias is not None else None
    expected = naive_conv(x, layer.weight.numpy(), b, layer.stride, layer.padding)
    out = layer(Tensor(x, dtype=f64)).numpy()
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("layer,x_shape", [
    (lambda: nn.Conv1d(2, 2, 3, stride=2, padding=1), (1, 2, 5)),
    (lambda: nn.Conv2d(2, 2, 2, stride=1, padding=1), (1, 2, 3, 3)),
    (lambda: nn.Conv3d(1, 2, 2), (1, 1, 3, 2, 3)),
])
def test_conv_gradients(layer, x_shape):
    assert_layer_gradients(layer(), x_shape)


def test_conv_padding_strings():
    x = tg.Tensor(np.arange(2 * 12 * 7, dtype=np.float32).reshape(1, 2, 12, 7))
    same, valid = nn.Conv2d(2, 3, (4, 3), padding="same"), nn.Conv2d(2, 3, (4, 3), padding="valid")
    assert same(x).shape == (1, 3, 12, 7) and valid(x).shape == (1, 3, 9, 5)
    valid.weight, valid.bias = same.weight, same.bias
    # 'same' with a 4-row kernel pads 1 row above and 2 below (PyTorch): its rows 1..9 are 'valid'
    np.testing.assert_allclose(same(x).numpy()[:, :, 1:10, 1:6], valid(x).numpy(), rtol=1e-5, atol=1e-4)


def test_conv_unsupported_options_are_errors():
    with pytest.raises(NotImplementedError):
        nn.Conv2d(1, 1, 3, padding_mode="reflect")
    with pytest.raises(NotImplementedError):
        nn.ConvTranspose2d(1, 1, 3, padding="same")     # as PyTorch: conv only
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="invalid padding string"):
        nn.Conv2d(1, 1, 3, padding="full")
    with pytest.raises(ValueError):
        nn.Conv2d(1, 1, (3, 3, 3))


# --- pooling, flatten, sequential ----------------------------------------------------------
@pytest.mark.parametrize("k,s,p", [(2, None, 0), (3, 2, 1), (2, 1, 0)])
def test_pooling_matches_naive_loop(k, s, p):
    x = np.random.default_rng(2).standard_normal((2, 3, 6, 5))
    stride = k if s is None else s
    xt = Tensor(x, dtype=f64)
    np.testing.assert_allclose(nn.MaxPool2d(k, s, p)(xt).numpy(), naive_pool(x, k, stride, p, np.max, -np.inf))
    np.testing.assert_allclose(nn.AvgPool2d(k, s, p)(xt).numpy(), naive_pool(x, k, stride, p, np.mean, 0.0))


def test_pooling_gradients():
    # random inputs: a tie for a window's maximum (where the gradient is undefined) has probability 0
    assert_layer_gradients(nn.MaxPool2d(2), (1, 2, 4, 4))
    assert_layer_gradients(nn.AvgPool2d(3, 2, 1), (1, 1, 5, 4))


def test_flatten_and_sequential_shapes():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 10))
    assert model(tg.randn(2, 1, 8, 8)).shape == (2, 10)
    assert nn.Flatten()(tg.randn(2, 3, 4, 5)).shape == (2, 60)
    assert nn.Flatten(0, 1)(tg.randn(2, 3, 4)).shape == (6, 4)
    assert len(model) == 5 and isinstance(model[-1], nn.Linear) and len(model[1:3]) == 2
    with pytest.raises(IndexError):
        model[5]
    model.append(nn.Softmax())
    np.testing.assert_allclose(model(tg.randn(3, 1, 8, 8)).numpy().sum(1), 1, rtol=1e-6)


def test_cnn_end_to_end_gradients():
    model = nn.Sequential(nn.Conv2d(1, 2, 2), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(2, 2))
    assert_layer_gradients(model, (2, 1, 3, 3))


# --- activations and dropout -------------------------------------------------------------------
ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.Softplus(), lambda x: np.log1p(np.exp(x))),
    (nn.Softplus(beta=2.0), lambda x: np.log1p(np.exp(2 * x)) / 2),
    (nn.Sign(), np.sign),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=-1), lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
    (nn.Identity(), lambda x: x),
]


@pytest.mark.parametrize("layer,reference", ACTIVATIONS, ids=[type(m).__name__ for m, _ in ACTIVATIONS])
def test_activations_match_numpy_and_have_correct_gradients(layer, reference):
    x = np.random.default_rng(3).uniform(-2, 2, (3, 4))
    x[np.abs(x) < 0.1] = 0.5             # keep finite differences away from the kinks
    np.testing.assert_allclose(layer(Tensor(x, dtype=f64)).numpy(), reference(x), rtol=1e-10, atol=1e-12)
    assert_layer_gradients(layer, (3, 4), low=0.1, high=2.0)
    assert_layer_gradients(layer, (3, 4), low=-2.0, high=-0.1)


def test_sign_gradient_is_zero():
    x = tg.tensor([-1.5, 0.5, 2.0], requires_grad=True)
    nn.Sign()(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)


def test_dropout():
    with pytest.raises(ValueError):
        nn.Dropout(1.0)
    drop = nn.Dropout(0.25)
    x = tg.ones(1000)
    tg.manual_seed(0)
    y = drop(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)} and 0.2 < (y == 0).mean() < 0.3
    tg.manual_seed(0)
    np.testing.assert_array_equal(drop(x).numpy(), y)       # seeded
    np.testing.assert_array_equal(drop.eval()(x).numpy(), 1)


def test_layer_reprs():
    assert repr(nn.Linear(3, 2, bias=False)).startswith("Linear(in_features=3, out_features=2, bias=False)")
    assert "kernel_size=(3, 3)" in repr(nn.Conv2d(1, 2, 3)) and "p=0.5" in repr(nn.Dropout())
    assert "kernel_size=2" in repr(nn.MaxPool2d(2))


# --- nn.init --------------------------------------------------------------------------------
@pytest.mark.parametrize("fill,expected_std", [
    (lambda w: nn.init.lecun_normal_(w), 1 / math.sqrt(200)),
    (lambda w: nn.init.lecun_uniform_(w), 1 / math.sqrt(200)),
    (lambda w: nn.init.xavier_uniform_(w), math.sqrt(2 / (200 + 300))),
    (lambda w: nn.init.xavier_normal_(w, gain=2.0), 2 * math.sqrt(2 / (200 + 300))),
    (lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"), math.sqrt(2 / 200)),
    (lambda w: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / 300)),
    (lambda w: nn.init.normal_(w, 0.0, 0.3), 0.3),
    (lambda w: nn.init.uniform_(w, -1.0, 1.0), 1 / math.sqrt(3)),
])
def test_init_schemes_have_the_documented_std(fill, expected_std):
    layer = nn.Linear(200, 300)                     # weight (300, 200): fan_in 200, fan_out 300
    w = layer.weight
    assert fill(w) is w and layer.weight is w        # in place, same registered object
    values = w.numpy()
    assert values.dtype == np.float32 and abs(values.mean()) < 0.05 * expected_std + 1e-3
    assert abs(values.std() - expected_std) < 0.03 * expected_std


def test_init_constants_gain_and_fans():
    conv = nn.Conv2d(3, 4, (2, 5))
    assert nn.init.fan_in_and_fan_out(conv.weight) == (3 * 10, 4 * 10)
    np.testing.assert_array_equal(nn.init.zeros_(conv.bias).numpy(), 0)
    np.testing.assert_array_equal(nn.init.ones_(conv.weight).numpy(), 1)
    assert nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert nn.init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError):
        nn.init.xavier_uniform_(conv.bias)          # 1-D: no fan-out
    tg.manual_seed(9)
    a = nn.init.kaiming_normal_(nn.Parameter(np.zeros((3, 3)))).numpy()
    tg.manual_seed(9)
    np.testing.assert_array_equal(nn.init.kaiming_normal_(nn.Parameter(np.zeros((3, 3)))).numpy(), a)
