"""VAE-GAN (Larsen et al. 2016): a VAE whose reconstruction error is measured in the features of
a GAN discriminator ("autoencoding beyond pixels")."""

import keras
import tensorflow as tf

from zoo import objectives
from zoo.capabilities import Option, merge_options
from zoo.models.registry import MODELS
from zoo.models.vae import VAE
from zoo.networks.adversarial import dcgan_features, logit_head


@MODELS.register("vaegan")
@keras.saving.register_keras_serializable(package="zoo")
class VAEGAN(VAE):
    """Encoder q(z|x), decoder (the generator) x~ = Dec(z) and discriminator D, with the paper's
    three losses and one optimizer per group (Algorithm 1 of the paper):

        z ~ q(z|x), x~ = Dec(z), x_p = Dec(z_p) with z_p ~ N(0, I)
        L_prior = KL(q(z|x) || p(z))
        L_like  = 0.5 ||f(x) - f(x~)||^2      f: D's last convolution (Dis_l), a Gaussian
                                              log-likelihood in feature space up to a constant
        encoder:        L_prior + L_like
        decoder:        gamma L_like - log D(x~) - log D(x_p)      (non-saturating GAN terms)
        discriminator:  -log D(x) - log(1 - D(x~)) - log(1 - D(x_p))

    Only the discriminator learns from its GAN loss, and it does not learn from L_like (as in the
    paper). Reported: d_real = D(x), d_fake = D(x_p) (samples from the prior). `pixel_weight`
    > 0 adds that multiple of the pixel reconstruction -log p(x|z) to the encoder's and
    decoder's losses (0, the paper's setting, by default).

    It is a VAE in every other respect: encode, decode, reconstruct and sample (the mean images
    Dec(z)), and a density bound: `elbo` and `log_prob` use the decoder's Bernoulli p(x|z), which
    training never fits directly, so the bound measures how well a pixel likelihood fits the
    images a feature-space model draws (expect it far above a VAE's). Adversarial exports as the
    GANs: `generate` (z -> Dec(z)) and `discriminate`.

    Args:
        gamma: weight of L_like against the GAN terms in the decoder's loss.
        pixel_weight: weight of the pixel reconstruction term (0: the paper's model).
        discriminator_filters: channels of D's stride-2 5x5 convolutions (DCGAN-style, leaky
            ReLU, batch norm on all but the first); its last convolution is Dis_l.
        **kwargs: the VAE's arguments (network "conv" by default; the prior must be "normal").

    Reference:
        Larsen, Sønderby, Larochelle & Winther, "Autoencoding beyond pixels using a learned
        similarity metric", ICML 2016.
    """

    capabilities = VAE.capabilities.replace(
        adversarial=True, optimizers=("encoder", "decoder", "discriminator"), objective="vae-gan")
    metric_names = ("elbo", "kl", "reconstruction", "feature_distortion", "d_loss", "g_loss",
                    "d_real", "d_fake")
    options = merge_options(VAE.options, (
        Option("network", str, "conv", "encoder/decoder networks", choices=("mlp", "conv")),
        Option("gamma", float, 1.0, "weight of the feature-space reconstruction against the GAN "
               "terms in the decoder's loss", minimum=0),
        Option("pixel_weight", float, 0.0, "weight of the pixel reconstruction -log p(x|z) in "
               "the encoder's and decoder's losses (0: the paper's model)", minimum=0),
        Option("discriminator_filters", list, [32, 64], "channels of the discriminator's "
               "stride-2 convolutions", minimum=1),
    ))

    def __init__(self, gamma=1.0, pixel_weight=0.0, discriminator_filters=(32, 64),
                 network="conv", **kwargs):
        if kwargs.get("prior", "normal") != "normal":
            raise ValueError("VAEGAN supports only the 'normal' prior (its optimizer groups "
                             f"hold no prior parameters), got {kwargs['prior']!r}.")
        self.gamma = float(gamma)
        self.pixel_weight = float(pixel_weight)
        self.discriminator_filters = tuple(int(f) for f in discriminator_filters)
        super().__init__(network=network, **kwargs)  # builds (`build`), the discriminator too

    def build(self, input_shape=None):
        self.discriminator_features = dcgan_features(self.event_shape,
                                                     self.discriminator_filters)
        self.discriminator_head = logit_head(
            self.discriminator_features.compute_output_shape((None, *self.event_shape))[1:])
        super().build(input_shape)

    # --- the adversarial side ----------------------------------------------------------------
    def generate(self, z, training=False):
        """Dec(z): the mean images of p(x|z)."""
        return self.decode(z)

    def features(self, x, training=False):
        """Dis_l(x): the discriminator's last convolution, float32."""
        return tf.cast(self.discriminator_features(x, training=training), tf.float32)

    def discriminate(self, x, training=False):
        x = self.check_input(x)
        return tf.cast(self.discriminator_head(self.features(x, training))[:, 0], tf.float32)

    # --- training ----------------------------------------------------------------------------
    def parameter_groups(self):
        return {"encoder": [*self.encoder_network.trainable_variables,
                            *self.posterior_head.trainable_variables],
                "decoder": [*self.decoder_network.trainable_variables,
                            *self.likelihood_head.trainable_variables],
                "discriminator": [*self.discriminator_features.trainable_variables,
                                  *self.discriminator_head.trainable_variables]}

    def group_loss(self, group, x, y=None, training=True):
        x = self.check_input(x)
        posterior = self.posterior(x)
        z = posterior.sample(seed=self.next_seed())
        kl, _ = objectives.kl_divergence(posterior, self.prior(), z[None])
        params = self.likelihood_params(z)
        x_tilde = self.likelihood_head.mean(params)
        x_prior = self.decode(tf.random.stateless_normal(tf.shape(z), self.next_seed()))
        if group == "discriminator":
            real = self.discriminate(x, training)
            fake = self.discriminate(tf.stop_gradient(x_tilde), training)
            prior_fake = self.discriminate(tf.stop_gradient(x_prior), training)
            d_loss = objectives.discriminator_loss(real, fake) + tf.nn.softplus(prior_fake)
            return self.report({"d_loss": d_loss, "d_real": tf.sigmoid(real),
                                "d_fake": tf.sigmoid(prior_fake)}, "d_loss")
        distortion = objectives.gaussian_feature_distortion(self.features(x, training),
                                                            self.features(x_tilde, training))
        pixels = -self.likelihood_head.make_distribution(params).log_prob(x)
        if group == "encoder":
            loss = self.kl_weight(training) * kl + distortion + self.pixel_weight * pixels
            return self.report({"loss": loss, "kl": kl, "reconstruction": pixels,
                                "elbo": -(pixels + kl), "feature_distortion": distortion})
        g_loss = (objectives.generator_loss(self.discriminate(x_tilde, training))
                  + objectives.generator_loss(self.discriminate(x_prior, training)))
        loss = self.gamma * distortion + g_loss + self.pixel_weight * pixels
        return self.report({"loss": loss, "g_loss": g_loss})

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "pixel_weight": self.pixel_weight,
                "discriminator_filters": list(self.discriminator_filters)}
