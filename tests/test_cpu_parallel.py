"""The cpu references split the batch over threads (ops/cpu_parallel.py): results are
bit-identical whatever the thread count, and right against float64 references."""
import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F
from tinygrad_cu.ops import cpu_parallel

import reference64


@pytest.fixture
def split_everything(monkeypatch):
    """Split even these small test batches (the threshold is for speed, not for results)."""
    monkeypatch.setattr(cpu_parallel, "MIN_ELEMENTS_PER_THREAD", 1)
    yield
    cpu_parallel.set_num_threads(cpu_parallel.default_num_threads())


def run_with_threads(threads, fn, *arrays):
    """fn(*tensors) on cpu with `threads` threads: (output, input gradients), numpy."""
    cpu_parallel.set_num_threads(threads)
    tensors = [tg.Tensor(a, requires_grad=True) for a in arrays]
    y = fn(*tensors)
    g = np.random.default_rng(7).standard_normal(y.shape).astype(np.float32)
    (y * tg.Tensor(g)).sum().backward()
    return y.numpy(), [t.grad.numpy() for t in tensors], g


CONVS = [  # x shape, w shape, stride, padding: 1-D, 2-D (LeNet's two) and 3-D, strided and padded
    ((5, 3, 17), (4, 3, 3), 2, 1),
    ((5, 1, 12, 12), (6, 1, 5, 5), 1, 2),
    ((7, 6, 9, 8), (4, 6, 3, 3), 1, 0),
    ((5, 2, 9, 11), (3, 2, 3, 2), (2, 1), (1, 0)),
    ((3, 2, 5, 6, 7), (3, 2, 3, 2, 3), (1, 2, 1), 1),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONVS)
def test_conv_same_bits_for_any_thread_count_and_right_in_float64(x_shape, w_shape, stride, padding, rng,
                                                                  split_everything):
    x, w = rng.standard_normal(x_shape).astype(np.float32), rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    d = len(x_shape) - 2
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[d]
    fn = lambda x, w, b: conv(x, w, b, stride=stride, padding=padding)
    y1, grads1, g = run_with_threads(1, fn, x, w, b)
    for threads in (2, 3):
        y, grads, _ = run_with_threads(threads, fn, x, w, b)
        assert y.tobytes() == y1.tobytes()
        for got, want in zip(grads, grads1):
            assert got.tobytes() == want.tobytes()

    x64, w64, b64, g64 = (a.astype(np.float64) for a in (x, w, b, g))
    np.testing.assert_allclose(y1, reference64.conv(x64, w64, b64, stride, padding), rtol=1e-4, atol=1e-4)
    # conv is linear in x and in w, so for any direction v: <dx, v> = <g, conv(v, w)> and
    # <dw, u> = <g, conv(x, u)> exactly (random projections catch transposed gradients)
    dx, dw, db = (a.astype(np.float64) for a in grads1)
    for _ in range(2):
        v, u = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        assert_same_projection(dx, v, g64 * reference64.conv(v, w64, None, stride, padding))
        assert_same_projection(dw, u, g64 * reference64.conv(x64, u, None, stride, padding))
    np.testing.assert_allclose(db, g64.sum(axis=(0,) + tuple(range(2, 2 + d))), rtol=1e-4, atol=1e-4)


def assert_same_projection(grad, direction, terms):
    """<grad, direction> == sum(terms), to float32 rounding of the terms' magnitude
    (a projection may cancel to a small number, so a relative tolerance would not do)."""
    got, want = (grad * direction).sum(), terms.sum()
    scale = np.abs(grad * direction).sum() + np.abs(terms).sum()
    assert abs(got - want) <= 1e-6 * scale, (got, want, scale)


def max_pool_grad64(x, g, k, s, p):
    """Each window's gradient to its first maximal element (row-major), a NaN being the
    maximum where there is one (the last NaN, as PyTorch): loops over every window,
    obviously right."""
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0), (p, p), (p, p)], constant_values=-np.inf)
    dxp = np.zeros_like(xp)
    for n, c, i, j in np.ndindex(*g.shape):
        win = xp[n, c, i * s:i * s + k, j * s:j * s + k].ravel()
        first = int(np.flatnonzero(np.isnan(win))[-1]) if np.isnan(win).any() else int(np.argmax(win))
        dxp[n, c, i * s + first // k, j * s + first % k] += g[n, c, i, j]
    return dxp[:, :, p:p + x.shape[2], p:p + x.shape[3]]


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (3, 2, 1), (2, 1, 0), (3, 3, 1)])
def test_max_pool_threads_ties_and_nan(k, s, p, rng, split_everything):
    # few distinct values: many ties, where the FIRST maximum of a window takes the gradient
    x = rng.integers(0, 3, (5, 2, 9, 10)).astype(np.float32)
    x[1, 0, 2, 3] = x[3, 1, 5, 5] = x[3, 1, 5, 6] = np.nan
    fn = lambda x: F.max_pool2d(x, k, s, p)
    y1, (dx1,), g = run_with_threads(1, fn, x)
    for threads in (2, 3):
        y, (dx,), _ = run_with_threads(threads, fn, x)
        assert y.tobytes() == y1.tobytes() and dx.tobytes() == dx1.tobytes()
    np.testing.assert_array_equal(y1, reference64.pool("max", x.astype(np.float64), k, s, p).astype(np.float32))
    np.testing.assert_allclose(dx1, max_pool_grad64(x, g, k, s, p), rtol=1e-6, atol=1e-6)


def test_max_pool_infinite_gradient_stays_in_its_element(split_everything):
    x = np.array([[[[1.0, 5.0], [2.0, 3.0]]]], np.float32)
    t = tg.Tensor(x, requires_grad=True)
    (F.max_pool2d(t, 2) * tg.Tensor(np.full((1, 1, 1, 1), np.inf, np.float32))).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[[[0.0, np.inf], [0.0, 0.0]]]])


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (3, 2, 1)])
def test_avg_pool_same_bits_for_any_thread_count(k, s, p, rng, split_everything):
    x = rng.standard_normal((5, 3, 9, 8)).astype(np.float32)
    fn = lambda x: F.avg_pool2d(x, k, s, p)
    y1, (dx1,), g = run_with_threads(1, fn, x)
    y, (dx,), _ = run_with_threads(3, fn, x)
    assert y.tobytes() == y1.tobytes() and dx.tobytes() == dx1.tobytes()
    np.testing.assert_allclose(y1, reference64.pool("avg", x.astype(np.float64), k, s, p), rtol=1e-5, atol=1e-6)
    # avg pooling is linear: <dx, v> = <g, pool(v)>
    v = rng.standard_normal(x.shape)
    assert_same_projection(dx1.astype(np.float64), v, g * reference64.pool("avg", v, k, s, p))


def test_for_batch_covers_the_batch_once_and_raises_a_threads_error(split_everything):
    cpu_parallel.set_num_threads(3)
    seen = np.zeros(10, int)

    def work(start, stop):
        seen[start:stop] += 1
    cpu_parallel.for_batch(10, work, elements_per_item=1)
    assert seen.tolist() == [1] * 10
    assert cpu_parallel.slices(10, 3) == [(0, 4), (4, 7), (7, 10)]

    def fails(start, stop):
        if start > 0:
            raise RuntimeError(f"images {start}:{stop}")
    with pytest.raises(RuntimeError, match="images 4:7"):
        cpu_parallel.for_batch(10, fails, elements_per_item=1)


def test_thread_count_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("TINYGRAD_CU_CPU_THREADS", "3")
    assert cpu_parallel.default_num_threads() == 3
    monkeypatch.delenv("TINYGRAD_CU_CPU_THREADS")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert cpu_parallel.default_num_threads() == 1
    with pytest.raises(ValueError, match="at least 1 thread"):
        cpu_parallel.set_num_threads(0)
