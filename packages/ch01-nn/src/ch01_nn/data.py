"""Handwritten digits: scikit-learn's bundled 8×8 ``load_digits`` (default) and real MNIST files.

``load_digits`` ships inside scikit-learn (1,797 images, 64 pixels in 0..16), so every lab runs
offline. :func:`load_mnist` reads the real MNIST set from either

- the four IDX files LeCun distributes (``train-images-idx3-ubyte`` etc., optionally ``.gz``) in a
  folder, parsed from the format's header: two zero bytes, a type code (``0x08`` = unsigned
  byte), the number of dimensions, then one big-endian 32-bit size per dimension; or
- an ``.npz`` archive with ``x_train, y_train, x_test, y_test`` (the layout of Keras'
  ``mnist.npz``).

Anything that does not fit (bad magic, truncated data, label/image counts that disagree) raises
:class:`~llmpath_core.UserError` with a one-line reason. Pixels are scaled to [0, 1].
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from llmpath_core import UserError

IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass
class Dataset:
    """Flattened float32 features and int64 labels, split into train / validation / test."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def features(self) -> int:
        return self.x_train.shape[1]

    @property
    def classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    def subset(self, n_train: int, seed: int = 0) -> Dataset:
        """The same splits with only ``n_train`` training examples (stratified draw)."""
        if n_train >= len(self.y_train):
            return self
        from sklearn.model_selection import train_test_split

        x, _, y, _ = train_test_split(
            self.x_train, self.y_train, train_size=n_train, stratify=self.y_train,
            random_state=seed,
        )  # fmt: skip
        return Dataset(self.name, x, y, self.x_val, self.y_val, self.x_test, self.y_test)

    def summary(self) -> dict[str, int | str]:
        return {
            "data": self.name,
            "train": len(self.y_train),
            "validation": len(self.y_val),
            "test": len(self.y_test),
            "features": self.features,
            "classes": self.classes,
        }


def load_digits_split(val_fraction: float = 0.1, test_fraction: float = 0.2) -> Dataset:
    """scikit-learn's digits, pixels / 16, split 72/8/20 % (stratified, fixed seed 0)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=0
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_fraction / (1 - test_fraction), stratify=y_rest,
        random_state=0,
    )  # fmt: skip
    return Dataset("digits", x_train, y_train, x_val, y_val, x_test, y_test)


def read_idx(path: str | Path) -> np.ndarray:
    """One IDX file (optionally gzip-compressed) as a NumPy array of its declared shape."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UserError(f"corrupt IDX file {path}: bad gzip data ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise UserError(f"corrupt IDX file {path}: the header must start with two zero bytes")
    code, ndim = raw[2], raw[3]
    if code not in IDX_TYPES:
        raise UserError(f"corrupt IDX file {path}: unknown data type code 0x{code:02x}")
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise UserError(f"corrupt IDX file {path}: truncated header ({ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dtype = IDX_TYPES[code]
    expected = int(np.prod(shape)) * dtype.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) != expected:
        raise UserError(
            f"corrupt IDX file {path}: header says {shape} = {expected} bytes of data, "
            f"found {len(body)}"
        )
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` (uint8) in IDX format: the tests make small MNIST-shaped files with it."""
    from llmpath_core.io import atomic_write

    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with atomic_write(path, "wb") as handle:
        handle.write(header + array.tobytes())
    return Path(path)


def _find(folder: Path, stem: str) -> Path:
    for name in (
        stem,
        stem.replace("-idx", ".idx"),
        f"{stem}.gz",
        f"{stem.replace('-idx', '.idx')}.gz",
    ):
        if (folder / name).is_file():
            return folder / name
    raise UserError(f"no {stem}[.gz] in {folder}: an MNIST folder holds the four IDX files")


def _split_validation(name, x_train, y_train, x_test, y_test, val_fraction) -> Dataset:
    n_val = round(len(y_train) * val_fraction)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y_train))
    val, train = order[:n_val], order[n_val:]
    return Dataset(name, x_train[train], y_train[train], x_train[val], y_train[val], x_test, y_test)


def _check_pair(x: np.ndarray, y: np.ndarray, which: str, source: Path) -> None:
    if x.ndim < 2:
        raise UserError(f"{source}: {which} images must have at least 2 dimensions, got {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise UserError(
            f"{source}: {len(x)} {which} images but labels of shape {y.shape}: they must match"
        )


def load_mnist(path: str | Path, val_fraction: float = 1 / 12) -> Dataset:
    """MNIST (or any IDX/npz set of images and labels) from a folder of IDX files or an ``.npz``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(2, "No such file or directory", str(path))
    if path.is_dir():
        arrays = {key: read_idx(_find(path, stem)) for key, stem in MNIST_FILES.items()}
    elif path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                missing = [k for k in MNIST_FILES if k not in archive.files]
                if missing:
                    raise UserError(
                        f"{path} lacks {', '.join(missing)}: expected {list(MNIST_FILES)}"
                    )
                arrays = {k: archive[k] for k in MNIST_FILES}
        except (ValueError, OSError, EOFError) as exc:
            raise UserError(f"cannot read {path} as .npz: {exc}") from None
    else:
        raise UserError(f"{path}: give a folder of MNIST IDX files or an .npz archive")
    _check_pair(arrays["x_train"], arrays["y_train"], "training", path)
    _check_pair(arrays["x_test"], arrays["y_test"], "test", path)
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise UserError(f"{path}: training and test images have different shapes")

    def prep(x: np.ndarray) -> np.ndarray:
        x = x.reshape(len(x), -1).astype(np.float32)
        top = float(x.max()) if x.size else 1.0
        return x / (255.0 if top > 1.0 else 1.0)

    y_train = arrays["y_train"].astype(np.int64)
    y_test = arrays["y_test"].astype(np.int64)
    if min(y_train.min(initial=0), y_test.min(initial=0)) < 0:
        raise UserError(f"{path}: labels must be non-negative class ids")
    return _split_validation(
        path.name, prep(arrays["x_train"]), y_train, prep(arrays["x_test"]), y_test, val_fraction
    )


def load_dataset(source: str | Path = "digits") -> Dataset:
    """``"digits"`` (bundled) or a path to MNIST IDX files / an ``.npz``."""
    if str(source) == "digits":
        return load_digits_split()
    return load_mnist(source)


__all__ = ["Dataset", "load_dataset", "load_digits_split", "load_mnist", "read_idx", "write_idx"]
