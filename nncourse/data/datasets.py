"""Real data sets: the bundled UCI 8x8 digits and a reader for local MNIST IDX files.

Nothing here downloads anything. The digits file ships inside the package
(see ``DIGITS_LICENSE.txt`` next to it for licence and citation); MNIST and
Fashion-MNIST are read from a folder the user provides.
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from .. import validation as V

__all__ = ["load_digits", "load_mnist", "read_idx", "DIGITS_PATH"]

DIGITS_PATH = Path(__file__).with_name("digits.csv.gz")


@functools.lru_cache(maxsize=1)
def _read_digits():
    with gzip.open(DIGITS_PATH, "rt") as fh:
        table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    return table[:, :64].astype(np.float64), table[:, 64].copy()


def load_digits(return_images=False):
    """The UCI optical-recognition handwritten digits (the copy in scikit-learn).

    1797 grey-level images of 8x8 pixels, 10 classes (digits 0-9), about 180
    per class. Each pixel counts the "on" pixels of a 4x4 block of the original
    32x32 bitmap, so values are integers in **[0, 16]** stored as float64;
    scale them yourself (e.g. ``X / 16`` or a :class:`Standardizer`).

    Returns ``(X, y)``: X (1797, 64) float64 (row-major 8x8 images),
    y (1797,) int64 in 0..9; with ``return_images=True`` returns
    ``(images, y)`` with images (1797, 8, 8). Fresh copies on every call.

    Licence: CC BY 4.0; cite Alpaydin & Kaynak (1998), UCI Machine Learning
    Repository, https://doi.org/10.24432/C50P49 (see ``DIGITS_LICENSE.txt``).
    """
    X, y = _read_digits()
    X, y = X.copy(), y.copy()
    if V.boolean("load_digits", "return_images", return_images):
        return X.reshape(-1, 8, 8), y
    return X, y


# ----------------------------------------------------------------------------- IDX / MNIST

# IDX type codes -> big-endian numpy dtypes (http://yann.lecun.com/exdb/mnist/).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path):
    """Read one IDX file (gzip-compressed when the name ends in ``.gz``) into an array.

    The header is two zero bytes, a type code, the number of dimensions and
    one big-endian uint32 per dimension; the data follow. Raises ``TypeError`` for a
    path that is not a file name, ``FileNotFoundError`` for a file that does not exist
    (or a folder), ``ValueError`` for a bad header (wrong magic), a truncated file or
    trailing bytes.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"read_idx: expected path as a file name (str or Path), got {path!r}")
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise FileNotFoundError(
            f"read_idx: expected an IDX file (e.g. train-images-idx3-ubyte[.gz]), but "
            f"{path.resolve()} {what}"
        )
    if path.suffix == ".gz":
        try:
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise ValueError(f"read_idx: {path} is not a valid gzip file: {exc}") from exc
    else:
        raw = path.read_bytes()

    if len(raw) < 4:
        raise ValueError(f"read_idx: {path} is too short for an IDX header ({len(raw)} bytes)")
    zero, code, ndim = int.from_bytes(raw[:2], "big"), raw[2], raw[3]
    if zero != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(
            f"read_idx: {path} is not an IDX file: magic bytes {raw[:4].hex()} "
            "(expected 0000 then a type code 08/09/0b/0c/0d/0e and a dimension count)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated inside its header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "longer than its header says"
        raise ValueError(
            f"read_idx: {path} is {what}: header says shape {shape} of {dtype.name} "
            f"({expected} bytes in all), file has {len(raw)} bytes"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find(folder, stem):
    for name in (stem, stem + ".gz"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def load_mnist(path, kind="train", flatten=True, dtype=np.float32):
    """Read MNIST or Fashion-MNIST from the standard IDX files in folder ``path``.

    ``kind="train"`` reads ``train-images-idx3-ubyte`` and
    ``train-labels-idx1-ubyte``, ``kind="t10k"`` (alias ``"test"``) the
    ``t10k-...`` pair; each may be gzip-compressed (``.gz`` appended).

    Returns ``(X, y)``: X (N, 784) of ``dtype`` with raw pixel values in
    **[0, 255]** (``(N, 28, 28)`` when ``flatten=False``), y (N,) int64.

    Raises ``FileNotFoundError`` naming the files expected and the folder,
    ``ValueError`` for a corrupt file or images and labels that do not match.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load_mnist: expected path as a folder name (str or Path), got {path!r}")
    flatten = V.boolean("load_mnist", "flatten", flatten)
    try:
        ok = dtype is not None and np.dtype(dtype).kind in "fiu"
    except TypeError:
        ok = False
    if not ok:
        raise TypeError(
            f"load_mnist: expected a numeric dtype (np.float32, np.uint8), got {dtype!r}"
        )
    kind = {"test": "t10k"}.get(kind, kind) if isinstance(kind, str) else kind
    if kind not in ("train", "t10k"):
        raise ValueError(f"load_mnist: kind must be 'train' or 't10k', got {kind!r}")
    folder = Path(os.fspath(path)).expanduser()
    stems = (f"{kind}-images-idx3-ubyte", f"{kind}-labels-idx1-ubyte")
    files = [_find(folder, stem) for stem in stems]
    missing = [stem for stem, f in zip(stems, files) if f is None]
    if missing:
        wanted = ", ".join(f"{s} (or {s}.gz)" for s in missing)
        raise FileNotFoundError(
            f"load_mnist: missing {wanted} in folder {folder.resolve()}. Put the MNIST or "
            "Fashion-MNIST IDX files there: train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (gzipped or not)."
        )
    images, labels = read_idx(files[0]), read_idx(files[1])
    if images.ndim != 3:
        raise ValueError(
            f"load_mnist: {files[0]} should hold images (N, rows, cols), got shape {images.shape}"
        )
    if labels.ndim != 1:
        raise ValueError(f"load_mnist: {files[1]} should hold labels (N,), got {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(
            f"load_mnist: {len(images)} images in {files[0].name} "
            f"but {len(labels)} labels in {files[1].name}"
        )
    X = images.reshape(len(images), -1) if flatten else images
    return X.astype(dtype), labels.astype(np.int64)
