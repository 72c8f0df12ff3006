"""Model folders: config, weights, metadata (with sha256 of every file) and metrics, written
atomically (a temporary folder renamed into place) and verified on load.

A folder holds regular files only (a FIFO, a device or a link out of the folder is refused
before anything is opened). metadata.json's "sha256" manifest lists every other regular file
by relative path. `update_folder_files` first records the new files' hashes under
"sha256_pending" (a journal the verification accepts), then writes the files, then the final
manifest, so a kill at any point leaves a folder that verifies.
"""

import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile

import keras

from zoo.atomic import TMP_PREFIX, exchange, write_bytes, write_json, write_text  # noqa: F401

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
METRICS_FILE = "metrics.json"
FORMAT_VERSION = 1
PENDING_KEY = "sha256_pending"  # hashes of an update in progress (see update_folder_files)


class ModelFolderError(ValueError):
    """A model folder that is missing, incomplete, tampered with or from another version."""


def sha256(path):
    """The sha256 of a regular file (anything else is refused without blocking on it)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ModelFolderError(f"{path} is not a regular file; a model folder holds only "
                                   "regular files.")
        digest = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_files(folder, remove_temporary=False):
    """Paths of the regular files under `folder`, relative to it, with '/' separators, sorted;
    leftover temporary files (zoo.atomic.TMP_PREFIX) are skipped, or deleted with
    `remove_temporary`. Anything that is not a regular file, a folder or a link to one inside
    `folder` raises ModelFolderError at once (a FIFO would block a reader forever)."""
    root_real = os.path.realpath(folder)
    found = []
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, folder).replace(os.sep, "/")
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                real = os.path.realpath(path)
                if not real.startswith(root_real + os.sep) or not (
                        os.path.isfile(real) or os.path.isdir(real)):
                    raise ModelFolderError(
                        f"{path} is a link to {real}, outside the model folder (or to no regular "
                        "file); a model folder holds only its own files. Remove the link.")
                mode = os.stat(path).st_mode
                if stat.S_ISDIR(mode):
                    continue  # its files are listed under their real path
            elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise ModelFolderError(
                    f"{path} is not a regular file (a FIFO, socket or device); a model folder "
                    "holds only regular files. Remove it.")
            if stat.S_ISREG(mode):
                if name.startswith(TMP_PREFIX):
                    if remove_temporary:
                        os.remove(path)
                    continue
                found.append(relative)
    return sorted(found)


def manifest(folder):
    """{relative path: sha256} of the folder's regular files but metadata.json, after removing
    leftover temporary files."""
    return {name: sha256(os.path.join(folder, name))
            for name in list_files(folder, remove_temporary=True) if name != METADATA_FILE}


def check_manifest_name(folder, name):
    """Refuses a manifest entry that is not a relative path inside the folder."""
    parts = name.split("/") if isinstance(name, str) else [""]
    if (not name or name.startswith("/") or os.path.isabs(name) or "\\" in name
            or any(part in ("", ".", "..") for part in parts)):
        raise ModelFolderError(
            f"{os.path.join(folder, METADATA_FILE)} lists {name!r} in its sha256 manifest: only "
            "relative paths inside the folder are allowed (no absolute or '..' paths); the "
            "metadata was tampered with. Restore the folder or retrain.")
    return os.path.join(folder, *parts)


def is_model_folder(folder):
    """Whether `folder` holds a metadata.json with a format_version (a model folder, whole or
    damaged)."""
    path = os.path.join(folder, METADATA_FILE)
    if not os.path.isfile(path) or not stat.S_ISREG(os.lstat(path).st_mode):
        return False
    try:
        with open(path) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and "format_version" in meta


def check_target(folder, overwrite=False):
    """The absolute path of `folder` if a model folder may be written there: absent, an empty
    folder, or (with `overwrite`) a model folder; never the current folder, the home folder or
    a folder holding either. Raises ModelFolderError naming the problem otherwise."""
    if folder is None or not str(folder).strip():
        raise ModelFolderError("The model folder's name is empty; name a new folder, e.g. "
                               "runs/my_model.")
    path = os.path.abspath(folder)
    real = os.path.realpath(path)
    for protected, what in ((os.getcwd(), "the current folder"),
                            (os.path.expanduser("~"), "the home folder")):
        protected = os.path.realpath(protected)
        if real == protected or protected.startswith(real.rstrip(os.sep) + os.sep):
            raise ModelFolderError(
                f"Refusing to write a model folder at {path}: it is {what} or holds it, and "
                f"replacing it would delete its files. Name a new folder, e.g. "
                f"{os.path.join(folder, 'my_model')}.")
    if not os.path.lexists(path):
        return path
    if os.path.islink(path) or not os.path.isdir(path):
        raise ModelFolderError(f"{path} exists and is not a folder (a file or a link); "
                               "refusing to replace it. Choose another --out.")
    if not os.listdir(path):
        return path  # an empty folder may be used
    if not is_model_folder(path):
        raise ModelFolderError(
            f"{path} exists and is not a model folder (no {METADATA_FILE} with a "
            "format_version); refusing to replace it, which would delete its files. Choose a "
            "new or empty folder.")
    if not overwrite:
        raise ModelFolderError(
            f"{path} already holds a model; replacing it needs --overwrite (zoo.save(..., "
            "overwrite=True)), or choose another folder.")
    return path


def replace_folder(source, target, overwrite=True):
    """Moves the finished folder `source` to `target` (checked by `check_target`: absent, empty
    or, with `overwrite`, a model folder); an existing `target` is kept until then and, where
    the system can, swapped out in one atomic step."""
    target = check_target(target, overwrite=overwrite)
    if not os.path.exists(target):
        os.replace(source, target)
        return target
    if exchange(source, target):  # `source` now holds the previous folder
        shutil.rmtree(source, ignore_errors=True)
        return target
    old = tempfile.mkdtemp(dir=os.path.dirname(target), prefix=f".{os.path.basename(target)}.old-")
    os.rmdir(old)
    os.replace(target, old)
    try:
        os.replace(source, target)
    except BaseException:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return target


def write_error(folder, error):
    """A ModelFolderError saying why `folder` could not be written (full disk, permissions)."""
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded",
              errno.EACCES: "permission denied", errno.EPERM: "permission denied",
              errno.EROFS: "the file system is read-only"}.get(error.errno,
                                                                error.strerror or str(error))
    where = f" ({error.filename})" if error.filename else ""
    kept = ("the previous folder is unchanged" if os.path.isdir(folder)
            else "nothing was written there")
    return ModelFolderError(f"Cannot write the model folder {folder}: {reason}{where}; {kept}. "
                            "Free some space or pick a writable folder and save again.")


def save_model_folder(model, folder, metadata=None, metrics=None, write_extra=None,
                      include_optimizer=True, overwrite=False):
    """Writes `model` to `folder` atomically.

    Args:
        model: a zoo model.
        folder: destination: a new or empty folder, or with `overwrite` a model folder, which
            is replaced only once the new one is complete. Any other existing folder is refused.
        metadata: dict merged into metadata.json (recipe, seed, data protocol, ...).
        metrics: dict written to metrics.json.
        write_extra: optional `fn(tmp_folder)` writing more files (pictures) before the rename.
        include_optimizer: keep the optimizer state with the weights (for resuming training);
            presets leave it out, which makes them three times smaller.
        overwrite: allow replacing an existing model folder.
    """
    folder = check_target(folder, overwrite=overwrite)
    parent = os.path.dirname(folder)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(folder)}.tmp-")
    except OSError as e:
        raise write_error(folder, e) from e
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
        meta.pop(PENDING_KEY, None)
        meta["sha256"] = manifest(tmp)
        write_json(os.path.join(tmp, METADATA_FILE), meta)
        replace_folder(tmp, folder, overwrite=overwrite)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(folder, e) from e
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
    """Checks that the folder holds only regular files and that every file listed in
    metadata.json is present with its recorded sha256 (or, during an update, its new one)."""
    meta_path = os.path.join(folder, METADATA_FILE)
    if not os.path.isdir(folder):
        raise ModelFolderError(f"No model folder at {folder}.")
    list_files(folder)  # refuses FIFOs, devices and links out of the folder before any read
    if not os.path.exists(meta_path):
        raise ModelFolderError(f"{folder} has no {METADATA_FILE}; it is not a complete model folder.")
    meta = read_json(meta_path)
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        version = meta.get("format_version") if isinstance(meta, dict) else None
        raise ModelFolderError(
            f"{folder} was written in model-folder format {version!r}; this "
            f"version of the zoo reads format {FORMAT_VERSION}. Re-export it with a matching version."
        )
    for key, kind in (("versions", dict), ("recipe", dict), ("optimizer", dict)):
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            raise ModelFolderError(f"{meta_path}: {key!r} must be a JSON object, got "
                                   f"{type(meta[key]).__name__}; the file is corrupt.")
    saved_keras = str(meta.get("versions", {}).get("keras", keras.__version__))
    if saved_keras.split(".")[0] != keras.__version__.split(".")[0]:
        raise ModelFolderError(
            f"{folder} was saved with Keras {saved_keras}; this is Keras {keras.__version__}, "
            "whose weight format differs. Use a matching Keras or re-save the model.")
    recorded, pending = meta.get("sha256"), meta.get(PENDING_KEY) or {}
    if not isinstance(recorded, dict) or not recorded or not isinstance(pending, dict):
        raise ModelFolderError(
            f"{meta_path} records no sha256 manifest, so the folder cannot be verified. "
            "Restore the folder or re-save the model.")
    for name in [*recorded, *pending]:
        check_manifest_name(folder, name)
    for name, expected in recorded.items():
        path = check_manifest_name(folder, name)
        if not os.path.exists(path):
            raise ModelFolderError(f"{folder} is missing {name}.")
        if sha256(path) not in (expected, pending.get(name)):
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
    meta = verify_folder(folder)
    config_path = os.path.join(folder, CONFIG_FILE)
    config = read_json(config_path)
    model = _deserialize(config, f"{config_path} does not describe a model this zoo can build")
    weights = os.path.join(folder, WEIGHTS_FILE)
    if compile and has_optimizer_state(weights):
        saved = meta.get("optimizer")
        optimizer = keras.optimizers.Adam(learning_rate) if saved is None else _deserialize(
            saved, f"the optimizer recorded in {METADATA_FILE} of {folder} cannot be rebuilt")
        model.compile(optimizer=optimizer)
        if not model.optimizer.built:  # a model with several optimizers builds them at compile
            model.optimizer.build(model.trainable_variables)
        model.load_weights(weights)
    else:  # weights only (a preset): load before compiling, so no optimizer state is expected
        model.load_weights(weights)
        if compile:
            model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def _deserialize(config, problem):
    """A Keras object from its config (safe mode); a ModelFolderError naming `problem` for a
    config of the wrong JSON types or an unknown class, instead of a Keras traceback."""
    if not isinstance(config, dict):
        raise ModelFolderError(f"{problem}: expected a JSON object, got "
                               f"{type(config).__name__}.")
    try:
        return keras.saving.deserialize_keras_object(config, safe_mode=True)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFolderError(f"{problem}: {first}") from None


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
    ({name: bytes}) in a verified folder, then re-records the sha256s, as one update: a kill
    at any point leaves a folder that verifies (the old files or the new ones)."""
    meta = verify_folder(folder)
    meta_path = os.path.join(folder, METADATA_FILE)
    writes = {}
    if metrics is not None:
        path = os.path.join(folder, METRICS_FILE)
        current = read_json(path) if os.path.exists(path) else {}
        current.update(metrics)
        writes[METRICS_FILE] = (json.dumps(current, indent=2, sort_keys=True) + "\n").encode()
    for name, data in (files or {}).items():
        if name == METADATA_FILE:
            raise ValueError(f"{METADATA_FILE} is updated through `metadata=`, not `files=`.")
        check_manifest_name(folder, name)
        writes[name] = bytes(data)
    # The journal: the manifest of the files as they are now, plus each new file's hash. A
    # file half-way through this update verifies against one or the other.
    recorded = dict(meta["sha256"])
    for name in meta.get(PENDING_KEY) or {}:  # an earlier update that was interrupted
        path = os.path.join(folder, *name.split("/"))
        if os.path.isfile(path):
            recorded[name] = sha256(path)
    journal = {**meta, "sha256": recorded,
               PENDING_KEY: {name: hashlib.sha256(data).hexdigest()
                             for name, data in writes.items()}}
    write_json(meta_path, journal)
    for name, data in writes.items():
        write_bytes(os.path.join(folder, *name.split("/")), data)
    meta.update(metadata or {})
    meta.pop(PENDING_KEY, None)
    meta["sha256"] = manifest(folder)
    write_json(meta_path, meta)
    return read_json(os.path.join(folder, METRICS_FILE)) if metrics is not None else None
