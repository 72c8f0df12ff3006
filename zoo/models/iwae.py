"""The importance-weighted autoencoder."""

import keras
import tensorflow as tf

from zoo import objectives
from zoo.capabilities import Option, merge_options
from zoo.models.registry import MODELS
from zoo.models.vae import VAE


@MODELS.register("iwae")
@keras.saving.register_keras_serializable(package="zoo")
class IWAE(VAE):
    """Importance-weighted autoencoder: the VAE's model trained on the k-sample bound.

        IWAE_k(x) = E[log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)],  z_1..z_k ~ q(z|x)
        loss      = -IWAE_k(x)

    IWAE_1 is the ELBO; the bound tightens as k grows. The reported `elbo` metric is the mean of
    the k log-weights (an unbiased k-sample ELBO estimate), `kl` and `reconstruction` its parts,
    so IWAE and VAE training curves compare directly; `loss` is -IWAE_k.

    Args:
        num_importance_samples: k, samples per example in the training bound (50 in the paper).
        **kwargs: the arguments of `VAE` (beta and warm-up are not used by this bound).

    Example:
        >>> iwae = IWAE(num_importance_samples=50, latent_dim=50)
        >>> iwae.compile(optimizer="adam")

    Reference:
        Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016.
    """

    capabilities = VAE.capabilities.replace(objective="iwae")
    options = merge_options(VAE.options, (
        Option("num_importance_samples", int, 50, "k of the IWAE training bound", minimum=1),))

    def __init__(self, num_importance_samples=50, **kwargs):
        if int(num_importance_samples) < 1:
            raise ValueError("num_importance_samples must be at least 1, got "
                             f"{num_importance_samples}.")
        super().__init__(**kwargs)
        self.num_importance_samples = int(num_importance_samples)

    def per_example_losses(self, x, y=None, training=False):
        x = self.check_input(x)
        log_w, log_px_given_z, log_pz_minus_qz = objectives.log_importance_weights(
            x, self.posterior(x), self.prior(), self.likelihood, self.num_importance_samples,
            self.next_seed(),
        )
        return {
            "loss": -objectives.iwae_bound(log_w),
            "elbo": tf.reduce_mean(log_w, axis=0),
            "kl": -tf.reduce_mean(log_pz_minus_qz, axis=0),
            "reconstruction": -tf.reduce_mean(log_px_given_z, axis=0),
        }

    def get_config(self):
        config = super().get_config()
        config.update(num_importance_samples=self.num_importance_samples)
        return config
