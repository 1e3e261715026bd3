"""The digits split and the MNIST IDX / npz loaders, on small files the tests write."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from ch01_nn.data import MNIST_FILES, load_dataset, load_mnist, read_idx, write_idx
from llmpath_core import UserError


def test_digits_split_is_stratified_and_disjoint(digits):
    assert (len(digits.y_train), len(digits.y_val), len(digits.y_test)) == (1257, 180, 360)
    assert digits.features == 64 and digits.classes == 10
    assert digits.x_train.min() >= 0.0 and digits.x_train.max() <= 1.0
    rows = {r.tobytes() for r in digits.x_test}
    assert not any(r.tobytes() in rows for r in digits.x_val)
    counts = np.bincount(digits.y_test, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38  # 20 % of each class


def fake_mnist(folder, n_train=24, n_test=10, gz=False):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, size=(n_train, 28, 28)),
        "y_train": rng.integers(0, 10, size=n_train),
        "x_test": rng.integers(0, 256, size=(n_test, 28, 28)),
        "y_test": rng.integers(0, 10, size=n_test),
    }
    for key, stem in MNIST_FILES.items():
        path = write_idx(folder / stem, arrays[key])
        if gz:
            path.with_name(stem + ".gz").write_bytes(gzip.compress(path.read_bytes()))
            path.unlink()
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_idx_folder_round_trip(tmp_path, gz):
    arrays = fake_mnist(tmp_path, gz=gz)
    np.testing.assert_array_equal(
        read_idx(tmp_path / ("train-images-idx3-ubyte" + (".gz" if gz else ""))),
        arrays["x_train"],
    )
    data = load_mnist(tmp_path)
    assert data.features == 784
    assert len(data.y_train) + len(data.y_val) == 24 and len(data.y_test) == 10
    np.testing.assert_allclose(data.x_test, arrays["x_test"].reshape(10, -1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])


def test_npz_archive(tmp_path):
    arrays = fake_mnist(tmp_path)
    np.savez(tmp_path / "mnist.npz", **{k: v.astype(np.uint8) for k, v in arrays.items()})
    data = load_dataset(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(data.y_test, arrays["y_test"])
    np.savez(tmp_path / "bad.npz", x_train=arrays["x_train"])
    with pytest.raises(UserError, match="lacks"):
        load_mnist(tmp_path / "bad.npz")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda b: b"\x01" + b[1:], "two zero bytes"),
        (lambda b: b[:2] + b"\x42" + b[3:], "data type"),
        (lambda b: b[:-5], "found"),
        (lambda b: b[:6], "truncated header"),
    ],
)
def test_corrupt_idx_is_a_user_error(tmp_path, damage, message):
    fake_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(UserError, match=message):
        load_mnist(tmp_path)


def test_label_count_mismatch_and_missing_files(tmp_path):
    fake_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3))
    with pytest.raises(UserError, match="must match"):
        load_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(UserError, match="no t10k-labels"):
        load_mnist(tmp_path)
