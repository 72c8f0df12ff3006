"""Evaluation protocols: Parzen window and Frechet distance against direct computations."""

import numpy as np
import pytest
from scipy.linalg import sqrtm
from scipy.special import logsumexp

from training.evaluation import protocols as evaluation


def test_parzen_matches_direct_computation():
    rng = np.random.default_rng(0)
    samples, val, test = rng.random((50, 6)), rng.random((20, 6)), rng.random((30, 6))
    sigmas = np.array([0.1, 0.3, 1.0])
    mean, se, sigma = evaluation.parzen_log_likelihood(samples, val, test, sigmas, verbose=False)

    def direct(x, s):
        sq = ((x[:, None, :] - samples[None]) ** 2).sum(-1)
        return logsumexp(-sq / (2 * s**2), axis=1) - np.log(50) - 3 * np.log(2 * np.pi * s**2)

    best = sigmas[np.argmax([direct(val, s).mean() for s in sigmas])]
    assert sigma == pytest.approx(best)
    np.testing.assert_allclose(mean, direct(test, best).mean(), rtol=1e-4)
    assert se == pytest.approx(direct(test, best).std(ddof=1) / np.sqrt(30), rel=1e-3)


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 5))
    b = rng.normal(size=(4000, 5)) @ np.diag([1, 2, 1, 1, 0.5]) + 3.0
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = (np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a + cov_b)
                - 2 * np.trace(sqrtm(cov_a @ cov_b).real))
    assert evaluation.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert abs(evaluation.frechet_distance(a, a)) < 1e-6
