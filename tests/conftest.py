"""Shared fixtures: tiny data (sklearn's 8x8 digits) and tiny configurations of every model."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tests.toy_models  # noqa: E402,F401  (registers "toy_gan", a model with two optimizers)
from training import data as data_lib  # noqa: E402

EVENT = (8, 8, 1)
TINY = {"event_shape": EVENT, "latent_dim": 4, "hidden_units": (32,), "conv_filters": (4, 8),
        "seed": 1}

def _tiny_m1():
    """M1+M2 stacks M2 on a VAE; the harness uses an untrained tiny one (its config)."""
    import keras

    import zoo

    return keras.saving.serialize_keras_object(zoo.VAE(**TINY))


TINY_M1 = _tiny_m1()

# Every model class and head combination the harness checks: (id, model name, arguments).
MODEL_CASES = [
    ("vae-mlp-bernoulli", "vae", {}),
    ("vae-conv-fullcov-gaussian-mixture", "vae",
     {"network": "conv", "posterior": "full_covariance", "likelihood": "gaussian",
      "prior": "mixture", "prior_options": {"num_components": 3}}),
    ("betavae-fixedgaussian-warmup", "vae",
     {"likelihood": "gaussian_fixed", "likelihood_options": {"scale": 0.2}, "beta": 4.0,
      "kl_warmup_steps": 10, "activation": "softplus"}),
    ("vae-categorical-palette", "vae",
     {"event_shape": (8, 8), "likelihood": "categorical", "network": "conv",
      "likelihood_options": {"palette": [[0.0], [0.5], [1.0]]}}),
    ("iwae", "iwae", {"num_importance_samples": 3}),
    ("cvae", "cvae", {}),
    ("m2", "m2", {"alpha": 1.0}),
    ("m1m2", "m1m2", {"m1": TINY_M1}),
    ("vamp", "vamp", {"num_pseudo_inputs": 5}),
    ("gae", "gae", {"num_components": 64}),
    ("autoencoder", "autoencoder", {}),
    ("toy-gan-two-optimizers", "toy_gan", {}),
    ("gan-maxout", "gan", {"generator_units": [16], "discriminator_units": [8],
                           "maxout_pieces": 2}),
    ("dcgan", "dcgan", {"filters": [4, 8]}),
    ("conditional-dcgan", "conditional_dcgan", {"filters": [4, 8]}),
    ("lapgan", "lapgan", {"coarse_units": [8], "filters": [4]}),
    ("vaegan", "vaegan", {"discriminator_filters": [4, 8], "gamma": 0.5}),
    ("pixel-lstm-palette", "pixel_lstm",
     {"event_shape": (8, 8), "likelihood": "categorical", "palette": [[0.0], [0.5], [1.0]],
      "lstm_units": [8], "embedding_dim": 4}),
    ("pixelcnn-bernoulli", "pixelcnn",
     {"filters": 4, "num_layers": 2, "kernel_size": 3, "output_units": 4}),
    ("conditional-pixelcnn", "conditional_pixelcnn",
     {"filters": 4, "num_layers": 2, "kernel_size": 3, "output_units": 4}),
    ("note-rnn", "note_rnn", {"event_shape": (12, 88), "rnn_units": [8]}),
    ("vrae-warmup-free-bits", "vrae",
     {"event_shape": (12, 88), "rnn_units": [8], "encoder_units": [8], "kl_warmup_steps": 3,
      "free_bits": 0.05}),
    ("vrnn", "vrnn", {"event_shape": (12, 88), "rnn_units": 8, "hidden_units": 8}),
    ("draw-attention", "draw",
     {"num_steps": 3, "encoder_units": 8, "decoder_units": 8, "read_size": 2, "write_size": 3}),
    ("draw-no-attention", "draw",
     {"num_steps": 2, "attention": False, "encoder_units": 8, "decoder_units": 8}),
    ("conv-draw", "conv_draw",
     {"num_steps": 2, "latent_channels": 2, "stride": 2, "read_filters": 4,
      "encoder_filters": 4, "decoder_filters": 4, "lstm_kernel_size": 3}),
]


def make_model(name, overrides):
    """The model `name` with the TINY architecture (arguments it does not take are dropped)."""
    import zoo

    cls = zoo.get_model(name)
    declared = {o.name for o in cls.options} | {"event_shape", "seed"}
    arguments = {k: v for k, v in TINY.items() if k in declared}
    return cls(**{**arguments, **overrides})


def piano_rolls(n, steps, seed=0):
    """n tiny binary rolls [n, steps, 88]: three-note chords in the middle of the keyboard, each
    held for two steps, from a seeded stream."""
    rng = np.random.default_rng(seed)
    rolls = np.zeros((n, steps, 88), np.float32)
    for i in range(n):
        for t in range(0, steps, 2):
            root = rng.integers(30, 50)
            rolls[i, t:t + 2, [root, root + 4, root + 7]] = 1.0
    return rolls


def step_masks(n, steps):
    """Masks [n, steps] of sequences of lengths steps, steps - 1, steps - 2, steps - 3, ..."""
    lengths = steps - np.arange(n) % 4
    return (np.arange(steps)[None, :] < lengths[:, None]).astype(np.float32)


def inputs_for(model, n=16, seed=0):
    """A batch of valid inputs for `model` from the digits data (indices for palette models,
    synthetic rolls for sequence models)."""
    if model.modality == "piano_roll":
        return piano_rolls(n, model.event_shape[0], seed)
    x = data_lib.load_digits().train.x[:n]
    likelihood = getattr(model, "likelihood_name", None)  # models with a likelihood head
    if likelihood == "categorical":
        head = getattr(model, "likelihood_head", None) or model.head  # autoregressive: head
        return head.to_indices(x[..., 0])
    if likelihood == "bernoulli":
        return data_lib.binarize(x, seed)
    return x


def fit_arguments(model, x):
    """(x, y) for `fit`/`evaluate` on the first len(x) digits: y is what the model's
    `training_targets` asks for (labels, or training-set indices), else None."""
    return x, targets_for(model, len(x))


def targets_for(model, n=16):
    """The y of `fit(x, y)` for models whose batches carry targets (None for the others):
    labels (every other one -1, unlabelled, for semi-supervised models), training indices or
    step masks."""
    labels = data_lib.load_digits().train.y[:n].astype(np.int32)
    targets = model.capabilities.training_targets
    if targets == "mask":
        return step_masks(n, model.event_shape[0])
    if targets == "labels":
        if model.capabilities.semi_supervised:
            labels = np.where(np.arange(n) % 2 == 0, labels, -1).astype(np.int32)
        return labels
    if targets == "index":
        return np.arange(n, dtype=np.int32)
    return None


def condition_for(model, n=16, endpoint=None):
    """Keyword arguments with the first n digit labels for a model's methods: for conditional
    models always, else only for an exported `endpoint` that takes labels; sequence models get
    step masks."""
    labels = data_lib.load_digits().train.y[:n].astype(np.int32)
    if endpoint is not None:
        return {"labels": labels} if endpoint in model.labelled_endpoints else {}
    if model.capabilities.training_targets == "mask":
        return model.conditioning(step_masks(n, model.event_shape[0]))
    return model.conditioning(labels)


@pytest.fixture(scope="session")
def digits():
    return data_lib.load_digits()


@pytest.fixture(params=MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def model_case(request):
    return request.param


def install_tiny_preset_recipe(monkeypatch, tmp_path, **changes):
    """Registers a tiny VAE preset recipe "vae_digits" (digits, 1 epoch, z = 2) with presets
    written under tmp_path/presets and the current folder tmp_path; `changes` update the recipe
    (`train` entries are merged into its training arguments). Returns tmp_path."""
    from zoo import preset_recipes

    monkeypatch.setenv("ZOO_PRESETS_DIR", str(tmp_path / "presets"))
    os.makedirs(tmp_path / "presets")
    monkeypatch.chdir(tmp_path)
    recipe = {"train": {"model": "vae", "dataset": "digits", "latent_dim": 2,
                        "hidden_units": [32], "binarization": "dynamic", "epochs": 1,
                        "seed": 0},
              "metrics": "elbo", "title": "tiny", "paper": "none", "anchor": "none",
              "limits": "a test"}
    recipe["train"].update(changes.pop("train", {}))
    recipe.update(changes)
    monkeypatch.setitem(preset_recipes.PRESETS, "vae_digits", recipe)
    return tmp_path
