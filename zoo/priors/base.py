"""The prior interface and its name registry."""

import keras

from zoo.naming import Registry

PRIORS = Registry("prior")


def get_prior(kind, latent_dim, **kwargs):
    """Builds the prior called `kind` over a `latent_dim`-dimensional z."""
    return PRIORS.get(kind)(latent_dim=latent_dim, **kwargs)


class Prior(keras.layers.Layer):
    """A prior p(z) over R^latent_dim; weights (if any) are created at construction.

    Subclasses implement `distribution()`, returning a tfd distribution with event shape
    `[latent_dim]` and empty batch shape. Priors run in float32 under mixed precision.

    Args:
        latent_dim: dimension of z.
    """

    def __init__(self, latent_dim, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)

    def distribution(self):
        """p(z) as a tfd distribution."""
        raise NotImplementedError

    def call(self, z):
        return self.distribution().log_prob(z)

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim)
        return config
