"""Every registered op, driven by the registry: forward against an independent float64
reference (tests/reference64.py) and backward against central finite differences
(tg.gradcheck), on the cpu device. A new op is tested the moment it is declared."""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.autograd import apply
from tinygrad_cu.op import REGISTRY
from tinygrad_cu.ops.optim import UpdateOp

import reference64
from op_cases import cases_for

UPDATE_OPS = {n for n, op in REGISTRY.items() if isinstance(op, UpdateOp)}   # in-place optimiser steps: tests/test_optim.py
OPS = sorted(set(REGISTRY) - UPDATE_OPS)


def to_tensors(arrays, requires_grad=False):
    return [tg.Tensor(a, dtype=a.dtype, requires_grad=requires_grad and a.dtype.kind == "f")
            for a in arrays]


@pytest.mark.parametrize("name", OPS)
def test_every_op_has_test_cases(name):
    assert cases_for(name, np.random.default_rng(0)), f"add cases for op {name} to tests/op_cases.py"


@pytest.mark.parametrize("name", OPS)
def test_forward_matches_float64_reference(name, rng):
    for arrays, attrs in cases_for(name, rng):
        out = apply(name, *to_tensors(arrays), **attrs)
        expected = np.asarray(reference64.forward(name, arrays, attrs))
        assert out.shape == expected.shape, (name, attrs)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12,
                                   err_msg=f"{name} {attrs} shapes {[a.shape for a in arrays]}")


@pytest.mark.parametrize("name", [n for n in OPS if REGISTRY[n].differentiable])
def test_backward_matches_finite_differences(name, rng):
    for arrays, attrs in cases_for(name, rng):
        if not any(a.dtype.kind == "f" for a in arrays):
            continue                                   # integer cases (max of ints): no gradient
        tensors = to_tensors(arrays, requires_grad=True)
        assert tg.gradcheck(lambda *ts: apply(name, *ts, **attrs), *tensors,
                            eps=1e-6, atol=1e-6, rtol=1e-5)


def test_float32_is_the_default_and_float64_is_kept():
    assert tg.tensor([1.0, 2.0]).dtype == tg.float32
    assert (tg.tensor([1.0], dtype=tg.float64).exp()).dtype == tg.float64
