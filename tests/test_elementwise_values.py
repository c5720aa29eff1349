"""Issue 11's elementwise ops at the values where frameworks differ: hand-computed
values (PyTorch's, written out) at kinks, ties, zeros, NaN and infinities, on cpu and on
emu (the CUDA kernels), plus PyTorch's dtype rules and errors. The registry tests
(test_ops_registry.py, test_ops_emu.py) cover random inputs of every op."""
import math

import numpy as np
import pytest

import tinygrad_cu as tg
import tinygrad_cu.nn.functional as F

from conftest import device_or_skip

DEVICES = ["cpu", "emu"]
nan, inf = float("nan"), float("inf")


@pytest.fixture(params=DEVICES)
def device(request):
    return device_or_skip(request.param)


def grad_of(fn, values, device):
    x = tg.tensor(values, device=device, requires_grad=True)
    y = fn(x)
    y.sum().backward()
    return y.numpy(), x.grad.numpy()


def test_pow_exponent_gradient_is_minus_inf_for_base_zero_and_negative_exponent(device):
    # issue 11 bug 2: d(0^x)/dx = 0^x log 0 is -inf for x < 0 (it was NaN), 0 for x >= 0
    y, g = grad_of(lambda x: 0 ** x, [-2.0, -1.0, 0.0, 1.0, 2.5], device)
    np.testing.assert_array_equal(y, [inf, inf, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(g, [-inf, -inf, 0.0, 0.0, 0.0])


def test_pow_gradients_at_zero_and_negative_bases(device):
    base = tg.tensor([0.0, 0.0, 0.0, -2.0, -2.0, -2.0, 2.0], device=device, requires_grad=True)
    exponent = tg.tensor([-2.0, 0.0, 1.5, 2.0, 0.5, -1.0, 0.0], device=device, requires_grad=True)
    (base ** exponent).sum().backward()
    # d/d base = e b^(e-1) (0 where e == 0); d/d exponent = b^e log b (NaN for b < 0)
    np.testing.assert_array_equal(base.grad.numpy(), [-inf, 0.0, 0.0, -4.0, nan, -0.25, 0.0])
    np.testing.assert_array_equal(exponent.grad.numpy(), [-inf, 0.0, 0.0, nan, nan, nan, np.float32(math.log(2.0))])


KINKS = [-3.0, -1.0, 0.0, 1.0, 3.0]


@pytest.mark.parametrize("fn, forward, gradient", [
    (lambda x: F.hardtanh(x), [-1, -1, 0, 1, 1], [0, 0, 1, 0, 0]),             # 0 AT the bounds
    (lambda x: F.hardtanh(x, -0.5, 2.0), [-0.5, -0.5, 0, 1, 2], [0, 0, 1, 1, 0]),
    (lambda x: F.relu6(x), [0, 0, 0, 1, 3], [0, 0, 0, 1, 1]),
    (lambda x: F.hardsigmoid(x), [0, 1 / 3, 0.5, 2 / 3, 1], [0, 1 / 6, 1 / 6, 1 / 6, 0]),
    (lambda x: F.hardswish(x), [0, -1 / 3, 0, 2 / 3, 3], [0, 1 / 6, 0.5, 5 / 6, 1]),
    (lambda x: F.leaky_relu(x), [-0.03, -0.01, 0, 1, 3], [0.01, 0.01, 0.01, 1, 1]),   # slope at 0
    (lambda x: F.leaky_relu(x, 0.2), [-0.6, -0.2, 0, 1, 3], [0.2, 0.2, 0.2, 1, 1]),
    (lambda x: F.elu(x, alpha=2.0), [2 * math.expm1(-3), 2 * math.expm1(-1), 0, 1, 3],
     [2 * math.exp(-3), 2 * math.exp(-1), 2, 1, 1]),                                   # alpha at 0
    (lambda x: F.softsign(x), [-0.75, -0.5, 0, 0.5, 0.75], [1 / 16, 0.25, 1, 0.25, 1 / 16]),
])
def test_activation_values_and_gradients_at_the_kinks(device, fn, forward, gradient):
    y, g = grad_of(fn, KINKS, device)
    np.testing.assert_allclose(y, forward, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(g, gradient, rtol=1e-6, atol=1e-7)


def test_smooth_activations_against_hand_values(device):
    # PyTorch 2.x's values at x = -1.5, 0.3, 2 (float32), written out
    x = [-1.5, 0.3, 2.0]
    cases = [(F.gelu, [-0.1002108604, 0.1853734404, 1.9544997215], [-0.1274691522, 0.7323277593, 1.0852319002]),
             (lambda t: F.gelu(t, approximate="tanh"), [-0.1004284322, 0.185370937, 1.9545977116],
              [-0.1277108192, 0.7322955132, 1.086099267]),
             (F.silu, [-0.2736382782, 0.1723327637, 1.7615940571], [-0.0412941612, 0.6477800608, 1.0907843113]),
             (F.mish, [-0.2980997562, 0.2080013901, 1.9439589977], [-0.0640978143, 0.7828273177, 1.0693179369])]
    for fn, forward, gradient in cases:
        y, g = grad_of(fn, x, device)
        np.testing.assert_allclose(y, forward, rtol=2e-6, atol=1e-6)
        np.testing.assert_allclose(g, gradient, rtol=2e-6, atol=1e-6)


def test_maximum_minimum_split_the_gradient_on_ties_and_propagate_nan(device):
    a = tg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    b = tg.tensor([1.0, 1.0, 4.0], device=device, requires_grad=True)
    tg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 0.0, 1.0])
    a.grad = b.grad = None
    tg.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1.0, 0.0])
    with_nan = tg.tensor([nan, 1.0], device=device)
    np.testing.assert_array_equal(tg.maximum(with_nan, tg.tensor([1.0, nan], device=device)).numpy(), [nan, nan])
    np.testing.assert_array_equal(tg.minimum(tg.tensor([1.0, 5.0], device=device), 2.0).numpy(), [1.0, 2.0])
    ints = tg.maximum(tg.tensor([[1], [-5]], device=device), tg.tensor([0, 3], device=device))
    assert ints.dtype == tg.int64 and ints.tolist() == [[1, 3], [0, 3]]
    assert tg.minimum(tg.tensor([4, -2], device=device), 1).tolist() == [1, -2]


def test_copysign_takes_the_sign_of_zero_and_its_gradient(device):
    a = tg.tensor([1.0, -2.0, 0.0, -0.0, 3.0], device=device, requires_grad=True)
    b = tg.tensor([-1.0, 3.0, -1.0, 0.0, -0.0], device=device, requires_grad=True)
    y = tg.copysign(a, b)
    y.sum().backward()
    np.testing.assert_array_equal(np.signbit(y.numpy()), [True, False, True, False, True])
    np.testing.assert_array_equal(y.numpy(), [-1.0, 2.0, 0.0, 0.0, -3.0])
    np.testing.assert_array_equal(a.grad.numpy(), [-1.0, -1.0, 0.0, 0.0, -1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.0] * 5)


def test_div_rounding_modes(device):
    a = tg.tensor([-7.0, 7.0, 7.5, -0.5, 1.0, -1.0, 0.0], device=device, requires_grad=True)
    b = tg.tensor([2.0, -2.0, 2.0, 4.0, 0.0, 0.0, 0.0], device=device, requires_grad=True)
    floor = a.div(b, rounding_mode="floor")
    np.testing.assert_array_equal(floor.numpy(), [-4.0, -4.0, 3.0, -1.0, inf, -inf, nan])
    np.testing.assert_array_equal((a // b).numpy(), floor.numpy())
    np.testing.assert_array_equal(tg.div(a, b, rounding_mode="trunc").numpy(), [-3.0, -3.0, 3.0, -0.0, inf, -inf, nan])
    np.testing.assert_allclose(tg.div(a, b).numpy()[:4], [-3.5, -3.5, 3.75, -0.125])
    floor.backward(tg.ones(7, device=device))        # rounded quotients have gradient 0 (PyTorch)
    np.testing.assert_array_equal(a.grad.numpy(), [0.0] * 7)
    np.testing.assert_array_equal(b.grad.numpy(), [0.0] * 7)
    with pytest.raises(ValueError, match="div: rounding_mode"):
        a.div(b, rounding_mode="round")


def test_integer_division_rounds_as_pytorch_and_refuses_zero(device):
    a = tg.tensor([-7, 7, 6, -7, -2**63], device=device)
    b = tg.tensor([2, -2, 3, -2, -1], device=device)
    assert (a // b).tolist() == [-4, -4, 2, 3, -2**63] and (a // b).dtype == tg.int64   # -2^63 // -1 wraps
    assert a.div(b, rounding_mode="trunc").tolist() == [-3, -3, 2, 3, -2**63]
    assert (a // 4).tolist() == [-2, 1, 1, -2, -2**61]
    with pytest.raises(ZeroDivisionError, match="integer division by zero"):
        (a // tg.tensor([1, 1, 0, 1, 1], device=device)).tolist()
    assert (a // b).tolist()[0] == -4                            # the error was reported once


def test_roundings_halves_to_even_and_zero_gradient(device):
    y, g = grad_of(lambda x: x.round(), [0.5, 1.5, 2.5, -0.5, -1.7], device)
    np.testing.assert_array_equal(y, [0.0, 2.0, 2.0, -0.0, -2.0])
    np.testing.assert_array_equal(g, [0.0] * 5)
    x = tg.tensor([-1.5, -0.2, 0.2, 1.5], device=device)
    np.testing.assert_array_equal(tg.floor(x).numpy(), [-2, -1, 0, 1])
    np.testing.assert_array_equal(tg.ceil(x).numpy(), [-1, -0.0, 1, 2])
    np.testing.assert_array_equal(tg.trunc(x).numpy(), [-1, -0.0, 0, 1])
    np.testing.assert_allclose(tg.round(tg.tensor([1.2345, -2.5551], device=device), decimals=2).numpy(),
                               [1.23, -2.56], rtol=1e-6)
    np.testing.assert_allclose(round(tg.tensor([1.2345], device=device), 1).numpy(), [1.2], rtol=1e-6)
    assert round(tg.tensor([2.5], device=device)).tolist() == [2.0]


def test_float_tests_and_logical_ops(device):
    x = tg.tensor([1.0, nan, inf, -inf, 0.0], device=device)
    np.testing.assert_array_equal(tg.isnan(x).numpy(), [False, True, False, False, False])
    np.testing.assert_array_equal(tg.isinf(x).numpy(), [False, False, True, True, False])
    np.testing.assert_array_equal(tg.isfinite(x).numpy(), [True, False, False, False, True])
    assert tg.isnan(x).dtype == tg.bool_
    ints = tg.tensor([1, 2], device=device)                # integers are never NaN or infinite
    np.testing.assert_array_equal(tg.isnan(ints).numpy(), [False, False])
    np.testing.assert_array_equal(tg.isfinite(ints).numpy(), [True, True])
    # any nonzero value, NaN too, is true; mixed dtypes compare as bool
    f = tg.tensor([[0.0], [nan], [2.0]], device=device)
    i = tg.tensor([0, 3], device=device)
    np.testing.assert_array_equal(tg.logical_and(f, i).numpy(), [[False, False], [False, True], [False, True]])
    np.testing.assert_array_equal(tg.logical_or(f, i).numpy(), [[False, True], [True, True], [True, True]])
    np.testing.assert_array_equal(tg.logical_xor(f, i).numpy(), [[False, True], [True, False], [True, False]])
    np.testing.assert_array_equal(tg.logical_not(f).numpy().ravel(), [True, False, False])
    np.testing.assert_array_equal(tg.tensor([True, False], device=device).logical_not().numpy(), [False, True])


def test_where_broadcasts_and_sends_the_gradient_to_the_chosen_side(device):
    cond = tg.tensor([[True], [False]], device=device)
    x = tg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    y = tg.tensor([[10.0], [20.0]], device=device, requires_grad=True)
    out = tg.where(cond, x, y)
    np.testing.assert_array_equal(out.numpy(), [[1, 2, 3], [20, 20, 20]])
    (out * tg.tensor([1.0, 2.0, 3.0], device=device)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 2, 3])
    np.testing.assert_array_equal(y.grad.numpy(), [[0], [6]])
    assert tg.where(cond, x, 0.0).dtype == tg.float32
    np.testing.assert_array_equal(tg.where(cond, 1.0, x).numpy(), [[1, 1, 1], [1, 2, 3]])
    labels = tg.tensor([3, 4], device=device)                       # int64 is kept
    picked = tg.where(tg.tensor([True, False], device=device), labels, -1)
    assert picked.dtype == tg.int64 and picked.tolist() == [3, -1]
    for dtype in (tg.int32, tg.uint8, tg.bool_):                     # every GPU dtype selects
        a, b = tg.tensor([1, 0], dtype=dtype, device=device), tg.tensor([0, 1], dtype=dtype, device=device)
        chosen = tg.where(tg.tensor([[True], [False]], device=device), a, b)
        assert chosen.dtype == dtype and chosen.tolist() == [[1, 0], [0, 1]]
    with pytest.raises(TypeError, match="where: the condition must be a bool"):
        tg.where(tg.tensor([1.0, 0.0], device=device), x[:2], x[:2])


def test_lerp_with_a_scalar_or_a_tensor_weight(device):
    start = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    end = tg.tensor([3.0, 5.0], device=device, requires_grad=True)
    weight = tg.tensor([0.25, 0.5], device=device, requires_grad=True)
    out = tg.lerp(start, end, weight)
    np.testing.assert_array_equal(out.numpy(), [1.5, 3.5])
    out.sum().backward()
    np.testing.assert_array_equal(start.grad.numpy(), [0.75, 0.5])
    np.testing.assert_array_equal(end.grad.numpy(), [0.25, 0.5])
    np.testing.assert_array_equal(weight.grad.numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(start.lerp(end, 1.0).numpy(), [3.0, 5.0])       # exactly end at 1


def test_math_of_integer_tensors_follows_pytorch_dtypes(device):
    ints = tg.tensor([1, 4], device=device)
    assert ints.sin().dtype == tg.float32 and ints.rsqrt().dtype == tg.float32
    np.testing.assert_allclose(ints.rsqrt().numpy(), [1.0, 0.5])
    floor = ints.floor()
    assert floor.dtype == tg.int64 and floor.tolist() == [1, 4]
    assert ints.square().dtype == tg.int64 and ints.square().tolist() == [1, 16]
    y, g = grad_of(lambda x: x.square(), [3.0, -2.0], device)       # square is its own kernel
    np.testing.assert_array_equal(y, [9.0, 4.0])
    np.testing.assert_array_equal(g, [6.0, -4.0])


def test_argument_errors_name_the_op():
    x = tg.tensor([1.0])
    with pytest.raises(ValueError, match="gelu: approximate"):
        F.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="hardtanh: min_val 2.0 is larger than max_val 1.0"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(TypeError, match="lerp: .*float"):
        tg.lerp(tg.tensor([1]), tg.tensor([2]), tg.tensor([1]))
    with pytest.raises(NotImplementedError, match="leaky_relu: inplace=True"):
        F.leaky_relu(x, inplace=True)


def test_activation_modules_with_pytorch_names_and_arguments():
    import tinygrad_cu.nn as nn
    x = tg.tensor([-3.0, -1.0, 0.0, 1.0, 7.0])
    cases = [(nn.LeakyReLU(0.2), [-0.6, -0.2, 0, 1, 7]), (nn.ReLU6(), [0, 0, 0, 1, 6]),
             (nn.ELU(alpha=0.5), [0.5 * math.expm1(-3), 0.5 * math.expm1(-1), 0, 1, 7]),
             (nn.Hardtanh(-2.0, 2.0), [-2, -1, 0, 1, 2]), (nn.Hardsigmoid(), [0, 1 / 3, 0.5, 2 / 3, 1]),
             (nn.Hardswish(), [0, -1 / 3, 0, 2 / 3, 7]), (nn.Softsign(), [-0.75, -0.5, 0, 0.5, 7 / 8]),
             (nn.SiLU(), F.silu(x).tolist()), (nn.Mish(), F.mish(x).tolist()),
             (nn.GELU(approximate="tanh"), F.gelu(x, approximate="tanh").tolist())]
    for module, want in cases:
        np.testing.assert_allclose(module(x).numpy(), want, rtol=1e-6, atol=1e-7, err_msg=repr(module))
    assert repr(nn.GELU(approximate="tanh")).startswith("GELU(approximate='tanh')")
    assert repr(nn.LeakyReLU(0.2)).startswith("LeakyReLU(negative_slope=0.2)")
    with pytest.raises(NotImplementedError, match="inplace=True"):
        nn.ReLU6(inplace=True)
