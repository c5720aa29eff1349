"""Bad input raises what both habits catch: the project's ValueError/TypeError/IndexError
naming the op, and PyTorch's RuntimeError (shapes, dtypes) or IndexError (a dim out of
range), so code ported from PyTorch handles the same errors (tinygrad_cu/errors.py)."""
import numpy as np
import pytest

import tinygrad_cu as tg


@pytest.mark.parametrize("device", ["cpu", "emu"])
@pytest.mark.parametrize("call, message", [
    (lambda d: tg.ones(2, 3, device=d) + tg.ones(4, 3, device=d), r"add: shapes \(2, 3\), \(4, 3\)"),
    (lambda d: tg.ones(2, 3, device=d) @ tg.ones(2, 3, device=d), "matmul"),
    (lambda d: tg.ones(2, 3, device=d).reshape(4, 2), "reshape"),
    (lambda d: tg.cat([tg.tensor(1.0, device=d), tg.tensor(2.0, device=d)]), "cat: zero-dimensional"),
])
def test_shape_errors_are_value_and_runtime_errors(device, call, message):
    tg.device_status(device)[0] or pytest.skip(f"{device} unavailable: {tg.device_status(device)[1]}")
    with pytest.raises(ValueError, match=message) as caught:
        call(device)
    assert isinstance(caught.value, RuntimeError)


@pytest.mark.parametrize("call", [lambda: tg.ones(2, 3).sum(5), lambda: tg.tensor(1.0).cumsum(1),
                                  lambda: tg.ones(2, 3).softmax(-3)])
def test_a_dim_out_of_range_is_an_index_error_and_a_value_error(call):
    with pytest.raises(IndexError, match="out of range") as caught:
        call()
    assert isinstance(caught.value, ValueError)


def test_dtype_errors_are_type_and_runtime_errors():
    with pytest.raises(TypeError, match="matmul: inputs must have the same dtype, got float32, float64") as caught:
        tg.ones(2, 2, dtype=tg.float32).matmul(tg.ones(2, 2, dtype=tg.float64))
    assert isinstance(caught.value, RuntimeError)


def test_float_indices_are_index_errors_as_pytorch():
    a = tg.ones(10, 11)
    with pytest.raises(IndexError, match="getitem: tensors used as indices must be integer or bool, got float32"):
        a[tg.tensor(1.1)]
    with pytest.raises(IndexError, match="getitem: float index 1.5"):
        a[1.5]


def test_float_targets_of_the_wrong_shape_are_type_and_runtime_errors():
    with pytest.raises(TypeError, match="cross_entropy: labels must be an integer tensor") as caught:
        tg.nn.functional.cross_entropy(tg.ones(4, 3), tg.ones(4, 1))
    assert isinstance(caught.value, RuntimeError)
