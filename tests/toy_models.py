"""A tiny model with two optimizers, to prove the several-optimizer contract end to end.

`ToyGAN` is registered as "toy_gan" when this module is imported (the test suite imports it in
conftest, and the multi-worker test's worker script imports it), so the harness, `fit`,
resume, model folders, the multi-worker loop and the export all see a model whose
capabilities name two parameter groups, each with its own optimizer and loss.
"""

import keras
import tensorflow as tf

from zoo.base import GenerativeModel
from zoo.capabilities import Capabilities, Option
from zoo.models.registry import MODELS


@MODELS.register("toy_gan")
@keras.saving.register_keras_serializable(package="zoo_tests")
class ToyGAN(GenerativeModel):
    """An MLP GAN with the non-saturating loss: D on (real, G(z)), then G against the new D.

        d_loss = -log D(x) - log(1 - D(G(z)))      (discriminator group)
        g_loss = -log D(G(z))                       (generator group)

    Args:
        event_shape: shape of one image in [0, 1].
        latent_dim: dimension of z ~ N(0, I).
        hidden_units: width of the hidden layer of both networks.
        seed: seed of the model's random stream.
    """

    capabilities = Capabilities(density="none", latent="none",
                                optimizers=("discriminator", "generator"),
                                objective="non-saturating gan")
    options = (Option("latent_dim", int, 4, "dimension of z", minimum=1),
               Option("hidden_units", list, [16], "hidden sizes (the first is used)",
                      minimum=1))
    metric_names = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, event_shape=(8, 8, 1), latent_dim=4, hidden_units=(16,), seed=None,
                 **kwargs):
        super().__init__(event_shape=event_shape, seed=seed, **kwargs)
        self.latent_dim = int(latent_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        size = 1
        for d in self.event_shape:
            size *= d
        self.generator = keras.Sequential([
            keras.layers.Dense(self.hidden_units[0], activation="relu"),
            keras.layers.Dense(size, activation="sigmoid", dtype="float32"),
            keras.layers.Reshape(self.event_shape)], name="generator")
        self.discriminator = keras.Sequential([
            keras.layers.Flatten(), keras.layers.Dense(self.hidden_units[0], activation="relu"),
            keras.layers.Dense(1, dtype="float32")], name="discriminator")
        self.generator.build((None, self.latent_dim))
        self.discriminator.build((None, *self.event_shape))
        self.built = True

    def parameter_groups(self):
        return {"discriminator": self.discriminator.trainable_variables,
                "generator": self.generator.trainable_variables}

    def sample(self, num_samples, seed=None):
        num_samples = self.check_count(num_samples)
        z = tf.random.stateless_normal([num_samples, self.latent_dim], self.next_seed(seed))
        return self.generator(z)

    def group_loss(self, group, x, y=None, training=True):
        x = self.check_input(x)
        fake = self.sample(tf.shape(x)[0])
        if group == "discriminator":
            real_logits = self.discriminator(x)[:, 0]
            fake_logits = self.discriminator(tf.stop_gradient(fake))[:, 0]
            d_loss = (tf.nn.softplus(-real_logits) + tf.nn.softplus(fake_logits))
            return self.report({"d_loss": d_loss, "d_real": tf.sigmoid(real_logits),
                                "d_fake": tf.sigmoid(fake_logits)}, "d_loss")
        g_loss = tf.nn.softplus(-self.discriminator(fake)[:, 0])
        return self.report({"g_loss": g_loss}, "g_loss")

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, hidden_units=list(self.hidden_units))
        return config

