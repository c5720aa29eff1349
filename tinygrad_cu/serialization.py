"""save / load: checkpoints as `.npz` files with a JSON header, written atomically.

Format "tinygrad_cu.checkpoint": an uncompressed numpy `.npz` (a zip of `.npy` files)
holding
    header   uint8 array: UTF-8 JSON {"format", "version", "tensors": [entry, ...]}
             (version 2 adds "tree", below) with one entry
             {"name", "key", "shape", "dtype", "sha256"} per array
    t0, t1,  the arrays, under neutral keys, so any name (dots, slashes, unicode) is
    ...      stored in the header rather than as a file name in the zip.
`sha256` is over the array's raw bytes in C order; `load` checks every shape, dtype
and checksum, and reads with allow_pickle=False, so a checkpoint can hold only plain
numeric arrays and JSON, and loading one never runs code.

Version 1 (still written for a flat {str: array or Tensor} dict, e.g. a model's state
dict, so older readers load it): the entries' names are the dict's keys, in order.

Version 2 (anything else: nested dicts/lists/tuples, int keys, scalars, strings,
None; e.g. {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}):
"tree" is the saved object encoded in JSON, where
    null, true/false, an integer, a finite float, a string   stand for themselves;
    {"float": "nan" | "inf" | "-inf"}                          a non-finite float;
    {"numpy": dtype.str, "value": v}                           a numpy scalar (v as above);
    {"array": i}                                               the array of entry i;
    {"list": [...]}, {"tuple": [...]}                          a list, a tuple;
    {"dict": [[key, value], ...]}                              a dict, in order; a key is a
                                                               JSON string or integer, so
                                                               int keys come back as ints.
The entries' names are the arrays' dotted paths ("optimizer.state.0.exp_avg"), used in
error messages only.

Atomic write: the file is written to a temporary file in the target's directory,
flushed and fsync'ed, then renamed over the target with os.replace (atomic on POSIX
and Windows). A crash at any point leaves either the old checkpoint or the new one,
never a half-written file; on error the temporary file is removed.
"""
import hashlib
import json
import math
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "tinygrad_cu.checkpoint"
VERSION = 2                       # the newest version written; load reads 1 and 2
READS = (1, 2)
_TAGS = ("float", "numpy", "array", "list", "tuple", "dict")


def _where(path):
    return ".".join(path) if path else "<root>"


def _as_array(path, value):
    from .tensor import Tensor
    array = value.numpy() if isinstance(value, Tensor) else np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"save: {_where(path)!r} has dtype {array.dtype}; a checkpoint holds only "
                        "bool, integer and float arrays")
    return np.asarray(array, order="C")   # (ascontiguousarray would make 0-d arrays 1-d)


def _sha256(array):
    return hashlib.sha256(np.asarray(array, order="C").tobytes()).hexdigest()


def _float_json(x):
    return x if math.isfinite(x) else {"float": "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


class _Encoder:
    """Walks the object to save: arrays go to self.arrays (with their dotted paths),
    everything else becomes the JSON tree."""

    def __init__(self):
        self.arrays, self.names, self._active = [], [], set()

    def encode(self, value, path=()):
        from .tensor import Tensor
        if isinstance(value, (np.ndarray, Tensor)):
            self.arrays.append(_as_array(path, value))
            self.names.append(_where(path))
            return {"array": len(self.arrays) - 1}
        if value is None or isinstance(value, (bool, str)):
            return str(value) if isinstance(value, str) else value   # (str: drops np.str_)
        if isinstance(value, np.generic):    # before int/float: np.float64 is a float
            item = value.item() if value.dtype.kind in "biuf" else None
            if type(item) not in (bool, int, float):
                raise TypeError(f"save: {_where(path)!r} is a numpy {value.dtype} scalar; a checkpoint "
                                "holds only bool, integer and float (up to 64-bit) scalars")
            return {"numpy": value.dtype.str, "value": _float_json(item) if isinstance(item, float) else item}
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return _float_json(float(value))
        if isinstance(value, (dict, list, tuple)):
            if id(value) in self._active:
                raise TypeError(f"save: {_where(path)!r} contains itself")
            self._active.add(id(value))
            try:
                if isinstance(value, dict):
                    return {"dict": [[self._key(k, path), self.encode(v, path + (str(k),))]
                                     for k, v in value.items()]}
                tag = "tuple" if isinstance(value, tuple) else "list"
                return {tag: [self.encode(v, path + (str(i),)) for i, v in enumerate(value)]}
            finally:
                self._active.discard(id(value))
        raise TypeError(f"save: {_where(path)!r} is a {type(value).__name__}; a checkpoint holds dicts, "
                        "lists and tuples of numpy arrays, Tensors, bool/int/float scalars, str and None")

    @staticmethod
    def _key(key, path):
        if isinstance(key, str):
            return str(key)
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            return int(key)
        raise TypeError(f"save: {_where(path)!r} has the key {key!r} ({type(key).__name__}); "
                        "dict keys must be str or int")


def save(obj, path):
    """Write `obj` to `path` (".npz" recommended), atomically. `obj` is a state dict
    {name: numpy array or Tensor}, or any nesting of dicts (str or int keys), lists and
    tuples whose leaves are numpy arrays, Tensors, bool/int/float (Python or numpy)
    scalars, str or None, e.g. {"model": model.state_dict(), "optimizer":
    opt.state_dict(), "epoch": 3}. Anything else is a TypeError naming its path."""
    path = os.fspath(path)
    encoder = _Encoder()
    tree = encoder.encode(obj)
    entries = [{"name": name, "key": f"t{i}", "shape": list(a.shape), "dtype": a.dtype.str,
                "sha256": _sha256(a)} for i, (name, a) in enumerate(zip(encoder.names, encoder.arrays))]
    flat = isinstance(obj, dict) and all(isinstance(k, str) for k in obj) and \
        all(v == {"array": i} for i, (_, v) in enumerate(tree["dict"]))
    if flat:   # a plain state dict: version 1, readable by older tinygrad_cu too
        header = {"format": FORMAT, "version": 1, "tensors": entries}
    else:
        header = {"format": FORMAT, "version": VERSION, "tensors": entries, "tree": tree}
    arrays = {entry["key"]: a for entry, a in zip(entries, encoder.arrays)}
    arrays["header"] = np.frombuffer(json.dumps(header, allow_nan=False).encode("utf-8"), dtype=np.uint8)

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
    """Read a checkpoint written by `save`: the saved structure, with arrays and Tensors
    as numpy arrays, dicts in their saved order (int keys as ints), tuples as tuples.
    A version-1 file (flat state dict) gives {name: numpy array}. A truncated,
    corrupted or foreign file raises ValueError naming the file."""
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array, not an .npz archive")
        with archive:
            if "header" not in archive.files:
                raise ValueError("the archive has no tinygrad_cu header entry")
            header = _read_header(archive["header"])
            if header["version"] == 1:
                return {entry["name"]: _read_entry(archive, entry) for entry in header["tensors"]}
            arrays = [_read_entry(archive, entry) for entry in header["tensors"]]
            return _decode(header["tree"], arrays)
    except FileNotFoundError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, OSError, EOFError, RecursionError,
            zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a valid tinygrad_cu checkpoint (truncated, corrupted or "
                         f"another format): {e}") from e


def _read_header(raw):
    header = json.loads(bytes(raw.astype(np.uint8)).decode("utf-8"))
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ValueError(f"the header's format is {header.get('format') if isinstance(header, dict) else None!r}, "
                         f"expected {FORMAT!r}")
    if header.get("version") not in READS:
        raise ValueError(f"format version {header.get('version')!r} is not supported "
                         f"(this tinygrad_cu reads versions {', '.join(map(str, READS))})")
    if not isinstance(header.get("tensors"), list) or (header["version"] >= 2 and "tree" not in header):
        raise ValueError("the header lacks its tensor list or object tree")
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


def _decode_float(v):
    if isinstance(v, dict) and set(v) == {"float"} and v["float"] in ("nan", "inf", "-inf"):
        return float(v["float"])
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    raise ValueError(f"bad scalar value {v!r} in the header's tree")


def _decode(node, arrays):
    """The inverse of _Encoder.encode; anything it would not write is a ValueError."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict) or len(node) not in (1, 2) or not set(node) & set(_TAGS):
        raise ValueError(f"bad node {str(node)[:80]!r} in the header's tree")
    if set(node) == {"float"}:
        return _decode_float(node)
    if set(node) == {"numpy", "value"}:
        dtype = np.dtype(node["numpy"])
        value = node["value"]
        if dtype.kind not in "biuf" or (dtype.kind == "b") != isinstance(value, bool):
            raise ValueError(f"bad numpy scalar {node!r} in the header's tree")
        return dtype.type(_decode_float(value) if dtype.kind == "f" else value)
    if set(node) == {"array"}:
        i = node["array"]
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(arrays):
            raise ValueError(f"the header's tree refers to array {i!r}, the file has {len(arrays)}")
        return arrays[i]
    (tag,) = node if len(node) == 1 else (None,)
    items = node.get(tag)
    if tag in ("list", "tuple") and isinstance(items, list):
        values = [_decode(v, arrays) for v in items]
        return tuple(values) if tag == "tuple" else values
    if tag == "dict" and isinstance(items, list):
        out = {}
        for pair in items:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))
                    and not isinstance(pair[0], bool)):
                raise ValueError(f"bad dict item {str(pair)[:80]!r} in the header's tree")
            out[pair[0]] = _decode(pair[1], arrays)
        return out
    raise ValueError(f"bad node {str(node)[:80]!r} in the header's tree")
