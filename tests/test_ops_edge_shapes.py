"""Every registered op on `emu` with 0-d and empty (size-0) inputs, wherever the op
accepts them, against `cpu` (forward and backward) and the float64 reference (forward).

Issue 11, bug 1: `x[0]` down to a 0-d result read a garbage offset on emu and its
backward wrote past the end of the gradient. A kernel path that only breaks on 0-d or
empty shapes is easy to miss, so the cases are derived from each op's own registry
cases (tests/op_cases.py): every float input made 0-d, or with its first or last dim
made 0, plus a few hand-written ones (indexing down to 0-d, reductions over an empty
axis, matmul with an empty inner dim). A derived case the op refuses on `cpu` (infer
raises) is not one the op accepts, and is left out; a new op is covered the moment it
has registry cases.
"""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.autograd import apply
from tinygrad_cu.op import REGISTRY
from tinygrad_cu.ops.optim import UpdateOp

import reference64
from conftest import device_or_skip
from op_cases import cases_for
from test_ops_emu import run_on

UPDATE_OPS = {n for n, op in REGISTRY.items() if isinstance(op, UpdateOp)}   # in-place optimiser steps: tests/test_optim.py
OPS = sorted(set(REGISTRY) - UPDATE_OPS)

# hand-written cases the derivation below cannot reach
EXTRA = {
    "getitem": [((4,), dict(index=(0,))), ((2, 3), dict(index=(1, -1))), ((), dict(index=())),
                ((), dict(index=(None,))), ((0, 3), dict(index=(slice(None), 1))),
                ((3,), dict(index=(np.zeros(0, np.int64),))), ((2, 3), dict(index=(np.array([1]), 2)))],
    "sum": [((0, 3), dict(axis=0, keepdims=False)), ((0,), dict(axis=None, keepdims=True))],
    "reshape": [((), dict(shape=(1, 1))), ((0, 3), dict(shape=(3, 0))), ((1,), dict(shape=()))],
    "expand": [((), dict(shape=(0, 2))), ((1,), dict(shape=(0,)))],
    "permute": [((), dict(dims=())), ((0, 2), dict(dims=(1, 0)))],
    "pad": [((), dict(pad_width=(), value=1.0)), ((0, 2), dict(pad_width=((1, 0), (0, 1)), value=2.0))],
    "cat": [([(0, 2), (3, 2)], dict(axis=0)), ([(2, 0), (2, 0)], dict(axis=1))],
    "matmul": [([(2, 0), (0, 3)], {}), ([(0, 4), (4, 2)], {})],
    "matmul_nt": [([(2, 0), (3, 0)], {})],
    "conv": [([(0, 3, 7, 6), (4, 3, 3, 3), (4,)], dict(stride=1, padding=1)),     # an empty batch
             ([(2, 3, 7, 6), (0, 3, 3, 3)], dict(stride=1, padding=0)),           # no output channel: refused (PyTorch)
             ([(0, 2, 9), (3, 2, 3)], dict(stride=2, padding=0)),
             ([(0, 4, 7, 6), (2, 2, 3, 2), (2,)], dict(stride=1, padding=0, groups=2))],   # grouped, empty batch
}


def _zero_dim(arrays, which):
    """Each float input with dim `which` (0: first, -1: last) set to 0; 0-d inputs kept."""
    out = []
    for a in arrays:
        if a.dtype.kind == "f" and a.ndim:
            shape = list(a.shape)
            shape[which] = 0
            a = np.zeros(shape, a.dtype)
        elif a.dtype.kind != "f" and a.ndim and which == 0:   # labels, integer operands
            a = a[:0]
        out.append(a)
    return out


def edge_cases(name, rng):
    """(arrays, attrs) with 0-d or empty inputs for op `name`, float32."""
    found = []
    for arrays, attrs in cases_for(name, rng, dtype=np.float32):
        found.append(([np.asarray(rng.uniform(0.5, 1.5), np.float32) if a.dtype.kind == "f" else
                       a.reshape(-1)[0].reshape(()) if a.size else a for a in arrays], attrs))
        found.append((_zero_dim(arrays, 0), attrs))
        found.append((_zero_dim(arrays, -1), attrs))
    for shapes, attrs in EXTRA.get(name, []):
        shapes = shapes if isinstance(shapes, list) else [shapes]
        found.append(([rng.uniform(0.5, 1.5, size=s).astype(np.float32) for s in shapes], attrs))
    found = [(arrays, attrs) for arrays, attrs in found if any(a.ndim == 0 or a.size == 0 for a in arrays)]
    accepted = [(arrays, attrs) for arrays, attrs in found if _refusal(name, arrays, attrs) is None]
    refused = [(arrays, attrs, _refusal(name, arrays, attrs)) for arrays, attrs in found
               if _refusal(name, arrays, attrs) is not None]
    return accepted, refused


def _refusal(name, arrays, attrs, device="cpu"):
    """The exception type with which `device` refuses the case, or None."""
    try:
        apply(name, *[tg.Tensor(a, dtype=a.dtype, device=device) for a in arrays], **attrs).numpy()
    except (ValueError, TypeError, IndexError, RuntimeError) as e:    # RuntimeError: PyTorch's for bad indices
        return type(e)
    return None


@pytest.mark.parametrize("name", OPS)
def test_op_on_emu_with_0d_and_empty_inputs(name, rng):
    device_or_skip("emu")
    cases, refused = edge_cases(name, rng)
    for arrays, attrs, error in refused:       # what cpu refuses, emu refuses the same way
        assert _refusal(name, arrays, attrs, "emu") is error, f"{name} {attrs} {[a.shape for a in arrays]}"
    if not cases:
        print(f"op {name} accepts no 0-d or empty input")
        pytest.skip(f"op {name} accepts no 0-d or empty input")
    for arrays, attrs in cases:
        where = f"{name} {attrs} shapes {[a.shape for a in arrays]}"
        shape = apply(name, *[tg.Tensor(a, dtype=a.dtype) for a in arrays], **attrs).shape
        out_grad = rng.standard_normal(shape).astype(np.float32)
        want, want_grads = run_on("cpu", name, arrays, attrs, out_grad)
        got, got_grads = run_on("emu", name, arrays, attrs, out_grad)
        assert got.shape == want.shape and got.dtype == want.dtype, where
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5, err_msg="forward " + where)
        with np.errstate(all="ignore"):
            expected = np.asarray(reference64.forward(name, [a.astype(np.float64) if a.dtype.kind == "f" else a
                                                             for a in arrays], attrs))
        np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-5, err_msg="float64 reference " + where)
        for i, (g, w) in enumerate(zip(got_grads, want_grads)):
            assert (g is None) == (w is None), where
            if w is not None:
                assert g.shape == arrays[i].shape, where
                np.testing.assert_allclose(g, w, rtol=2e-4, atol=2e-5, err_msg=f"grad {i} " + where)


def test_indexing_down_to_0d_on_emu_reads_and_writes_the_right_element():
    """Issue 11 bug 1, as reported: hand-computed values."""
    device_or_skip("emu")
    assert tg.tensor([0.5, 0.25, 0.125], device="emu")[0].item() == 0.5
    assert tg.tensor([[1.0, 2.0], [3.0, 4.0]], device="emu")[1, 0].item() == 3.0
    t = tg.tensor([2.0, 5.0, 7.0], device="emu", requires_grad=True)
    t[-1].backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0.0, 0.0, 1.0])
