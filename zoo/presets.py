"""Pretrained presets: named model folders under `saved_models/`, loaded in one line.

    >>> zoo.list_presets()
    ['vae_mnist', ...]
    >>> zoo.describe_presets()[0]            # what each one is: a generator or a classifier
    {'name': 'cvae_mnist', 'kind': 'generator', 'model_class': 'CVAE', 'capabilities': ...}
    >>> vae = zoo.load("vae_mnist")          # verified (sha256), safe-mode config, compiled
    >>> vae = zoo.VAE.from_preset("vae_mnist")

A preset folder has fixed file names (`zoo.saving`): config.json, model.weights.h5,
metadata.json (recipe, seed, data protocol, library versions, sha256 of every file),
metrics.json and a README.md model card with samples.png.

A bare name ("vae_mnist": no path separator, not starting with ".") always means the preset;
a folder of your own is loaded by its path ("./vae_mnist", "runs/vae_mnist", an absolute path).
"""

import os
import sys

from zoo.saving import METADATA_FILE, ModelFolderError, load_model_folder, read_json

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
# The source tree's saved_models/ (a checkout or an editable install), else the copy a wheel
# carries inside the package (see setup.py).
PRESETS_DIR = next((d for d in (os.path.join(os.path.dirname(_PACKAGE), "saved_models"),
                                os.path.join(_PACKAGE, "_presets")) if os.path.isdir(d)),
                   os.path.join(os.path.dirname(_PACKAGE), "saved_models"))


def presets_dir():
    """The folder holding the presets (override with the ZOO_PRESETS_DIR environment variable)."""
    return os.environ.get("ZOO_PRESETS_DIR", PRESETS_DIR)


# Renamed presets: old name -> new name (the old one keeps loading, with a note).
ALIASES = {"m2_mnist_100": "m1m2_mnist_100"}  # it holds an M1+M2 model, not an M2


def list_presets():
    """Names of the presets available in `presets_dir()`."""
    root = presets_dir()
    if not os.path.isdir(root):
        return []
    # Dot-folders are presets being built or replaced (`make-preset` works aside).
    return sorted(name for name in os.listdir(root) if not name.startswith(".")
                  and os.path.isfile(os.path.join(root, name, METADATA_FILE)))


def describe_presets():
    """What each preset is: a list of {name, kind, model_class, capabilities}, where kind is
    "generator" (a GenerativeModel; capabilities is its `capabilities.describe()`) or
    "classifier" (e.g. mnist_classifier, the FD feature network; capabilities None)."""
    import keras

    import zoo
    from zoo.base import GenerativeModel

    zoo.list_models()  # registers the models (and ZOO_PLUGINS') that configs name
    described = []
    for name in list_presets():
        folder = os.path.join(presets_dir(), name)
        config = read_json(os.path.join(folder, "config.json"))
        cls = keras.saving.get_registered_object(config.get("registered_name", ""))
        generator = isinstance(cls, type) and issubclass(cls, GenerativeModel)
        described.append({
            "name": name,
            "kind": "generator" if generator else "classifier",
            "model_class": read_json(os.path.join(folder, METADATA_FILE)).get("model_class"),
            "capabilities": cls.capabilities.describe() if generator else None})
    return described


def is_preset_name(text):
    """Whether `text` is a bare name (a preset), not a path: no separator, no leading '.'."""
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    return not text.startswith(".") and not any(sep in text for sep in separators)


def is_preset_folder(folder):
    """Whether `folder` is inside `presets_dir()` (a shipped preset, not the user's own)."""
    root = os.path.realpath(presets_dir())
    return os.path.realpath(folder).startswith(root + os.sep)


def resolve(name_or_path):
    """The folder of a preset name (or a renamed preset's old name) or of a model-folder path;
    a clear error for neither. A bare name never means a folder of the current directory."""
    text = os.fspath(name_or_path)
    if is_preset_name(text):
        name = ALIASES.get(text, text)
        if name != text:
            print(f"Note: {text} is now {name}; load it as {name!r}.", file=sys.stderr)
        if name in list_presets():
            return os.path.join(presets_dir(), name)
        hint = (f" To load the folder {text!r} of the current directory, give it as a path: "
                f"'./{text}'." if os.path.isdir(text) else "")
        available = ", ".join(list_presets()) or "none installed"
        raise ModelFolderError(f"{text!r} is not a preset name. Presets: {available}.{hint}")
    if os.path.isdir(text):
        return text
    available = ", ".join(list_presets()) or "none installed"
    raise ModelFolderError(f"{text!r} is neither a model folder nor a preset name. "
                           f"Presets: {available}.")


def load(name_or_path, compile=True):
    """A preset by name, or a model folder by path, verified and compiled for `fit`."""
    return load_model_folder(resolve(name_or_path), compile=compile)
