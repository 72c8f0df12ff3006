"""Posterior heads: the diagonal and Cholesky-parameterized full-covariance Normals."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from zoo.distributions import DiagonalNormalHead, FullCovarianceNormalHead, get_posterior

tfd = tfp.distributions
rng = np.random.default_rng(0)


def test_diagonal_matches_tfd():
    head = DiagonalNormalHead(latent_dim=3)
    head.build((None, 8))
    params = head(rng.normal(size=(5, 8)).astype(np.float32))
    assert params.shape == (5, 6)
    q = head.make_distribution(params)
    loc, raw = np.split(params.numpy(), 2, axis=-1)
    expected = tfd.MultivariateNormalDiag(loc, tf.nn.softplus(raw) + head.min_scale)
    z = rng.normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(q.log_prob(z), expected.log_prob(z), rtol=1e-5)
    assert q.event_shape == (3,) and q.batch_shape == (5,)


def test_full_covariance_is_a_valid_cholesky_factor():
    head = FullCovarianceNormalHead(latent_dim=4)
    head.build((None, 8))
    params = head(rng.normal(size=(5, 8)).astype(np.float32))
    assert params.shape == (5, 4 + 10)
    q = head.make_distribution(params)
    tril = q.scale_tril.numpy()
    np.testing.assert_array_equal(np.triu(tril, k=1), 0.0)
    assert np.all(np.diagonal(tril, axis1=-2, axis2=-1) > 0)
    # The covariance is L L^T and log_prob agrees with a directly built MVN.
    z = rng.normal(size=(5, 4)).astype(np.float32)
    direct = tfd.MultivariateNormalFullCovariance(q.loc, tril @ np.swapaxes(tril, -1, -2))
    np.testing.assert_allclose(q.log_prob(z), direct.log_prob(z), rtol=1e-4)


def test_off_diagonal_terms_are_used():
    head = FullCovarianceNormalHead(latent_dim=2)
    head.build((None, 3))
    params = head(np.ones((1, 3), np.float32))
    assert abs(float(head.make_distribution(params).scale_tril[0, 1, 0])) > 0


def test_unknown_posterior():
    with pytest.raises(ValueError, match="choose one of: diagonal, full_covariance"):
        get_posterior("flow", 2)
