"""tg.load gives Tensors back where Tensors were saved, as torch.load does: on the device
they were saved from, or on `map_location`; numpy arrays stay numpy arrays. Module and
optimiser load_state_dict take either."""
import json

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu import nn, optim, serialization
from tinygrad_cu.serialization import load, save

from conftest import device_or_skip


def saved(tmp_path, device):
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    obj = {"param": tg.Tensor(w, device=device, requires_grad=True), "ids": tg.Tensor(np.arange(3), device=device),
           "host": w.copy(), "nested": [(tg.Tensor(-w, device=device),)]}
    save(obj, tmp_path / "t.npz")
    return tmp_path / "t.npz", w


@pytest.mark.parametrize("device", ["cpu", "emu"])
def test_tensors_come_back_on_their_device_with_requires_grad(tmp_path, device):
    device_or_skip(device)
    path, w = saved(tmp_path, device)
    got = load(path)
    param, ids, inner = got["param"], got["ids"], got["nested"][0][0]
    for t in (param, ids, inner):
        assert isinstance(t, tg.Tensor) and t.device == device and t.is_leaf
    assert param.requires_grad and not ids.requires_grad and not inner.requires_grad
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(param.numpy(), w)
    np.testing.assert_array_equal(inner.numpy(), -w)
    assert type(got["host"]) is np.ndarray                      # saved as numpy, loaded as numpy
    np.testing.assert_array_equal(got["host"], w)
    (param * 2.0).sum().backward()                               # a usable leaf
    np.testing.assert_array_equal(param.grad.numpy(), np.full((2, 3), 2.0))


@pytest.mark.parametrize("map_location,want", [
    ("cpu", "cpu"), ("emu", "emu"), ("the emu device object", "emu"),
    ({"emu": "cpu"}, "cpu"), ({"cpu": "emu"}, "emu"),      # a dict maps only the devices it names
])
def test_map_location_moves_the_tensors_and_leaves_numpy_alone(tmp_path, map_location, want):
    device_or_skip("emu")
    path, w = saved(tmp_path, "emu")
    if map_location == "the emu device object":
        map_location = tg.get_device("emu")
    got = load(path, map_location=map_location)
    assert got["param"].device == want and got["nested"][0][0].device == want
    assert got["param"].requires_grad
    np.testing.assert_array_equal(got["param"].numpy(), w)
    assert type(got["host"]) is np.ndarray


def test_bad_map_locations_are_refused_before_reading(tmp_path):
    path, _ = saved(tmp_path, "cpu")
    with pytest.raises(ValueError, match="load: map_location 'tpu': unknown device 'tpu'"):
        load(path, map_location="tpu")
    with pytest.raises(TypeError, match="load: map_location must be None, a device name"):
        load(path, map_location=3)


def record_device(path, index, device):
    """Rewrite the header of checkpoint `path`: tensor number `index` saved on `device`."""
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    header = json.loads(bytes(arrays.pop("header")).decode())
    header["tensors"][index]["device"] = device
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_a_tensor_saved_on_an_absent_device_says_use_map_location(tmp_path):
    """A file whose Tensor was saved on cuda: loads there where cuda exists, else a
    RuntimeError that says what to do; with map_location='cpu' it loads anywhere."""
    path, w = saved(tmp_path, "cpu")
    record_device(path, 0, "cuda")
    cuda_ok, _ = tg.device_status("cuda")
    if cuda_ok:
        assert load(path)["param"].device == "cuda"
    else:
        with pytest.raises(RuntimeError, match=r"'param' was saved on 'cuda', which is not available here"
                                               r".*map_location='cpu'"):
            load(path)
    got = load(path, map_location="cpu")
    assert got["param"].device == "cpu"
    np.testing.assert_array_equal(got["param"].numpy(), w)


def test_a_damaged_device_record_is_a_value_error(tmp_path):
    path, _ = saved(tmp_path, "cpu")
    record_device(path, 1, "gpu9")
    with pytest.raises(ValueError, match=r"t.npz: .*'ids' records device 'gpu9'"):
        load(path)


def test_model_and_optimizer_state_saved_as_tensors_resume_training(tmp_path):
    """Parameters and optimiser state saved as Tensors (as a PyTorch user would) load back
    into a fresh model and optimiser, which then train exactly as the originals."""
    device = device_or_skip("emu")
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(device)
    opt = optim.Adam(model.parameters(), lr=0.05)
    x = tg.Tensor(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32), device=device)
    y = tg.Tensor(np.array([0, 1, 1, 0, 1, 0]), device=device)

    def step(m, o):
        o.zero_grad()
        loss = nn.CrossEntropyLoss()(m(x), y)
        loss.backward()
        o.step()
        return loss.item()

    step(model, opt)
    state = opt.state_dict()
    state["state"] = {i: {k: (tg.Tensor(v, device=device) if isinstance(v, np.ndarray) else v)
                          for k, v in s.items()} for i, s in state["state"].items()}
    save({"model": dict(model.named_parameters()), "optimizer": state}, tmp_path / "ck.npz")
    expected = [step(model, opt) for _ in range(3)]

    tg.manual_seed(7)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))          # on cpu: load moves
    fresh_opt = optim.Adam(fresh.parameters(), lr=0.05)
    ck = load(tmp_path / "ck.npz")
    assert all(isinstance(v, tg.Tensor) and v.device == device for v in ck["model"].values())
    fresh.load_state_dict(ck["model"])
    fresh.to(device)
    fresh_opt.load_state_dict(ck["optimizer"])
    assert [step(fresh, fresh_opt) for _ in range(3)] == pytest.approx(expected, abs=1e-6)
    # and the numpy state dicts still load as before
    fresh.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(fresh[0].weight.numpy(), model[0].weight.numpy())
    assert serialization.FORMAT == "tinygrad_cu.checkpoint"
