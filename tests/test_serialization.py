"""tinygrad_cu.serialization: round trips, the documented file format, atomic writes,
and clear errors for truncated, corrupted or foreign files."""
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tinygrad_cu as tg
from tinygrad_cu import nn, serialization
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
    save({"t": tg.ones(2, 2)}, tmp_path / "tensor.npz")            # Tensors are accepted
    np.testing.assert_array_equal(load(tmp_path / "tensor.npz")["t"], np.ones((2, 2), np.float32))


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
    with pytest.raises(TypeError):
        save({1: np.ones(1)}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


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
    path = tmp_path / "ckpt.npz"
    save(sample_state(), path)
    data = path.read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 30):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"cut{cut}.npz"):
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
