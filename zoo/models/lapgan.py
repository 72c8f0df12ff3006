"""LAPGAN (Denton et al. 2015): a Laplacian pyramid of GANs that draws an image coarse to fine."""

import keras
import numpy as np
import tensorflow as tf

from zoo import objectives
from zoo.adversarial import AdversarialModel
from zoo.capabilities import Option, merge_options, picture
from zoo.models.registry import MODELS
from zoo.networks.adversarial import check_stride_shape, mlp_generator


def downsample(images):
    """The next coarser level of the Gaussian pyramid: 2x2 average pooling."""
    return tf.nn.avg_pool2d(images, 2, 2, "VALID")


def upsample(images):
    """Twice the height and width, bilinear (the pyramid's expand step)."""
    shape = tf.shape(images)
    return tf.image.resize(images, [2 * shape[1], 2 * shape[2]], method="bilinear")


def laplacian_pyramid(images, levels):
    """([I_0 (coarsest), ..., I_{L-1} = images], [h_1, ..., h_{L-1}]) with the band-pass
    residuals h_k = I_k - upsample(I_{k-1}), so that I_k = upsample(I_{k-1}) + h_k exactly."""
    gaussian = [images]
    for _ in range(levels - 1):
        gaussian.insert(0, downsample(gaussian[0]))
    residuals = [gaussian[k] - upsample(gaussian[k - 1]) for k in range(1, levels)]
    return gaussian, residuals


@MODELS.register("lapgan")
@keras.saving.register_keras_serializable(package="zoo")
class LAPGAN(AdversarialModel):
    """Laplacian pyramid GAN: level 0 is a GAN for the coarsest image (H/2^(L-1)); each finer
    level k is a GAN conditioned on the upsampled coarser image l_k = upsample(I_{k-1}) that
    draws the band-pass residual h_k, so I_k = l_k + G_k(l_k, z_k). For MNIST with 3 levels:
    7x7 -> 14x14 -> 28x28.

    - Level 0: MLPs (a ReLU generator with batch norm and a sigmoid output, as `GAN`'s; a
      leaky-ReLU discriminator).
    - Levels k >= 1: G_k reads [l_k, a noise plane z_k] (the paper's extra input channel) through
      three 5x5 convolutions (ReLU, linear output); D_k reads [h_k, l_k] through two 5x5
      convolutions (leaky ReLU, the second of stride 2), dropout and one logit.

    Training follows the paper: every level is trained at once and independently on the real
    pyramid of each batch (l_k from the real image, not from the coarser generator); the losses
    of `zoo.adversarial` summed over levels, one optimizer for all discriminators and one for all
    generators. Sampling runs the chain, clipping each level to [0, 1].

    z, the input of `generate`, is the concatenation [z_0 (latent_dim), z_1 (H_1 W_1), ...,
    z_{L-1} (H W)], all N(0, I). `discriminate(x)` is the mean over levels of each level's logit
    on x's own pyramid.

    Args:
        event_shape: (H, W, C), sides divisible by 2^(levels - 1).
        latent_dim: dimension of the coarsest level's z_0.
        levels: number of pyramid levels (3: 7 -> 14 -> 28 for MNIST).
        coarse_units: hidden sizes of level 0's generator and discriminator MLPs.
        batch_norm: batch norm in level 0's generator.
        filters: channels of the finer levels' convolutions.
        dropout: dropout before the finer discriminators' logit.
        seed: seed of the model's random stream.

    Reference:
        Denton, Chintala, Szlam & Fergus, "Deep Generative Image Models using a Laplacian
        Pyramid of Adversarial Networks", NeurIPS 2015.
    """

    options = merge_options(AdversarialModel.options, (
        Option("levels", int, 3, "pyramid levels (3: 7x7 -> 14x14 -> 28x28 for MNIST)",
               minimum=2, maximum=6),
        Option("coarse_units", list, [600, 600], "hidden sizes of the coarsest level's MLPs",
               minimum=1),
        Option("filters", list, [32], "channels of the finer levels' convolutions (the first "
               "is used)", minimum=1),
        Option("dropout", float, 0.5, "dropout before the finer discriminators' logit",
               minimum=0, maximum=0.95),
        Option("batch_norm", bool, True, "batch norm in the coarsest generator's hidden layers "
               "(without it, the 7x7 GAN collapsed onto 4 digits within 2 epochs here)"),
    ))

    def __init__(self, levels=3, coarse_units=(600, 600), filters=(32,), dropout=0.5,
                 batch_norm=True, **kwargs):
        self.batch_norm = bool(batch_norm)
        self.levels = int(levels)
        if self.levels < 2:
            raise ValueError(f"levels must be at least 2 (one coarse GAN and one refinement), "
                             f"got {levels}.")
        self.coarse_units = tuple(int(u) for u in coarse_units)
        self.filters = tuple(int(f) for f in filters)
        self.dropout = float(dropout)
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        super().__init__(**kwargs)

    # --- networks ----------------------------------------------------------------------------
    def level_shapes(self):
        """[(H_k, W_k, C)] from the coarsest level to the image's."""
        height, width, channels = self.event_shape
        return [(height // 2 ** (self.levels - 1 - k), width // 2 ** (self.levels - 1 - k),
                 channels) for k in range(self.levels)]

    def make_networks(self):
        check_stride_shape(self.event_shape, self.levels - 1, "LAPGAN")
        shapes = self.level_shapes()
        coarse = shapes[0]
        generators = [mlp_generator(self.latent_dim, coarse, self.coarse_units,
                                    self.batch_norm, name="generator_0")]
        discriminators = [keras.Sequential(
            [keras.layers.Flatten()]
            + [keras.layers.Dense(u, activation=keras.activations.leaky_relu)
               for u in self.coarse_units]
            + [keras.layers.Dropout(self.dropout), keras.layers.Dense(1, dtype="float32")],
            name="discriminator_0")]
        discriminators[0].build((None, *coarse))
        f = self.filters[0]
        for k, (height, width, channels) in enumerate(shapes[1:], start=1):
            generator = keras.Sequential([
                keras.layers.Conv2D(f, 5, padding="same", activation="relu"),
                keras.layers.Conv2D(f, 5, padding="same", activation="relu"),
                keras.layers.Conv2D(channels, 5, padding="same", dtype="float32")],
                name=f"generator_{k}")
            generator.build((None, height, width, channels + 1))
            discriminator = keras.Sequential([
                keras.layers.Conv2D(f, 5, padding="same",
                                    activation=keras.activations.leaky_relu),
                keras.layers.Conv2D(f, 5, strides=2, padding="same",
                                    activation=keras.activations.leaky_relu),
                keras.layers.Flatten(), keras.layers.Dropout(self.dropout),
                keras.layers.Dense(1, dtype="float32")], name=f"discriminator_{k}")
            discriminator.build((None, height, width, 2 * channels))
            generators.append(generator)
            discriminators.append(discriminator)
        self.generators, self.discriminators = generators, discriminators

    def parameter_groups(self):
        return {"discriminator": [v for d in self.discriminators for v in d.trainable_variables],
                "generator": [v for g in self.generators for v in g.trainable_variables]}

    @property
    def latent_shape(self):
        return (self.latent_dim + sum(h * w for h, w, _ in self.level_shapes()[1:]),)

    def split_noise(self, z):
        """[z_0 [B, latent_dim], z_1 [B, H_1, W_1, 1], ...] from the flat z."""
        shapes = self.level_shapes()[1:]
        parts = tf.split(z, [self.latent_dim] + [h * w for h, w, _ in shapes], axis=1)
        return [parts[0]] + [tf.reshape(p, [-1, h, w, 1]) for p, (h, w, _) in
                             zip(parts[1:], shapes)]

    def residual(self, k, coarse_up, noise_plane, training=False):
        """G_k: the band-pass residual of level k given l_k and its noise plane."""
        inputs = tf.concat([coarse_up, tf.cast(noise_plane, coarse_up.dtype)], axis=-1)
        return tf.cast(self.generators[k](inputs, training=training), tf.float32)

    def level_logits(self, k, image_or_residual, coarse_up=None, training=False):
        """D_k's logits [B]: of the coarsest image (k = 0) or of (h_k, l_k)."""
        inputs = (image_or_residual if k == 0
                  else tf.concat([image_or_residual, coarse_up], axis=-1))
        return tf.cast(self.discriminators[k](inputs, training=training)[:, 0], tf.float32)

    # --- generation and scoring --------------------------------------------------------------
    def generate(self, z, training=False):
        return self.generation_levels(z, training)[-1]

    def generation_levels(self, z, training=False):
        """Every level of the chain for z: [I_0, I_1, ..., I_{L-1}], each clipped to [0, 1]
        above level 0 (the last is `generate(z)`)."""
        noise = self.split_noise(self.check_latent(z))
        images = [tf.cast(self.generators[0](noise[0], training=training), tf.float32)]
        for k in range(1, self.levels):
            coarse_up = upsample(images[-1])
            images.append(tf.clip_by_value(
                coarse_up + self.residual(k, coarse_up, noise[k], training), 0.0, 1.0))
        return images

    @picture("pyramid", "each row: the levels of one sample, coarse to fine (each shown at "
                        "full size), then the test image's own levels")
    def pyramid_rows(self, x, y=None, seed=0, rows=6):
        """Rows of [I_0, ..., I_{L-1}] of samples, then the Gaussian pyramid of test images."""
        size = self.event_shape[:2]
        shown = lambda levels: np.stack([np.asarray(tf.image.resize(level, size, "nearest"))
                                         for level in levels], 1)
        drawn = shown(self.generation_levels(self.noise(rows, seed=[seed, 5])))
        real = shown(laplacian_pyramid(tf.convert_to_tensor(x[:rows], tf.float32),
                                       self.levels)[0])
        return np.concatenate([drawn, real], 1)

    def discriminate(self, x, training=False):
        gaussian, residuals = laplacian_pyramid(self.check_input(x), self.levels)
        logits = [self.level_logits(0, gaussian[0], training=training)]
        logits += [self.level_logits(k, residuals[k - 1], upsample(gaussian[k - 1]), training)
                   for k in range(1, self.levels)]
        return tf.reduce_mean(tf.stack(logits), axis=0)

    # --- training ----------------------------------------------------------------------------
    def group_loss(self, group, x, y=None, training=True):
        x = self.check_input(x)
        gaussian, residuals = laplacian_pyramid(x, self.levels)
        noise = self.split_noise(self.noise(tf.shape(x)[0]))
        d_loss, g_loss, d_real, d_fake = [], [], [], []
        for k in range(self.levels):
            if k == 0:
                real, coarse_up = gaussian[0], None
                fake = tf.cast(self.generators[0](noise[0], training=training), tf.float32)
            else:
                real, coarse_up = residuals[k - 1], upsample(gaussian[k - 1])
                fake = self.residual(k, coarse_up, noise[k], training)
            if group == "discriminator":
                real_logits = self.level_logits(k, real, coarse_up, training)
                fake_logits = self.level_logits(k, tf.stop_gradient(fake), coarse_up, training)
                d_loss.append(objectives.discriminator_loss(real_logits, fake_logits))
                d_real.append(tf.sigmoid(real_logits))
                d_fake.append(tf.sigmoid(fake_logits))
            else:
                g_loss.append(objectives.generator_loss(
                    self.level_logits(k, fake, coarse_up, training)))
        if group == "discriminator":
            return self.report({"d_loss": tf.add_n(d_loss),
                                "d_real": tf.reduce_mean(tf.stack(d_real), 0),
                                "d_fake": tf.reduce_mean(tf.stack(d_fake), 0)}, "d_loss")
        return self.report({"g_loss": tf.add_n(g_loss)}, "g_loss")

    def get_config(self):
        return {**super().get_config(), "levels": self.levels,
                "coarse_units": list(self.coarse_units), "filters": list(self.filters),
                "dropout": self.dropout, "batch_norm": self.batch_norm}
