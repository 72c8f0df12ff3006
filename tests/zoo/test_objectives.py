"""The shared maths: analytic vs Monte Carlo KL, ELBO vs IWAE, chunked bounds, warm-up."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.conftest import inputs_for, make_model
from zoo import objectives

tfd = tfp.distributions


def mc_kl(q, p, n=200000, seed=(1, 2)):
    z = q.sample(n, seed=seed)
    values = (q.log_prob(z) - p.log_prob(z)).numpy()
    return values.mean(0), values.std(0) / np.sqrt(n)


@pytest.mark.parametrize("full", [False, True], ids=["diagonal", "full_covariance"])
def test_analytic_kl_matches_monte_carlo(full):
    rng = np.random.default_rng(0)
    loc = rng.normal(size=(3, 2)).astype(np.float32)
    if full:
        tril = np.tril(rng.normal(size=(3, 2, 2))).astype(np.float32)
        idx = np.arange(2)
        tril[:, idx, idx] = np.abs(tril[:, idx, idx]) + 0.3
        q = tfd.MultivariateNormalTriL(loc, tril)
    else:
        q = tfd.MultivariateNormalDiag(loc, rng.uniform(0.3, 1.5, (3, 2)).astype(np.float32))
    p = tfd.MultivariateNormalDiag(tf.zeros(2))
    analytic, used = objectives.kl_divergence(q, p)
    assert used
    mean, stderr = mc_kl(q, p)
    np.testing.assert_array_less(np.abs(analytic.numpy() - mean), 5 * stderr + 1e-3)


def test_kl_against_a_mixture_falls_back_to_monte_carlo():
    q = tfd.MultivariateNormalDiag(tf.zeros((2, 2)))
    p = tfd.MixtureSameFamily(tfd.Categorical(logits=[0.0, 0.0]),
                              tfd.MultivariateNormalDiag([[1.0, 1.0], [-1.0, -1.0]]))
    with pytest.raises(ValueError, match="Monte Carlo"):
        objectives.kl_divergence(q, p)
    z = q.sample(50000, seed=(3, 4))
    kl, used = objectives.kl_divergence(q, p, z)
    assert not used and kl.shape == (2,)
    mean, stderr = mc_kl(q, p, seed=(5, 6))
    np.testing.assert_allclose(kl, mean, atol=0.02)


def test_iwae_with_one_sample_equals_the_elbo_in_expectation():
    model = make_model("vae", {})
    x = inputs_for(model, n=4)
    q, p = model.posterior(x), model.prior()
    n = 4000
    log_w = objectives.log_importance_weights(x, q, p, model.likelihood, n, seed=(7, 8))[0]
    iwae_1 = log_w.numpy()  # n independent IWAE_1 estimates per example
    elbos = np.stack([model.elbo(x, seed=(9, i)).numpy() for i in range(200)])
    # IWAE_1 estimates log p(x|z) + log p(z) - log q(z|x): unbiased for the ELBO; the model's
    # elbo uses the analytic KL (lower variance). Their means must agree within noise.
    diff = iwae_1.mean(0) - elbos.mean(0)
    stderr = np.sqrt(iwae_1.var(0) / n + elbos.var(0) / len(elbos))
    np.testing.assert_array_less(np.abs(diff), 4 * stderr + 1e-3)


def test_iwae_bound_tightens_with_k():
    model = make_model("vae", {})
    x = inputs_for(model, n=8)
    bounds = [np.mean([model.log_prob(x, num_samples=k, seed=(k, s)).numpy().mean()
                       for s in range(10)]) for k in (1, 10, 100)]
    assert bounds[0] < bounds[1] < bounds[2]
    assert bounds[0] == pytest.approx(
        np.mean([model.elbo(x, seed=(0, s)).numpy().mean() for s in range(50)]), abs=1.0)


def test_chunked_bound_equals_one_logsumexp():
    values = tf.constant(np.random.default_rng(0).normal(size=(10, 3)), tf.float32)

    def log_weights(n, seed):
        del seed
        out = values[calls["start"]:calls["start"] + n]
        calls["start"] += n
        return out

    calls = {"start": 0}
    chunked = objectives.chunked_iwae_bound(log_weights, 10, 3, tf.constant([0, 0]))
    np.testing.assert_allclose(chunked, objectives.iwae_bound(values), rtol=1e-6)


def test_elbo_parts_add_up_and_beta_weights_the_rate():
    model = make_model("vae", {})
    x = inputs_for(model, n=4)
    terms = objectives.elbo(x, model.posterior(x), model.prior(), model.likelihood,
                            seed=tf.constant([1, 2]), beta=3.0)
    np.testing.assert_allclose(terms["elbo"], -(terms["distortion"] + terms["rate"]), rtol=1e-6)
    np.testing.assert_allclose(terms["loss"], terms["distortion"] + 3.0 * terms["rate"],
                               rtol=1e-6)


def test_linear_warmup():
    assert float(objectives.linear_warmup(5, 0)) == 1.0
    assert float(objectives.linear_warmup(0, 10)) == 0.0
    assert float(objectives.linear_warmup(5, 10)) == 0.5
    assert float(objectives.linear_warmup(50, 10)) == 1.0
