import gzip
import struct

import numpy as np
import pytest
from conftest import write_idx_set

from core.data.idx import IDX_FILES, IdxFormatError, read_idx, write_idx
from core.data.sources import load_idx


def test_round_trip_plain_and_gzip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    for name in ("a-idx3-ubyte", "a-idx3-ubyte.gz"):
        path = write_idx(tmp_path / name, images)
        np.testing.assert_array_equal(read_idx(path), images)
    assert (tmp_path / "a-idx3-ubyte.gz").read_bytes()[:2] == b"\x1f\x8b"


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_folder_matches_source(tmp_path, sample_data, gz):
    write_idx_set(tmp_path, sample_data, gz=gz, n_train=120, n_test=30)
    data = load_idx(tmp_path)
    assert data.source == "idx"
    assert data.X_train.shape == (120, 784) and data.X_train.dtype == np.uint8
    assert data.y_test.dtype == np.int64
    np.testing.assert_array_equal(data.X_train, sample_data.X_train[:120])
    np.testing.assert_array_equal(data.y_test, sample_data.y_test[:30])


def _header(dtype_code, dims):
    return bytes([0, 0, dtype_code, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x12\x34\x08\x03" + b"\x00" * 20, "wrong magic number"),
        (_header(0x0D, (2, 28, 28)) + b"\x00" * (2 * 784 * 4), "data type code 0x0d"),
        (_header(0x08, (3, 28, 28)) + b"\x00" * 1000, "truncated"),
        (_header(0x08, (3, 28, 28))[:9], "truncated header"),
        (b"\x00\x00", "too short"),
        (_header(0x08, (1, 28, 28)) + b"\x00" * 785, "trailing bytes"),
    ],
)
def test_malformed_file_names_file_and_problem(tmp_path, payload, message):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(payload)
    with pytest.raises(IdxFormatError) as err:
        read_idx(path, expected_ndim=3)
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_corrupt_gzip_is_reported(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(_header(0x08, (100,)) + bytes(100))[:30])
    with pytest.raises(IdxFormatError, match="gzip"):
        read_idx(path)


def test_swapped_files_and_count_mismatch(tmp_path, sample_data):
    write_idx_set(tmp_path, sample_data, n_train=50, n_test=20)
    # labels with a different count than images
    write_idx(tmp_path / IDX_FILES["test_labels"], sample_data.y_test[:19].astype(np.uint8))
    with pytest.raises(IdxFormatError, match="20 images but .* 19 labels"):
        load_idx(tmp_path)
    # images where labels belong
    write_idx(tmp_path / IDX_FILES["test_labels"], sample_data.X_test[:20].reshape(-1, 28, 28))
    with pytest.raises(IdxFormatError, match="has 3 dimensions, expected 1"):
        load_idx(tmp_path)


def test_missing_file_and_missing_folder(tmp_path, sample_data):
    write_idx_set(tmp_path, sample_data)
    (tmp_path / IDX_FILES["train_labels"]).unlink()
    with pytest.raises(IdxFormatError, match="missing IDX file.*train-labels-idx1-ubyte"):
        load_idx(tmp_path)
    with pytest.raises(IdxFormatError, match="is not a folder"):
        load_idx(tmp_path / "nope")


def test_label_out_of_range(tmp_path, sample_data):
    write_idx_set(tmp_path, sample_data, n_train=10)
    write_idx(tmp_path / IDX_FILES["train_labels"], np.full(10, 12, dtype=np.uint8))
    with pytest.raises(IdxFormatError, match="label 12 is out of range"):
        load_idx(tmp_path)
