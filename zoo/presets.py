"""Pretrained presets: named model folders under `saved_models/`, loaded in one line.

    >>> zoo.list_presets()
    ['vae_mnist', ...]
    >>> vae = zoo.load("vae_mnist")          # verified (sha256), safe-mode config, compiled
    >>> vae = zoo.VAE.from_preset("vae_mnist")

A preset folder has fixed file names (`zoo.saving`): config.json, model.weights.h5,
metadata.json (recipe, seed, data protocol, library versions, sha256 of every file),
metrics.json and a README.md model card with samples.png.
"""

import os

from zoo.saving import METADATA_FILE, ModelFolderError, load_model_folder

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
# The source tree's saved_models/ (a checkout or an editable install), else the copy a wheel
# carries inside the package (see setup.py).
PRESETS_DIR = next((d for d in (os.path.join(os.path.dirname(_PACKAGE), "saved_models"),
                                os.path.join(_PACKAGE, "_presets")) if os.path.isdir(d)),
                   os.path.join(os.path.dirname(_PACKAGE), "saved_models"))


def presets_dir():
    """The folder holding the presets (override with the ZOO_PRESETS_DIR environment variable)."""
    return os.environ.get("ZOO_PRESETS_DIR", PRESETS_DIR)


def list_presets():
    """Names of the presets available in `presets_dir()`."""
    root = presets_dir()
    if not os.path.isdir(root):
        return []
    return sorted(name for name in os.listdir(root)
                  if os.path.exists(os.path.join(root, name, METADATA_FILE)))


def resolve(name_or_path):
    """The folder of a preset name or a model-folder path; a clear error for neither."""
    if os.path.isdir(name_or_path):
        return name_or_path
    if os.sep not in name_or_path and name_or_path in list_presets():
        return os.path.join(presets_dir(), name_or_path)
    available = ", ".join(list_presets()) or "none installed"
    raise ModelFolderError(f"{name_or_path!r} is neither a model folder nor a preset name. "
                           f"Presets: {available}.")


def load(name_or_path, compile=True):
    """A preset by name, or a model folder by path, verified and compiled for `fit`."""
    return load_model_folder(resolve(name_or_path), compile=compile)
