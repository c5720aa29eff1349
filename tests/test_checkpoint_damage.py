"""A damaged checkpoint is a ValueError naming the file, whatever the damage: every one of
hundreds of seeded single-bit flips either loads the original exactly or is refused so,
never NotImplementedError (a flipped zip compression method), RuntimeError (a flipped
encryption flag), MemoryError (a flipped .npy shape) or another parser's error. Every
truncation too. Hand-built archives show the checks behind that (tinygrad_cu/npz_reader.py)."""
import io
import struct
import zipfile

import numpy as np
import pytest

import tinygrad_cu as tg
from tinygrad_cu.serialization import load, save

from test_serialization import assert_tree_equal


def checkpoint():
    rng = np.random.default_rng(5)
    return {"model": {"w": rng.standard_normal((3, 4)).astype(np.float32), "b": np.arange(3, dtype=np.int64)},
            "optimizer": {"state": {0: {"step": 4}}, "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99)}]},
            "t": tg.Tensor([1.0, -2.0], requires_grad=True), "epoch": 3, "name": "run-1", "none": None}


def test_every_single_bit_flip_loads_exactly_or_names_the_file(tmp_path):
    original = checkpoint()
    save(original, tmp_path / "good.npz")
    data = (tmp_path / "good.npz").read_bytes()
    rng = np.random.default_rng(2024)
    outcomes = {"loaded": 0, "refused": 0}
    for trial, bit in enumerate(rng.choice(len(data) * 8, size=400, replace=False)):
        damaged = bytearray(data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        path = tmp_path / f"flip{trial}.npz"
        path.write_bytes(bytes(damaged))
        try:
            got = load(path)
        except ValueError as e:
            assert str(path) in str(e), (bit, str(e))
            outcomes["refused"] += 1
        else:
            # a bit the format does not read (a zip timestamp, a spare flag): the same data
            assert_tree_equal(got, original, f"<bit {bit}>")
            outcomes["loaded"] += 1
    assert outcomes["refused"] > 200, outcomes       # most flips are caught by a check


def test_every_truncation_names_the_file(tmp_path):
    save(checkpoint(), tmp_path / "good.npz")
    data = (tmp_path / "good.npz").read_bytes()
    path = tmp_path / "cut.npz"
    for cut in range(0, len(data), 7):
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="cut.npz: not a valid tinygrad_cu checkpoint"):
            load(path)


def npy(shape_text, data=b"", descr="<f8"):
    """An .npy member by hand (format 1.0), its header claiming `shape_text`."""
    header = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape_text}, }}".encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def write_zip(path, members, method=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as z:
        for name, content in members.items():
            z.writestr(name, content)
    path.write_bytes(buf.getvalue())
    return path


def test_an_npy_header_claiming_terabytes_is_refused_before_allocating(tmp_path):
    # numpy's own reader would allocate 8 TB (or fail with MemoryError) before reading
    path = write_zip(tmp_path / "huge.npz", {"header.npy": npy("(1000000, 1000000)", b"\x00" * 8)})
    with pytest.raises(ValueError, match=r"huge.npz: .*'header': its .npy header claims \(1000000, 1000000\) "
                                         r"<f8, 8000000000000 bytes of data, but the entry holds 8"):
        load(path)


@pytest.mark.parametrize("method,message", [(zipfile.ZIP_BZIP2, "zip compression method 12"),
                                            (zipfile.ZIP_LZMA, "zip compression method 14")])
def test_a_compression_method_np_savez_never_writes_is_refused(tmp_path, method, message):
    path = write_zip(tmp_path / "packed.npz", {"header.npy": npy("(1,)", b"\x00" * 8)}, method)
    with pytest.raises(ValueError, match=f"packed.npz: .*{message}"):
        load(path)


def test_object_and_structured_dtypes_are_refused(tmp_path):
    path = write_zip(tmp_path / "obj.npz", {"header.npy": npy("(1,)", b"\x80\x04N.", descr="|O")})
    with pytest.raises(ValueError, match="obj.npz: .*Python objects.*pickle"):
        load(path)
    path = write_zip(tmp_path / "rec.npz", {"header.npy": npy("(1,)", b"\x00" * 8, descr=[("a", "<f8")])})
    with pytest.raises(ValueError, match="rec.npz: .*not a plain bool, integer or float"):
        load(path)


def test_a_deflated_copy_of_a_checkpoint_still_loads(tmp_path):
    save(checkpoint(), tmp_path / "plain.npz")
    with zipfile.ZipFile(tmp_path / "plain.npz") as z:
        members = {name: z.read(name) for name in z.namelist()}
    write_zip(tmp_path / "deflated.npz", members, zipfile.ZIP_DEFLATED)
    assert_tree_equal(load(tmp_path / "deflated.npz"), load(tmp_path / "plain.npz"))


def test_path_errors_stay_what_they_are(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.npz")
    with pytest.raises(IsADirectoryError):
        load(tmp_path)
