"""Shared fixtures: tiny data (sklearn's 8x8 digits) and tiny configurations of every model."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from training import data as data_lib  # noqa: E402

EVENT = (8, 8, 1)
TINY = {"event_shape": EVENT, "latent_dim": 4, "hidden_units": (32,), "conv_filters": (4, 8),
        "seed": 1}

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
    ("autoencoder", "autoencoder", {}),
]


def make_model(name, overrides):
    import zoo

    return zoo.get_model(name)(**{**TINY, **overrides})


def inputs_for(model, n=16, seed=0):
    """A batch of valid inputs for `model` from the digits data (indices for palette models)."""
    x = data_lib.load_digits().train.x[:n]
    if model.likelihood_name == "categorical":
        return model.likelihood_head.to_indices(x[..., 0])
    if model.likelihood_name == "bernoulli":
        return data_lib.binarize(x, seed)
    return x


@pytest.fixture(scope="session")
def digits():
    return data_lib.load_digits()


@pytest.fixture(params=MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def model_case(request):
    return request.param
