"""VampPrior-specific checks (the shared harness in test_models.py covers the rest)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import zoo
from tests.conftest import inputs_for, make_model

tfd = tfp.distributions


def vamp(**overrides):
    return make_model("vamp", {"num_pseudo_inputs": 6, **overrides})


def test_prior_is_the_mixture_of_the_pseudo_input_posteriors():
    model = vamp()
    # Spread the pseudo-inputs so the components differ (they start near 0.5).
    model.prior_layer.pseudo_input_weights.assign(np.random.default_rng(0).uniform(
        -0.2, 1.2, model.prior_layer.pseudo_input_weights.shape).astype("float32"))
    u = model.pseudo_inputs()
    q_u = model.posterior(u)  # the posterior of a batch of (grey, in-range) inputs
    reference = tfd.MixtureSameFamily(tfd.Categorical(logits=tf.zeros([6])), q_u)
    z = np.random.default_rng(1).normal(size=(3, 5, model.latent_dim)).astype("float32") * 2
    np.testing.assert_allclose(model.prior().log_prob(z), reference.log_prob(z), rtol=1e-5,
                               atol=1e-4)
    assert model.prior().log_prob(z).shape == (3, 5)


def test_pseudo_inputs_are_clipped_to_the_unit_interval():
    model = vamp()
    model.prior_layer.pseudo_input_weights.assign(tf.fill(model.prior_layer.pseudo_input_weights.shape, 3.0))
    np.testing.assert_array_equal(model.pseudo_inputs(), 1.0)
    model.prior_layer.pseudo_input_weights.assign(tf.fill(model.prior_layer.pseudo_input_weights.shape, -3.0))
    np.testing.assert_array_equal(model.pseudo_inputs(), 0.0)


def test_pseudo_inputs_are_trained():
    model = vamp()
    assert any(w is model.prior_layer.pseudo_input_weights for w in model.trainable_weights)
    x = tf.constant(inputs_for(model, n=16))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model.per_example_losses(x, training=True)["loss"])
    gradient = tape.gradient(loss, model.prior_layer.pseudo_input_weights)
    assert gradient is not None and float(tf.reduce_max(tf.abs(gradient))) > 0
    before = model.prior_layer.pseudo_input_weights.numpy().copy()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(inputs_for(model, n=32), batch_size=16, epochs=1, verbose=0)
    assert not np.allclose(model.prior_layer.pseudo_input_weights.numpy(), before)


def test_samples_come_from_the_pseudo_input_posteriors():
    model = vamp(num_pseudo_inputs=1)
    q_u = model.pseudo_posterior()
    z = model.prior().sample(20000, seed=[3, 4])
    np.testing.assert_allclose(np.mean(z, 0), q_u.mean()[0], atol=0.05)
    np.testing.assert_allclose(np.std(z, 0), q_u.stddev()[0], rtol=0.05)


def test_pseudo_inputs_survive_save_and_load(tmp_path):
    model = vamp()
    model.prior_layer.pseudo_input_weights.assign(model.prior_layer.pseudo_input_weights + 0.1)
    zoo.save(model, str(tmp_path / "vamp"))
    loaded = zoo.load(str(tmp_path / "vamp"))
    assert isinstance(loaded, zoo.VampPrior) and loaded.num_pseudo_inputs == 6
    np.testing.assert_array_equal(loaded.prior_layer.pseudo_input_weights.numpy(),
                                  model.prior_layer.pseudo_input_weights.numpy())


@pytest.mark.parametrize("overrides, message", [
    ({"num_pseudo_inputs": 0}, "num_pseudo_inputs must be at least 1"),
    ({"posterior": "full_covariance"}, "supports only the 'diagonal' posterior"),
    ({"prior": "mixture"}, "brings its own prior"),
    ({"pseudo_input_stddev": -1.0}, "pseudo_input_stddev must be non-negative"),
])
def test_invalid_options_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        vamp(**overrides)
