"""tinygrad_cu.serialization: round trips, the documented file format, atomic writes,
and clear errors for truncated, corrupted or foreign files."""
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tinygrad_cu as tg
from tinygrad_cu import nn, optim, serialization
from tinygrad_cu.serialization import load, save


def assert_same(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def sample_state():
    rng = np.random.default_rng(0)
    return {"fc1.weight": rng.standard_normal((3, 4)).astype(np.float32),
            "fc1.bias": rng.standard_normal(3),                           # float64 kept
            "steps": np.array(7, np.int64),                                # 0-d
            "mask": np.array([True, False]),
            "pixels": np.arange(6, dtype=np.uint8).reshape(2, 3),
            "empty": np.zeros((0, 5), np.float32),
            "a/b c.ü": np.ones(2, np.int32),                               # any key text
            "header": np.ones(1), "t0": np.zeros(1)}                       # format's own names


def test_round_trip_keeps_names_order_dtypes_and_values(tmp_path):
    state = sample_state()
    save(state, tmp_path / "ckpt.npz")
    assert_same(load(tmp_path / "ckpt.npz"), state)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.text(min_size=1, max_size=8),
                       st.tuples(st.lists(st.integers(0, 3), max_size=3), st.sampled_from(["f4", "f8", "i8", "u1"])),
                       max_size=5))
def test_round_trip_property(tmp_path, spec):
    rng = np.random.default_rng(1)
    state = {k: (rng.standard_normal(shape) * 100).astype(dtype) for k, (shape, dtype) in spec.items()}
    save(state, tmp_path / "p.npz")
    assert_same(load(tmp_path / "p.npz"), state)


def test_tensors_and_models_round_trip(tmp_path):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    save(model.state_dict(), tmp_path / "model.npz")
    fresh = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    fresh.load_state_dict(load(tmp_path / "model.npz"))
    x = tg.randn(5, 4)
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())
    save({"t": tg.ones(2, 2)}, tmp_path / "tensor.npz")            # Tensors are accepted, and come back
    t = load(tmp_path / "tensor.npz")["t"]
    assert isinstance(t, tg.Tensor) and t.device == "cpu"
    np.testing.assert_array_equal(t.numpy(), np.ones((2, 2), np.float32))


def test_file_is_a_plain_npz_with_a_json_header(tmp_path):
    save({"w": np.arange(3.0)}, tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as archive:
        header = json.loads(bytes(archive["header"]).decode())
        assert header["format"] == "tinygrad_cu.checkpoint" and header["version"] == 1
        (entry,) = header["tensors"]
        assert entry["name"] == "w" and entry["shape"] == [3] and entry["dtype"] == "<f8"
        assert len(entry["sha256"]) == 64
        np.testing.assert_array_equal(archive[entry["key"]], np.arange(3.0))


def test_save_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(TypeError, match="obj"):
        save({"obj": np.array([{}, 1], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="key"):
        save({1.5: np.ones(1)}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


# --- nested checkpoints (format version 2) -----------------------------------------------------
def assert_tree_equal(got, want, path="<root>"):
    """Equal structure, types (dict key types too), dtypes and values; nan equals nan."""
    assert type(got) is type(want), (path, type(got), type(want))
    if isinstance(want, tg.Tensor):
        assert (got.device, got.requires_grad, got.is_leaf) == (want.device, want.requires_grad, True), path
        assert_tree_equal(got.numpy(), want.numpy(), path)
    elif isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape, path
        np.testing.assert_array_equal(got, want, err_msg=path)
    elif isinstance(want, dict):
        assert [(type(k), k) for k in got] == [(type(k), k) for k in want], path
        for k in want:
            assert_tree_equal(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            assert_tree_equal(g, w, f"{path}.{i}")
    elif isinstance(want, (float, np.floating)) and np.isnan(want):
        assert np.isnan(got), path
    elif isinstance(want, (float, np.floating)):
        assert got == want and np.signbit(got) == np.signbit(want), path
    else:
        assert got == want, path


def nested_state():
    rng = np.random.default_rng(2)
    return {"model": sample_state(),
            "optimizer": {"state": {0: {"momentum_buffer": rng.standard_normal((3, 4)).astype(np.float32),
                                        "step": 12},
                                    2: {"exp_avg": np.zeros(3), "exp_avg_sq": np.ones(3)}},
                          "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False,
                                            "params": [0, 1, 2]}]},
            "epoch": 3, "0": "the str key '0'", 0: "the int key 0", -7: None, 2**70: "big key",
            "scalars": [True, -(2**80), 1e-310, -0.0, float("inf"), float("-inf"), float("nan"), 0.1],
            "numpy": (np.float32(0.1), np.float16(-2.5), np.int64(-(2**62)), np.uint64(2**64 - 1),
                      np.uint8(255), np.bool_(True), np.float64("nan"), np.float32("-inf")),
            "text": ["", "ü/\\\"x\"", "t0", "header"], "empty": [{}, [], ()],
            "deep": [[[[{"x": np.arange(3, dtype=np.int8)}]]]]}


def test_nested_round_trip_keeps_structure_key_types_and_values(tmp_path):
    state = nested_state()
    save(state, tmp_path / "n.npz")
    assert_tree_equal(load(tmp_path / "n.npz"), state)
    assert sorted(os.listdir(tmp_path)) == ["n.npz"]


def test_other_top_levels_and_tensor_leaves(tmp_path):
    for obj in ([1, (2.5, None)], (), "just text", 7, None, np.arange(4.0)):
        save(obj, tmp_path / "o.npz")
        assert_tree_equal(load(tmp_path / "o.npz"), obj)
    save({"w": [tg.ones(2, 3)], "lr": 0.5}, tmp_path / "t.npz")      # Tensors come back as Tensors
    assert_tree_equal(load(tmp_path / "t.npz"), {"w": [tg.ones(2, 3)], "lr": 0.5})


_leaves = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
           | st.builds(lambda shape, dtype: (np.arange(np.prod(shape, dtype=int)) * 3).astype(dtype).reshape(shape),
                       st.lists(st.integers(0, 3), max_size=3), st.sampled_from(["f4", "f8", "i8", "u1", "?"])))
_trees = st.recursive(_leaves, lambda kids: st.lists(kids, max_size=3) | st.tuples(kids, kids)
                      | st.dictionaries(st.text(max_size=4) | st.integers(-5, 5), kids, max_size=3), max_leaves=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_trees)
def test_nested_round_trip_property(tmp_path, tree):
    save(tree, tmp_path / "p.npz")
    assert_tree_equal(load(tmp_path / "p.npz"), tree)


def test_nested_file_is_version_2_with_the_structure_in_the_header(tmp_path):
    save({"model": {"w": np.arange(3.0)}, "optimizer": {"state": {0: {"step": 4}}}, "epoch": 3},
         tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz", allow_pickle=False) as archive:
        header = json.loads(bytes(archive["header"]).decode())
        assert header["format"] == "tinygrad_cu.checkpoint" and header["version"] == 2
        (entry,) = header["tensors"]
        assert entry["name"] == "model.w" and entry["key"] == "t0" and entry["dtype"] == "<f8"
        assert header["tree"] == {"dict": [["model", {"dict": [["w", {"array": 0}]]}],
                                           ["optimizer", {"dict": [["state", {"dict": [[0, {"dict": [["step", 4]]}]]}]]}],
                                           ["epoch", 3]]}
        assert sorted(archive.files) == ["header", "t0"]


@pytest.mark.parametrize("obj, where", [
    ({"optimizer": {"state": {0: {"momentum_buffer": object()}}}}, "optimizer.state.0.momentum_buffer"),
    ({"a": [1, {2, 3}]}, "a.1"),
    ({"x": {"y": np.ones(2, np.complex64)}}, "x.y"),
    ({"x": (1, np.array(["text"]))}, "x.1"),
    ({"x": [np.array([None])]}, "x.0"),
    ({"c": 1j}, "c"),
    ({"c": [np.complex128(1)]}, "c.0"),
    ({"b": b"bytes"}, "b"),
    ({"m": {"n": {2.5: 1}}}, "m.n"),                                 # float key
    ({"m": {True: 1}}, "m"),                                         # bool key
    ({"t": tg.Tensor, "u": 1}, "t"),
])
def test_unsupported_leaves_are_type_errors_naming_their_path(tmp_path, obj, where):
    with pytest.raises(TypeError, match=f"'{where}'"):
        save(obj, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_self_containing_objects_are_refused(tmp_path):
    loop = {"a": []}
    loop["a"].append(loop)
    with pytest.raises(TypeError, match="'a.0' contains itself"):
        save(loop, tmp_path / "x.npz")
    shared = [1, 2]
    save({"x": shared, "y": shared}, tmp_path / "ok.npz")              # repeats are fine
    assert load(tmp_path / "ok.npz") == {"x": [1, 2], "y": [1, 2]}


def test_version_1_files_still_load(tmp_path):
    """A file as the version-1 writer made it (hand-built here), and a flat state dict, which
    save still writes as version 1."""
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array(3, np.int64)
    entries = [{"name": "fc.weight", "key": "t0", "shape": [2, 3], "dtype": "<f4",
                "sha256": serialization._sha256(w)},
               {"name": "steps", "key": "t1", "shape": [], "dtype": "<i8", "sha256": serialization._sha256(b)}]
    _write_npz(tmp_path / "v1.npz", {"format": "tinygrad_cu.checkpoint", "version": 1, "tensors": entries},
               t0=w, t1=b)
    assert_tree_equal(load(tmp_path / "v1.npz"), {"fc.weight": w, "steps": b})
    save({"fc.weight": w, "steps": tg.Tensor(b)}, tmp_path / "flat.npz")
    with np.load(tmp_path / "flat.npz", allow_pickle=False) as archive:
        header = json.loads(bytes(archive["header"]).decode())
        # the entry saved from a Tensor also says so (readers that do not know the keys ignore them)
        tensor_entry = dict(entries[1], device="cpu", requires_grad=False)
        assert header == {"format": "tinygrad_cu.checkpoint", "version": 1, "tensors": [entries[0], tensor_entry]}
    assert_tree_equal(load(tmp_path / "flat.npz"), {"fc.weight": w, "steps": tg.Tensor(b)})


def _small_model():
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))


def _train(model, opt, steps, start):
    for step in range(start, start + steps):
        rng = np.random.default_rng(step)                              # batch fixed by step number
        x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.integers(0, 2, 8)
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(tg.Tensor(x)), y).backward()
        opt.step()


@pytest.mark.parametrize("make_opt", [
    lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
    lambda m: optim.SGD([{"params": m[0].parameters(), "lr": 0.05},
                         {"params": m[2].parameters()}], lr=0.1, momentum=0.8, nesterov=True, weight_decay=1e-3),
    lambda m: optim.Adam(m.parameters(), lr=0.01, betas=(0.8, 0.99)),
    lambda m: optim.AdamW(m.parameters(), lr=0.01),
], ids=["sgd-momentum", "sgd-groups-nesterov", "adam", "adamw"])
def test_model_and_optimizer_checkpoint_resumes_training_exactly(tmp_path, make_opt):
    tg.manual_seed(0)
    model = _small_model()
    opt = make_opt(model)
    _train(model, opt, 4, start=0)
    path = tmp_path / "resume.npz"
    save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path)
    _train(model, opt, 5, start=4)                                    # the uninterrupted run

    tg.manual_seed(123)                                               # fresh objects, other weights
    fresh = _small_model()
    fresh_opt = make_opt(fresh)
    checkpoint = load(path)
    assert checkpoint["epoch"] == 3 and type(checkpoint["epoch"]) is int
    assert all(type(k) is int for k in checkpoint["optimizer"]["state"])
    fresh.load_state_dict(checkpoint["model"])
    fresh_opt.load_state_dict(checkpoint["optimizer"])
    assert_tree_equal(fresh_opt.state_dict(), load(path)["optimizer"])  # the state came back whole
    _train(fresh, fresh_opt, 5, start=4)                              # the resumed run
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        np.testing.assert_array_equal(b, a, err_msg=name)


def test_broken_structure_in_a_version_2_header_is_a_clear_error(tmp_path):
    base = {"format": "tinygrad_cu.checkpoint", "version": 2, "tensors": []}
    for i, tree in enumerate([{"array": 0}, {"set": [1]}, [1, 2], {"dict": [[1.5, 1]]}, {"dict": [[True, 1]]},
                              {"list": [1], "tuple": [2]}, {"numpy": "<c16", "value": 1.0},
                              {"numpy": "|O", "value": 1}, {"float": "1e3"}, {"dict": [["a"]]}]):
        _write_npz(tmp_path / f"tree{i}.npz", dict(base, tree=tree))
        with pytest.raises(ValueError, match=f"tree{i}.npz"):
            load(tmp_path / f"tree{i}.npz")
    _write_npz(tmp_path / "notree.npz", base)
    with pytest.raises(ValueError, match="notree.npz"):
        load(tmp_path / "notree.npz")


# --- atomic writes --------------------------------------------------------------------------
def _crash_midway(file, **arrays):
    file.write(b"PK\x03\x04 partial zip data")
    raise OSError("simulated crash during write")


@pytest.mark.parametrize("where", ["write", "replace", "interrupt"])
def test_interrupted_save_keeps_old_checkpoint_and_no_temp_file(tmp_path, monkeypatch, where):
    path = tmp_path / "ckpt.npz"
    old = {"w": np.arange(4.0)}
    save(old, path)
    if where == "write":
        monkeypatch.setattr(serialization.np, "savez", _crash_midway)
    elif where == "replace":
        def failing_replace(src, dst):
            raise OSError("simulated crash before rename")
        monkeypatch.setattr(serialization.os, "replace", failing_replace)
    else:
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt
        monkeypatch.setattr(serialization.os, "fsync", interrupted)
    with pytest.raises((OSError, KeyboardInterrupt)):
        save({"w": np.zeros(4)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert_same(load(path), old)


# --- bad files --------------------------------------------------------------------------------
def test_truncated_file_is_a_clear_error(tmp_path):
    save(sample_state(), tmp_path / "flat.npz")
    save(nested_state(), tmp_path / "nested.npz")
    for kind in ("flat", "nested"):
        data = (tmp_path / f"{kind}.npz").read_bytes()
        for cut in (0, 10, len(data) // 2, len(data) - 30):
            bad = tmp_path / f"{kind}_cut{cut}.npz"
            bad.write_bytes(data[:cut])
            with pytest.raises(ValueError, match=f"{kind}_cut{cut}.npz"):
                load(bad)


def test_corrupted_bytes_are_detected(tmp_path):
    path = tmp_path / "ckpt.npz"
    save({"w": np.arange(1000.0)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF                       # inside the array's bytes
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="ckpt.npz"):
        load(path)


def _write_npz(path, header, **arrays):
    if header is not None:
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_foreign_files_are_clear_errors(tmp_path):
    (tmp_path / "text.npz").write_text("definitely not a checkpoint")
    np.save(tmp_path / "array.npy", np.ones(3))
    _write_npz(tmp_path / "plain.npz", None, a=np.ones(3))
    _write_npz(tmp_path / "other.npz", {"format": "something.else", "version": 1, "tensors": []})
    _write_npz(tmp_path / "future.npz", {"format": "tinygrad_cu.checkpoint", "version": 99, "tensors": []})
    entry = {"name": "w", "key": "t0", "shape": [3], "dtype": "<f8", "sha256": "0" * 64}
    _write_npz(tmp_path / "badsum.npz", {"format": "tinygrad_cu.checkpoint", "version": 1, "tensors": [entry]},
               t0=np.ones(3))
    _write_npz(tmp_path / "pickled.npz", {"format": "tinygrad_cu.checkpoint", "version": 1,
                                          "tensors": [dict(entry, dtype="|O")]},
               t0=np.array([{"code": 1}, None], dtype=object))
    for name, reason in [("text.npz", ""), ("array.npy", "npy"), ("plain.npz", "header"),
                         ("other.npz", "something.else"), ("future.npz", "version"),
                         ("badsum.npz", "sha256"), ("pickled.npz", "pickle")]:
        with pytest.raises(ValueError, match=name) as info:
            load(tmp_path / name)
        assert reason in str(info.value), (name, str(info.value))
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")
