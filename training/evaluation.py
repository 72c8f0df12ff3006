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
