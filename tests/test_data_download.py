"""Verified downloads and the MNIST source chain, against a real HTTP server on
127.0.0.1 started by the test. Tiny IDX files stand in for MNIST; their sizes and
MD5s (computed here with hashlib) are injected through `files=`."""
import functools
import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading

import numpy as np
import pytest

from tinygrad_cu.data import (ChecksumError, DataUnavailableError, DownloadError, IdxFile,
                              download_file, load_fashion_mnist, load_mnist)

N_TRAIN, N_TEST = 6, 4
NAMES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
         "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}


def idx_uint8(array):
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def tiny_dataset(seed=0):
    """(arrays by role, raw IDX bytes by role, IdxFile table with true sizes and MD5s)."""
    rng = np.random.default_rng(seed)
    arrays = {"train_images": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
              "train_labels": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
              "test_images": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
              "test_labels": rng.integers(0, 10, N_TEST, dtype=np.uint8)}
    raw = {role: idx_uint8(a) for role, a in arrays.items()}
    files = {role: IdxFile(NAMES[role], np.uint8, (None,) + a.shape[1:], len(raw[role]),
                           hashlib.md5(raw[role]).hexdigest()) for role, a in arrays.items()}
    return arrays, raw, files


class Server:
    """A static file server on 127.0.0.1:<free port> that counts requests."""

    def __init__(self, folder):
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                server.requests += 1
                super().do_GET()

        self.requests = 0
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     functools.partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    server = Server(folder)
    yield folder, server
    server.close()


@pytest.fixture
def refused_url():
    """A URL on a port nobody listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    monkeypatch.delenv("TINYGRAD_CU_OFFLINE", raising=False)
    monkeypatch.delenv("TINYGRAD_CU_DATA", raising=False)


def serve_gz(folder, raw, corrupt_role=None):
    for role, data in raw.items():
        if role == corrupt_role:  # still valid gzip and IDX, but one pixel differs
            data = data[:-1] + bytes([(data[-1] + 1) % 256])
        (folder / (NAMES[role] + ".gz")).write_bytes(gzip.compress(data))


# --- download_file ---------------------------------------------------------------

def test_download_file_verified_and_atomic(served, tmp_path):
    folder, server = served
    (folder / "blob").write_bytes(b"hello" * 1000)
    dest = tmp_path / "cache" / "blob"
    download_file(server.url + "blob", dest, progress=False,
                  verify=lambda p: _check_md5(p, hashlib.md5(b"hello" * 1000).hexdigest()))
    assert dest.read_bytes() == b"hello" * 1000
    assert os.listdir(dest.parent) == ["blob"]  # no temporary file left behind


def test_download_file_checksum_mismatch_leaves_nothing(served, tmp_path):
    folder, server = served
    (folder / "blob").write_bytes(b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="blob"):
        download_file(server.url + "blob", cache / "blob", progress=False,
                      verify=lambda p: _check_md5(p, hashlib.md5(b"original").hexdigest()))
    assert os.listdir(cache) == []


def test_download_file_tries_next_mirror(served, tmp_path, refused_url):
    folder, server = served
    (folder / "blob").write_bytes(b"payload")
    dest = tmp_path / "blob"
    download_file([refused_url + "blob", server.url + "missing/blob", server.url + "blob"], dest,
                  progress=False)
    assert dest.read_bytes() == b"payload"


def test_download_file_unreachable(tmp_path, refused_url):
    with pytest.raises(DownloadError, match="127.0.0.1"):
        download_file(refused_url + "blob", tmp_path / "c" / "blob", timeout=2, progress=False)
    assert os.listdir(tmp_path / "c") == []


def test_plain_progress_prints(served, tmp_path, capsys):
    folder, server = served
    (folder / "blob").write_bytes(bytes(200_000))
    download_file(server.url + "blob", tmp_path / "blob", progress=True)
    assert "blob" in capsys.readouterr().err  # plain lines, or tqdm's bar if installed


def _check_md5(path, expected):
    with open(path, "rb") as f:
        if hashlib.md5(f.read()).hexdigest() != expected:
            raise ValueError(f"{path}: MD5 mismatch")


# --- load_mnist: sources, cache, verification, fallback ------------------------------

def test_load_mnist_downloads_verifies_and_caches(served, tmp_path):
    folder, server = served
    arrays, raw, files = tiny_dataset()
    serve_gz(folder, raw)
    cache = tmp_path / "cache"
    data = load_mnist(cache, files=files, mirrors=[server.url], progress=False)
    assert data.source == "mnist"
    x_train, y_train, x_test, y_test = data
    np.testing.assert_array_equal(x_train, arrays["train_images"])
    np.testing.assert_array_equal(x_test, arrays["test_images"])
    np.testing.assert_array_equal(y_train, arrays["train_labels"])
    assert y_train.dtype == np.int64 and x_train.dtype == np.uint8
    assert sorted(os.listdir(cache)) == sorted(n + ".gz" for n in NAMES.values())
    # Second load is served from the cache: the server sees no new request.
    before = server.requests
    again = load_mnist(cache, files=files, mirrors=[server.url], progress=False)
    assert server.requests == before and again.source == "mnist"
    np.testing.assert_array_equal(again.y_test, arrays["test_labels"])


def test_load_mnist_corrupt_download_is_an_error(served, tmp_path, capsys):
    folder, server = served
    _, raw, files = tiny_dataset()
    serve_gz(folder, raw, corrupt_role="train_images")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*MD5"):
        load_mnist(cache, files=files, mirrors=[server.url], progress=False)
    assert os.listdir(cache) == []
    assert "fallback" not in capsys.readouterr().out  # bad data must never be papered over


def test_load_mnist_no_server_falls_back(tmp_path, refused_url, capsys):
    _, _, files = tiny_dataset()
    data = load_mnist(tmp_path / "cache", files=files, mirrors=[refused_url], timeout=2, progress=False)
    out = capsys.readouterr().out
    assert "MNIST unavailable" in out and "fallback" in out and "127.0.0.1" in out
    assert "refused" in out.lower(), out          # the cause, at the end of the reason, is not cut off
    assert data.source == "digits-fallback"
    assert data.x_train.shape[1:] == (28, 28) and data.x_train.dtype == np.uint8
    assert len(data.x_train) + len(data.x_test) == 1797
    assert set(data.y_test.tolist()) == set(range(10))
    assert os.listdir(tmp_path / "cache") == []


def test_offline_env_skips_network(served, tmp_path, monkeypatch, capsys):
    folder, server = served
    _, raw, files = tiny_dataset()
    serve_gz(folder, raw)
    monkeypatch.setenv("TINYGRAD_CU_OFFLINE", "1")
    data = load_mnist(tmp_path, files=files, mirrors=[server.url], progress=False)
    assert data.source == "digits-fallback" and server.requests == 0
    assert "TINYGRAD_CU_OFFLINE" in capsys.readouterr().out


def test_corrupt_cached_file_raises_even_offline(tmp_path, monkeypatch):
    _, raw, files = tiny_dataset()
    for role, data in raw.items():
        (tmp_path / NAMES[role]).write_bytes(data if role != "test_labels" else data[:-1] + b"\x09")
    monkeypatch.setenv("TINYGRAD_CU_OFFLINE", "1")
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.*MD5"):
        load_mnist(tmp_path, files=files)


def test_env_data_root_and_raw_files(tmp_path, monkeypatch):
    arrays, raw, files = tiny_dataset(seed=3)
    (tmp_path / "mnist").mkdir()
    for role, data in raw.items():
        (tmp_path / "mnist" / NAMES[role]).write_bytes(data)  # uncompressed is fine too
    monkeypatch.setenv("TINYGRAD_CU_DATA", str(tmp_path))
    data = load_mnist(download=False, fallback=False, files=files)
    np.testing.assert_array_equal(data.x_test, arrays["test_images"])
    # An explicit data_dir that holds a mnist/ subfolder finds the files too.
    monkeypatch.delenv("TINYGRAD_CU_DATA")
    assert load_mnist(tmp_path, download=False, fallback=False, files=files).source == "mnist"


def test_missing_without_download(tmp_path, capsys):
    _, _, files = tiny_dataset()
    with pytest.raises(DataUnavailableError, match="download=False"):
        load_mnist(tmp_path, download=False, fallback=False, files=files)
    assert load_mnist(tmp_path, download=False, files=files).source == "digits-fallback"
    assert "download=False" in capsys.readouterr().out


def test_image_label_count_mismatch(tmp_path):
    _, raw, files = tiny_dataset()
    raw["test_labels"] = idx_uint8(np.zeros(N_TEST + 1, np.uint8))
    files["test_labels"] = IdxFile(NAMES["test_labels"], np.uint8, (None,))
    for role, data in raw.items():
        (tmp_path / NAMES[role]).write_bytes(data)
    with pytest.raises(ValueError, match="4 test images but 5 labels"):
        load_mnist(tmp_path, download=False, files=files)


def test_fashion_mnist_same_code_no_fallback(served, tmp_path, refused_url):
    folder, server = served
    arrays, raw, files = tiny_dataset(seed=7)
    serve_gz(folder, raw)
    data = load_fashion_mnist(tmp_path / "f", files=files, mirrors=[server.url], progress=False)
    assert data.source == "fashion-mnist"
    np.testing.assert_array_equal(data.x_train, arrays["train_images"])
    with pytest.raises(DataUnavailableError):
        load_fashion_mnist(tmp_path / "g", files=files, mirrors=[refused_url], timeout=2, progress=False)
