"""Reading (and, for tests and tools, writing) the IDX files MNIST is distributed in.

Format: a big-endian header ``0x00 0x00 <dtype code> <ndim>``, then ``ndim`` uint32
dimension sizes, then the data. MNIST uses dtype code 0x08 (unsigned byte):
images have ndim 3 (count, 28, 28), labels ndim 1 (count,).
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from core.errors import DashboardError

__all__ = ["IDX_FILES", "IdxFormatError", "find_idx_file", "read_idx", "write_idx"]

#: The four standard file stems, by role.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_UBYTE = 0x08


class IdxFormatError(DashboardError, ValueError):
    """An IDX file is missing, malformed or inconsistent; the message names the file."""


def find_idx_file(folder: str | os.PathLike, stem: str) -> Path:
    """Return the path of ``stem`` in ``folder``, gzipped (``.gz``) or not.

    Also accepts the ``stem.idx3-ubyte`` spelling some mirrors use. Raises
    :class:`IdxFormatError` naming the folder and the expected names if none exists.
    """
    folder = Path(folder)
    candidates = [stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
    for name in candidates:
        path = folder / name
        if path.is_file():
            return path
    raise IdxFormatError(
        f"missing IDX file: none of {candidates[:2]} in {str(folder)!r}. "
        "Put the four standard MNIST files there (gzipped or not) or point MNIST_DIR elsewhere."
    )


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise IdxFormatError(f"{str(path)!r}: cannot read ({exc.strerror or exc}).") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise IdxFormatError(
                f"{str(path)!r}: corrupt or truncated gzip data ({exc}). Download the file again."
            ) from exc
    return raw


def read_idx(path: str | os.PathLike, *, expected_ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (gzipped or not) into a uint8 array of the shape its header gives.

    Raises :class:`IdxFormatError` naming ``path`` for a wrong magic number, an
    unsupported data type, an unexpected number of dimensions or truncated data.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise IdxFormatError(f"{str(path)!r}: only {len(data)} bytes, too short for an IDX header.")
    zero1, zero2, dtype_code, ndim = data[0], data[1], data[2], data[3]
    if zero1 != 0 or zero2 != 0 or ndim == 0:
        magic = int.from_bytes(data[:4], "big")
        raise IdxFormatError(
            f"{str(path)!r}: wrong magic number 0x{magic:08x}; an IDX file starts with 0x0000 then "
            "a type code and a dimension count (MNIST images 0x00000803, labels 0x00000801). "
            "Is this really an MNIST IDX file?"
        )
    if dtype_code != _UBYTE:
        raise IdxFormatError(
            f"{str(path)!r}: data type code 0x{dtype_code:02x} is not supported; MNIST uses 0x08 (unsigned byte)."
        )
    if expected_ndim is not None and ndim != expected_ndim:
        raise IdxFormatError(
            f"{str(path)!r}: has {ndim} dimensions, expected {expected_ndim} "
            f"({'images' if expected_ndim == 3 else 'labels'}). Are image and label files swapped?"
        )
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IdxFormatError(f"{str(path)!r}: truncated header ({len(data)} of {header_len} bytes).")
    shape = struct.unpack(">" + "I" * ndim, data[4:header_len])
    if 0 in shape:
        raise IdxFormatError(
            f"{str(path)!r}: the header is valid but the file holds no items (shape {shape}). "
            "Download the file again."
        )
    expected = int(np.prod(shape, dtype=np.int64))
    actual = len(data) - header_len
    if actual < expected:
        raise IdxFormatError(
            f"{str(path)!r}: truncated: header promises shape {shape} ({expected} bytes of data) "
            f"but the file holds {actual}. Download the file again."
        )
    if actual > expected:
        raise IdxFormatError(
            f"{str(path)!r}: {actual - expected} unexpected trailing bytes after shape {shape}."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(shape)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a uint8 array as an IDX file; gzipped if ``path`` ends in ``.gz``."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise ValueError(f"write_idx writes uint8 arrays only, got dtype {array.dtype}.")
    header = bytes([0, 0, _UBYTE, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    payload = header + array.tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload, compresslevel=1) if path.suffix == ".gz" else payload)
    return path


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file and its labels file; shapes (n, 784) uint8 and (n,) int64."""
    images = read_idx(images_path, expected_ndim=3)
    labels = read_idx(labels_path, expected_ndim=1)
    if images.shape[0] != labels.shape[0]:
        raise IdxFormatError(
            f"{str(images_path)!r} holds {images.shape[0]} images but {str(labels_path)!r} holds "
            f"{labels.shape[0]} labels; the counts must match."
        )
    if images.shape[1:] != (28, 28):
        raise IdxFormatError(f"{str(images_path)!r}: images are {images.shape[1:]}, MNIST images are 28x28.")
    if labels.size and labels.max() > 9:
        raise IdxFormatError(f"{str(labels_path)!r}: label {int(labels.max())} is out of range 0-9.")
    return images.reshape(len(images), 784), labels.astype(np.int64)
