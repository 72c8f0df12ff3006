"""A Keras 3 zoo of deep generative models.

    >>> import zoo
    >>> model = zoo.VAE(latent_dim=50)          # or zoo.get_model("vae")(latent_dim=50)
    >>> model = zoo.load("runs/vae_mnist")      # a model folder written by `python -m training`
    >>> model = zoo.load("vae_mnist")           # a pretrained preset from saved_models/
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from zoo import objectives  # noqa: E402
from zoo.base import GenerativeModel  # noqa: E402
from zoo.capabilities import Capabilities, Option  # noqa: E402
from zoo.latent import LatentVariableModel  # noqa: E402
from zoo.feature_classifier import FeatureClassifier  # noqa: E402
from zoo.models import (  # noqa: E402
    CVAE, GAE, IWAE, M1M2, M2, MODELS, VAE, Autoencoder, VampPrior)
from zoo.presets import list_presets, load  # noqa: E402
from zoo.saving import ModelFolderError, save_model_folder  # noqa: E402


def get_model(name):
    """The model class registered as `name` (see `list_models()`: "vae", "cvae", "m2", ...)."""
    return MODELS.get(name)


def list_models():
    return MODELS.names()


save = save_model_folder
DEFAULT_MODEL = "vae"  # what `python -m training train` trains when no --model is given

# Models of the user's own, outside this package: ZOO_PLUGINS="pkg.my_models,other" imports
# those modules, whose classes register themselves (`@MODELS.register("name")`) like the
# zoo's own, so the command line, evaluation and export treat them alike.
for _module in filter(None, os.environ.get("ZOO_PLUGINS", "").split(",")):
    importlib.import_module(_module.strip())
