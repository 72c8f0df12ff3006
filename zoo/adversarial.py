"""`AdversarialModel`: a generator x = G(z), z ~ N(0, I), trained against a discriminator D(x).

The GAN family (GAN, DCGAN, LAPGAN) builds on it; the VAE-GAN, which is also a VAE, uses the
same losses from `zoo.objectives`. Two optimizer groups, updated in this order each step
(`GenerativeModel.train_step`):

    discriminator:  d_loss = -log D(x) - log(1 - D(G(z)))          (G fixed)
    generator:      g_loss = -log D(G(z))                           (the non-saturating loss)

with fresh z ~ N(0, I) for each. Reported per step: d_loss, g_loss, d_real = D(x) and
d_fake = D(G(z)) (the discriminator's probabilities, the usual stability curves). There is no
density: no `log_prob`, no NLL; the evaluation suite scores the samples (FD, Parzen, class
coverage, precision/recall). Exports: `sample` (num_samples, seed -> x, z), `generate`
(z -> x) and `discriminate` (x -> probability, logits), see `zoo.export`.
"""

import tensorflow as tf

from zoo import objectives
from zoo.base import GenerativeModel
from zoo.capabilities import Capabilities, Option
from zoo.checks import is_symbolic, run_checks


def image_assertions(x):
    """Graph-safe checks that images are finite and in [0, 1]."""
    message = "pixel values must be in [0, 1] (grey levels or binary images)"
    return [tf.debugging.assert_all_finite(x, "The inputs contain NaN or infinite values."),
            tf.debugging.assert_greater_equal(x, tf.zeros([], x.dtype), message=message),
            tf.debugging.assert_less_equal(x, tf.ones([], x.dtype), message=message)]


class AdversarialModel(GenerativeModel):
    """Base class of the GANs: subclasses build `self.generator` (z [B, latent_dim] -> images)
    and `self.discriminator` (images -> logits [B, 1]) in `make_networks`, or override
    `generate` / `discriminate` / `group_loss` (LAPGAN).

    Args:
        event_shape: shape of one image (pixels in [0, 1]).
        latent_dim: dimension of z ~ N(0, I).
        seed: seed of the model's random stream.
    """

    capabilities = Capabilities(density="none", latent="none", adversarial=True,
                                optimizers=("discriminator", "generator"),
                                objective="non-saturating gan")
    metric_names = ("d_loss", "g_loss", "d_real", "d_fake")
    options = (Option("latent_dim", int, 100, "dimension of z ~ N(0, I)", minimum=1),)

    def __init__(self, event_shape=(28, 28, 1), latent_dim=100, seed=None, **kwargs):
        super().__init__(event_shape=event_shape, seed=seed, **kwargs)
        self.latent_dim = int(latent_dim)
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {latent_dim}.")
        self.make_networks()
        self.built = True

    def make_networks(self):
        """Creates (and builds) the generator and the discriminator."""
        raise NotImplementedError

    # --- the generator and the discriminator -------------------------------------------------
    @property
    def latent_shape(self):
        """Shape of one z, the input of `generate`."""
        return (self.latent_dim,)

    def noise(self, num_samples, seed=None):
        """z ~ N(0, I), [num_samples, *latent_shape], from a stateless seed."""
        return tf.random.stateless_normal([num_samples, *self.latent_shape],
                                          self.next_seed(seed))

    def check_latent(self, z):
        """z as a float32 tensor [B, *latent_shape], finite; ValueError (eager) or graph
        assertions (symbolic) otherwise."""
        z = tf.convert_to_tensor(z, tf.float32)
        shape = tuple(z.shape)
        if z.shape.rank is not None and (len(shape) != len(self.latent_shape) + 1 or any(
                d is not None and d != e for d, e in zip(shape[1:], self.latent_shape))):
            raise ValueError(f"{type(self).__name__}.generate expects z of shape [batch, "
                             f"{', '.join(map(str, self.latent_shape))}], got {list(shape)}.")
        finite = lambda v: [tf.debugging.assert_all_finite(v, "z must be finite (no NaN or inf)")]
        if is_symbolic(z):
            with tf.control_dependencies(finite(z)):
                return tf.identity(z)
        run_checks(finite, z)
        return z

    def generate(self, z, training=False):
        """G(z): images [B, *event_shape] in [0, 1]."""
        return tf.cast(self.generator(self.check_latent(z), training=training), tf.float32)

    def discriminate(self, x, training=False):
        """The discriminator's logits [B]; D(x) = sigmoid(logits) is its probability that x is
        a real image."""
        return tf.cast(self.discriminator(self.check_input(x), training=training)[:, 0],
                       tf.float32)

    def sample(self, num_samples, seed=None):
        return self.sample_outputs(num_samples, seed)["x"]

    def sample_outputs(self, num_samples, seed=None):
        num_samples = self.check_count(num_samples)
        z = self.noise(num_samples, seed)
        return {"x": self.generate(z), "z": z}

    def value_assertions(self, x):
        return image_assertions(x)

    def call(self, x, training=False):
        return self.discriminate(x, training=training)

    # --- training ----------------------------------------------------------------------------
    def parameter_groups(self):
        return {"discriminator": self.discriminator.trainable_variables,
                "generator": self.generator.trainable_variables}

    def group_loss(self, group, x, y=None, training=True):
        x = self.check_input(x)
        given = self.conditioning(y)  # a conditional GAN: fakes of the real batch's classes
        fake = self.generate(self.noise(tf.shape(x)[0]), training=training, **given)
        if group == "discriminator":
            real_logits = self.discriminate(x, training=training, **given)
            fake_logits = self.discriminate(tf.stop_gradient(fake), training=training, **given)
            return self.report({"d_loss": objectives.discriminator_loss(real_logits, fake_logits),
                                "d_real": tf.sigmoid(real_logits),
                                "d_fake": tf.sigmoid(fake_logits)}, "d_loss")
        fake_logits = self.discriminate(fake, training=training, **given)
        return self.report({"g_loss": objectives.generator_loss(fake_logits)}, "g_loss")

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim}
