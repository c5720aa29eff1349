"""MNIST and Fashion-MNIST: where the files come from, and how they are trusted.

Lookup order for the folder holding a data set's four IDX files:
  1. `data_dir` passed by the caller (examples pass their `--data-dir`);
     if the files are not there but in `data_dir/<subdir>` (e.g. `mnist/`), that is used;
  2. `$TINYGRAD_CU_DATA/<subdir>`: the variable replaces the cache root;
  3. `~/.cache/tinygrad_cu/data/<subdir>`.
Each file may be stored gzipped (`name.gz`) or raw (`name`). A missing file is
downloaded (gzipped) from the mirrors into that folder. Every file, cached or
fresh, is checked: size and MD5 of the decompressed bytes where known, IDX
header, dtype and shape always.

If a file cannot be had (no network, `TINYGRAD_CU_OFFLINE=1`, or download=False)
load_mnist prints one line saying why and returns the embedded 8x8 digits
(digits.py) instead, so examples still run offline. A file that is present but
wrong is never replaced by the fallback: that raises, because it is a bug to fix.
"""
import dataclasses
import os
from dataclasses import dataclass

import numpy as np

from .digits import load_digits_split
from .download import DownloadError, check_bytes, download_file
from .idx import parse_idx, read_idx_bytes

OFFLINE_ENV = "TINYGRAD_CU_OFFLINE"
DATA_ROOT_ENV = "TINYGRAD_CU_DATA"
DEFAULT_DATA_ROOT = os.path.join("~", ".cache", "tinygrad_cu", "data")


@dataclass(frozen=True)
class IdxFile:
    """One file of a data set and what its decompressed content must look like."""
    name: str
    expect_dtype: type
    expect_shape: tuple
    size: int = None  # bytes after decompression; None = unknown
    md5: str = None  # of the decompressed bytes; None = unknown


@dataclass(frozen=True)
class IdxDatasetSpec:
    name: str
    subdir: str
    mirrors: tuple
    files: dict  # role ("train_images", "train_labels", "test_images", "test_labels") -> IdxFile


def _image_file(name, n, size=None, md5=None):
    return IdxFile(name, np.uint8, (n, 28, 28), size, md5)


def _label_file(name, n, size=None, md5=None):
    return IdxFile(name, np.uint8, (n,), size, md5)


# Sizes and MD5s of the decompressed originals, as published by many public loaders.
MNIST = IdxDatasetSpec(
    name="MNIST", subdir="mnist",
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/",
             "http://yann.lecun.com/exdb/mnist/"),
    files={
        "train_images": _image_file("train-images-idx3-ubyte", 60000,
                                    47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
        "train_labels": _label_file("train-labels-idx1-ubyte", 60000,
                                    60_008, "a25bea736e30d166cdddb491f175f624"),
        "test_images": _image_file("t10k-images-idx3-ubyte", 10000,
                                   7_840_016, "2646ac647ad5339dbf082846283269ea"),
        "test_labels": _label_file("t10k-labels-idx1-ubyte", 10000,
                                   10_008, "27ae3e4e09519cfbb04c329615203637"),
    })

# Same file names and shapes as MNIST; no MD5s of the decompressed files are
# known to us, so only size, header and shape are checked.
FASHION_MNIST = IdxDatasetSpec(
    name="Fashion-MNIST", subdir="fashion-mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    files={role: dataclasses.replace(f, md5=None) for role, f in MNIST.files.items()})


@dataclass(frozen=True)
class LoadedData:
    """The four arrays plus where they came from. Unpacks like a 4-tuple:
    `x_train, y_train, x_test, y_test = load_mnist()`."""
    x_train: np.ndarray  # uint8 [N, 28, 28]
    y_train: np.ndarray  # int64 [N]
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # "mnist", "fashion-mnist" or "digits-fallback"
    location: str  # the folder read, or why the fallback was used

    def __iter__(self):
        return iter((self.x_train, self.y_train, self.x_test, self.y_test))


class DataUnavailableError(OSError):
    """The data set's files are missing locally and could not be downloaded."""


def load_mnist(data_dir=None, download=True, fallback=True, *, files=None, mirrors=None,
               timeout=10.0, progress=True):
    """MNIST as LoadedData (uint8 images [N,28,28], int64 labels); see the module doc.

    files / mirrors override the table above (tests use tiny files and a local server).
    fallback=False raises DataUnavailableError instead of using the embedded digits.
    """
    spec = _override(MNIST, files, mirrors)
    return load_idx_dataset(spec, data_dir, download, fallback, timeout, progress)


def load_fashion_mnist(data_dir=None, download=True, fallback=False, *, files=None, mirrors=None,
                       timeout=10.0, progress=True):
    """Fashion-MNIST through the same code. No fallback by default: digits are not clothes."""
    spec = _override(FASHION_MNIST, files, mirrors)
    return load_idx_dataset(spec, data_dir, download, fallback, timeout, progress)


def load_idx_dataset(spec, data_dir=None, download=True, fallback=True, timeout=10.0, progress=True):
    folder = dataset_folder(spec, data_dir)
    try:
        arrays = {role: _load_file(folder, f, spec, download, timeout, progress)
                  for role, f in spec.files.items()}
    except DataUnavailableError as why:
        if not fallback:
            raise
        # the whole reason, never cut: the end of a download error is its cause
        print(f"tinygrad_cu.data: {spec.name} unavailable: {why}\n"
              f"tinygrad_cu.data: using the embedded fallback: 1,797 8x8 UCI digits upscaled to 28x28", flush=True)
        return LoadedData(*load_digits_split(), source="digits-fallback", location=str(why))
    for split in ("train", "test"):
        n_images, n_labels = len(arrays[f"{split}_images"]), len(arrays[f"{split}_labels"])
        if n_images != n_labels:
            raise ValueError(f"{folder}: {n_images} {split} images but {n_labels} labels")
    return LoadedData(arrays["train_images"], arrays["train_labels"].astype(np.int64),
                      arrays["test_images"], arrays["test_labels"].astype(np.int64),
                      source=spec.subdir, location=folder)


def dataset_folder(spec, data_dir=None):
    """The folder that holds (or will hold) the data set's files; see the module doc."""
    if data_dir is None:
        root = os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT
        return os.path.join(os.path.expanduser(root), spec.subdir)
    data_dir = os.path.expanduser(os.fspath(data_dir))
    nested = os.path.join(data_dir, spec.subdir)
    first = next(iter(spec.files.values()))
    if _local_path(data_dir, first.name) is None and _local_path(nested, first.name) is not None:
        return nested
    return data_dir


def is_offline():
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _load_file(folder, f, spec, download, timeout, progress):
    path = _local_path(folder, f.name)
    if path is None:
        if is_offline():
            raise DataUnavailableError(f"{OFFLINE_ENV} is set and {f.name} is not in {folder}")
        if not download:
            raise DataUnavailableError(f"{f.name} is not in {folder} and download=False")
        path = os.path.join(folder, f.name + ".gz")
        urls = [mirror + f.name + ".gz" for mirror in spec.mirrors]
        try:
            download_file(urls, path, verify=lambda tmp: _verified_array(tmp, f), timeout=timeout,
                          progress=progress)
        except DownloadError as e:
            raise DataUnavailableError(f"{f.name}: {e}") from None
    return _verified_array(path, f)


def _verified_array(path, f):
    """Decompress, check size/MD5 where known, then parse with the expected dtype and shape."""
    raw = read_idx_bytes(path)
    check_bytes(raw, f"{path} (decompressed)", f.size, f.md5)
    return parse_idx(raw, path, f.expect_dtype, f.expect_shape)


def _local_path(folder, name):
    for candidate in (name + ".gz", name):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def _override(spec, files, mirrors):
    return dataclasses.replace(spec, files=dict(files) if files is not None else spec.files,
                               mirrors=tuple(mirrors) if mirrors is not None else spec.mirrors)
