"""Evaluation protocols computed from a model's own maths (zoo.objectives), batched, with progress."""

import keras
import numpy as np
import tensorflow as tf

from training.data import eval_pipeline


def per_example(fn, x, batch_size, seed, label, verbose=True):
    """Runs `fn(batch, seed) -> [B]` over x in batches (batch i gets seed [seed, i]), with a
    progress bar; returns the concatenated numpy values."""
    step = tf.function(fn, reduce_retracing=True)
    progress = keras.utils.Progbar(len(x), unit_name="image") if verbose else None
    if verbose:
        print(label)
    values = []
    for i, batch in enumerate(eval_pipeline(x, batch_size)):
        values.append(step(batch, tf.constant([seed, i], tf.int32)).numpy())
        if progress:
            progress.add(len(batch))
    return np.concatenate(values)


def mean_and_stderr(values):
    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def test_elbo(model, x, batch_size=500, seed=0, verbose=True):
    """Mean per-example ELBO (one z sample per image) and its standard error, in nats."""
    values = per_example(lambda b, s: model.elbo(b, seed=s), x, batch_size, seed,
                         "Test ELBO (one sample of z per image)", verbose)
    return mean_and_stderr(values)


def importance_sampled_nll(model, x, num_samples=5000, batch_size=100, chunk_size=500, seed=0,
                           verbose=True):
    """NLL = -mean log p(x), each log p(x) the k-sample importance-weighted estimate (IWAE bound).

    Returns (mean NLL in nats, its standard error over images).
    """
    values = per_example(
        lambda b, s: model.log_prob(b, num_samples=num_samples, seed=s, chunk_size=chunk_size),
        x, batch_size, seed, f"Test NLL (importance sampling, k={num_samples})", verbose,
    )
    return mean_and_stderr(-values)


def test_reconstruction(model, x, batch_size=500, seed=0, verbose=True):
    """Mean -log p(x|z) with z the code (or posterior mean) of each image, in nats."""
    values = per_example(lambda b, s: -model.likelihood(model.encode(b)).log_prob(b), x,
                         batch_size, seed, "Test reconstruction -log p(x|z)", verbose)
    return mean_and_stderr(values)


def standard_metrics(model, x_test, nll_samples, data_protocol, verbose=True):
    """metrics.json content for a trained model, each figure with its protocol.

    Models with a density get the test ELBO and the importance-sampled NLL; others (the
    deterministic autoencoder) get the reconstruction log-loss.
    """
    n = len(x_test)
    metrics = {"test_images": int(n), "protocol": {"data": data_protocol}}
    if not model.has_density:
        mean, se = test_reconstruction(model, x_test, verbose=verbose)
        metrics.update(test_reconstruction=mean, test_reconstruction_stderr=se)
        metrics["protocol"]["reconstruction"] = (
            f"mean over the {n} test images of -log p(x|z) at the deterministic code z, in nats")
        return metrics
    mean, se = test_elbo(model, x_test, verbose=verbose)
    metrics.update(test_elbo=mean, test_elbo_stderr=se)
    metrics["protocol"]["elbo"] = (f"mean over the {n} test images of the one-sample ELBO, "
                                   "in nats")
    mean, se = importance_sampled_nll(model, x_test, num_samples=nll_samples, verbose=verbose)
    metrics.update(test_nll=mean, test_nll_stderr=se, nll_num_samples=int(nll_samples))
    metrics["protocol"]["nll"] = (
        f"-mean over the {n} test images of the importance-weighted estimate of log p(x) with "
        f"k={nll_samples} samples from q(z|x) (the IWAE bound), in nats")
    return metrics
