"""Anomaly scores: every model with a density, a discriminator or a reconstruction scores
examples (higher = more unusual) by what it has; a trained model scores noise above digits.
(The exported `score` signature is checked for every model class in test_export.py.)"""

import keras
import numpy as np
import pytest

import zoo
from tests.conftest import MODEL_CASES, condition_for, inputs_for, make_model


@pytest.mark.parametrize("model_case", [pytest.param(c, id=c[0]) for c in MODEL_CASES])
def test_each_model_scores_with_what_it_has(model_case):
    _, name, overrides = model_case
    model = make_model(name, overrides)
    x = inputs_for(model, n=4)
    given = condition_for(model, n=4) if model.capabilities.conditional or \
        model.modality == "piano_roll" else {}
    capabilities = model.capabilities
    if model.anomaly_score_kind is None:  # a test model with neither density nor D
        assert not capabilities.has_density and not capabilities.adversarial
        with pytest.raises(NotImplementedError, match="nothing|no density"):
            model.anomaly_score(x)
        return
    score = np.asarray(model.anomaly_score(x, num_samples=3, seed=[1, 2], **given))
    assert score.shape == (4,) and np.isfinite(score).all()
    if capabilities.has_density:
        np.testing.assert_allclose(score, -np.asarray(model.log_prob(
            x, num_samples=3, seed=[1, 2], **given)), rtol=1e-5, atol=1e-4)
        assert "log p(x)" in model.anomaly_score_kind
    elif capabilities.adversarial:
        np.testing.assert_allclose(score, -np.asarray(model.discriminate(x, **given)),
                                   rtol=1e-5, atol=1e-5)
        assert "discriminator" in model.anomaly_score_kind
    else:  # the autoencoder: its reconstruction error
        np.testing.assert_allclose(score, model.per_example_losses(x)["reconstruction"],
                                   rtol=1e-5, atol=1e-4)
        assert "reconstruction" in model.anomaly_score_kind


@pytest.mark.parametrize("name", ["vae", "autoencoder"])
def test_a_trained_model_scores_noise_above_digits(name, digits):
    """After a short seeded run on the 8x8 digits, binary noise images score above every
    held-out digit for the VAE's -log p(x) and the autoencoder's reconstruction error."""
    keras.utils.set_random_seed(0)
    model = zoo.get_model(name)(event_shape=(8, 8, 1), latent_dim=4, hidden_units=(64,),
                                seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    binary = lambda v: (v > 0.5).astype(np.float32)
    model.fit(binary(digits.train.x), epochs=30, batch_size=64, verbose=0)
    noise = binary(np.random.default_rng(0).random((50, 8, 8, 1)))
    scores = lambda v: np.asarray(model.anomaly_score(v, num_samples=10, seed=[3, 4]))
    held_out = scores(binary(digits.test.x[:200]))
    assert scores(noise).min() > np.quantile(held_out, 0.99), (scores(noise).min(),
                                                               held_out.max())
