"""The VAE with a VampPrior: the prior is a mixture of the posteriors of learned pseudo-inputs."""

import keras
import numpy as np

from zoo.capabilities import Option, merge_options, without, picture
from zoo.models.registry import MODELS
from zoo.models.vae import VAE, check_mixture_prior_options
from zoo.priors import PseudoInputPrior


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

    capabilities = VAE.capabilities.replace(objective="elbo with a VampPrior")
    options = merge_options(without(VAE.options, "posterior", "prior"), (
        Option("num_pseudo_inputs", int, 500, "K pseudo-inputs of the VampPrior", minimum=1),))

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

    def make_prior(self):
        return PseudoInputPrior(self.latent_dim, self.num_pseudo_inputs,
                                self.likelihood_head.feature_shape, self.pseudo_input_mean,
                                self.pseudo_input_stddev, seed=self.seed, name="prior")

    def pseudo_inputs(self):
        """The K pseudo-inputs u_k in [0, 1], shape [K, *feature_shape]."""
        return self.prior_layer.pseudo_inputs()

    def pseudo_posterior(self):
        """q(z | u_k) for the K pseudo-inputs: a diagonal Normal with batch shape [K]."""
        return self._posterior_of_features(self.pseudo_inputs())

    def _posterior_of_features(self, u):
        return self.posterior_head.make_distribution(
            self.posterior_head(self.encoder_network(u)))

    @picture("pseudo_inputs", "pseudo-inputs u_k (odd rows) and decode(E[z|u_k]) (even rows)")
    def pseudo_input_rows(self, x, y, seed, num=50, columns=10):
        """Picture rows: the first `num` pseudo-inputs, each row followed by their decoded
        posterior means."""
        u = np.asarray(self.pseudo_inputs())[:num]
        decoded = np.asarray(self.decode(self.pseudo_posterior().mean()))[:len(u)]
        u = u.reshape(decoded.shape)  # pseudo-inputs live in feature space (e.g. colours)
        rows = []
        for start in range(0, len(u) - columns + 1, columns):
            rows += [u[start:start + columns], decoded[start:start + columns]]
        return np.stack(rows)

    def prior(self):
        return self.prior_layer.distribution(self._posterior_of_features)

    def get_config(self):
        config = super().get_config()
        config.update(num_pseudo_inputs=self.num_pseudo_inputs,
                      pseudo_input_mean=self.pseudo_input_mean,
                      pseudo_input_stddev=self.pseudo_input_stddev)
        return config
