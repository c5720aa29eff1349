"""scaled_dot_product_attention and MultiheadAttention against float64 numpy written here
(softmax(Q K^T / sqrt(d) + mask) V, heads split and joined by hand), on cpu and emu, with
causal, boolean and float masks and key padding; gradients against central differences."""
import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F
from tinygrad_cu import nn

from conftest import device_or_skip
from test_nn_layers import assert_layer_gradients

DEVICES = ["cpu", "emu"]


def on(device, a):
    return tg.Tensor(np.asarray(a), dtype=tg.float64 if device == "cpu" else tg.float32, device=device)


def tol(device):
    return dict(rtol=1e-10, atol=1e-12) if device == "cpu" else dict(rtol=2e-4, atol=2e-5)


def attention64(q, k, v, allowed=None, add=None, scale=None):
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if add is not None:
        s = s + add
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ v, w


@pytest.mark.parametrize("device", DEVICES)
def test_scaled_dot_product_attention(device):
    device_or_skip(device)
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 6, 4)), rng.standard_normal((2, 3, 6, 2))
    allowed = rng.random((5, 6)) > 0.3
    allowed[:, 0] = True
    add = rng.standard_normal((5, 6))
    T = lambda a: on(device, a)
    np.testing.assert_allclose(F.scaled_dot_product_attention(T(q), T(k), T(v)).numpy(), attention64(q, k, v)[0],
                               **tol(device))
    np.testing.assert_allclose(F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=allowed).numpy(),
                               attention64(q, k, v, allowed=allowed)[0], **tol(device))
    np.testing.assert_allclose(F.scaled_dot_product_attention(T(q), T(k), T(v), attn_mask=T(add), scale=0.3).numpy(),
                               attention64(q, k, v, add=add, scale=0.3)[0], **tol(device))
    causal = F.scaled_dot_product_attention(T(q), T(k[:, :, :5]), T(v[:, :, :5]), is_causal=True).numpy()
    lower = np.tril(np.ones((5, 5), bool))
    np.testing.assert_allclose(causal, attention64(q, k[:, :, :5], v[:, :, :5], allowed=lower)[0], **tol(device))
    # the first query sees only the first key: its output is that value exactly
    np.testing.assert_allclose(causal[:, :, 0], v[:, :, 0], **tol(device))


def heads64(x, w, b, n_heads):
    """(N, L, E) x W^T + b, split into (N, heads, L, E / heads)."""
    n, length, e = x.shape
    return (x @ w.T + b).reshape(n, length, n_heads, e // n_heads).transpose(0, 2, 1, 3)


@pytest.mark.parametrize("device", DEVICES)
def test_multihead_attention_matches_formula(device):
    device_or_skip(device)
    rng = np.random.default_rng(1)
    tg.manual_seed(0)
    as_device = lambda m: m.double() if device == "cpu" else m.to(device)
    mha = as_device(nn.MultiheadAttention(8, 2, batch_first=True))
    state = {name: rng.standard_normal(a.shape) * 0.5 for name, a in mha.state_dict().items()}
    mha.load_state_dict(state)
    x, mem = rng.standard_normal((3, 5, 8)), rng.standard_normal((3, 4, 8))
    padding = np.zeros((3, 4), bool)
    padding[1, 3] = True                              # sample 1 ignores its last key
    out, weights = mha(on(device, x), on(device, mem), on(device, mem), key_padding_mask=padding)
    W, B = state["in_proj_weight"], state["in_proj_bias"]
    q, k, v = (heads64(t, W[i * 8:(i + 1) * 8], B[i * 8:(i + 1) * 8], 2) for i, t in enumerate((x, mem, mem)))
    o, w = attention64(q, k, v, allowed=~padding[:, None, None, :])
    want = o.transpose(0, 2, 1, 3).reshape(3, 5, 8) @ state["out_proj.weight"].T + state["out_proj.bias"]
    np.testing.assert_allclose(out.numpy(), want, **tol(device))
    np.testing.assert_allclose(weights.numpy(), w.mean(axis=1), **tol(device))
    assert np.all(weights.numpy()[1, :, 3] == 0)
    # sequence-first (the default) is the same computation on transposed inputs
    seq_first = as_device(nn.MultiheadAttention(8, 2))
    seq_first.load_state_dict(state)
    out2, _ = seq_first(*(on(device, t.transpose(1, 0, 2)) for t in (x, mem, mem)), key_padding_mask=padding,
                        need_weights=False)
    np.testing.assert_allclose(out2.numpy().transpose(1, 0, 2), want, **tol(device))


def test_attention_gradients():
    rng = np.random.default_rng(2)
    f64 = lambda *s: tg.Tensor(rng.standard_normal(s), dtype=tg.float64, requires_grad=True)
    q, k, v = f64(2, 3, 2), f64(2, 4, 2), f64(2, 4, 3)
    lower = np.tril(np.ones((3, 4), bool))
    assert tg.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=lower), q, k, v)

    class SelfAttention(nn.Module):          # every parameter and the input, by central differences
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(4, 2, batch_first=True)

        def forward(self, x):
            return self.mha(x, x, x, is_causal=True)[0]
    assert_layer_gradients(SelfAttention(), (2, 3, 4))


@pytest.mark.parametrize("device", DEVICES)
def test_grouped_query_attention(device):
    """enable_gqa: query head h reads key / value head h // (Hq / Hk), as np.repeat of K and V."""
    device_or_skip(device)
    rng = np.random.default_rng(3)
    q, k, v = rng.standard_normal((2, 6, 3, 4)), rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((2, 2, 5, 3))
    want, _ = attention64(q, np.repeat(k, 3, axis=1), np.repeat(v, 3, axis=1))
    got = F.scaled_dot_product_attention(on(device, q), on(device, k), on(device, v), enable_gqa=True)
    np.testing.assert_allclose(got.numpy(), want, **tol(device))
    allowed = rng.random((6, 3, 5)) < 0.7
    allowed[..., 0] = True                                  # every query sees a key
    v3 = rng.standard_normal((2, 3, 5, 3))                  # Hk = 2, Hv = 3: both repeated to 6 heads
    want, _ = attention64(q, np.repeat(k, 3, axis=1), np.repeat(v3, 2, axis=1), allowed=allowed)
    got = F.scaled_dot_product_attention(on(device, q), on(device, k), on(device, v3), attn_mask=allowed,
                                         enable_gqa=True)
    np.testing.assert_allclose(got.numpy(), want, **tol(device))
    with pytest.raises(RuntimeError, match=r"query heads \(6\).*key heads \(4\)"):
        F.scaled_dot_product_attention(on(device, q), on(device, q[:, :4]), on(device, q[:, :4]), enable_gqa=True)


def test_grouped_query_attention_gradients():
    rng = np.random.default_rng(4)
    f64 = lambda *s: tg.Tensor(rng.standard_normal(s), dtype=tg.float64, requires_grad=True)
    q, k, v = f64(1, 4, 3, 2), f64(1, 2, 3, 2), f64(1, 2, 3, 2)
    causal = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    assert tg.gradcheck(causal, q, k, v)
