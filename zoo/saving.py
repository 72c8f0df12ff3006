"""Model folders: config, weights, metadata (with sha256 of every file) and metrics, written
atomically (a temporary folder renamed into place) and verified on load."""

import hashlib
import json
import os
import shutil
import tempfile

import keras

from zoo.atomic import write_bytes, write_json, write_text  # noqa: F401 (re-exported)

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
METRICS_FILE = "metrics.json"
FORMAT_VERSION = 1


class ModelFolderError(ValueError):
    """A model folder that is missing, incomplete, tampered with or from another version."""


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_files(folder):
    """Paths of all files under `folder`, relative to it, with '/' separators, sorted."""
    found = []
    for root, _, files in os.walk(folder):
        for name in files:
            found.append(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
    return sorted(found)


def replace_folder(source, target):
    """Moves the finished folder `source` to `target`; an existing `target` is kept until then."""
    target = os.path.abspath(target)
    old = None
    if os.path.exists(target):
        old = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.old-")
        os.rmdir(old)
        os.replace(target, old)
    os.replace(source, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def save_model_folder(model, folder, metadata=None, metrics=None, write_extra=None,
                      include_optimizer=True):
    """Writes `model` to `folder` atomically.

    Args:
        model: a zoo model.
        folder: destination; a previous folder there is replaced only once the new one is complete.
        metadata: dict merged into metadata.json (recipe, seed, data protocol, ...).
        metrics: dict written to metrics.json.
        write_extra: optional `fn(tmp_folder)` writing more files (pictures) before the rename.
        include_optimizer: keep the optimizer state with the weights (for resuming training);
            presets leave it out, which makes them three times smaller.
    """
    folder = os.path.abspath(folder)
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(folder)}.tmp-")
    os.chmod(tmp, 0o755)
    try:
        config = keras.saving.serialize_keras_object(model)
        config.pop("compile_config", None)  # the loader compiles; the config is architecture only
        write_json(os.path.join(tmp, CONFIG_FILE), config)
        optimizer = getattr(model, "optimizer", None)
        saved_optimizer = None
        if optimizer is None or (include_optimizer and optimizer.built):
            model.save_weights(os.path.join(tmp, WEIGHTS_FILE))
            if optimizer is not None:  # its config (e.g. a learning-rate schedule) goes along,
                # so that the loader rebuilds the same optimizer variables and restores them
                saved_optimizer = keras.saving.serialize_keras_object(optimizer)
        else:
            bare = type(model).from_config(model.get_config())
            bare.set_weights(model.get_weights())
            bare.save_weights(os.path.join(tmp, WEIGHTS_FILE))
        if metrics is not None:
            write_json(os.path.join(tmp, METRICS_FILE), metrics)
        if write_extra is not None:
            write_extra(tmp)
        meta = dict(metadata or {})
        meta["format_version"] = FORMAT_VERSION
        meta["model_class"] = type(model).__name__
        meta["versions"] = library_versions()
        if saved_optimizer is not None:
            meta["optimizer"] = saved_optimizer
        meta["sha256"] = {name: sha256(os.path.join(tmp, name))
                          for name in list_files(tmp) if name != METADATA_FILE}
        write_json(os.path.join(tmp, METADATA_FILE), meta)
        replace_folder(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ModelFolderError(f"{path} is not valid JSON ({e}); the file is corrupt.") from None


def verify_folder(folder):
    """Checks that every file listed in metadata.json is present and has its recorded sha256."""
    meta_path = os.path.join(folder, METADATA_FILE)
    if not os.path.isdir(folder):
        raise ModelFolderError(f"No model folder at {folder}.")
    if not os.path.exists(meta_path):
        raise ModelFolderError(f"{folder} has no {METADATA_FILE}; it is not a complete model folder.")
    meta = read_json(meta_path)
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFolderError(
            f"{folder} was written in model-folder format {meta.get('format_version')!r}; this "
            f"version of the zoo reads format {FORMAT_VERSION}. Re-export it with a matching version."
        )
    saved_keras = str(meta.get("versions", {}).get("keras", keras.__version__))
    if saved_keras.split(".")[0] != keras.__version__.split(".")[0]:
        raise ModelFolderError(
            f"{folder} was saved with Keras {saved_keras}; this is Keras {keras.__version__}, "
            "whose weight format differs. Use a matching Keras or re-save the model.")
    for name, expected in meta.get("sha256", {}).items():
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            raise ModelFolderError(f"{folder} is missing {name}.")
        if sha256(path) != expected:
            raise ModelFolderError(
                f"{path} does not match the sha256 recorded in {METADATA_FILE}: the file is "
                "truncated or was modified. Restore the folder or retrain."
            )
    return meta


def load_model_folder(folder, compile=True, learning_rate=1e-3):
    """Loads a model folder written by `save_model_folder`, verifying its files first.

    The config is deserialized in Keras safe mode; the model comes back compiled, ready for
    `fit`: with the saved optimizer (its config from metadata.json, its state from the weights
    file) when the folder holds one, else with Adam(learning_rate).
    """
    verify_folder(folder)
    config = read_json(os.path.join(folder, CONFIG_FILE))
    model = keras.saving.deserialize_keras_object(config, safe_mode=True)
    weights = os.path.join(folder, WEIGHTS_FILE)
    if compile and has_optimizer_state(weights):
        saved = read_json(os.path.join(folder, METADATA_FILE)).get("optimizer")
        optimizer = keras.optimizers.Adam(learning_rate) if saved is None else \
            keras.saving.deserialize_keras_object(saved, safe_mode=True)
        model.compile(optimizer=optimizer)
        model.optimizer.build(model.trainable_variables)
        model.load_weights(weights)
    else:  # weights only (a preset): load before compiling, so no optimizer state is expected
        model.load_weights(weights)
        if compile:
            model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def has_optimizer_state(weights_path):
    """Whether a Keras .weights.h5 file holds optimizer variables."""
    import h5py

    with h5py.File(weights_path, "r") as f:
        return "optimizer" in f and len(f["optimizer"].get("vars", {})) > 0


def library_versions():
    import numpy
    import tensorflow
    import tensorflow_probability

    return {"tensorflow": tensorflow.__version__, "keras": keras.__version__,
            "tensorflow_probability": tensorflow_probability.__version__,
            "numpy": numpy.__version__}


def update_folder_files(folder, metrics=None, files=None, metadata=None):
    """Merges `metrics` into metrics.json, `metadata` into metadata.json and/or writes `files`
    ({name: bytes}) in a verified folder, then re-records the sha256s; each file is replaced
    atomically."""
    meta = verify_folder(folder)
    meta.update(metadata or {})
    if metrics is not None:
        path = os.path.join(folder, METRICS_FILE)
        current = read_json(path) if os.path.exists(path) else {}
        current.update(metrics)
        write_json(path, current)
    for name, data in (files or {}).items():
        write_bytes(os.path.join(folder, name), data)
    meta["sha256"] = {name: sha256(os.path.join(folder, name))
                      for name in list_files(folder) if name != METADATA_FILE}
    write_json(os.path.join(folder, METADATA_FILE), meta)
    return read_json(os.path.join(folder, METRICS_FILE)) if metrics is not None else None
