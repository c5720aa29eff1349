"""Reading the arrays of an `.npz` archive written by `np.savez`, trusting nothing in it.

`np.load` takes a damaged archive at its word: a flipped bit in a zip header asks for a
compression method or encryption (NotImplementedError, RuntimeError), and one in an
`.npy` header can claim a shape of terabytes, which numpy allocates before it finds out
the data is not there. Here every claim is checked before it is acted on:

* each member must be unencrypted and stored (as np.savez writes it) or deflated (as
  np.savez_compressed does), and hold no more than its compressed bytes can expand to;
* its `.npy` header (format 1.0 or 2.0, parsed by numpy.lib.format) must hold a plain
  bool, integer or float dtype in C order: no Python objects, so no pickle is ever read;
* the data it claims, computed with Python ints, must be exactly what the member holds,
  and no larger than the file itself, before a byte of it is allocated.

Errors are ValueErrors that say what was wrong; the caller adds the file name. The zip
layer's own checks (the CRC of each member, checked as it is read) stay on.
"""
import math
import os
import zipfile

import numpy as np
from numpy.lib import format as npy_format

NPY_MAGIC = b"\x93NUMPY"
MAX_NPY_HEADER = 1 << 16         # np.save writes a few hundred bytes
# the most bytes one stored byte can stand for: 1 stored, about 1032 deflated (deflate's
# best ratio), so a damaged size field cannot make us allocate more than that
EXPANSION = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: 1032}


class NpzReader:
    """`with NpzReader(path) as archive:` then `archive.files` and `archive.read(key)`."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.file_size = os.path.getsize(self.path)
        with open(self.path, "rb") as f:
            if f.read(len(NPY_MAGIC)) == NPY_MAGIC:
                raise ValueError("it holds a single .npy array, not an .npz archive")
        self.zip = zipfile.ZipFile(self.path)
        self.members = {}
        for info in self.zip.infolist():
            key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            self.members[key] = info
        self.files = list(self.members)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()

    def read(self, key):
        """The array stored under `key` (a writable, native-order copy)."""
        info = self.members.get(key)
        if info is None:
            raise ValueError(f"the archive has no entry {key!r}")
        if info.flag_bits & 0x1:
            raise ValueError(f"entry {key!r} is marked encrypted, which np.savez never writes")
        if info.compress_type not in EXPANSION:
            raise ValueError(f"entry {key!r} uses zip compression method {info.compress_type}; "
                             "np.savez stores (0) and np.savez_compressed deflates (8)")
        most = min(info.compress_size, self.file_size) * EXPANSION[info.compress_type]
        if info.file_size > most:
            raise ValueError(f"entry {key!r} claims {info.file_size} bytes, more than its "
                             f"{info.compress_size} stored bytes can hold")
        with self.zip.open(info) as f:
            shape, dtype, header_end = _read_npy_header(f, key)
            nbytes = math.prod(shape) * dtype.itemsize
            if header_end + nbytes != info.file_size:
                raise ValueError(f"entry {key!r}: its .npy header claims {shape} {dtype.str}, "
                                 f"{nbytes} bytes of data, but the entry holds "
                                 f"{info.file_size - header_end}")
            data = bytearray(nbytes)
            got = f.readinto(data) if nbytes else 0
            if got != nbytes or f.read(1):
                raise ValueError(f"entry {key!r} ends after {got} of its {nbytes} bytes")
        array = np.frombuffer(data, dtype=dtype).reshape(shape)
        return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def _read_npy_header(f, key):
    """(shape, dtype, bytes read so far) of an .npy stream, checked."""
    version = npy_format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = npy_format.read_array_header_1_0(f, max_header_size=MAX_NPY_HEADER)
    elif version == (2, 0):
        shape, fortran, dtype = npy_format.read_array_header_2_0(f, max_header_size=MAX_NPY_HEADER)
    else:
        raise ValueError(f"entry {key!r} has .npy format version {version}, np.savez writes 1.0 or 2.0")
    if dtype.hasobject:
        raise ValueError(f"entry {key!r} holds Python objects, which would need a pickle to read; "
                         "refused (a checkpoint holds only numbers)")
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(f"entry {key!r} has dtype {dtype}, not a plain bool, integer or float")
    if fortran and len(shape) > 1:
        raise ValueError(f"entry {key!r} is in Fortran order, which save never writes")
    if not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ValueError(f"entry {key!r} has a bad shape {shape}")
    return shape, dtype, f.tell()
