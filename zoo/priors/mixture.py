"""A learnable mixture-of-Gaussians prior."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from zoo.priors.base import PRIORS, Prior

tfd = tfp.distributions


@PRIORS.register("mixture")
class MixtureOfGaussians(Prior):
    """p(z) = sum_k pi_k N(z; mu_k, diag(sigma_k^2)), with pi, mu and sigma learned.

    KL(q || p) has no closed form against a mixture, so the objectives fall back to the Monte
    Carlo estimate log q(z|x) - log p(z) at the sampled z.

    Args:
        latent_dim: dimension of z.
        num_components: number of mixture components K.
        seed: seed for the initial component means (spread as N(0, I)).

    Example:
        >>> prior = MixtureOfGaussians(latent_dim=2, num_components=10)
        >>> prior.distribution().sample(5).shape
        TensorShape([5, 2])
    """

    def __init__(self, latent_dim, num_components=10, seed=0, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.num_components = int(num_components)
        self.seed = seed
        k, d = self.num_components, self.latent_dim
        self.logits = self.add_weight(shape=(k,), initializer="zeros", name="logits")
        self.locs = self.add_weight(
            shape=(k, d), initializer=keras.initializers.RandomNormal(seed=seed), name="locs"
        )
        # softplus(0.5413) = 1: components start with unit scale.
        self.raw_scales = self.add_weight(
            shape=(k, d), initializer=keras.initializers.Constant(0.5413), name="raw_scales"
        )
        self.built = True

    def distribution(self):
        return tfd.MixtureSameFamily(
            mixture_distribution=tfd.Categorical(logits=tf.convert_to_tensor(self.logits)),
            components_distribution=tfd.MultivariateNormalDiag(
                loc=tf.convert_to_tensor(self.locs),
                scale_diag=tf.nn.softplus(self.raw_scales) + 1e-4,
            ),
        )

    def get_config(self):
        config = super().get_config()
        config.update(num_components=self.num_components, seed=self.seed)
        return config
