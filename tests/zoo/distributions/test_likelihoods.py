"""Each likelihood head's log_prob equals the tfd distribution built directly from its params."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from zoo.distributions import (
    BernoulliHead,
    CategoricalPaletteHead,
    FixedScaleGaussianHead,
    GaussianHead,
    get_likelihood,
)

tfd = tfp.distributions
EVENT = (4, 4, 1)
rng = np.random.default_rng(0)


def params_for(head, batch=3, leading=()):
    head.build((None, 16))
    features = rng.normal(size=(batch, 16)).astype(np.float32)
    params = head(features)
    assert params.shape == (batch, *head.param_shape)
    return params


def test_bernoulli_matches_tfd():
    head = BernoulliHead(EVENT)
    params = params_for(head)
    x = (rng.random((3, *EVENT)) < 0.5).astype(np.float32)
    expected = tf.reduce_sum(tfd.Bernoulli(logits=params).log_prob(x), axis=[1, 2, 3])
    np.testing.assert_allclose(head.make_distribution(params).log_prob(x), expected, rtol=1e-5)
    np.testing.assert_allclose(head.mean(params), tf.sigmoid(params), rtol=1e-6)


def test_gaussian_learned_scale_matches_tfd():
    head = GaussianHead(EVENT, min_scale=0.05)
    params = params_for(head)
    x = rng.random((3, *EVENT)).astype(np.float32)
    scale = tf.nn.softplus(params[..., 1]) + 0.05
    expected = tf.reduce_sum(tfd.Normal(params[..., 0], scale).log_prob(x), axis=[1, 2, 3])
    np.testing.assert_allclose(head.make_distribution(params).log_prob(x), expected, rtol=1e-5)
    np.testing.assert_allclose(head.mean(params), params[..., 0])


def test_gaussian_fixed_scale_is_scaled_squared_error():
    head = FixedScaleGaussianHead(EVENT, scale=0.3)
    params = params_for(head)
    x = rng.random((3, *EVENT)).astype(np.float32)
    d = np.prod(EVENT)
    sq = np.sum((x - params.numpy()) ** 2, axis=(1, 2, 3))
    expected = -sq / (2 * 0.3**2) - d * np.log(0.3) - 0.5 * d * np.log(2 * np.pi)
    np.testing.assert_allclose(head.make_distribution(params).log_prob(x), expected, rtol=1e-5)


def test_fixed_scale_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        FixedScaleGaussianHead(EVENT, scale=0.0)


def test_categorical_palette_matches_tfd_and_mean_is_expected_colour():
    palette = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0]]
    head = CategoricalPaletteHead((4, 4), palette=palette)
    params = params_for(head)
    assert params.shape == (3, 4, 4, 3)
    x = rng.integers(0, 3, size=(3, 4, 4)).astype(np.int32)
    expected = tf.reduce_sum(tfd.Categorical(logits=params).log_prob(x), axis=[1, 2])
    np.testing.assert_allclose(head.make_distribution(params).log_prob(x), expected, rtol=1e-5)
    probs = tf.nn.softmax(params).numpy()
    np.testing.assert_allclose(head.mean(params), probs @ np.array(palette), rtol=1e-5)
    images = np.array(palette, np.float32)[x]
    np.testing.assert_array_equal(head.to_indices(images), x)
    np.testing.assert_allclose(head.to_features(x), images)


def test_spatial_features_are_projected_per_pixel():
    head = GaussianHead(EVENT)
    head.build((None, 4, 4, 5))
    params = head(rng.normal(size=(2, 4, 4, 5)).astype(np.float32))
    assert params.shape == (2, 4, 4, 1, 2)
    assert head.projection.kernel.shape == (5, 2)  # a 1x1 convolution, not a dense layer


def test_spatial_features_of_the_wrong_size_are_refused():
    head = BernoulliHead(EVENT)
    with pytest.raises(ValueError, match="do not match the event shape"):
        head.build((None, 5, 5, 8))


def test_distribution_accepts_extra_leading_dimensions():
    head = BernoulliHead(EVENT)
    params = tf.reshape(params_for(head, batch=6), (2, 3, *EVENT))
    x = np.zeros((3, *EVENT), np.float32)
    assert head.make_distribution(params).log_prob(x).shape == (2, 3)


def test_registry_and_config_round_trip():
    for name in ("bernoulli", "gaussian", "gaussian_fixed", "categorical"):
        head = get_likelihood(name, (4, 4) if name == "categorical" else EVENT)
        clone = type(head).from_config(head.get_config())
        assert clone.get_config() == head.get_config()
    with pytest.raises(ValueError, match="choose one of"):
        get_likelihood("poisson", EVENT)
