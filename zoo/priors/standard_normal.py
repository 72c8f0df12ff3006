"""The standard Normal prior N(0, I)."""

import tensorflow as tf
import tensorflow_probability as tfp

from zoo.priors.base import PRIORS, Prior

tfd = tfp.distributions


@PRIORS.register("normal")
class StandardNormal(Prior):
    """p(z) = N(0, I); no weights, and KL(q || p) is analytic for Gaussian posteriors."""

    def __init__(self, latent_dim, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.built = True

    def distribution(self):
        return tfd.MultivariateNormalDiag(loc=tf.zeros([self.latent_dim], self.compute_dtype))
