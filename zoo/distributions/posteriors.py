"""Posterior heads q(z|x): Keras layers that map encoder features to Gaussian parameters.

`call` returns a flat parameter tensor `[batch, params_size]`; `make_distribution(params)` builds
the multivariate Normal (event shape `[latent_dim]`). Heads run in float32 under mixed precision.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from zoo.naming import Registry

tfd = tfp.distributions
tfb = tfp.bijectors

POSTERIORS = Registry("posterior")


def get_posterior(kind, latent_dim, **kwargs):
    """Builds the posterior head called `kind`."""
    return POSTERIORS.get(kind)(latent_dim=latent_dim, **kwargs)


class PosteriorHead(keras.layers.Layer):
    """Base posterior head: one Dense layer producing `params_size` numbers per example.

    Args:
        latent_dim: dimension of z.
        min_scale: floor added to standard deviations (keeps log q(z|x) finite).
    """

    def __init__(self, latent_dim, min_scale=1e-4, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.min_scale = float(min_scale)
        self.projection = keras.layers.Dense(
            self.params_size, dtype=self.dtype_policy, name="projection"
        )

    @property
    def params_size(self):
        raise NotImplementedError

    def build(self, input_shape):
        self.projection.build(input_shape)

    def call(self, features):
        return self.projection(tf.cast(features, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.params_size)

    def make_distribution(self, params):
        """q(z|x) for parameters `params` of shape [..., params_size]."""
        raise NotImplementedError

    def serving_outputs(self, params):
        """Named outputs of the exported `encode` signature."""
        q_z = self.make_distribution(params)
        return {"mean": q_z.mean(), "stddev": q_z.stddev()}

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, min_scale=self.min_scale)
        return config


@POSTERIORS.register("diagonal")
class DiagonalNormalHead(PosteriorHead):
    """q(z|x) = N(mu(x), diag(sigma(x)^2)), sigma = softplus(raw) + min_scale."""

    @property
    def params_size(self):
        return 2 * self.latent_dim

    def make_distribution(self, params):
        loc, raw_scale = tf.split(params, 2, axis=-1)
        scale = tf.nn.softplus(raw_scale) + self.min_scale
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)


@POSTERIORS.register("full_covariance")
class FullCovarianceNormalHead(PosteriorHead):
    """q(z|x) = N(mu(x), L(x) L(x)^T) with L lower triangular (the Cholesky parameterization).

    The d(d+1)/2 free numbers fill L row by row; its diagonal goes through softplus + min_scale,
    so L is a valid Cholesky factor for any network output.
    """

    @property
    def params_size(self):
        d = self.latent_dim
        return d + d * (d + 1) // 2

    def make_distribution(self, params):
        loc = params[..., : self.latent_dim]
        fill = tfb.FillScaleTriL(diag_bijector=tfb.Softplus(), diag_shift=self.min_scale)
        scale_tril = fill(params[..., self.latent_dim :])
        return tfd.MultivariateNormalTriL(loc=loc, scale_tril=scale_tril)

    def serving_outputs(self, params):
        q_z = self.make_distribution(params)
        return {"mean": q_z.mean(), "stddev": q_z.stddev(), "scale_tril": q_z.scale.to_dense()}
