"""Issue 11's elementwise kernels at the shapes that break kernels: empty tensors (no
launch may happen, and nothing may crash), 0-d tensors, and sizes beyond one grid
(grid-stride loops, with the grid capped at 2 blocks), on emu against cpu."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_cu as tg
from tinygrad_cu.autograd import apply
from tinygrad_cu.device.gpu import GPUDevice
from tinygrad_cu.op import REGISTRY

from conftest import device_or_skip

FAMILIES = {"activation", "unary_math", "binary_math", "logical", "ternary"}
OPS = sorted(n for n, op in REGISTRY.items() if type(op).__module__.rsplit(".", 1)[-1] in FAMILIES)
SHAPES = {1: [((0,),), ((2, 0),), ((),)],
          2: [((0, 3), (3,)), ((), (0,)), ((), ())],
          3: [((0,), (), (1,)), ((2, 0), (0,), ()), ((), (), ())]}


def inputs(name, shapes, rng):
    op = REGISTRY[name]
    arrays = [rng.uniform(op.domain.low, op.domain.high, s).astype(np.float32) for s in shapes]
    if name == "where":
        arrays[0] = arrays[0] > 0
    if name in ("div_floor", "div_trunc", "remainder", "fmod"):
        arrays[1] = np.where(arrays[1] == 0, 1, arrays[1]).astype(np.float32)
    if name == "pow_int":                    # int64 only
        arrays = [np.round(a).astype(np.int64) for a in arrays]
    return arrays, dict(getattr(op, "test_attrs", [{}])[0])


def run(device, name, arrays, attrs):
    op = REGISTRY[name]
    ts = [tg.Tensor(a, dtype=a.dtype, device=device, requires_grad=op.differentiable and a.dtype.kind == "f")
          for a in arrays]
    out = apply(name, *ts, **attrs)
    grads = []
    if out.requires_grad:
        out.backward(tg.full(out.shape, 0.5, device=device))
        grads = [None if t.grad is None else t.grad.numpy() for t in ts]
    return out.numpy(), grads


@pytest.mark.parametrize("name", OPS)
def test_empty_and_0d_shapes_on_emu_match_cpu(name, rng):
    device_or_skip("emu")
    n = REGISTRY[name].n_inputs
    for shapes in SHAPES[n]:
        arrays, attrs = inputs(name, shapes, rng)
        want, want_grads = run("cpu", name, arrays, attrs)
        got, got_grads = run("emu", name, arrays, attrs)
        assert got.shape == want.shape and got.dtype == want.dtype, (name, shapes)
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5, err_msg=f"{name} {shapes}")
        for g, w in zip(got_grads, want_grads):
            assert (g is None) == (w is None)
            if w is not None:
                assert g.shape == w.shape
                np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5, err_msg=f"{name} {shapes} grad")


@pytest.mark.parametrize("name, shapes", [("gelu", [(3, 700)]), ("sin", [(2000,)]),
                                          ("maximum", [(40, 61), (61,)]), ("logical_xor", [(5, 400), (1, 400)]),
                                          ("where", [(30, 1), (30, 70), (70,)]), ("lerp", [(900,), (900,), ()])])
def test_sizes_beyond_one_grid(name, shapes, rng, monkeypatch):
    device_or_skip("emu")
    monkeypatch.setattr(GPUDevice, "MAX_BLOCKS", 2)
    arrays, attrs = inputs(name, shapes, rng)
    if name == "logical_xor":
        arrays = [np.where(a > 0, a, 0).astype(np.float32) for a in arrays]
    want, want_grads = run("cpu", name, arrays, attrs)
    got, got_grads = run("emu", name, arrays, attrs)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    for g, w in zip(got_grads, want_grads):
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5)


def test_integer_division_beyond_one_grid(monkeypatch):
    device_or_skip("emu")
    monkeypatch.setattr(GPUDevice, "MAX_BLOCKS", 2)
    a = np.arange(-1500, 1500, dtype=np.int64)
    got = (tg.tensor(a, device="emu") // tg.tensor([7, -3], device="emu").reshape(2, 1)).numpy()
    np.testing.assert_array_equal(got, a // np.array([[7], [-3]]))      # Python's floor division


@settings(max_examples=15, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=4, max_side=6),
       st.sampled_from(["where", "lerp", "maximum", "copysign"]))
def test_random_broadcasts_on_emu_match_cpu(shapes, name):
    """Three-way (and two-way) broadcasting with dims the host merges or keeps apart."""
    device_or_skip("emu")
    rng = np.random.default_rng(sum(map(len, shapes.input_shapes)))
    shapes = shapes.input_shapes[:REGISTRY[name].n_inputs]
    arrays, attrs = inputs(name, shapes, rng)
    want, want_grads = run("cpu", name, arrays, attrs)
    got, got_grads = run("emu", name, arrays, attrs)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
    for g, w in zip(got_grads, want_grads):
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5)
