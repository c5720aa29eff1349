"""Reader for IDX files, the format of MNIST, Fashion-MNIST and their relatives.

An IDX file is a header followed by a dense row-major array:

    bytes 0-1   zero
    byte  2     element type code (0x08 uint8, 0x09 int8, 0x0B int16,
                0x0C int32, 0x0D float32, 0x0E float64)
    byte  3     number of dimensions D
    4*D bytes   the D dimension sizes, each a big-endian uint32
    then        prod(dims) elements, big-endian

Files may be gzip-compressed; they are recognised by the gzip magic bytes, not by
the file name. Every way a file can be wrong (bad magic, too short, too long,
unexpected shape) raises ValueError with the file name in the message, because
"which of my four files is broken?" is the first question a user asks.
"""
import gzip
import math
import os
import zlib

import numpy as np

# IDX type code -> big-endian numpy dtype, as defined on the MNIST page.
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx_bytes(path):
    """The decompressed bytes of an IDX file (gzipped or raw)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError; EOFError = truncated
        raise ValueError(f"{os.fspath(path)}: corrupt gzip data ({e})") from None


def parse_idx(data, name="<bytes>", expect_dtype=None, expect_shape=None):
    """Parse decompressed IDX bytes into a native-byte-order numpy array.

    expect_dtype: a numpy dtype the elements must have (e.g. np.uint8).
    expect_shape: a tuple the shape must match; None entries match any size.
    name: used in error messages (normally the file path).
    """
    name = os.fspath(name)
    if len(data) < 4:
        raise ValueError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise ValueError(f"{name}: bad IDX magic number 0x{data[:4].hex()}")
    dtype, ndim = IDX_DTYPES[data[2]], data[3]
    if ndim == 0:
        raise ValueError(f"{name}: IDX header declares zero dimensions")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise ValueError(f"{name}: truncated IDX header (needs {header_size} bytes, has {len(data)})")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    # Python ints: up to 255 dims of up to 2^32 - 1 each; numpy's int64 product would wrap
    # (four dims of 65536 make 2^64, i.e. 0) and let a header-only file pass this check
    data_bytes = math.prod(shape) * dtype.itemsize
    expected_size = header_size + data_bytes
    if len(data) != expected_size:
        problem = "truncated" if len(data) < expected_size else "has extra bytes"
        shown = shape if ndim <= 8 else f"of {ndim} dims {shape[:4]}..."
        raise ValueError(f"{name}: {problem}: the header claims shape {shown} of {dtype.name}, "
                         f"{_count(data_bytes)} bytes of data ({_count(expected_size)} bytes in all), "
                         f"the file has {len(data)} bytes")
    if expect_dtype is not None and dtype.newbyteorder("=") != np.dtype(expect_dtype):
        raise ValueError(f"{name}: element type {dtype.name}, expected {np.dtype(expect_dtype).name}")
    if expect_shape is not None and not _shape_matches(shape, expect_shape):
        raise ValueError(f"{name}: shape {shape}, expected {expect_shape} (None = any size)")
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    # astype copies, so the result is writable and no longer pins `data`.
    return array.astype(dtype.newbyteorder("="))


def read_idx(path, expect_dtype=None, expect_shape=None):
    """Read an IDX file (gzipped or raw) into a numpy array; ValueError names a bad file."""
    return parse_idx(read_idx_bytes(path), path, expect_dtype, expect_shape)


def _count(n):
    """A byte count for a message: exact, unless a corrupt header made it absurd."""
    return str(n) if n < 10**21 else f"more than 2^{n.bit_length() - 1}"


def _shape_matches(shape, pattern):
    return len(shape) == len(pattern) and all(p is None or p == s for s, p in zip(shape, pattern))
