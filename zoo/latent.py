"""`LatentVariableModel`: generators p(x) = integral p(x|z) p(z) dz with an inference model q(z|x)."""

import keras
import tensorflow as tf

from zoo import objectives
from zoo.base import GenerativeModel
from zoo.checks import check_chunk_size
from zoo.capabilities import Capabilities


class LatentVariableModel(GenerativeModel):
    """A generator with latent variables z, a prior p(z), a likelihood p(x|z) and a posterior
    q(z|x); the ELBO and the importance-weighted estimate of log p(x) follow from them.

        ELBO(x)     = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z))
        log p(x)   >= IWAE_k(x) = E[log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)],  z_i ~ q(z|x)

    Subclasses define `posterior(x)` -> q(z|x), `prior()` -> p(z), `likelihood(z)` -> p(x|z)
    (tfd distributions built from layer outputs) and `per_example_losses`. This class derives
    encode, decode, reconstruct, sample, elbo and log_prob. A model with a sequence of latents
    (z_1..T) declares `latent="sequence"` and gives the same methods over the whole sequence
    (its q and p are joint distributions over z_1..T), so the estimator is shared.

    Args:
        event_shape: shape of one observation, e.g. (28, 28, 1).
        seed: seed of the model's random stream.
    """

    capabilities = Capabilities(density="bound", latent="single")
    metric_names = ("loss", "elbo", "kl", "reconstruction")

    # --- the probabilistic model: subclasses define these -------------------------------------
    def posterior(self, x, **condition):
        """q(z|x) as a tfd distribution with batch shape [B]."""
        raise NotImplementedError

    def prior(self):
        """p(z) as a tfd distribution."""
        raise NotImplementedError

    def likelihood(self, z, **condition):
        """p(x|z) as a tfd distribution; z may carry extra leading sample dimensions."""
        raise NotImplementedError

    # --- derived API -------------------------------------------------------------------------
    # `**condition` carries the class `labels` of conditional models (see `conditioning`) to
    # their `posterior` and `likelihood`; other models take none.
    def encode(self, x, **condition):
        """Posterior mean E[z|x]."""
        return self.posterior(x, **condition).mean()

    def decode(self, z, **condition):
        """Mean of p(x|z)."""
        return self.likelihood(z, **condition).mean()

    def reconstruct(self, x, **condition):
        """decode(encode(x)): the mean image at the posterior mean."""
        return self.decode(self.encode(x, **condition), **condition)

    def sample(self, num_samples, seed=None, **condition):
        """Draws z ~ p(z) and returns the mean images of p(x|z), shape [num_samples, *event]."""
        return self.sample_outputs(num_samples, seed, **condition)["x"]

    def sample_outputs(self, num_samples, seed=None, **condition):
        """{"x": mean images of p(x|z), "z": z ~ p(z)} (the exported `sample` signature)."""
        num_samples = self.check_count(num_samples)
        z = self.prior().sample(num_samples, seed=self.next_seed(seed))
        return {"x": self.decode(z, **condition), "z": z}

    def elbo(self, x, seed=None, **condition):
        """Per-example evidence lower bound (one Monte Carlo sample of z), in nats."""
        return objectives.elbo(
            self.check_input(x), self.posterior(x, **condition), self.prior(),
            lambda z: self.likelihood(z, **condition), seed=self.next_seed(seed),
        )["elbo"]

    def log_prob(self, x, num_samples=5000, seed=None, chunk_size=500, **condition):
        """Per-example importance-weighted estimate of log p(x) (the IWAE bound with k samples).

        Args:
            x: observations [B, *event_shape].
            num_samples: k (an int or int32 scalar tensor); 5000 is the standard protocol.
            seed: int, pair, or int32 [2] tensor; None draws from the model's seed stream.
            chunk_size: samples evaluated at once; lower it if memory is short.

        Raises ValueError for num_samples outside [1, MAX_SAMPLES_PER_CALL] or chunk_size < 1
        (a symbolic num_samples is checked in the graph); an empty batch gives shape [0].
        """
        num_samples = self.check_count(num_samples)
        chunk_size = check_chunk_size(chunk_size)
        x, seed = self.check_input(x), self.next_seed(seed)
        if x.shape[0] == 0:  # nothing to sample for
            return tf.zeros([0])
        q_z, p_z = self.posterior(x, **condition), self.prior()

        def log_weights(n, seed):
            return objectives.log_importance_weights(
                x, q_z, p_z, lambda z: self.likelihood(z, **condition), n, seed)[0]

        return objectives.chunked_iwae_bound(log_weights, num_samples, chunk_size, seed)

    def call(self, x, training=False):
        return self.reconstruct(x)

    def predict_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.reconstruct(x, **(self.conditioning(y) if self.capabilities.conditional
                                      else {}))

    # --- serving (zoo.export builds the SavedModel signatures from these) --------------------
    @property
    def latent_shape(self):
        """Shape of one z (the exported `decode` input)."""
        return (self.latent_dim,)

    def encode_outputs(self, x, **condition):
        """Named outputs of the exported `encode` signature: posterior mean and stddev."""
        q_z = self.posterior(x, **condition)
        return {"mean": q_z.mean(), "stddev": q_z.stddev()}

    def decode_outputs(self, z, **condition):
        """Named outputs of the exported `decode` signature."""
        return {"mean": self.decode(z, **condition)}
