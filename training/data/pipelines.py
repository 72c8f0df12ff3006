"""From a `Dataset` to training arrays and tf.data pipelines.

`prepare` applies a data protocol according to the data set's modality: binarization (dynamic,
static or none) for images; palette images and piano rolls are used as they are. The pipelines
shuffle, batch, shard across workers and draw dynamic binarizations per batch.
"""

import numpy as np
import tensorflow as tf

from training.data.registry import DataError

TEST_BINARIZATION_SEED = 0  # the fixed seed of the binarized test (and validation) set
STATIC_BINARIZATION_SEED = 1  # the fixed seed of the statically binarized training set
BINARIZATIONS = ("dynamic", "static", "none")


def binarize(x, seed):
    """A fixed Bernoulli binarization: pixel ~ Bernoulli(grey level), drawn with `seed`."""
    rng = np.random.default_rng(seed)
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def _labels(split):
    """The split's labels, or -1 for each example when the data set has none."""
    if split.y is None:
        return np.full(len(split.x), -1, np.int64)
    return split.y


def _arrays(dataset, x_train, x_val, x_test, dynamic, protocol):
    return {"x_train": x_train, "y_train": _labels(dataset.train), "x_val": x_val,
            "y_val": _labels(dataset.validation), "x_test": x_test,
            "y_test": _labels(dataset.test), "dynamic": dynamic, "protocol": protocol,
            "modality": dataset.modality}


def _prepare_image(dataset, binarization):
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
    return _arrays(dataset, x_train, x_val, x_test, binarization == "dynamic", protocol)


def _prepare_palette(dataset, binarization):
    palette = dataset.info["palette"]
    protocol = (f"palette indices into {len(palette)} colours, {dataset.event_shape[0]}x"
                f"{dataset.event_shape[1]} images; {dataset.info.get('split', 'split given')}")
    arrays = _arrays(dataset, dataset.train.x, dataset.validation.x, dataset.test.x, False,
                     protocol)
    return {**arrays, "palette": palette}


def _prepare_piano_roll(dataset, binarization):
    protocol = (f"binary piano rolls (88 keys, MIDI 21..108) padded to {dataset.event_shape[0]} "
                "steps; losses and NLLs count only the steps t < length of each sequence")
    if dataset.info.get("note"):
        protocol += f" ({dataset.info['note']})"
    arrays = _arrays(dataset, dataset.train.x, dataset.validation.x, dataset.test.x, False,
                     protocol)
    return {**arrays, "lengths_train": dataset.train.lengths,
            "lengths_val": dataset.validation.lengths, "lengths_test": dataset.test.lengths,
            "mask_train": dataset.train.mask, "mask_val": dataset.validation.mask,
            "mask_test": dataset.test.mask}


_PREPARERS = {"image": _prepare_image, "palette_image": _prepare_palette,
              "piano_roll": _prepare_piano_roll}


def prepare(dataset, binarization="dynamic"):
    """Arrays for training and evaluation under a data protocol.

    Images take a binarization protocol:
    dynamic: training images stay grey (a fresh Bernoulli sample is drawn per batch by the
        pipeline); validation and test are binarized once with fixed seeds.
    static: training images are binarized once (seed STATIC_BINARIZATION_SEED), as are
        validation and test.
    none: grey levels everywhere (for Gaussian likelihoods).
    Palette images and piano rolls are already discrete: they accept only "none".

    Returns:
        dict with x_train, x_val, x_test, y_* (-1 where there are no labels), `dynamic` (bool),
        `protocol` (text) and `modality`; palette images add `palette`, piano rolls add
        lengths_* [N] and mask_* [N, T] (1 for the steps each sequence has) of each split.
    """
    if binarization not in BINARIZATIONS:
        raise DataError(f"Unknown binarization {binarization!r}; choose one of {BINARIZATIONS}.")
    if dataset.modality not in _PREPARERS:
        raise DataError(f"Data set {dataset.name!r} has unknown modality {dataset.modality!r}; "
                        f"expected one of: {', '.join(_PREPARERS)}.")
    if dataset.modality != "image" and binarization != "none":
        raise DataError(f"Binarization {binarization!r} applies to images only; data set "
                        f"{dataset.name!r} has modality {dataset.modality!r}: use binarization "
                        "'none'.")
    return _PREPARERS[dataset.modality](dataset, binarization)


def without_classes(arrays, classes):
    """`arrays` (from `prepare`) with the training and validation examples of `classes` left
    out; the test split keeps every class (the anomaly-detection protocol: train on the normal
    classes, score the full test set). DataError when the data have no labels or a class has
    no training examples."""
    classes = sorted({int(c) for c in classes})
    y_train = np.asarray(arrays["y_train"])
    if (y_train < 0).all():
        raise DataError("--exclude-classes needs labelled data; this data set has no labels.")
    missing = [c for c in classes if not (y_train == c).any()]
    if missing:
        raise DataError(f"--exclude-classes: no training example has class "
                        f"{', '.join(map(str, missing))} (classes present: "
                        f"{', '.join(map(str, np.unique(y_train[y_train >= 0])))}).")
    kept = dict(arrays)
    for split in ("train", "val"):
        keep = ~np.isin(np.asarray(arrays[f"y_{split}"]), classes)
        if not keep.any():
            raise DataError(f"--exclude-classes {','.join(map(str, classes))} leaves no "
                            f"{split} examples.")
        for key, value in arrays.items():
            if key.endswith(f"_{split}") and isinstance(value, np.ndarray) and \
                    len(value) == len(keep):
                kept[key] = value[keep]
    kept["protocol"] = (f"{arrays.get('protocol', '')}; classes {', '.join(map(str, classes))} "
                        "left out of training and validation (the test set keeps them)")
    return kept


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
                             dynamic_binarization, seed=0, shard=None):
    """Batches of `batch_size` unlabelled images (label -1) followed by `labelled_per_batch`
    images drawn (with reshuffling, repeatedly) from the few labelled ones.

    One epoch is one pass over the unlabelled images. Yields (x, labels) with labels -1 for
    the unlabelled part, the way semi-supervised models read a batch. `shard` = (index,
    count) keeps every count-th unlabelled image from `index` (one worker's share); every
    worker still draws from all the labelled images (there are too few to split), with seed
    `seed + index` so that workers draw different labelled batches.
    """
    mask = np.zeros(len(x), bool)
    mask[labelled] = True
    x_unlabelled = x[~mask]
    if shard is not None:
        index, count = shard
        if not 0 <= index < count:
            raise DataError(f"Shard {shard} is not (index, count) with 0 <= index < count.")
        x_unlabelled = x_unlabelled[index::count]
        if not len(x_unlabelled):
            raise DataError(f"Shard {shard} holds no unlabelled images: there are fewer "
                            f"unlabelled images ({(~mask).sum()}) than workers ({count}).")
        seed = seed + index
    num_unlabelled = len(x_unlabelled)
    unlabelled = tf.data.Dataset.from_tensor_slices(
        (x_unlabelled, np.full(num_unlabelled, -1, np.int32)))
    unlabelled = unlabelled.shuffle(min(len(x), 60000), seed=seed, reshuffle_each_iteration=True)
    unlabelled = unlabelled.batch(batch_size, drop_remainder=num_unlabelled >= batch_size)
    known = tf.data.Dataset.from_tensor_slices((x[mask], y[mask].astype(np.int32)))
    known = known.shuffle(int(mask.sum()), seed=seed + 1, reshuffle_each_iteration=True)
    known = known.repeat().batch(labelled_per_batch)
    ds = tf.data.Dataset.zip(unlabelled, known).map(
        lambda u, k: (tf.concat([u[0], k[0]], 0), tf.concat([u[1], k[1]], 0)))
    return _binarized(ds, dynamic_binarization, seed).prefetch(tf.data.AUTOTUNE)


def batch_targets(capabilities, arrays, split):
    """The `y` that batches of `split` ("train", "val" or "test") carry for a model with these
    capabilities (`training_targets`), or None (batches of x only): the labels; each image's
    position in the training set (-1 outside it: nothing is left out); or the step masks of
    sequences."""
    targets = capabilities.training_targets
    if targets is None:
        return None
    if targets == "labels":
        return arrays[f"y_{split}"].astype(np.int32)
    if targets == "index":
        n = len(arrays[f"x_{split}"])
        return np.arange(n, dtype=np.int32) if split == "train" else np.full(n, -1, np.int32)
    if targets == "mask":
        return arrays[f"mask_{split}"]
    raise ValueError(f"Unknown training targets {targets!r}.")


def method_targets(capabilities, arrays, split):
    """What the model's methods take besides x (as `model.conditioning(y)`) on `split`: the
    labels of a conditional model, the step masks of a sequence model, else None."""
    if capabilities.conditional:
        return arrays[f"y_{split}"].astype(np.int32)
    if capabilities.training_targets == "mask":
        return arrays[f"mask_{split}"]
    return None


def eval_pipeline(x, batch_size, y=None):
    """Batched, prefetched, unshuffled pipeline (of (x, y) pairs when y is given)."""
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
