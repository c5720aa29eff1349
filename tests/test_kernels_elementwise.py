"""Edge cases of the elementwise kernels (ops/unary.cu, ops/binary.cu) on `emu`,
beyond the registry cases of test_ops_emu.py: extreme inputs, exact edge semantics,
the scalar (one-element operand) kernels, many-dim broadcasting, gpu_sum_to_shape,
zero-size tensors and the float32-only rule."""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.autograd import apply
from tinygrad_cu.device import get_device
from tinygrad_cu.device.gpu import GPUDevice
from tinygrad_cu.op import sum_to_shape

from conftest import device_or_skip
from test_ops_emu import check_op_on_emu, run_on

UNARY = ["neg", "exp", "log", "sqrt", "abs", "relu", "sigmoid", "tanh", "softplus", "sign", "clip"]
ARITHMETIC = ["add", "sub", "mul", "div", "pow"]
COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]


@pytest.fixture
def emu():
    return get_device(device_or_skip("emu"))


def f32(*values):
    return np.array(values, dtype=np.float32)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "tanh", "exp"])
def test_large_inputs_do_not_overflow(name, rng, emu):
    x = np.concatenate([np.linspace(-80, 80, 161), [-100.0, 100.0, -1e-30, 0.0]]).astype(np.float32)
    if name == "exp":
        x = x[np.abs(x) <= 80]
    check_op_on_emu(name, rng, [([x], {})])
    got, _ = run_on("emu", name, [x], {}, np.ones_like(x))
    assert np.all(np.isfinite(got)), name


def test_edge_semantics_match_the_references(emu):
    zero = f32(0.0, -0.0, 1.0, -1.0)
    for name in ["relu", "abs", "sign", "log", "sqrt", "neg"]:
        want, want_g = run_on("cpu", name, [zero], {}, f32(1, 1, 1, 1))
        got, got_g = run_on("emu", name, [zero], {}, f32(1, 1, 1, 1))
        np.testing.assert_array_equal(got, want, err_msg=name)       # log(0) = -inf, log(-1) = nan
        np.testing.assert_array_equal(got_g[0], want_g[0], err_msg=name)
    _, (g,) = run_on("emu", "relu", [zero], {}, f32(1, 1, 1, 1))
    assert g[0] == 0 and g[1] == 0                                    # relu'(0) = 0
    _, (g,) = run_on("emu", "abs", [zero], {}, f32(1, 1, 1, 1))
    assert g[0] == 0                                                  # abs'(0) = 0
    out, _ = run_on("emu", "log", [zero], {}, f32(1, 1, 1, 1))
    assert out[0] == -np.inf


def test_nan_passes_through(emu):
    x = f32(np.nan, 1.0, -1.0)
    for name, attrs in [("relu", {}), ("abs", {}), ("sign", {}), ("clip", dict(min=-0.5, max=0.5))]:
        got, _ = run_on("emu", name, [x], attrs, f32(1, 1, 1))
        want, _ = run_on("cpu", name, [x], attrs, f32(1, 1, 1))
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_clip_gradient_passes_at_the_bounds(rng, emu):
    x = f32(-1.0, -0.5, 0.0, 0.5, 1.0)
    for attrs in [dict(min=-0.5, max=0.5), dict(min=-0.5, max=None), dict(min=None, max=0.5),
                  dict(min=0.5, max=0.5)]:
        _, (g,) = run_on("emu", "clip", [x], attrs, np.ones_like(x))
        _, (w,) = run_on("cpu", "clip", [x], attrs, np.ones_like(x))
        np.testing.assert_array_equal(g, w, err_msg=str(attrs))
    _, (g,) = run_on("emu", "clip", [x], dict(min=-0.5, max=0.5), np.ones_like(x))
    np.testing.assert_array_equal(g, f32(0, 1, 1, 1, 0))


SCALAR_SHAPES = [((3, 4), ()), ((), (3, 4)), ((3, 4), (1, 1)), ((1,), (2, 3)), ((), ()), ((1, 1), (1,))]


@pytest.mark.parametrize("name", ARITHMETIC + COMPARE)
def test_one_element_operands(name, rng, emu):
    """The *_forward_sa / *_forward_sb kernels, and the gradient of the scalar."""
    cases = [([rng.uniform(0.5, 2, sa).astype(np.float32), rng.uniform(0.5, 2, sb).astype(np.float32)], {})
             for sa, sb in SCALAR_SHAPES]
    check_op_on_emu(name, rng, cases)


def test_python_numbers_on_either_side(emu):
    x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    for dev in ("cpu", "emu"):
        t = tg.Tensor(x, device=dev)
        results = [t * 2.0, 2.0 * t, t - 1.5, 1.5 - t, t / 4.0, 4.0 / t, t ** 2.0, 2.0 ** t, t > 3.0, 3.0 > t]
        if dev == "cpu":
            want = [r.numpy() for r in results]
        else:
            for r, w in zip(results, want):
                np.testing.assert_allclose(r.numpy(), w, rtol=1e-6)
                assert r.numpy().dtype == w.dtype


BROADCAST_SHAPES = [((2, 1, 4, 1, 5), (4, 1, 5)),
                    ((2, 3, 4, 5, 6, 7), (1, 3, 1, 5, 1, 7)),       # 6 dims left after merging
                    ((1, 1, 1, 1, 1, 1, 1, 6), (5, 1)),             # 8 dims, mostly size 1
                    ((4, 5, 6), (6,)), ((4, 1, 6), (1, 5, 1)), ((5, 1), (5, 1)), ((1, 7), (7, 1))]


@pytest.mark.parametrize("name", ARITHMETIC + ["lt", "eq"])
def test_many_dim_broadcasting(name, rng, emu):
    cases = [([rng.uniform(0.5, 2, sa).astype(np.float32), rng.uniform(0.5, 2, sb).astype(np.float32)], {})
             for sa, sb in BROADCAST_SHAPES]
    check_op_on_emu(name, rng, cases)


def test_too_many_dims_after_merging_is_a_clear_error(emu):
    a = tg.Tensor(np.ones((2, 1) * 4, np.float32), device="emu")
    b = tg.Tensor(np.ones((1, 2) * 4, np.float32), device="emu")
    with pytest.raises(ValueError, match="at most 6"):
        a + b


SUM_SHAPES = [((3, 4), (4,)), ((3, 4), (3, 1)), ((3, 4), ()), ((3, 4), (1, 1)), ((2, 3, 4, 5), (3, 1, 5)),
              ((2, 3, 4, 5), (1, 3, 4, 1)), ((5, 1, 7), (1, 7)), ((1, 6), (6,)), ((6,), (6,)),
              ((2, 3, 4, 5, 6, 7, 2), (3, 1, 5, 1, 7, 1)), ((0, 4), (4,)), ((4, 0), (1, 0))]


@pytest.mark.parametrize("grad_shape,shape", SUM_SHAPES)
def test_gpu_sum_to_shape(grad_shape, shape, rng, emu, monkeypatch):
    from tinygrad_cu.ops.binary import gpu_sum_to_shape
    monkeypatch.setattr(GPUDevice, "MAX_BLOCKS", 2)
    g = rng.standard_normal(grad_shape).astype(np.float32)
    got = emu.to_numpy(gpu_sum_to_shape(emu, emu.from_numpy(g), shape))
    want = sum_to_shape(g.astype(np.float64), shape)
    assert got.shape == tuple(shape)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_gpu_sum_to_shape_rejects_shapes_that_do_not_broadcast(emu):
    from tinygrad_cu.ops.binary import gpu_sum_to_shape
    with pytest.raises(ValueError):
        gpu_sum_to_shape(emu, emu.zeros((3, 4)), (3,))


def test_add_gradients_are_separate_buffers(emu):
    a = tg.Tensor(np.ones((2, 3), np.float32), device="emu", requires_grad=True)
    b = tg.Tensor(np.ones((1, 2, 3), np.float32), device="emu", requires_grad=True)
    (a + b).backward(tg.Tensor(np.ones((1, 2, 3), np.float32), device="emu"))
    assert a.grad.buf.alloc is not b.grad.buf.alloc


def test_pow_special_values(emu):
    a = f32(0.0, 0.0, 2.0, -2.0, 4.0)
    b = f32(2.0, 0.5, -1.0, 2.0, 0.5)
    want, want_g = run_on("cpu", "pow", [a, b], {}, np.ones_like(a))
    got, got_g = run_on("emu", "pow", [a, b], {}, np.ones_like(a))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    for g, w in zip(got_g, want_g):
        np.testing.assert_allclose(g, w, rtol=1e-5)        # d/db at a = 0 is 0, not nan
    assert got_g[1][0] == 0 and got_g[1][1] == 0


def test_division_by_zero_and_nan_comparisons(emu):
    a, b = f32(1.0, -1.0, 0.0, np.nan, 2.0), f32(0.0, 0.0, 0.0, 1.0, 2.0)
    for name in ["div"] + COMPARE:
        want, _ = run_on("cpu", name, [a, b], {}, np.ones_like(a))
        got, _ = run_on("emu", name, [a, b], {}, np.ones_like(a))
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("name", UNARY + ARITHMETIC + COMPARE)
def test_zero_size(name, rng, emu):
    if name in UNARY:
        cases = [([np.zeros((0, 3), np.float32)], dict(min=-1.0, max=1.0) if name == "clip" else {})]
    else:
        cases = [([np.zeros((0, 3), np.float32), np.ones((3,), np.float32)], {}),
                 ([np.ones((2, 1), np.float32), np.zeros((0,), np.float32)], {})]
    check_op_on_emu(name, rng, cases)


@pytest.mark.parametrize("name", ARITHMETIC)      # comparisons take integers too (tests/test_integer_ops.py)
def test_gpu_kernels_are_float32_only(name, emu):
    a = tg.Tensor(np.arange(6).reshape(2, 3), dtype=np.int32, device="emu")
    # div and pow are refused by infer() on every device; the others by the GPU launch code
    with pytest.raises(TypeError, match=f"{name}.*int32" if name in ("div", "pow") else f"{name}.*emu.*int32"):
        apply(name, a, a)


def test_sizes_beyond_one_grid_broadcast_backward(rng, emu, monkeypatch):
    monkeypatch.setattr(GPUDevice, "MAX_BLOCKS", 2)
    cases = [([rng.uniform(0.5, 2, (30, 1, 41)).astype(np.float32),
               rng.uniform(0.5, 2, (1, 7, 41)).astype(np.float32)], {})]
    for name in ["div", "pow", "sub"]:
        check_op_on_emu(name, rng, cases)
    check_op_on_emu("clip", rng, [([rng.standard_normal(3000).astype(np.float32)], dict(min=-0.5, max=0.5))])
