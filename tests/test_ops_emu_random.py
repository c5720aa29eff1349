"""Random shapes on the emu device (hypothesis): sizes cross every tile size (16, 64,
128) and include size-1 dims, so edge tiles and broadcast strides are exercised."""
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cu as tg

from conftest import device_or_skip

SIZES = st.integers(1, 70)


def both(arrays, fn):
    """fn on cpu and on emu with gradients; returns ((out, grads) cpu, (out, grads) emu)."""
    results = []
    for device in ("cpu", "emu"):
        ts = [tg.Tensor(a, device=device, requires_grad=True) for a in arrays]
        out = fn(*ts)
        out.backward(tg.Tensor(np.ones(out.shape, np.float32), device=device))
        results.append((out.numpy(), [t.grad.numpy() for t in ts]))
    return results


def assert_same(results):
    (out_c, g_c), (out_e, g_e) = results
    np.testing.assert_allclose(out_e, out_c, rtol=2e-4, atol=2e-4)
    for a, b in zip(g_e, g_c):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4)


@settings(max_examples=15, deadline=None)
@given(SIZES, SIZES, SIZES, st.booleans(), st.booleans())
def test_matmul_random_sizes(m, k, n, batch_a, batch_b):
    device_or_skip("emu")
    rng = np.random.default_rng(m * 10000 + k * 100 + n)
    a = rng.standard_normal(((2,) if batch_a else ()) + (m, k)).astype(np.float32)
    b = rng.standard_normal(((2,) if batch_b else ()) + (k, n)).astype(np.float32)
    assert_same(both([a, b], lambda x, y: x @ y))


@settings(max_examples=15, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=9),
       st.sampled_from(["add", "sub", "mul", "div"]))
def test_binary_random_broadcasts(shapes, op):
    device_or_skip("emu")
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(0.5, 2, s).astype(np.float32) for s in shapes.input_shapes)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y,
          "mul": lambda x, y: x * y, "div": lambda x, y: x / y}[op]
    assert_same(both([a, b], fn))


@settings(max_examples=15, deadline=None)
@given(hnp.array_shapes(min_dims=1, max_dims=4, max_side=40), st.data())
def test_reductions_random_axes(shape, data):
    device_or_skip("emu")
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1))
    keepdims = data.draw(st.booleans())
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    # a float32 sum of n terms is off by up to about eps32 * sum|x| on either device (the
    # order of additions differs), so the sum is checked against float64 within that bound
    (out_c, _), (out_e, grads_e) = both([x], lambda t: t.sum(axis=tuple(axes), keepdims=keepdims))
    exact = x.astype(np.float64).sum(axis=tuple(axes), keepdims=keepdims)
    bound = 2e-4 + 16 * np.finfo(np.float32).eps * np.abs(x.astype(np.float64)).sum(axis=tuple(axes), keepdims=keepdims)
    assert np.all(np.abs(out_c - exact) <= bound) and np.all(np.abs(out_e - exact) <= bound)
    np.testing.assert_array_equal(grads_e[0], np.ones_like(x))
    assert_same(both([x], lambda t: t.amax(dim=tuple(axes), keepdim=keepdims)))


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(5, 19), st.integers(5, 19),
       st.integers(1, 5), st.integers(1, 2), st.integers(0, 2))
def test_conv2d_random_sizes(n, c, h, w, k, stride, pad):
    device_or_skip("emu")
    rng = np.random.default_rng(h * 100 + w)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = rng.standard_normal((3, c, k, k)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    assert_same(both([x, wt, bias], lambda a, b, c_: tg.nn.functional.conv2d(a, b, c_, stride=stride,
                                                                             padding=pad)))
