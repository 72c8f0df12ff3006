"""Evaluation protocols computed from a model's own maths (zoo.objectives), batched, with progress."""

import keras
import numpy as np
import tensorflow as tf

from training.data import eval_pipeline


def per_example(fn, x, batch_size, seed, label, verbose=True, y=None):
    """Runs `fn(batch, labels, seed) -> [B]` over x (and its labels y, else None) in batches
    (batch i gets seed [seed, i]), with a progress bar; returns the concatenated numpy values."""
    step = tf.function(fn, reduce_retracing=True)
    progress = keras.utils.Progbar(len(x), unit_name="image") if verbose else None
    if verbose:
        print(label)
    values = []
    for i, batch in enumerate(eval_pipeline(x, batch_size, y)):
        images, labels = batch if y is not None else (batch, None)
        values.append(step(images, labels, tf.constant([seed, i], tf.int32)).numpy())
        if progress:
            progress.add(len(images))
    return np.concatenate(values)


def mean_and_stderr(values):
    values = np.asarray(values, np.float64)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def test_elbo(model, x, batch_size=500, seed=0, verbose=True, y=None):
    """Mean per-example ELBO (one z sample per image) and its standard error, in nats.

    `y`: the labels, needed by conditional models (the bound is then of log p(x|y)).
    """
    values = per_example(lambda b, l, s: model.elbo(b, seed=s, **model.conditioning(l)), x,
                         batch_size, seed, "Test ELBO (one sample of z per image)", verbose, y)
    return mean_and_stderr(values)


def importance_sampled_nll(model, x, num_samples=5000, batch_size=None, chunk_size=500, seed=0,
                           verbose=True, y=None):
    """NLL = -mean log p(x), each log p(x) the k-sample importance-weighted estimate (a bound).

    `batch_size` (default 100 images, or 10 sequences: a chunk of 500 samples of 100 chorales
    of 160 steps would hold gigabytes per tensor) examples are scored at once.
    Returns (mean NLL in nats, its standard error over images).
    """
    if batch_size is None:
        batch_size = 10 if model.modality == "piano_roll" else 100
    values = per_example(
        lambda b, l, s: model.log_prob(b, num_samples=num_samples, seed=s, chunk_size=chunk_size,
                                       **model.conditioning(l)),
        x, batch_size, seed, f"Test NLL (importance sampling, k={num_samples})", verbose, y,
    )
    return mean_and_stderr(-values)


def exact_nll(model, x, batch_size=100, verbose=True, y=None):
    """NLL = -mean exact log p(x) of a model with an exact density; (mean, standard error)."""
    values = per_example(lambda b, l, s: model.log_prob(b, **model.conditioning(l)), x,
                         batch_size, 0, "Test NLL (exact density)", verbose, y)
    return mean_and_stderr(-values)


def test_reconstruction(model, x, batch_size=500, seed=0, verbose=True):
    """Mean -log p(x|z) with z the code (or posterior mean) of each image, in nats."""
    values = per_example(lambda b, l, s: -model.likelihood(model.encode(b)).log_prob(b), x,
                         batch_size, seed, "Test reconstruction -log p(x|z)", verbose)
    return mean_and_stderr(values)


def examples_noun(model):
    """What the model's test examples are called in protocol texts."""
    return "sequences" if model.modality == "piano_roll" else "images"


def standard_metrics(model, x_test, nll_samples, data_protocol, verbose=True, y_test=None,
                     targets=None):
    """metrics.json content for a trained model, each figure with its protocol.

    What is measured follows the model's capabilities: a density bound gives the test ELBO
    and the importance-sampled NLL, an exact density its NLL, a latent model without a density
    (a deterministic code) the reconstruction log-loss, a classifier its test error.
    `y_test`: the labels; `targets`: what the model's methods take besides x (labels of
    conditional models, step masks of sequences; `data.method_targets`).
    """
    n = len(x_test)
    metrics = {"test_images": int(n), "protocol": {"data": data_protocol}}
    capabilities = model.capabilities
    if capabilities.classifier:
        add_classification_error(metrics, model, x_test, y_test)
    if not capabilities.has_density:
        if capabilities.latent == "single" and not capabilities.classifier:
            mean, se = test_reconstruction(model, x_test, verbose=verbose)
            metrics.update(test_reconstruction=mean, test_reconstruction_stderr=se)
            metrics["protocol"]["reconstruction"] = (
                f"mean over the {n} test images of -log p(x|z) at the deterministic code z, "
                "in nats")
        return metrics
    given = " given its label" if capabilities.conditional else ""
    noun = examples_noun(model)
    if capabilities.density == "exact":
        mean, se = exact_nll(model, x_test, verbose=verbose, y=targets)
        metrics.update(test_nll=mean, test_nll_stderr=se)
        metrics["protocol"]["nll"] = (f"-mean over the {n} test {noun} of the exact log p(x)"
                                      f"{given}, in nats")
        return add_density_units(metrics, model, n, targets)
    mean, se = test_elbo(model, x_test, verbose=verbose, y=targets)
    metrics.update(test_elbo=mean, test_elbo_stderr=se)
    metrics["protocol"]["elbo"] = (f"mean over the {n} test {noun} of the one-sample ELBO"
                                   f"{given}, in nats")
    add_test_kl(metrics, model, x_test, targets, verbose)
    mean, se = importance_sampled_nll(model, x_test, num_samples=nll_samples, verbose=verbose,
                                      y=targets)
    metrics.update(test_nll=mean, test_nll_stderr=se, nll_num_samples=int(nll_samples))
    metrics["protocol"]["nll"] = (
        f"-mean over the {n} test {noun} of the importance-weighted estimate of log p(x)"
        f"{given} with "
        f"k={nll_samples} samples from q(z|x) (the importance-weighted bound), in nats")
    return add_density_units(metrics, model, n, targets)


def add_density_units(metrics, model, n, targets=None):
    """Adds the test NLL per unit: nats per time step for sequences (the frame-level NLL of
    Boulanger-Lewandowski et al. 2012: the summed NLL over the summed steps), bits per pixel
    for images."""
    if "test_nll" not in metrics:
        return metrics
    if model.modality == "piano_roll":
        steps = float(np.sum(targets)) if targets is not None else n * model.event_shape[0]
        for key in ("nll", "elbo"):
            if f"test_{key}" in metrics:
                metrics[f"test_{key}_per_step"] = metrics[f"test_{key}"] * n / steps
        metrics["test_steps"] = int(steps)
        metrics["protocol"]["per_step"] = (
            f"per time step: the sum over the {n} test sequences of -log p(x) (or of the ELBO) "
            f"divided by their {int(steps)} steps, nats (the frame-level figure of "
            "Boulanger-Lewandowski et al. 2012)")
        return metrics
    pixels = int(np.prod(model.event_shape[:2]))
    metrics["test_bits_per_pixel"] = metrics["test_nll"] / (pixels * np.log(2))
    metrics["protocol"]["bits_per_pixel"] = f"the test NLL / ({pixels} pixels x ln 2)"
    return metrics


def add_test_kl(metrics, model, x, targets=None, verbose=True, batch_size=500):
    """Adds the mean KL(q || p) per test example (one sample of the latents), for latent models
    that report a KL and whose targets are inputs or nothing: near 0 means the latents carry
    nothing (posterior collapse)."""
    if ("kl" not in model.metric_names
            or model.capabilities.training_targets not in (None, "mask")):
        return metrics
    values = per_example(
        lambda b, l, s: model.per_example_losses(b, model.default_targets(b, l, False))["kl"],
        x, batch_size, 0, "Test KL(q || p) per example", verbose, targets)
    metrics["test_kl"], metrics["test_kl_stderr"] = mean_and_stderr(values)
    metrics["protocol"]["kl"] = (f"mean over the {len(x)} test examples of KL(q(z|x) || p(z)) "
                                 "(one sample of the latents where it is not analytic), nats")
    return metrics


def classification_error(model, x, y, batch_size=1000):
    """Test error (fraction) of a model's classifier `model.classify(x)` -> (probabilities,
    label) against the labels y."""
    predicted = np.concatenate([np.asarray(model.classify(x[i:i + batch_size])[1])
                                for i in range(0, len(x), batch_size)])
    return float(np.mean(predicted != np.asarray(y)))


def add_classification_error(metrics, model, x_test, y_test):
    """Adds `test_error` and its protocol to a metrics dict."""
    metrics["test_error"] = classification_error(model, x_test, y_test)
    metrics.setdefault("protocol", {})["error"] = (
        f"fraction of the {len(x_test)} test images whose most probable class under the "
        "model's classifier q(y|x) differs from the true label")
    return metrics


# --- Parzen window ---------------------------------------------------------------------------
PARZEN_SIGMAS = np.logspace(-1, 0, 10)


def _parzen_log_densities(x, centers, sigmas, batch_size=500):
    """log p(x) under Gaussian kernels at `centers`, for every sigma: array [len(sigmas), N]."""
    centers = tf.constant(centers.reshape(len(centers), -1), tf.float32)
    center_sq = tf.reduce_sum(centers**2, axis=1)
    d = centers.shape[1]
    sigmas = tf.constant(sigmas, tf.float32)[:, None, None]
    out = []
    for start in range(0, len(x), batch_size):
        batch = tf.constant(x[start:start + batch_size].reshape(-1, d), tf.float32)
        sq = (tf.reduce_sum(batch**2, axis=1)[:, None] + center_sq[None, :]
              - 2.0 * tf.matmul(batch, centers, transpose_b=True))
        sq = tf.maximum(sq, 0.0)
        log_k = tf.reduce_logsumexp(-sq[None] / (2.0 * sigmas**2), axis=2)
        out.append((log_k - np.log(len(centers))
                    - 0.5 * d * tf.math.log(2.0 * np.pi * sigmas[:, :, 0]**2)).numpy())
    return np.concatenate(out, axis=1)


def parzen_log_likelihood(samples, x_val, x_test, sigmas=PARZEN_SIGMAS, verbose=True):
    """Parzen-window estimate (Breuleux et al. 2011; Goodfellow et al. 2014).

    Gaussian kernels of width sigma centred on the model's samples; sigma is the one of `sigmas`
    that maximises the mean log-likelihood of `x_val`; returns (mean test log-likelihood, its
    standard error, the chosen sigma). A weak metric: report it next to the NLL, never alone.
    """
    if verbose:
        print(f"Parzen window: {len(samples)} kernels, sigma chosen on {len(x_val)} validation "
              "images")
    val = _parzen_log_densities(x_val, samples, sigmas).mean(axis=1)
    best = int(np.argmax(val))
    test = _parzen_log_densities(x_test, samples, sigmas[best:best + 1])[0]
    mean, se = mean_and_stderr(test)
    return mean, se, float(sigmas[best])


# --- Frechet distance in a classifier's feature space ----------------------------------------
def frechet_distance(features_a, features_b):
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two feature sets."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr((S_a S_b)^(1/2)) = sum of sqrt of the eigenvalues of S_a^(1/2) S_b S_a^(1/2) (symmetric).
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    eig = np.linalg.eigvalsh(sqrt_a @ cov_b @ sqrt_a)
    trace_sqrt = np.sum(np.sqrt(np.clip(eig, 0, None)))
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)
