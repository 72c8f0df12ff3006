"""The VAE with a VampPrior: the prior is a mixture of the posteriors of learned pseudo-inputs."""

import keras
import tensorflow as tf

from zoo.distributions import DiagonalGaussianMixture
from zoo.models.registry import MODELS
from zoo.models.vae import VAE, check_mixture_prior_options


@MODELS.register("vamp")
@keras.saving.register_keras_serializable(package="zoo")
class VampPrior(VAE):
    """VAE whose prior is the "variational mixture of posteriors" of K learned pseudo-inputs.

        p(z)    = (1/K) sum_k q(z | u_k),   u_k = clip(w_k, 0, 1)  (a hard-tanh to [0, 1])
        ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z))

    The pseudo-inputs u_k have the shape of an (encoder-side) observation and go through the
    model's own encoder, so the prior follows the encoder during training. The KL against the
    mixture has no closed form: the objectives use the Monte Carlo estimate
    log q(z|x) - log p(z) at the sampled z. The mixture is a `DiagonalGaussianMixture`, scored
    with matrix products (exact, no [B, K, d] broadcast). Sampling picks a pseudo-input uniformly
    and draws z ~ q(z|u_k).

    Args:
        num_pseudo_inputs: K, the number of pseudo-inputs (500 in the paper).
        pseudo_input_mean: mean of the Normal initialization of the pseudo-input weights w_k.
        pseudo_input_stddev: its standard deviation.
        **kwargs: the arguments of `VAE` (posterior must be "diagonal"; `prior` is replaced by
            the VampPrior and must stay "normal", its default).

    Example:
        >>> vamp = VampPrior(num_pseudo_inputs=500, latent_dim=40, hidden_units=(300, 300))
        >>> vamp.compile(optimizer="adam")
        >>> vamp.fit(train_dataset, epochs=10)
        >>> images = vamp.decode(vamp.pseudo_posterior().mean())  # what each u_k encodes

    Reference:
        Tomczak & Welling, "VAE with a VampPrior", AISTATS 2018.
    """

    def __init__(self, num_pseudo_inputs=500, pseudo_input_mean=0.5, pseudo_input_stddev=0.01,
                 **kwargs):
        if int(num_pseudo_inputs) < 1:
            raise ValueError(f"num_pseudo_inputs must be at least 1, got {num_pseudo_inputs}.")
        if float(pseudo_input_stddev) < 0:
            raise ValueError(f"pseudo_input_stddev must be non-negative, got "
                             f"{pseudo_input_stddev}.")
        check_mixture_prior_options("VampPrior", "the mixture of the pseudo-inputs' posteriors",
                                    kwargs)
        # Read by build_encoder, which the VAE constructor runs (state is created in build).
        self.num_pseudo_inputs = int(num_pseudo_inputs)
        self.pseudo_input_mean = float(pseudo_input_mean)
        self.pseudo_input_stddev = float(pseudo_input_stddev)
        super().__init__(**kwargs)

    def build_encoder(self, features_shape):
        super().build_encoder(features_shape)
        self.pseudo_input_weights = self.add_weight(
            shape=(self.num_pseudo_inputs, *self.likelihood_head.feature_shape),
            initializer=keras.initializers.RandomNormal(
                self.pseudo_input_mean, self.pseudo_input_stddev, seed=self.seed),
            dtype="float32", name="pseudo_inputs",
        )

    def pseudo_inputs(self):
        """The K pseudo-inputs u_k in [0, 1], shape [K, *feature_shape]."""
        return tf.clip_by_value(tf.convert_to_tensor(self.pseudo_input_weights), 0.0, 1.0)

    def pseudo_posterior(self):
        """q(z | u_k) for the K pseudo-inputs: a diagonal Normal with batch shape [K]."""
        params = self.posterior_head(self.encoder_network(self.pseudo_inputs()))
        return self.posterior_head.make_distribution(params)

    def prior(self):
        q_u = self.pseudo_posterior()
        return DiagonalGaussianMixture(q_u.mean(), q_u.stddev())

    def get_config(self):
        config = super().get_config()
        config.update(num_pseudo_inputs=self.num_pseudo_inputs,
                      pseudo_input_mean=self.pseudo_input_mean,
                      pseudo_input_stddev=self.pseudo_input_stddev)
        return config
