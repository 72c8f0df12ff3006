"""The deterministic autoencoder baseline."""

import keras
import tensorflow_probability as tfp

from zoo.capabilities import Capabilities
from zoo.models.encoder_decoder import EncoderDecoderModel
from zoo.models.registry import MODELS

tfd = tfp.distributions


@MODELS.register("autoencoder")
@keras.saving.register_keras_serializable(package="zoo")
class Autoencoder(EncoderDecoderModel):
    """Deterministic autoencoder: z = f(x), trained on -log p(x|z) alone (no KL, no bound).

    A baseline for the VAE family. Its posterior is a point mass at the code, so it has no ELBO
    and no density: `elbo` and `log_prob` raise. `sample` decodes z ~ N(0, I), which an
    autoencoder was never trained for; expect poor samples (that is the point of the VAE).

    Args:
        **kwargs: the architecture arguments of `EncoderDecoderModel`.

    Example:
        >>> ae = Autoencoder(latent_dim=2)
        >>> ae.compile(optimizer="adam")

    Reference:
        Hinton & Salakhutdinov, "Reducing the Dimensionality of Data with Neural Networks",
        Science 2006.
    """

    capabilities = Capabilities(density="none", latent="single", objective="reconstruction")
    metric_names = ("loss", "reconstruction")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.code = keras.layers.Dense(self.latent_dim, dtype="float32", name="code")
        self.build()

    def build_encoder(self, features_shape):
        self.code.build(features_shape)

    @property
    def encoder_head(self):
        return self.code

    def posterior(self, x):
        return tfd.Independent(tfd.Deterministic(self.code(self.encoder_features(x))), 1)

    def per_example_losses(self, x, y=None, training=False):
        x = self.check_input(x)
        distortion = -self.likelihood(self.encode(x)).log_prob(x)
        return {"loss": distortion, "reconstruction": distortion}

    def elbo(self, x, seed=None):
        raise NotImplementedError("The deterministic Autoencoder has no ELBO; use a VAE.")

    def log_prob(self, x, num_samples=5000, seed=None, chunk_size=500):
        raise NotImplementedError("The deterministic Autoencoder defines no density p(x); "
                                  "use a VAE or IWAE for log-likelihoods.")

    anomaly_score_kind = "reconstruction error -log p(x | decoder(encoder(x)))"

    def anomaly_score(self, x, num_samples=None, seed=None, chunk_size=None):
        """The reconstruction error -log p(x | z = f(x)) [B] (num_samples, seed: ignored)."""
        return self.per_example_losses(x)["reconstruction"]
