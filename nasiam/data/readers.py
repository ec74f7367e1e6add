"""Readers for the datasets' own on-disk formats.

They never unpickle arbitrary objects: CIFAR's python batches are pickles, so they go through
an unpickler that accepts nothing but builtin containers and numpy arrays. torchvision's own
CIFAR/STL-10 classes would refuse any file whose md5 differs from the official one (tests
write tiny files in the real format) and, for CIFAR, unpickle without such a restriction.
"""
from __future__ import annotations

import errno
import gzip
import os
import pickle
from pathlib import Path

import numpy as np

__all__ = ["read_cifar_batches", "read_idx", "read_stl10_images", "read_stl10_labels", "DataNotFoundError"]


class DataNotFoundError(FileNotFoundError):
    """A dataset is not where it was looked for. The message says where to put it."""


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, numbers and numpy arrays; any other global is refused,
    so a crafted file cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR batch holds only arrays and lists")


def read_cifar_batches(files: list[Path], label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR python batches -> (N, 32, 32, 3) uint8 images and (N,) int64 labels."""
    images, labels = [], []
    for path in files:
        data, batch_labels = _cifar_batch(path, label_key)
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(batch_labels)
    return np.concatenate(images), np.concatenate(labels)


def _cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch file's (N, 3072) uint8 pixels and (N,) int64 labels, checked against the format
    (CIFAR's own batches hold exactly these). Each batch's labels are compared with its own
    images: comparing only the totals let one batch's extra label shift every label after it."""
    try:
        with open(path, "rb") as f:
            batch = _ArrayOnlyUnpickler(f, encoding="latin1").load()
    except OSError as e:
        raise _unreadable(path, e) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            MemoryError) as e:
        raise ValueError(f"{path}: not a CIFAR python batch ({type(e).__name__}: {e})") from None
    if not isinstance(batch, dict) or "data" not in batch or label_key not in batch:
        raise ValueError(f"{path}: not a CIFAR python batch (expected keys 'data' and {label_key!r})")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        found = f"an array of {data.dtype} of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{path}: 'data' is {found}, where a CIFAR batch holds a uint8 array of shape (N, 3072); "
                         "the file is damaged or not a CIFAR batch")
    try:
        labels = np.asarray(batch[label_key])
    except (ValueError, TypeError):   # a ragged list
        labels = np.asarray(None)
    if labels.ndim != 1 or (labels.dtype.kind not in "iu" and labels.size):
        raise ValueError(f"{path}: {label_key!r} is not a list of whole-number class labels (found "
                         f"{_shown_labels(batch[label_key])}); the file is damaged or not a CIFAR batch")
    if len(labels) != len(data):
        raise ValueError(f"{path}: {len(data)} images but {len(labels)} labels; the file is damaged (a label "
                         "too many or too few would give every later image its neighbour's label)")
    return data, labels.astype(np.int64)


def _shown_labels(labels) -> str:
    """What a batch's labels are, in a few words (never their whole text)."""
    if isinstance(labels, np.ndarray):
        return f"an array of {labels.dtype} of shape {labels.shape}"
    if isinstance(labels, (list, tuple)):
        kinds = sorted({type(v).__name__ for v in labels})
        return f"a {type(labels).__name__} of {', '.join(kinds[:4]) or 'nothing'}"
    return type(labels).__name__


def _unreadable(path: Path, e: OSError) -> ValueError:
    """A data file that the system could not read (a folder in its place, no permission, an I/O
    error, no memory to map it): the file named, and that it was being read, not written."""
    reason = e.strerror or str(e)
    hint = (" (memory-mapping a file needs as much free address space as the file is large: is it the "
            "size it should be, and is `ulimit -v` set?)" if e.errno == errno.ENOMEM else "")
    return ValueError(f"{path}: cannot read this data file ({reason}){hint}; check the files under --data_root")


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


MAX_IDX_BYTES = 1 << 31   # 2 GiB: Fashion-MNIST's largest file holds 47 MB


def read_idx(path: Path, item_shape: tuple[int, ...] | None = None, item_type: int | None = None) -> np.ndarray:
    """An IDX file (MNIST / Fashion-MNIST), gzip-compressed or not. The header is read first
    and no more is decompressed than it announces (at most MAX_IDX_BYTES): a small gzip
    bomb in the data folder cannot fill the memory. `item_shape` (each item's, () for labels)
    and `item_type` (an IDX type code: 0x08, unsigned bytes), where given, are what the file
    must hold: a dataset's files hold one shape and type, and any other would be trained on
    reshaped, cast or cut without a word."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES or not 1 <= magic[3] <= 4:
                raise ValueError(f"{path}: not an IDX file (bad magic number)")
            ndim, dtype = magic[3], np.dtype(_IDX_TYPES[magic[2]])
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise ValueError(f"{path}: not an IDX file (its header is cut short)")
            shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big") for i in range(ndim))
            _check_idx_kind(path, shape, magic[2], item_shape, item_type)
            expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if expected > MAX_IDX_BYTES:
                raise ValueError(f"{path}: IDX header says shape {shape} ({expected} bytes), more than a dataset "
                                 f"file of this kind holds (at most {MAX_IDX_BYTES}); the file is damaged")
            data = f.read(expected + 1)   # one byte more tells a file longer than its header says
    except (OSError, EOFError) as e:
        raise ValueError(f"{path}: cannot read ({e})") from None
    if len(data) != expected:
        raise ValueError(f"{path}: IDX header says shape {shape} ({expected} bytes), file has "
                         f"{len(data) if len(data) <= expected else 'more'}")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _check_idx_kind(path: Path, shape: tuple[int, ...], type_code: int, item_shape: tuple[int, ...] | None,
                    item_type: int | None) -> None:
    if item_type is not None and type_code != item_type:
        raise ValueError(f"{path}: IDX type 0x{type_code:02X} ({np.dtype(_IDX_TYPES[type_code]).name}), where this "
                         f"file holds IDX type 0x{item_type:02X} ({np.dtype(_IDX_TYPES[item_type]).name}); the file "
                         "is damaged or not of this dataset")
    if item_shape is not None and shape[1:] != item_shape:
        expected = str(("N", *item_shape)).replace("'", "")   # (N,) or (N, 28, 28)
        raise ValueError(f"{path}: IDX header says shape {shape}, where this file holds {expected}; the file is "
                         "damaged or not of this dataset")


def read_stl10_images(path: Path) -> np.ndarray:
    """STL-10 binary images -> (N, 96, 96, 3) uint8, memory-mapped (the unlabeled split is
    2.7 GB). The file stores each image channel-major and column-major."""
    size = os.path.getsize(path)
    if size == 0:   # np.memmap cannot map an empty file
        raise ValueError(f"{path}: the file is empty, where it holds 96x96x3 images; the extraction was cut short? "
                         "Extract stl10_binary.tar.gz again")
    if size % (3 * 96 * 96):
        raise ValueError(f"{path}: {size} bytes is not a whole number of 96x96x3 images")
    try:
        raw = np.memmap(path, dtype=np.uint8, mode="r").reshape(-1, 3, 96, 96)
    except OSError as e:
        raise _unreadable(path, e) from None
    return raw.transpose(0, 3, 2, 1)


def read_stl10_labels(path: Path) -> np.ndarray:
    """STL-10 labels are 1..10 on disk; returned as 0..9."""
    try:
        labels = np.fromfile(path, dtype=np.uint8).astype(np.int64) - 1
    except OSError as e:   # a folder in its place, no permission
        raise _unreadable(path, e) from None
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels outside 1..10")
    return labels
