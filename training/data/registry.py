"""The data set registry: what a data set is (`Dataset`, `Split`), its modality, and one loader
interface (`load_dataset(name, path=None)`) over every registered data set.

A loader module registers each data set once with `@register_dataset(...)`; callers never ask
for a data set by an if-chain on its name.
"""

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

# The kinds of arrays a data set can hold; `prepare` and the models read this, not the name.
MODALITIES = {
    "image": "float32 [N, H, W, C] in [0, 1] (grey or colour); binarization protocols apply",
    "palette_image": "int32 [N, H, W] palette indices; info['palette'] is float32 [K, 3] RGB "
                     "in [0, 1]",
    "piano_roll": "float32 binary [N, T, 88] (MIDI pitches 21..108) padded to the longest "
                  "sequence; each Split carries int32 lengths [N] and a [N, T] mask",
}


class DataError(ValueError):
    """A data file that is missing, corrupt or holds images of the wrong shape or range."""


@dataclass
class Split:
    """One part (train, validation or test) of a data set.

    Args:
        x: the examples, [N, ...] in the layout of the data set's modality.
        y: integer labels [N]; -1 everywhere when the data set has no labels.
        lengths: int32 [N] number of valid time steps of each sequence (piano rolls), else None.
    """

    x: np.ndarray
    y: np.ndarray
    lengths: Optional[np.ndarray] = None

    @property
    def mask(self):
        """[N, T] float32, 1 where t < length (sequences only; None without lengths)."""
        if self.lengths is None:
            return None
        steps = np.arange(self.x.shape[1])
        return (steps[None, :] < np.asarray(self.lengths)[:, None]).astype(np.float32)


@dataclass
class Dataset:
    """A train / validation / test split and where it came from.

    Args:
        name: the registered name ("mnist", "pokemon", ...).
        train, validation, test: the three `Split`s.
        source: where the arrays were read from (a path, a package, a download).
        info: extra facts about the data (the palette, the split protocol, ...).
        modality: one of `MODALITIES`; says how to read `x`.
    """

    name: str
    train: Split
    validation: Split
    test: Split
    source: str
    info: dict = field(default_factory=dict)
    modality: str = "image"

    @property
    def event_shape(self):
        """Shape of one example (without the batch dimension)."""
        return tuple(self.train.x.shape[1:])


@dataclass(frozen=True)
class DatasetSpec:
    """A registered data set.

    Args:
        name: the name `load_dataset` takes.
        loader: callable `(path=None) -> Dataset` (called without arguments when
            `accepts_path` is False).
        modality: one of `MODALITIES`.
        description: one line shown by `list_datasets`.
        accepts_path: whether the user may point the loader at their own copy.
    """

    name: str
    loader: Callable
    modality: str
    description: str
    accepts_path: bool = False


DATASETS = {}  # name -> DatasetSpec


def register_dataset(name, modality, description, accepts_path=False):
    """Decorator that registers a loader function under `name`."""
    if modality not in MODALITIES:
        raise ValueError(f"Unknown modality {modality!r}; choose one of: "
                         f"{', '.join(MODALITIES)}.")

    def register(loader):
        if name in DATASETS and DATASETS[name].loader is not loader:
            raise ValueError(f"A data set named {name!r} is already registered.")
        DATASETS[name] = DatasetSpec(name, loader, modality, description, accepts_path)
        return loader

    return register


def _spec(name):
    if name not in DATASETS:
        raise DataError(f"Unknown dataset {name!r}; choose one of: {', '.join(sorted(DATASETS))}.")
    return DATASETS[name]


def dataset_modality(name):
    """The modality of the registered data set `name`."""
    return _spec(name).modality


def list_datasets():
    """[(name, modality, description)] of every registered data set, sorted by name."""
    return [(s.name, s.modality, s.description) for _, s in sorted(DATASETS.items())]


def load_dataset(name, path=None):
    """The data set called `name`; `path` points a path-accepting loader at the user's copy."""
    spec = _spec(name)
    if path and not spec.accepts_path:
        takes = sorted(n for n, s in DATASETS.items() if s.accepts_path)
        raise DataError(f"Data set {name!r} reads no files, so it takes no --data-path; a path "
                        f"applies to: {', '.join(takes)}.")
    dataset = spec.loader(path) if spec.accepts_path else spec.loader()
    if dataset.modality != spec.modality:
        raise DataError(f"The loader of {name!r} returned {dataset.modality!r} data but the data "
                        f"set is registered as {spec.modality!r}; fix the loader or its "
                        "registration.")
    return dataset


def check_images(x, name, event_shape=None):
    """Raises DataError unless x is a finite float array in [0, 1] of the expected shape."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise DataError(f"{name}: expected a batch of images, got an array of shape {x.shape}.")
    if x.shape[0] == 0:  # min() and max() of nothing would fail with a numpy message
        raise DataError(f"{name}: the array holds no images (shape {x.shape}).")
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
