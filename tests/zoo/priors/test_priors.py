"""Priors: the standard Normal and the learnable mixture of Gaussians."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import logsumexp
from scipy.stats import norm

from zoo.priors import MixtureOfGaussians, StandardNormal, get_prior


def test_standard_normal():
    prior = StandardNormal(3)
    p = prior.distribution()
    assert p.event_shape == (3,) and not prior.trainable_weights
    z = np.array([[0.0, 1.0, -2.0]], np.float32)
    np.testing.assert_allclose(p.log_prob(z), norm.logpdf(z).sum(-1), rtol=1e-6)


def test_mixture_log_prob_matches_hand_computation():
    prior = MixtureOfGaussians(2, num_components=3, seed=4)
    assert len(prior.trainable_weights) == 3
    z = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    logits, locs = prior.logits.numpy(), prior.locs.numpy()
    scales = np.log1p(np.exp(prior.raw_scales.numpy())) + 1e-4
    log_pi = logits - logsumexp(logits)
    comp = norm.logpdf(z[:, None, :], locs, scales).sum(-1)
    np.testing.assert_allclose(prior.distribution().log_prob(z), logsumexp(log_pi + comp, axis=1),
                               rtol=1e-5)


def test_mixture_is_trainable():
    prior = MixtureOfGaussians(2, num_components=2)
    z = tf.constant([[3.0, 3.0]])
    with tf.GradientTape() as tape:
        loss = -tf.reduce_sum(prior.distribution().log_prob(z))
    grads = tape.gradient(loss, prior.trainable_weights)
    assert all(g is not None and np.any(g.numpy() != 0) for g in grads)


def test_config_round_trip_and_registry():
    prior = get_prior("mixture", 4, num_components=5, seed=2)
    clone = MixtureOfGaussians.from_config(prior.get_config())
    assert clone.get_config() == prior.get_config()
    np.testing.assert_array_equal(clone.locs.numpy(), prior.locs.numpy())  # seeded init
    with pytest.raises(ValueError, match="choose one of: mixture, normal"):
        get_prior("vamp", 4)
