"""A Keras 3 zoo of deep generative models.

    >>> import zoo
    >>> model = zoo.VAE(latent_dim=50)          # or zoo.get_model("vae")(latent_dim=50)
    >>> model = zoo.load("runs/vae_mnist")      # a model folder written by `python -m training`
    >>> model = zoo.load("vae_mnist")           # a pretrained preset from saved_models/

The members below load on first use (PEP 562), so that `import zoo.serving`, a client that
needs numpy and the standard library only, does not pay for TensorFlow, TFP and the models.
"""

import importlib
import importlib.util
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

DEFAULT_MODEL = "vae"  # what `python -m training train` trains when no --model is given

# name -> (module, attribute): what `zoo.NAME` and `from zoo import NAME` give.
_LAZY = {
    "GenerativeModel": ("zoo.base", "GenerativeModel"),
    "Capabilities": ("zoo.capabilities", "Capabilities"),
    "Option": ("zoo.capabilities", "Option"),
    "LatentVariableModel": ("zoo.latent", "LatentVariableModel"),
    "CanvasModel": ("zoo.canvas", "CanvasModel"),
    "FeatureClassifier": ("zoo.feature_classifier", "FeatureClassifier"),
    **{name: ("zoo.models", name) for name in (
        "Autoencoder", "CVAE", "GAE", "IWAE", "M1M2", "M2", "MODELS", "PixelLSTM", "PixelCNN",
        "ConditionalPixelCNN", "ConvDRAW", "DRAW", "NoteRNN", "VAE", "VRAE", "VRNN",
        "VampPrior", "GAN", "DCGAN", "ConditionalDCGAN", "LAPGAN", "VAEGAN")},
    "AdversarialModel": ("zoo.adversarial", "AdversarialModel"),
    "list_presets": ("zoo.presets", "list_presets"),
    "describe_presets": ("zoo.presets", "describe_presets"),
    "load": ("zoo.presets", "load"),
    "ModelFolderError": ("zoo.saving", "ModelFolderError"),
    "save_model_folder": ("zoo.saving", "save_model_folder"),
    "save": ("zoo.saving", "save_model_folder"),
}
__all__ = ["DEFAULT_MODEL", "get_model", "list_models", *_LAZY]

_registered = False


def _register_models():
    """Imports the zoo's models and the ZOO_PLUGINS modules, whose classes register themselves
    (in `MODELS` and with Keras), before anything that names or deserializes a model."""
    global _registered
    if _registered:
        return
    _registered = True
    importlib.import_module("zoo.models")
    importlib.import_module("zoo.feature_classifier")
    # Models of the user's own, outside this package: ZOO_PLUGINS="pkg.my_models,other" imports
    # those modules, whose classes register themselves (`@MODELS.register("name")`) like the
    # zoo's own, so the command line, evaluation and export treat them alike.
    for module in filter(None, os.environ.get("ZOO_PLUGINS", "").split(",")):
        importlib.import_module(module.strip())


def __getattr__(name):
    if name in _LAZY:
        _register_models()
        module, attribute = _LAZY[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value  # later look-ups skip this function
        return value
    # Submodules too, so that `import zoo; zoo.export.export_model(...)` works.
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def get_model(name):
    """The model class registered as `name` (see `list_models()`: "vae", "cvae", "m2", ...)."""
    _register_models()
    return __getattr__("MODELS").get(name)


def list_models():
    """The names of the registered models (the zoo's own and those of ZOO_PLUGINS)."""
    _register_models()
    return __getattr__("MODELS").names()
