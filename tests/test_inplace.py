"""In-place ops (issue 11): values, PyTorch's safety rules, version counters, the rebased
grad_fn of a non-leaf (gradients against central finite differences and hand values),
and on emu that the existing buffer is written. The PyTorch messages and behaviours
quoted were checked side by side with PyTorch 2.13 once and are written down here."""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.device.gpu import GPUDevice

from conftest import device_or_skip

DEVICES = ["cpu", "emu"]
MODIFIED = "one of the variables needed for gradient computation has been modified by an inplace operation"


@pytest.mark.parametrize("device", DEVICES)
def test_values_of_every_inplace_op(device):
    device_or_skip(device)
    t = lambda v, **k: tg.tensor(v, device=device, **k)
    x = t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.add_(t([10.0, 20.0, 30.0])) is x                     # returns self, broadcasts the operand
    assert x.tolist() == [[11, 22, 33], [14, 25, 36]]
    assert x.sub_(1).tolist() == [[10, 21, 32], [13, 24, 35]]
    assert x.sub_(t([[1.0], [2.0]]), alpha=2).tolist() == [[8, 19, 30], [9, 20, 31]]
    assert x.mul_(t([[2.0], [0.5]])).tolist() == [[16, 38, 60], [4.5, 10, 15.5]]
    assert x.div_(2).tolist() == [[8, 19, 30], [2.25, 5, 7.75]]
    assert x.clamp_(min=3, max=20).tolist() == [[8, 19, 20], [3, 5, 7.75]]
    assert x.masked_fill_(t([True, False, True]), -1.0).tolist() == [[-1, 19, -1], [-1, 5, -1]]
    assert x.fill_(2.5).tolist() == [[2.5] * 3] * 2 and x.zero_().tolist() == [[0.0] * 3] * 2
    assert x.copy_(t([1.0, 2.0, 3.0])).tolist() == [[1, 2, 3], [1, 2, 3]]
    assert x.copy_(t([[7], [8]])).tolist() == [[7, 7, 7], [8, 8, 8]]         # int64 source: converted
    n = t([5, 6, 7])                                               # int64
    assert n.add_(1).mul_(2).tolist() == [12, 14, 16] and n.dtype == tg.int64
    assert n.copy_(t([1.7, -2.5, 3.0])).tolist() == [1, -2, 3]      # truncated, as PyTorch
    m = tg.tensor(np.array([[1, 1, 1], [2, 2, 2]], np.int32), device=device)
    assert m.sub_(tg.tensor(np.array([1, 0, 2], np.int32), device=device)).tolist() == [[0, 1, -1], [1, 2, 0]]
    assert t([1.0, 2.0]).add_(t([1, 2])).tolist() == [2.0, 4.0]     # an int operand is converted
    x.copy_(t([[7.0], [8.0]])).mul_(x)                             # the operand is the tensor itself
    assert x.tolist() == [[49, 49, 49], [64, 64, 64]]
    z = t(3.0)                                                     # 0-d and empty tensors
    assert z.add_(1).item() == 4.0 and t(np.zeros((0, 3), np.float32)).add_(1).shape == (0, 3)


@pytest.mark.parametrize("device", DEVICES)
def test_pytorchs_errors(device):
    device_or_skip(device)
    w = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation"):
        w.add_(1)
    with tg.no_grad():                                             # allowed there: an update rule
        w.sub_(0.5)
    assert w.tolist() == [0.5, 1.5] and w._version == 1 and w.is_leaf
    x = tg.tensor([[1.0, 2.0]], device=device)
    with pytest.raises(RuntimeError, match=r"output with shape \[1, 2\] doesn't match the broadcast shape \[3, 1, 2\]"):
        x.add_(tg.tensor(np.ones((3, 1, 2), np.float32), device=device))
    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        tg.tensor([1, 2], device=device).add_(1.5)
    with pytest.raises(TypeError, match="masked_fill_ only supports boolean masks"):
        x.masked_fill_(tg.tensor([1, 0], device=device), 0.0)


@pytest.mark.parametrize("device", DEVICES)
def test_version_counter_is_shared_by_views(device):
    device_or_skip(device)
    x = tg.tensor([1.0, 2.0, 3.0, 4.0], device=device)
    v, d = x.reshape(2, 2), x.detach()
    assert x._version == v._version == d._version == 0
    v.add_(1)                                                      # writes through the view
    assert x.tolist() == [2, 3, 4, 5] and x._version == d._version == 1
    d.zero_()
    assert v.tolist() == [[0, 0], [0, 0]] and x._version == 2
    p = x.reshape(2, 2).permute(1, 0)                              # a copy on every device: its own data
    p.add_(1)
    assert x.tolist() == [0, 0, 0, 0] and p._version == 1


@pytest.mark.parametrize("device", DEVICES)
def test_backward_refuses_a_saved_tensor_that_was_modified(device):
    device_or_skip(device)
    x = tg.tensor([0.5, 1.0], device=device, requires_grad=True)
    y = x.exp()                                                    # exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED + r".*output 0 of ExpBackward.*version 1; expected version 0"):
        y.sum().backward()
    w = tg.tensor([3.0, 4.0], device=device)                       # a leaf without grad may change...
    z = x * w                                                      # ... but mul saved it for x's gradient
    w.mul_(2)
    with pytest.raises(RuntimeError, match=MODIFIED + r".*input 1 of MulBackward"):
        z.sum().backward()
    s = x.sigmoid()                                                # saves its output ...
    h = s.detach()                                                 # ... which a detached view shares
    h.mul_(0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        s.sum().backward()


def _grad_of(fn, arrays, device):
    tensors = [tg.tensor(a, device=device, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.backward(tg.tensor(np.linspace(0.5, 1.5, out.numel()).reshape(out.shape).astype(np.float32), device=device))
    return [t.grad.numpy() for t in tensors]


def chain(x, b, c):
    """Every differentiable in-place op on a non-leaf, each rebasing its grad_fn."""
    y = x * 1.5
    y.add_(b)
    y.sub_(c, alpha=0.5)
    y.mul_(c)                                  # needs the old y for c's gradient: a copy is kept
    y.div_(b + 3.0)                            # needs the old y for the divisor's gradient
    y.clamp_(min=-2.0, max=2.5)
    y.masked_fill_(x > 0.9, 0.25)
    return y * y


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_through_rebased_grad_fns(device):
    device_or_skip(device)
    rng = np.random.default_rng(3)
    arrays = [rng.uniform(-1, 1, (2, 3)), rng.uniform(0.2, 1, (3,)), rng.uniform(-1, 1, (2, 3))]
    assert tg.gradcheck(chain, *[tg.tensor(a, dtype=tg.float64, requires_grad=True) for a in arrays],
                        eps=1e-6, atol=1e-6, rtol=1e-5)
    if device != "cpu":                                            # the kernels against the reference
        got = _grad_of(chain, [a.astype(np.float32) for a in arrays], device)
        want = _grad_of(chain, [a.astype(np.float32) for a in arrays], "cpu")
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_ops_recorded_before_the_write_keep_the_old_value(device):
    device_or_skip(device)
    x = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x * 2.0
    z = y.exp()                                # reads y = 2x (saves its output): dz/dx = 2 e^(2x)
    s = y * 4.0                                # saves y, but d/dy reads only the 4: y may change
    y.mul_(3.0)                                # y = 6x from here on
    (z + s + y).sum().backward()               # d/dx (e^(2x) + 8x + 6x)
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([2.0, 4.0]) + 14, rtol=1e-6)
    y2 = x * 2.0
    q = y2 * y2                                # d/dy2 reads y2 itself: it must not change
    y2.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED + ".*MulBackward"):
        q.sum().backward()
    assert y.grad_fn.name() == "MulBackward" and not y.is_leaf


@pytest.mark.parametrize("device", DEVICES)
def test_a_plain_tensor_joins_the_graph_and_fills_cut_it(device):
    device_or_skip(device)
    x = tg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    a = tg.zeros(3, device=device)
    a.add_(x * x)                              # as PyTorch: a now requires grad, with a grad_fn
    assert a.requires_grad and a.grad_fn is not None
    a.sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    x2 = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    y = x2 * 3.0
    y.zero_()                                  # the result no longer depends on x2: gradient 0
    (y + x2).sum().backward()
    assert x2.grad.tolist() == [1.0, 1.0]
    src = tg.tensor([2.0], device=device, requires_grad=True)
    dst = tg.zeros(2, 3, device=device)
    dst.copy_(src * 1.0)                       # broadcast copy: src's gradient sums over the copies
    dst.sum().backward()
    assert src.grad.tolist() == [6.0]


@pytest.mark.parametrize("device", DEVICES)
def test_each_leaf_gets_its_own_grad_buffer(device):
    device_or_skip(device)
    a = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    b = tg.tensor([3.0, 4.0], device=device, requires_grad=True)
    (a + b).sum().backward()                   # add hands both the same gradient
    a.grad.zero_()
    assert b.grad.tolist() == [1.0, 1.0]


def test_emu_writes_the_existing_buffer_without_allocating(monkeypatch):
    device_or_skip("emu")
    x = tg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), device="emu")
    b, m = tg.tensor([1.0, 2.0, 3.0], device="emu"), tg.tensor([True, False, True], device="emu")
    n = tg.tensor([1, 2], device="emu")
    buf, alloc = x.buf, x.buf.alloc
    allocations = []
    real = GPUDevice.allocate
    monkeypatch.setattr(GPUDevice, "allocate", lambda self, nbytes: allocations.append(nbytes) or real(self, nbytes))
    x.add_(b).sub_(b).mul_(b).div_(b).clamp_(0.5, 4.0).masked_fill_(m, 1.0).fill_(3.0).zero_().copy_(b)
    n.add_(n)
    assert allocations == [8 * 2], allocations       # only the copy of n that n.add_(n) reads
    assert x.buf is buf and x.buf.alloc is alloc
    assert x.tolist() == [[1, 2, 3], [1, 2, 3]] and n.tolist() == [2, 4]


@pytest.mark.parametrize("device", DEVICES)
def test_a_captured_step_replays_inplace_updates(device):
    device_or_skip(device)
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 2)).astype(np.float32)

    def make():
        return tg.tensor(w0, device=device, requires_grad=True)

    def step(w, x):
        w.grad = None
        loss = ((x @ w) ** 2.0).mean()
        loss.backward()
        with tg.no_grad():
            w.sub_(w.grad * 0.1)                 # a hand-written update rule, in place
            w.clamp_(-1.0, 1.0)
        return loss

    xs = [tg.tensor(rng.standard_normal((3, 4)).astype(np.float32), device=device) for _ in range(4)]
    eager, w_eager = [], make()
    for x in xs:
        eager.append(step(w_eager, x).item())
    jitted, w_jit, fn = [], make(), tg.jit(step)
    for x in xs:
        jitted.append(fn(w_jit, x).item())
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)
    np.testing.assert_allclose(w_jit.numpy(), w_eager.numpy(), rtol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_augmented_assignment_is_in_place_and_a_tensor_fill_value(device):
    device_or_skip(device)
    p = tg.tensor([1.0, 2.0], device=device, requires_grad=True)
    alias = p
    p.grad = tg.tensor([0.5, 0.5], device=device)
    with tg.no_grad():
        p -= p.grad * 2.0                        # as PyTorch: the parameter itself changes
        p *= 3
    assert p is alias and p.is_leaf and p.tolist() == [0.0, 3.0]
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        p += 1
    x = tg.tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    v = tg.tensor(5.0, device=device, requires_grad=True)
    m = tg.tensor([True, False, True], device=device)
    out = x.masked_fill(m, v)                    # a 0-d tensor value gets a gradient
    assert out.tolist() == [5.0, 2.0, 5.0]
    (out * tg.tensor([1.0, 2.0, 3.0], device=device)).sum().backward()
    assert v.grad.item() == 4.0 and x.grad.tolist() == [0.0, 2.0, 0.0]
    y = tg.tensor([1.0, 2.0, 3.0], device=device)
    assert y.masked_fill_(m, tg.tensor(-1.0, device=device)).tolist() == [-1.0, 2.0, -1.0]
