"""The variational autoencoder and, through `beta`, the beta-VAE."""

import keras
import tensorflow as tf

from zoo import objectives
from zoo.capabilities import Capabilities, Option, merge_options
from zoo.distributions import POSTERIORS, get_posterior
from zoo.models.encoder_decoder import EncoderDecoderModel
from zoo.models.registry import MODELS


@MODELS.register("vae")
@keras.saving.register_keras_serializable(package="zoo")
class VAE(EncoderDecoderModel):
    """Variational autoencoder trained on the (beta-weighted) evidence lower bound.

        ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z))
        loss    = distortion + beta * w(t) * rate,   w(t) = min(1, t / kl_warmup_steps)

    With beta = 1 and no warm-up this is the VAE of Kingma & Welling (2014); beta > 1 gives the
    beta-VAE of Higgins et al. (2017). The KL is analytic when q and p allow it (diagonal or
    full-covariance Normal against N(0, I)) and a one-sample Monte Carlo estimate otherwise.

    Args:
        posterior: "diagonal" or "full_covariance" (a Cholesky-parameterized MultivariateNormalTriL).
        beta: weight of the KL term in the training loss.
        kl_warmup_steps: optimizer steps over which the KL weight rises linearly from 0 to beta.
        analytic_kl: use the closed-form KL where one exists.
        **kwargs: the architecture arguments of `EncoderDecoderModel` (event_shape, latent_dim,
            network, hidden_units, activation, conv_filters, likelihood, prior, seed, ...).

    Example:
        >>> vae = VAE(event_shape=(28, 28, 1), latent_dim=50, hidden_units=(200, 200))
        >>> vae.compile(optimizer="adam")
        >>> vae.fit(train_dataset, epochs=10)
        >>> nll = -vae.log_prob(x_test[:100], num_samples=5000).numpy().mean()

    Reference:
        Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
        Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained Variational
        Framework", ICLR 2017.
    """

    capabilities = Capabilities(density="bound", latent="single", objective="elbo")
    options = merge_options(EncoderDecoderModel.options, (
        Option("posterior", str, "diagonal", "q(z|x)", choices=tuple(POSTERIORS.names())),
        Option("beta", float, 1.0, "KL weight (beta-VAE when > 1)", minimum=0),
        Option("kl_warmup_epochs", int, 0, "epochs of linear KL warm-up from 0 to beta",
               minimum=0, argument=lambda value, run: {
                   "kl_warmup_steps": value * run["steps_per_epoch"]}),
    ))

    def __init__(self, posterior="diagonal", beta=1.0, kl_warmup_steps=0, analytic_kl=True,
                 **kwargs):
        super().__init__(**kwargs)
        self.posterior_name = posterior
        self.beta = float(beta)
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.analytic_kl = bool(analytic_kl)
        self.posterior_head = get_posterior(posterior, self.latent_dim, name="posterior_head")
        self.build()

    def build_encoder(self, features_shape):
        self.posterior_head.build(features_shape)

    @property
    def encoder_head(self):
        return self.posterior_head

    def head_features(self, x, **condition):
        """What the posterior head reads: the encoder features (conditional models append
        their labels)."""
        return self.encoder_features(x)

    def posterior(self, x, **condition):
        return self.posterior_head.make_distribution(
            self.posterior_head(self.head_features(x, **condition)))

    def encode_outputs(self, x, **condition):
        return self.posterior_head.serving_outputs(
            self.posterior_head(self.head_features(x, **condition)))

    def kl_weight(self, training):
        """beta, times the warm-up factor during training."""
        if not training or not self.kl_warmup_steps or self.optimizer is None:
            return tf.constant(self.beta)
        return self.beta * objectives.linear_warmup(self.optimizer.iterations,
                                                    self.kl_warmup_steps)

    def per_example_losses(self, x, y=None, training=False):
        x = self.check_input(x)
        condition = self.conditioning(y)  # {} unless the model is conditional
        terms = objectives.elbo(
            x, self.posterior(x, **condition), self.prior(),
            lambda z: self.likelihood(z, **condition), seed=self.next_seed(),
            beta=self.kl_weight(training), analytic_kl=self.analytic_kl,
        )
        return {"loss": terms["loss"], "elbo": terms["elbo"], "kl": terms["rate"],
                "reconstruction": terms["distortion"]}

    def get_config(self):
        config = super().get_config()
        config.update(posterior=self.posterior_name, beta=self.beta,
                      kl_warmup_steps=self.kl_warmup_steps, analytic_kl=self.analytic_kl)
        return config


def check_mixture_prior_options(model_name, prior_description, options):
    """Models whose prior is a mixture of their own diagonal posteriors (VampPrior, GAE) accept
    neither another posterior nor another prior; raises ValueError naming the option."""
    if options.get("posterior", "diagonal") != "diagonal":
        raise ValueError(f"{model_name} supports only the 'diagonal' posterior (its prior is a "
                         f"mixture of diagonal Gaussians), got {options['posterior']!r}.")
    if options.get("prior", "normal") != "normal":
        raise ValueError(f"{model_name} brings its own prior ({prior_description}); leave "
                         f"`prior` at 'normal', got {options['prior']!r}.")
