"""A Keras 3 zoo of generative autoencoders.

    >>> import zoo
    >>> model = zoo.VAE(latent_dim=50)          # or zoo.get_model("vae")(latent_dim=50)
    >>> model = zoo.load("runs/vae_mnist")      # a model folder written by `python -m training`
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from zoo import objectives  # noqa: E402
from zoo.base import GenerativeModel  # noqa: E402
from zoo.models import IWAE, MODELS, VAE, Autoencoder  # noqa: E402
from zoo.saving import ModelFolderError, load_model_folder, save_model_folder  # noqa: E402


def get_model(name):
    """The model class registered as `name` ("vae", "iwae", "autoencoder")."""
    return MODELS.get(name)


def list_models():
    return MODELS.names()


def load(path, compile=True):
    """Loads a model folder (config, weights, metadata with sha256s), compiled for `fit`."""
    return load_model_folder(path, compile=compile)


save = save_model_folder
