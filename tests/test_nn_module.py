"""Module API: registration, traversal, parameter counts, train/eval, state dicts, .to().

References are counted by hand (the lecture's MLP 784-10-10 has 784*10 + 10 + 10*10 + 10
= 7,960 weights) or are plain numpy copies."""
import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu import nn, optim
from tinygrad_cu.nn import Parameter
from tinygrad_cu.tensor import Tensor


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 3)
        self.act = nn.Sigmoid()
        self.fc2 = nn.Linear(3, 2)
        self.drop = nn.Dropout(0.5)
        self.not_a_parameter = np.ones(3)      # plain attributes are not registered

    def forward(self, x):
        return self.fc2(self.drop(self.act(self.fc1(x))))


def lecture_mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Sigmoid(), nn.Linear(10, 10))


def test_lecture_mlp_has_7960_parameters():
    model = lecture_mlp()
    assert model.num_parameters() == 784 * 10 + 10 + 10 * 10 + 10 == 7960
    assert sum(p.numel() for p in model.parameters()) == 7960
    assert "7,960 parameters" in repr(model)
    assert "Linear(in_features=784, out_features=10, bias=True)" in repr(model)


def test_named_parameters_in_sequential_and_by_attribute():
    assert [n for n, _ in nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).named_parameters()] == \
        ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in TwoLayer().named_parameters()] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    nested = nn.Sequential(nn.Sequential(nn.Linear(1, 1, bias=False)))
    assert list(nested.state_dict()) == ["0.0.weight"]


def test_registration_children_modules_and_add_module():
    model = TwoLayer()
    assert [type(m).__name__ for m in model.children()] == ["Linear", "Sigmoid", "Linear", "Dropout"]
    assert len(list(model.modules())) == 5 and next(model.modules()) is model
    model.add_module("extra", nn.Linear(2, 2))
    assert "extra.weight" in dict(model.named_parameters())
    model.scale = Parameter(np.ones(1))
    assert dict(model.named_parameters())["scale"] is model.scale
    model.scale = None                     # a parameter may be replaced by None ...
    assert "scale" not in dict(model.named_parameters())
    with pytest.raises(TypeError, match="fc1"):
        model.fc1 = tg.ones(2)             # ... but not by a Tensor
    with pytest.raises(TypeError, match="weight"):
        model.fc2.weight = tg.ones(2, 3)
    del model.extra
    assert "extra.weight" not in dict(model.named_parameters())
    with pytest.raises(AttributeError):
        model.missing


def test_bias_false_and_shared_parameters_counted_once():
    layer = nn.Linear(3, 2, bias=False)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert model.num_parameters() == 6 and len(list(model.parameters())) == 2


def test_zero_grad_sets_grads_to_none():
    model = TwoLayer().eval()
    model(tg.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_eval_toggles_dropout_everywhere():
    model = TwoLayer()
    assert model.training and model.drop.training
    x = tg.randn(64, 4)
    model.eval()
    assert not model.drop.training and not model.fc1.training
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())   # deterministic
    h = model.act(model.fc1(x))
    model.train()
    tg.manual_seed(3)
    dropped = model.drop(h).numpy()
    zeros = dropped == 0
    assert 0.3 < zeros.mean() < 0.7
    np.testing.assert_allclose(dropped[~zeros], 2 * h.numpy()[~zeros], rtol=1e-6)  # 1/(1-p)


def test_parameter_is_a_tensor_subclass_that_from_buffer_builds():
    p = Parameter(np.arange(3.0))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf and p.dtype == np.float32
    again = Parameter._from_buffer(p.buf, p._dev, requires_grad=True)
    assert type(again) is Parameter and again.shape == (3,)
    out = p * 2
    assert type(out) is Tensor                       # ops return plain tensors
    assert "Parameter containing" in repr(p)
    t = tg.ones(2, 2)
    shared = Parameter(t)
    assert shared.buf is t.buf                       # wraps, like torch.nn.Parameter


def test_call_runs_forward_and_base_forward_is_abstract():
    with pytest.raises(NotImplementedError):
        nn.Module()(1)
    layer = nn.Linear(2, 1)
    x = tg.randn(3, 2)
    np.testing.assert_array_equal(layer(x).numpy(), layer.forward(x).numpy())


def test_state_dict_is_numpy_copies_in_order():
    model = TwoLayer()
    sd = model.state_dict()
    assert list(sd) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert all(type(v) is np.ndarray for v in sd.values()) and sd["fc1.weight"].shape == (3, 4)
    sd["fc1.weight"][:] = 123
    assert not np.any(model.fc1.weight.numpy() == 123)


def test_state_dict_round_trip_restores_outputs():
    tg.manual_seed(0)
    a, b = TwoLayer().eval(), TwoLayer().eval()
    x = tg.randn(2, 4)
    assert not np.allclose(a(x).numpy(), b(x).numpy())
    params_before = list(b.parameters())
    source = a.state_dict()
    result = b.load_state_dict(source)
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    assert all(p is q for p, q in zip(params_before, b.parameters()))    # same objects
    source["fc1.bias"][:] = 7                                            # no aliasing
    assert not np.any(b.fc1.bias.numpy() == 7)
    b.load_state_dict({k: Tensor(v) for k, v in a.state_dict().items()})  # Tensors work too


def test_load_state_dict_casts_to_parameter_dtype():
    layer = nn.Linear(2, 2)
    layer.load_state_dict({"weight": np.ones((2, 2), np.float64), "bias": np.zeros(2, np.float64)})
    assert layer.weight.dtype == np.float32 and layer.weight.numpy().sum() == 4


def test_load_state_dict_errors_name_the_key():
    model = TwoLayer()
    sd = model.state_dict()
    missing = dict(sd)
    del missing["fc2.bias"]
    with pytest.raises(KeyError, match="fc2.bias"):
        model.load_state_dict(missing)
    with pytest.raises(KeyError, match="fc3.weight"):
        model.load_state_dict({**sd, "fc3.weight": np.zeros(1)})
    before = model.fc1.weight.numpy()
    with pytest.raises(ValueError, match="fc2.weight"):
        model.load_state_dict({**{k: v + 1 for k, v in sd.items()}, "fc2.weight": np.zeros((3, 2))})
    np.testing.assert_array_equal(model.fc1.weight.numpy(), before)       # all or nothing
    result = model.load_state_dict(missing, strict=False)
    assert result.missing_keys == ["fc2.bias"] and result.unexpected_keys == []


def test_to_keeps_parameter_objects_and_optimizer_sees_them():
    model = TwoLayer()
    params = list(model.parameters())
    assert model.to("cpu") is model and all(p is q for p, q in zip(params, model.parameters()))
    model.double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert all(p is q for p, q in zip(params, model.parameters()))
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert all(p is q for p, q in zip(opt.params, params))
    model.eval()
    model(tg.randn(3, 4, dtype=tg.float64)).sum().backward()
    before = model.fc1.weight.numpy()
    opt.step()
    assert not np.allclose(before, model.fc1.weight.numpy())
    with pytest.raises(TypeError):
        model.to(tg.int64)


def _emu_or_skip():
    available, reason = tg.devices()["emu"]
    if not available:
        pytest.skip(f"emu device unavailable: {reason}")


def test_state_dict_loads_across_devices_cpu_to_emu():
    _emu_or_skip()
    tg.manual_seed(1)
    cpu_model = TwoLayer().eval()
    emu_model = TwoLayer().eval().to("emu")
    emu_model.load_state_dict(cpu_model.state_dict())
    assert all(p.device == "emu" for p in emu_model.parameters())
    for (name, a), b in zip(cpu_model.state_dict().items(), emu_model.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    try:
        out = emu_model(Tensor(x, device="emu")).numpy()
    except RuntimeError as e:
        if "no CUDA kernel" in str(e) or "no backward CUDA kernel" in str(e):
            pytest.skip(f"emu op kernels not written yet: {e}")
        raise
    np.testing.assert_allclose(out, cpu_model(Tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
    back = TwoLayer().eval()
    back.load_state_dict(emu_model.state_dict())                 # and emu -> cpu
    np.testing.assert_array_equal(back(Tensor(x)).numpy(), cpu_model(Tensor(x)).numpy())
