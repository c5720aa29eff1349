"""The elementwise tail (task t1) beyond the registry cases: PyTorch's integer rules for
/, //, %, fmod and ** (against Python's own integer arithmetic), the composites isclose,
allclose, isposinf, isneginf, quick_gelu, the conversions bool() and byte(), and the
values where a naive formula overflows (softplus, logsigmoid, logaddexp, erf), written
out by hand. Each runs on cpu and on emu."""
import math

import numpy as np
import pytest

import tinygrad_cu as tg

from conftest import device_or_skip

DEVICES = ["cpu", "emu"]
A = [-4, 7, 5, 4, -7, 8, -9, 0]
B = [2, -3, 8, -2, 3, 5, -5, 3]


@pytest.fixture(params=DEVICES)
def device(request):
    return device_or_skip(request.param)


def ints(values, device, dtype=tg.int32):
    return tg.tensor(values, dtype=dtype, device=device)


@pytest.mark.parametrize("dtype", [tg.int32, tg.int64])
def test_integer_remainder_floor_and_trunc_division_follow_python(device, dtype):
    a, b = ints(A, device, dtype), ints(B, device, dtype)
    for got, want in [(a % b, [x % y for x, y in zip(A, B)]),
                      (a.fmod(b), [int(math.fmod(x, y)) for x, y in zip(A, B)]),
                      (a // b, [x // y for x, y in zip(A, B)]),
                      (a.div(b, rounding_mode="trunc"), [int(x / y) for x, y in zip(A, B)]),
                      (a % 3, [x % 3 for x in A]), (100 % b, [100 % y for y in B])]:
        assert got.dtype == dtype
        assert got.numpy().tolist() == want


def test_float_remainder_has_the_divisors_sign_and_fmod_the_dividends(device):
    a, b = tg.tensor([float(x) for x in A], device=device), tg.tensor([float(y) for y in B], device=device)
    np.testing.assert_array_equal((a % b).numpy(), [math.fmod(x, y) + (y if x % y and (math.fmod(x, y) < 0) != (y < 0) else 0)
                                                    for x, y in zip(A, B)])
    np.testing.assert_array_equal(a.fmod(b).numpy(), [math.fmod(x, y) for x, y in zip(A, B)])
    np.testing.assert_allclose((a % 3.5).numpy(), [x % 3.5 for x in A])
    np.testing.assert_allclose((100.5 % ints(B, device)).numpy(), [100.5 % y for y in B])   # int tensor -> float


def test_integer_remainder_by_zero_raises(device):
    with pytest.raises(ZeroDivisionError, match="integer division by zero"):
        (ints([5, 3], device) % ints([0, 2], device)).numpy()


def test_true_division_of_integers_is_float32(device):
    a, b = ints([5, 6, 7], device), ints([2, 4, -3], device)
    assert (a / b).dtype == tg.float32 and (a / 2).dtype == tg.float32 and (7 / b).dtype == tg.float32
    np.testing.assert_allclose((a / b).numpy(), [2.5, 1.5, 7 / -3], rtol=1e-6)
    np.testing.assert_allclose((7 / b).numpy(), [3.5, 1.75, 7 / -3], rtol=1e-6)


def wrap_int32(n):
    """Python's exact integer, wrapped to int32 as two's complement (PyTorch's overflow)."""
    return (n + 2**31) % 2**32 - 2**31


def test_integer_powers_are_exact_and_keep_the_dtype(device):
    x = ints([-2, 0, 2, 11, 13], device)
    for e in (0, 1, 2, 7, 29):
        got = x ** e
        assert got.dtype == tg.int32
        assert got.numpy().tolist() == [wrap_int32(v ** e) for v in [-2, 0, 2, 11, 13]]
    big = ints([3, -3], device, tg.int64) ** 39                       # beyond float32's 24 exact bits
    assert big.numpy().tolist() == [3**39, -(3**39)]
    # a negative exponent TENSOR: PyTorch's rule (1 ** -n = 1, (-1) ** -n = +-1, else 0)
    bases, exps = ints([1, -1, -1, 2, 0], device), ints([-3, -3, -2, -1, -1], device)
    assert (bases ** exps).numpy().tolist() == [1, -1, 1, 0, 0]
    assert (2 ** ints([3, 0, 5], device)).numpy().tolist() == [8, 1, 32]
    with pytest.raises(RuntimeError, match="negative integer powers"):
        x ** -2
    assert (x ** 2.0).dtype == tg.float32


def close_by_hand(a, b, rtol, atol, equal_nan):
    """PyTorch's isclose, one pair of Python floats at a time."""
    if a == b:
        return True
    if math.isnan(a) or math.isnan(b):
        return equal_nan and math.isnan(a) and math.isnan(b)
    diff = abs(a - b)
    return math.isfinite(diff) and diff <= atol + rtol * abs(b)


@pytest.mark.parametrize("equal_nan", [False, True])
def test_isclose_matches_pytorchs_rule_with_infinities_and_nan(device, equal_nan):
    special = [math.inf, -math.inf, math.nan, 0.0, 1.0, 1.0 + 1e-6, 1e-7, 100.0]
    a = [x for x in special for _ in special]
    b = [y for _ in special for y in special]
    got = tg.tensor(a, device=device).isclose(tg.tensor(b, device=device), equal_nan=equal_nan)
    assert got.dtype == tg.bool_
    assert got.numpy().tolist() == [close_by_hand(x, y, 1e-5, 1e-8, equal_nan) for x, y in zip(a, b)]
    x, y = tg.tensor([1.0, 2.0], device=device), tg.tensor([1.001, 2.0], device=device)
    assert x.isclose(y, rtol=1e-2).numpy().tolist() == [True, True]
    assert x.isclose(y, atol=0.0).numpy().tolist() == [False, True]
    assert tg.allclose(x, y, rtol=1e-2) is True and x.allclose(y) is False


def test_isclose_of_integers_and_bad_arguments(device):
    a, b = ints([1, 2, 100], device), ints([1, 3, 101], device)
    assert a.isclose(b).numpy().tolist() == [True, False, False]
    assert a.isclose(b, atol=1.0).numpy().tolist() == [True, True, True]
    with pytest.raises(ValueError, match="isclose"):
        a.isclose(b, rtol=-1.0)
    with pytest.raises(TypeError, match="isclose"):
        a.isclose(tg.tensor([1.0, 2.0, 3.0], device=device))


def test_isposinf_isneginf(device):
    x = tg.tensor([-math.inf, 0.0, math.inf, math.nan, 1.1], device=device)
    assert x.isposinf().numpy().tolist() == [False, False, True, False, False]
    assert tg.isneginf(x).numpy().tolist() == [True, False, False, False, False]
    assert ints([1, 2], device).isposinf().numpy().tolist() == [False, False]


def test_bool_and_byte_conversions(device):
    x = tg.tensor([1.5, 0.0, -2.0, 300.0], device=device)
    assert x.bool().dtype == tg.bool_ and x.bool().numpy().tolist() == [True, False, True, True]
    assert ints([0, 7, 255], device).byte().numpy().tolist() == [0, 7, 255]
    assert x.byte().dtype == tg.uint8


def test_quick_gelu_is_x_sigmoid_1702x_with_its_gradient(device, rng):
    x = rng.uniform(-4, 4, 11)
    t = tg.tensor(x, dtype=tg.float32, device=device, requires_grad=True)
    t.quick_gelu().sum().backward()
    s = 1 / (1 + np.exp(-1.702 * x))
    np.testing.assert_allclose(t.quick_gelu().numpy(), x * s, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(t.grad.numpy(), s + 1.702 * x * s * (1 - s), rtol=1e-5, atol=1e-6)
    x64 = tg.tensor(rng.uniform(-3, 3, 5), dtype=tg.float64, requires_grad=True)
    assert tg.gradcheck(lambda v: v.quick_gelu(), x64)


def test_large_inputs_keep_their_limits(device):
    big = tg.tensor([-400.0, -300.0, 0.0, 300.0, 400.0], device=device)
    np.testing.assert_allclose(big.softplus().numpy(), [0.0, 0.0, math.log(2), 300.0, 400.0], atol=1e-30)
    np.testing.assert_allclose(big.logsigmoid().numpy(), [-400.0, -300.0, -math.log(2), 0.0, 0.0], atol=1e-30)
    np.testing.assert_array_equal(big.erf().numpy(), [-1, -1, 0, 1, 1])
    np.testing.assert_array_equal(big.erfc().numpy(), [2, 2, 1, 0, 0])
    a = tg.tensor([1.0, 2000.0, 30000.0, -100.0, -math.inf, math.inf], device=device)
    b = tg.tensor([-1.0, 2.0, 3.0, -200.0, -math.inf, math.inf], device=device)
    np.testing.assert_allclose(a.logaddexp(b).numpy(), [1 + math.log1p(math.exp(-2)), 2000.0, 30000.0,
                                                       -100.0, -math.inf, math.inf], rtol=1e-6)
    np.testing.assert_allclose(tg.logaddexp2(a, b).numpy(), [1 + math.log2(1 + 2.0 ** -2), 2000.0, 30000.0,
                                                            -100.0, -math.inf, math.inf], rtol=1e-6)


def test_softplus_threshold_and_beta_gradients(device):
    x = tg.tensor([-1.0, 0.5, 2.0, 30.0], device=device, requires_grad=True)
    y = x.softplus(beta=2.0, threshold=3.0)          # beta x > 3 from x = 1.5 on: y = x, y' = 1
    y.sum().backward()
    xs = np.array([-1.0, 0.5, 2.0, 30.0])
    want = np.where(2 * xs > 3, xs, np.log1p(np.exp(2 * xs)) / 2)
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), np.where(2 * xs > 3, 1.0, 1 / (1 + np.exp(-2 * xs))), rtol=1e-6)


def test_new_activation_modules_and_functions():
    x = tg.tensor([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(tg.nn.CELU(2.0)(x).numpy(), [2 * math.expm1(-0.5), 0.0, 2.0], rtol=1e-6)
    np.testing.assert_allclose(tg.nn.SELU()(x).numpy(),
                               [1.0507009873554805 * 1.6732632423543772 * math.expm1(-1), 0.0, 2 * 1.0507009873554805],
                               rtol=1e-6)
    np.testing.assert_allclose(tg.nn.LogSigmoid()(x).numpy(), [-math.log1p(math.e), -math.log(2), -math.log1p(math.exp(-2))],
                               rtol=1e-6)
    assert repr(tg.nn.Softplus(2.0, 5.0)).startswith("Softplus(beta=2, threshold=5)")
    with pytest.raises(ValueError, match="celu"):
        x.celu(0.0)


def test_two_integer_dtypes_promote_to_the_wider_integer():
    small, wide = tg.tensor([3, -1], dtype=tg.int32), tg.tensor([2, 2**40])
    flags = tg.tensor([True, False])
    assert (small + wide).dtype == tg.int64 and (small + wide).numpy().tolist() == [5, 2**40 - 1]
    assert flags.maximum(small).dtype == tg.int32 and flags.maximum(small).numpy().tolist() == [3, 0]
    assert (flags * tg.tensor([7, 9], dtype=tg.uint8)).numpy().tolist() == [7, 0]


@pytest.mark.parametrize("dtype", [tg.int32, tg.int64])
def test_integer_neg_abs_relu_sign_clip_stay_integer(dtype):
    values = [5, -7, 0, 3, -1]
    x = tg.tensor(values, dtype=dtype)
    for got, want in [(-x, [-v for v in values]), (abs(x), [abs(v) for v in values]),
                      (x.relu(), [max(v, 0) for v in values]), (x.sign(), [(v > 0) - (v < 0) for v in values]),
                      (x.clip(-2, 4), [min(max(v, -2), 4) for v in values]), (x.clamp(3, 0), [0] * 5)]:
        assert got.dtype == dtype and got.numpy().tolist() == want
    assert x.clip(0.5).dtype == tg.float32 and x.exp().dtype == tg.float32 and x.sqrt().dtype == tg.float32
    with pytest.raises(TypeError, match="neg: not supported for bool"):
        -tg.tensor([True])


def test_integer_unary_ops_on_emu():
    device_or_skip("emu")
    x = tg.tensor([5, -7, 0, 3], device="emu")           # int64: the GPU's integer kernels
    assert (-x).numpy().tolist() == [-5, 7, 0, -3] and x.abs().numpy().tolist() == [5, 7, 0, 3]
    assert x.sign().numpy().tolist() == [1, -1, 0, 1] and x.clip(-2, 4).numpy().tolist() == [4, -2, 0, 3]


def test_clamp_with_min_above_max_gives_max_with_zero_gradient(device):
    x = tg.tensor([-1.0, 0.5, 2.0, math.nan], device=device, requires_grad=True)
    y = x.clip(1.0, 0.0)
    y.sum().backward()
    np.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 0.0, math.nan])
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 0.0])
