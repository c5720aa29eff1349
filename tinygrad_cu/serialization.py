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

An entry saved from a Tensor also records {"device": "cpu" | "emu" | "cuda",
"requires_grad": bool}; `load` gives those back as Tensors (on `map_location`, else on
the saved device), and entries saved from numpy arrays as numpy arrays, as torch.load
does. Readers that do not know these keys ignore them.

Atomic write (tinygrad_cu/atomic_file.py): a temporary file `.{name}.tmp-{host}-{pid}-{hex}`
in the target's directory, fsync'ed, then renamed over the target with os.replace. A
crash at any point leaves the old checkpoint or the new one, never half of one; the
temporary file is removed on any error, and one left by a killed process is removed by
the next save to that target.

Reading (tinygrad_cu/npz_reader.py) checks every claim of the zip and .npy headers
before acting on it; whatever is wrong with a file, `load` raises ValueError naming it.
"""
import hashlib
import json
import math
import os

import numpy as np

from . import atomic_file
from .npz_reader import NpzReader

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
        self.arrays, self.names, self.tensors, self._active = [], [], [], set()

    def encode(self, value, path=()):
        from .tensor import Tensor
        if isinstance(value, (np.ndarray, Tensor)):
            self.arrays.append(_as_array(path, value))
            self.names.append(_where(path))
            self.tensors.append({"device": value.device, "requires_grad": bool(value.requires_grad)}
                                if isinstance(value, Tensor) else {})
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
                "sha256": _sha256(a), **tensor}
               for i, (name, a, tensor) in enumerate(zip(encoder.names, encoder.arrays, encoder.tensors))]
    flat = isinstance(obj, dict) and all(isinstance(k, str) for k in obj) and \
        all(v == {"array": i} for i, (_, v) in enumerate(tree["dict"]))
    if flat:   # a plain state dict: version 1, readable by older tinygrad_cu too
        header = {"format": FORMAT, "version": 1, "tensors": entries}
    else:
        header = {"format": FORMAT, "version": VERSION, "tensors": entries, "tree": tree}
    arrays = {entry["key"]: a for entry, a in zip(entries, encoder.arrays)}
    arrays["header"] = np.frombuffer(json.dumps(header, allow_nan=False).encode("utf-8"), dtype=np.uint8)

    atomic_file.write_atomic(path, lambda f: np.savez(f, **arrays))


def load(path, map_location=None):
    """Read a checkpoint written by `save`: the saved structure, dicts in their saved
    order (int keys as ints), tuples as tuples. Arrays saved from Tensors come back as
    Tensors (with their requires_grad), those saved from numpy arrays as numpy arrays, as
    torch.load does. A version-1 file (flat state dict) gives {name: array or Tensor}.

    map_location: None puts each Tensor on the device it was saved from (cpu if the file
    does not say); a device name or device ("cpu", "emu", "cuda") puts them all there; a
    dict {saved device: device} maps some. Numpy arrays stay on the host.

    A truncated, corrupted or foreign file raises ValueError naming the file; a missing
    file FileNotFoundError; a Tensor saved on a device that is not available here a
    RuntimeError that suggests map_location."""
    path = os.fspath(path)
    place = _placement(map_location)
    try:
        with NpzReader(path) as archive:
            if "header" not in archive.files:
                raise ValueError("the archive has no tinygrad_cu header entry")
            header = _read_header(archive.read("header"))
            arrays = [_read_entry(archive, entry) for entry in header["tensors"]]
            devices = [_saved_device(entry) for entry in header["tensors"]]
            tree = header.get("tree") if header["version"] >= 2 else None
            if tree is not None:
                _decode(tree, arrays)              # check the tree's syntax before any upload
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise                                      # about the path, not the file's contents
    except Exception as e:     # whatever a damaged file makes a parser raise (MemoryError too)
        detail = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
        raise ValueError(f"{path}: not a valid tinygrad_cu checkpoint (truncated, corrupted or "
                         f"another format): {detail}") from e
    values = [a if saved is None else _as_tensor(path, a, saved, place, entry)
              for a, saved, entry in zip(arrays, devices, header["tensors"])]
    if header["version"] == 1:
        return {entry["name"]: v for entry, v in zip(header["tensors"], values)}
    return _decode(tree, values)


def _placement(map_location):
    """map_location as a function: saved device name -> device name to load onto."""
    if map_location is None:
        return lambda saved: saved
    if isinstance(map_location, dict):
        table = {str(getattr(k, "name", k)): str(getattr(v, "name", v)) for k, v in map_location.items()}
        return lambda saved: table.get(saved, saved)
    name = getattr(map_location, "name", map_location)
    if not isinstance(name, str):
        raise TypeError(f"load: map_location must be None, a device name, a device or a dict "
                        f"{{saved device: device}}, got {type(map_location).__name__}")
    from .device import get_device
    try:
        get_device(name)                   # an unknown or unavailable device fails here, before reading
    except ValueError as e:
        raise ValueError(f"load: map_location {name!r}: {e}") from None
    return lambda saved: name


def _saved_device(entry):
    """The device a Tensor entry was saved from, or None for an entry saved from numpy."""
    if "device" not in entry and "requires_grad" not in entry:
        return None
    device = entry.get("device", "cpu")
    from .device import NAMES
    if device not in NAMES or not isinstance(entry.get("requires_grad", False), bool):
        raise ValueError(f"{entry['name']!r} records device {device!r} and requires_grad "
                         f"{entry.get('requires_grad')!r}")
    return device


def _as_tensor(path, array, saved, place, entry):
    from .device import get_device
    from .tensor import Tensor
    name = place(saved)
    try:
        device = get_device(name)
    except RuntimeError as e:
        raise RuntimeError(f"{path}: {entry['name']!r} was saved on {saved!r}, which is not available "
                           f"here ({e}); load it elsewhere with map_location='cpu', e.g. "
                           f"tg.load(path, map_location='cpu')") from None
    t = Tensor._from_buffer(device.from_numpy(array), device)
    if entry.get("requires_grad") and t.dtype.kind == "f":
        t.requires_grad_(True)
    return t


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
    array = archive.read(entry["key"])
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
