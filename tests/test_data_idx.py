"""IDX reader: round trips against a writer built from the format spec with struct,
and every kind of broken file must raise ValueError naming that file."""
import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinygrad_cu.data import read_idx
from tinygrad_cu.data.digits import bilinear_weights, load_digits_arrays, load_digits_split

# (IDX type code, struct format letter) straight from the MNIST page's table.
TYPE_CODES = {np.uint8: (0x08, "B"), np.int8: (0x09, "b"), np.int16: (0x0B, "h"),
              np.int32: (0x0C, "i"), np.float32: (0x0D, "f"), np.float64: (0x0E, "d")}


def idx_bytes(array):
    """Reference writer: header and big-endian elements via struct, not numpy byte swaps."""
    code, letter = TYPE_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + struct.pack(f">{array.size}{letter}", *array.ravel().tolist())


def write(path, data, gz=False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", list(TYPE_CODES))
def test_round_trip_each_dtype(tmp_path, dtype, gz):
    values = np.arange(-12, 12).reshape(2, 3, 4) * 3
    array = (values / 7 if np.dtype(dtype).kind == "f" else values % 100).astype(dtype)
    got = read_idx(write(tmp_path / "a.idx", idx_bytes(array), gz))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    assert got.shape == array.shape
    np.testing.assert_array_equal(got, array)


def test_int32_is_big_endian(tmp_path):
    # 0x01020304 stored big-endian; a little-endian misread would give 0x04030201.
    data = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 1) + bytes([1, 2, 3, 4])
    assert read_idx(write(tmp_path / "be.idx", data))[0] == 0x01020304


def test_result_is_writable(tmp_path):
    got = read_idx(write(tmp_path / "w.idx", idx_bytes(np.zeros((2, 2), np.uint8))))
    got[0, 0] = 1


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
       dtype=st.sampled_from([np.uint8, np.int32, np.float32]), seed=st.integers(0, 2**16))
def test_round_trip_random_shapes(tmp_path_factory, shape, dtype, seed):
    array = np.random.default_rng(seed).integers(0, 200, size=shape).astype(dtype)
    path = write(tmp_path_factory.mktemp("h") / "r.idx.gz", idx_bytes(array), gz=True)
    np.testing.assert_array_equal(read_idx(path), array)


GOOD = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
CORRUPT = {
    "bad_magic_nonzero": b"\x01" + GOOD[1:],
    "bad_magic_type": GOOD[:2] + b"\x07" + GOOD[3:],
    "zero_dims": bytes([0, 0, 8, 0]),
    "empty": b"",
    "header_truncated": GOOD[:9],
    "data_truncated": GOOD[:-1],
    "extra_bytes": GOOD + b"\x00",
    "wrong_dims": GOOD[:4] + struct.pack(">3I", 2, 3, 5) + GOOD[16:],
}


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind", list(CORRUPT))
def test_corrupt_file_raises_naming_file(tmp_path, kind, gz):
    path = write(tmp_path / f"broken-{kind}.idx", CORRUPT[kind], gz)
    with pytest.raises(ValueError, match=f"broken-{kind}"):
        read_idx(path)


def test_corrupt_gzip_stream(tmp_path):
    packed = gzip.compress(GOOD)
    for name, data in {"gz-truncated": packed[:-6], "gz-garbage": packed[:10] + b"\xff" * 20}.items():
        with pytest.raises(ValueError, match=name):
            read_idx(write(tmp_path / name, data))


def test_expected_shape_and_dtype(tmp_path):
    path = write(tmp_path / "labels.idx", idx_bytes(np.zeros(5, np.uint8)))
    assert read_idx(path, expect_dtype=np.uint8, expect_shape=(None,)).shape == (5,)
    with pytest.raises(ValueError, match="labels.idx.*shape"):
        read_idx(path, expect_shape=(5, 28, 28))
    with pytest.raises(ValueError, match="labels.idx.*int32"):
        read_idx(path, expect_dtype=np.int32)


# --- the embedded digits fallback --------------------------------------------------

def test_digits_fallback_looks_like_mnist():
    images, labels = load_digits_arrays()
    assert images.shape == (1797, 28, 28) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and set(labels.tolist()) == set(range(10))
    assert images.max() == 255  # 16 (full ink) maps to 255
    border = np.ones((28, 28), bool)
    border[4:24, 4:24] = False
    assert images[:, border].max() == 0  # MNIST-like empty 4-pixel frame


def test_digits_split_deterministic_disjoint_complete():
    first, second = load_digits_split(), load_digits_split()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    x_train, y_train, x_test, y_test = first
    assert len(x_train) + len(x_test) == 1797 and len(x_test) == 359
    assert set(y_train.tolist()) == set(range(10)) == set(y_test.tolist())
    # Together the two halves are exactly the full set (compare sorted row bytes).
    everything = sorted(r.tobytes() + bytes([l]) for r, l in zip(*load_digits_arrays()))
    split = sorted(r.tobytes() + bytes([l]) for r, l in zip(np.concatenate([x_train, x_test]),
                                                            np.concatenate([y_train, y_test])))
    assert everything == split


def test_bilinear_weights_match_np_interp():
    weights = bilinear_weights(8, 20)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    # Hand-computed sample positions: output pixel i looks at (i + 0.5) * 8/20 - 0.5,
    # clamped to the image: pixel 0 -> -0.3 -> 0, pixel 10 -> 3.7, pixel 19 -> 7.3 -> 7.
    ramp = weights @ np.arange(8.0)
    np.testing.assert_allclose(ramp[[0, 10, 19]], [0.0, 3.7, 7.0])
    values = np.random.default_rng(0).normal(size=8)
    np.testing.assert_allclose(weights @ values, np.interp(ramp, np.arange(8), values))


def test_a_header_whose_size_overflows_int64_says_truncated(tmp_path):
    # four dims of 65536: 2^64 elements, which an int64 product wraps to 0, so a file of
    # just the header used to pass the size check and fail in numpy's reshape
    path = write(tmp_path / "huge-claim.idx", bytes([0, 0, 0x08, 4]) + struct.pack(">4I", *[65536] * 4))
    message = (r"huge-claim.idx: truncated: the header claims shape \(65536, 65536, 65536, 65536\) "
               r"of uint8, 18446744073709551616 bytes of data \(18446744073709551636 bytes in all\), "
               r"the file has 20 bytes")
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_the_largest_header_gives_a_positive_size(tmp_path):
    # 255 dims of 2^32 - 1 float64s: about 2^8163 bytes, never a negative or wrapped size
    header = bytes([0, 0, 0x0E, 255]) + struct.pack(">255I", *[2**32 - 1] * 255)
    path = write(tmp_path / "largest.idx.gz", header + b"\x00" * 8, gz=True)
    claimed = (2**32 - 1) ** 255 * 8
    power = claimed.bit_length() - 1              # 2^power <= claimed < 2^(power + 1)
    message = (rf"largest.idx.gz: truncated: the header claims shape of 255 dims \(4294967295, 4294967295, "
               rf"4294967295, 4294967295\)... of float64, more than 2\^{power} bytes of data")
    assert power == 8162
    with pytest.raises(ValueError, match=message):
        read_idx(path)
