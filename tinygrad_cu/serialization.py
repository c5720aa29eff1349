"""save / load: checkpoints as `.npz` files with a JSON header, written atomically.

Format ("tinygrad_cu.checkpoint", version 1): an uncompressed numpy `.npz` (a zip of
`.npy` files) holding
    header   uint8 array: UTF-8 JSON {"format", "version", "tensors": [entry, ...]}
             with one entry {"name", "key", "shape", "dtype", "sha256"} per array
    t0, t1,  the arrays, under neutral keys, so any state-dict name (dots, slashes,
    ...      unicode) is stored in the header rather than as a file name in the zip.
`sha256` is over the array's raw bytes in C order; `load` checks every shape, dtype
and checksum, and reads with allow_pickle=False, so a checkpoint can hold only plain
numeric arrays and loading one never runs code.

Atomic write: the file is written to a temporary file in the target's directory,
flushed and fsync'ed, then renamed over the target with os.replace (atomic on POSIX
and Windows). A crash at any point leaves either the old checkpoint or the new one,
never a half-written file; on error the temporary file is removed.
"""
import hashlib
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT, VERSION = "tinygrad_cu.checkpoint", 1


def _as_array(name, value):
    from .tensor import Tensor
    array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"save: {name!r} has dtype {array.dtype}; a checkpoint holds only "
                        "bool, integer and float arrays")
    return np.asarray(array, order="C")   # (ascontiguousarray would make 0-d arrays 1-d)


def _sha256(array):
    return hashlib.sha256(np.asarray(array, order="C").tobytes()).hexdigest()


def save(state_dict, path):
    """Write {name: numpy array or Tensor} to `path` (".npz" recommended), atomically."""
    path = os.fspath(path)
    arrays, entries = {}, []
    for i, (name, value) in enumerate(state_dict.items()):
        if not isinstance(name, str):
            raise TypeError(f"save: state dict keys must be strings, got {name!r}")
        array = _as_array(name, value)
        key = f"t{i}"
        arrays[key] = array
        entries.append({"name": name, "key": key, "shape": list(array.shape),
                        "dtype": array.dtype.str, "sha256": _sha256(array)})
    header = json.dumps({"format": FORMAT, "version": VERSION, "tensors": entries})
    arrays["header"] = np.frombuffer(header.encode("utf-8"), dtype=np.uint8)

    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # KeyboardInterrupt too: never leave the temporary file behind
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); not possible, nor needed, on Windows."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path):
    """Read a checkpoint written by `save`: {name: numpy array}, in the saved order.
    A truncated, corrupted or foreign file raises ValueError naming the file."""
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array, not an .npz archive")
        with archive:
            if "header" not in archive.files:
                raise ValueError("the archive has no tinygrad_cu header entry")
            header = _read_header(archive["header"])
            return {entry["name"]: _read_entry(archive, entry) for entry in header["tensors"]}
    except FileNotFoundError:
        raise
    except (ValueError, KeyError, TypeError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a valid tinygrad_cu checkpoint (truncated, corrupted or "
                         f"another format): {e}") from e


def _read_header(raw):
    header = json.loads(bytes(raw.astype(np.uint8)).decode("utf-8"))
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"the header's format is {header.get('format') if isinstance(header, dict) else None!r}, "
                         f"expected {FORMAT!r}")
    if header.get("version") != VERSION:
        raise ValueError(f"format version {header.get('version')!r} is not supported "
                         f"(this tinygrad_cu reads version {VERSION})")
    return header


def _read_entry(archive, entry):
    name = entry["name"]
    array = archive[entry["key"]]
    if list(array.shape) != entry["shape"] or array.dtype.str != entry["dtype"]:
        raise ValueError(f"{name!r} is {array.dtype.str} {list(array.shape)}, the header says "
                         f"{entry['dtype']} {entry['shape']}")
    if _sha256(array) != entry["sha256"]:
        raise ValueError(f"{name!r} fails its sha256 checksum")
    return array
