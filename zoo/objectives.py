"""The shared maths of the zoo's objectives: KL, the ELBO, the importance-weighted bound of the
latent-variable models, and the adversarial losses of the GAN family (end of the module).

Notation: q_z = q(z|x) (batch shape [B]), p_z = p(z), and `likelihood_fn(z)` returns p(x|z) for
z of shape [S, B, d] (batch shape [S, B]). All returned terms are per example, shape [B].

    ELBO(x)   = E_q[log p(x|z)] - KL(q(z|x) || p(z))  = -distortion - rate
    IWAE_k(x) = E[log (1/k) sum_i p(x, z_i) / q(z_i|x)],  z_i ~ q(z|x)

IWAE_1 = ELBO in expectation and IWAE_k increases to log p(x) as k grows (Burda et al. 2015), so
IWAE_k with large k (5000) is the standard estimator of the test log-likelihood.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def kl_divergence(q_z, p_z, z=None):
    """KL(q || p) per example: analytic where TFP has it, else the one-sample estimate at `z`.

    Args:
        q_z: posterior with batch shape [B].
        p_z: prior (empty batch shape) or a distribution broadcastable against q_z.
        z: samples from q_z, shape [S, B, d]; needed only when no analytic KL exists.

    Returns:
        (kl, analytic): the [B] tensor (averaged over the S samples when Monte Carlo) and whether
        the analytic formula was used.
    """
    try:
        if not isinstance(p_z, tfd.Distribution):  # e.g. DiagonalGaussianMixture
            raise NotImplementedError
        return tfd.kl_divergence(q_z, p_z), True
    except NotImplementedError:
        if z is None:
            raise ValueError(
                f"No analytic KL between {type(q_z).__name__} and {type(p_z).__name__}; "
                "pass samples z for the Monte Carlo estimate."
            ) from None
        return tf.reduce_mean(q_z.log_prob(z) - p_z.log_prob(z), axis=0), False


def linear_warmup(step, warmup_steps):
    """KL warm-up weight: rises linearly from 0 to 1 over `warmup_steps` (1 when that is 0)."""
    if not warmup_steps:
        return tf.constant(1.0)
    step = tf.cast(step, tf.float32)
    return tf.minimum(1.0, step / float(warmup_steps))


def elbo(x, q_z, p_z, likelihood_fn, seed, num_samples=1, beta=1.0, analytic_kl=True):
    """The evidence lower bound and its parts, per example.

    loss = distortion + beta * rate is what a beta-VAE minimises (beta = 1: the plain VAE);
    `elbo` itself is always the unweighted bound.

    Args:
        x: observations [B, ...].
        q_z, p_z, likelihood_fn: see the module docstring.
        seed: stateless seed, int32 [2].
        num_samples: S, Monte Carlo samples of z per example for the reconstruction term.
        beta: weight of the rate in `loss` (a scalar or scalar tensor, e.g. with KL warm-up).
        analytic_kl: use the closed-form KL where it exists.

    Returns:
        dict of [B] tensors: loss, elbo, rate (the KL), distortion (-E log p(x|z)).
    """
    z = q_z.sample(num_samples, seed=seed)
    distortion = -tf.reduce_mean(likelihood_fn(z).log_prob(x), axis=0)
    if analytic_kl:
        rate, _ = kl_divergence(q_z, p_z, z)
    else:
        rate = tf.reduce_mean(q_z.log_prob(z) - p_z.log_prob(z), axis=0)
    beta = tf.cast(beta, rate.dtype)
    return {
        "loss": distortion + beta * rate,
        "elbo": -(distortion + rate),
        "rate": rate,
        "distortion": distortion,
    }


def log_importance_weights(x, q_z, p_z, likelihood_fn, num_samples, seed):
    """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q(z|x); shape [num_samples, B].

    Also returns the parts (log p(x|z), log p(z) - log q(z|x)) for reporting.
    """
    z = q_z.sample(num_samples, seed=seed)
    log_px_given_z = likelihood_fn(z).log_prob(x)
    log_pz_minus_qz = p_z.log_prob(z) - q_z.log_prob(z)
    return log_px_given_z + log_pz_minus_qz, log_px_given_z, log_pz_minus_qz


def iwae_bound(log_weights):
    """IWAE_k = logsumexp_i(log w_i) - log k from log-weights of shape [k, B]; returns [B]."""
    k = tf.cast(tf.shape(log_weights)[0], log_weights.dtype)
    return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(k)


def chunked_iwae_bound(log_weights_fn, num_samples, chunk_size, seed):
    """IWAE_k computed `chunk_size` samples at a time, so k = 5000 fits in memory.

    A `tf.while_loop`, so k may be a tensor (the exported `log_prob` signature feeds it); eager
    callers and the export run the same code and agree for the same seed.

    Args:
        log_weights_fn: `(n, seed) -> [n, B]` log-weights of n fresh samples.
        num_samples: k, a Python int or int32 scalar tensor (at least 1).
        chunk_size: samples per chunk (a Python int).
        seed: stateless seed, int32 [2]; chunk i uses `stateless_fold_in(seed, i)`.

    Returns:
        [B] tensor: logsumexp over all k log-weights minus log k.
    """
    if int(chunk_size) < 1:  # a zero chunk would divide by zero in the graph
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size}.")
    if isinstance(num_samples, int) and num_samples < 1:  # log 0: NaN for every example
        raise ValueError(f"num_samples must be at least 1, got {num_samples}.")
    num_samples = tf.convert_to_tensor(num_samples, tf.int32)
    chunk_size = tf.constant(int(chunk_size), tf.int32)
    num_chunks = (num_samples + chunk_size - 1) // chunk_size

    def chunk_logsumexp(i):
        n = tf.minimum(chunk_size, num_samples - i * chunk_size)
        chunk_seed = tf.random.experimental.stateless_fold_in(seed, i)
        return tf.reduce_logsumexp(log_weights_fn(n, chunk_seed), axis=0)

    def body(i, total):
        return i + 1, tf.reduce_logsumexp(tf.stack([total, chunk_logsumexp(i)]), axis=0)

    _, total = tf.while_loop(lambda i, _: i < num_chunks, body,
                             (tf.constant(1), chunk_logsumexp(tf.constant(0))))
    return total - tf.math.log(tf.cast(num_samples, total.dtype))


# --- adversarial losses (Goodfellow et al. 2014), from discriminator logits -------------------
# D(x) = sigmoid(logits); softplus(-l) = -log sigmoid(l) and softplus(l) = -log(1 - sigmoid(l)),
# computed stably from the logits. All terms are per example, shape [B].

def discriminator_loss(real_logits, fake_logits):
    """-log D(x) - log(1 - D(G(z))): the discriminator's cross-entropy on a real and a fake
    example (one of each per row)."""
    return tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits)


def generator_loss(fake_logits):
    """-log D(G(z)): the non-saturating generator loss (strong gradients early in training,
    when D rejects the fakes; the minimax -log(1 - D(G(z))) would saturate)."""
    return tf.nn.softplus(-fake_logits)


def gaussian_feature_distortion(features, reconstructed_features):
    """-log N(f(x); f(x~), I) up to its constant: 0.5 ||f(x) - f(x~)||^2 summed over features,
    the reconstruction error measured in a discriminator layer (VAE-GAN, Larsen et al. 2016).
    Features of any shape [B, ...]."""
    squared = tf.square(tf.cast(features, tf.float32) - tf.cast(reconstructed_features, tf.float32))
    return 0.5 * tf.reduce_sum(tf.reshape(squared, [tf.shape(squared)[0], -1]), axis=1)
