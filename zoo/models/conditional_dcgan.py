"""The class-conditional DCGAN: G(z, y) draws a chosen digit, D(x, y) judges image and class
together (Mirza & Osindero 2014's conditioning on Radford et al. 2016's networks)."""

import keras
import numpy as np
import tensorflow as tf

from zoo.capabilities import Option, merge_options, picture
from zoo.checks import is_symbolic
from zoo.models.dcgan import DCGAN
from zoo.models.registry import MODELS
from zoo.networks.adversarial import dcgan_features, dcgan_generator, logit_head


@MODELS.register("conditional_dcgan")
@keras.saving.register_keras_serializable(package="zoo")
class ConditionalDCGAN(DCGAN):
    """DCGAN conditioned on a class label.

    G reads [z, one_hot(y)]; D reads the image with one_hot(y) appended as constant channels
    (one per class), so it can reject a good "3" that was asked to be a "7". Each training
    step draws its fakes with the real batch's labels. `generate(z, labels)`,
    `discriminate(x, labels)`, `sample(n, labels=...)` (without labels: the classes 0, 1, ...,
    num_classes - 1 in turn). Training data are (x, labels) pairs: `fit(x_train, y_train)`; the
    exported `sample`, `generate` and `discriminate` take a `labels` input.

    Args:
        num_classes: number of classes (labels are 0 .. num_classes - 1).
        **kwargs: those of `DCGAN` (event_shape, latent_dim, filters, seed).

    Example:
        >>> gan = ConditionalDCGAN(latent_dim=100)
        >>> gan.compile(optimizer=zoo.GroupedOptimizer.for_model(gan, "adam"))
        >>> gan.fit(x_train, y_train, epochs=5)
        >>> sevens = gan.sample(16, labels=[7] * 16)

    References:
        Mirza & Osindero, "Conditional Generative Adversarial Nets", arXiv:1411.1784, 2014;
        Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
        Generative Adversarial Networks", ICLR 2016.
    """

    capabilities = DCGAN.capabilities.replace(conditional=True, training_targets="labels",
                                              objective="conditional non-saturating gan")
    options = merge_options(DCGAN.options, (
        Option("num_classes", int, 10, "number of classes", minimum=2),))
    labelled_endpoints = ("sample", "generate", "discriminate", "score")

    def __init__(self, num_classes=10, **kwargs):
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        self._num_classes = int(num_classes)  # read by make_networks
        super().__init__(**kwargs)

    @property
    def num_classes(self):
        return self._num_classes

    def make_networks(self):
        self.generator = dcgan_generator(self.latent_dim + self.num_classes, self.event_shape,
                                         self.filters)
        shape = (*self.event_shape[:-1], self.event_shape[-1] + self.num_classes)
        features = dcgan_features(shape, self.filters)
        head = logit_head(features.compute_output_shape((None, *shape))[1:])
        self.discriminator = keras.Sequential([features, head], name="discriminator")
        self.discriminator.build((None, *shape))

    def codes(self, labels, batch, what):
        """one_hot(labels) [B, num_classes], with one label per row of `batch`."""
        if labels is None:
            raise ValueError(f"{type(self).__name__} {what} given a class: pass labels=[...].")
        labels = self.check_labels(labels)
        if not is_symbolic(labels) and not is_symbolic(batch):
            count, rows = int(tf.size(labels)), int(tf.shape(batch)[0])
            if count != rows:
                raise ValueError(f"labels must hold one class index per example: got {count} "
                                 f"labels for {rows} examples.")
        return tf.one_hot(labels, self.num_classes)

    def generate(self, z, labels=None, training=False):
        """G(z, y): images [B, *event_shape] of the classes `labels` [B]."""
        z = self.check_latent(z)
        inputs = tf.concat([z, self.codes(labels, z, "draws z")], -1)
        return tf.cast(self.generator(inputs, training=training), tf.float32)

    def discriminate(self, x, labels=None, training=False):
        """D's logits [B] that x is a real image of class `labels`."""
        x = self.check_input(x)
        codes = self.codes(labels, x, "judges x")[:, None, None, :]
        planes = tf.broadcast_to(codes, tf.concat([tf.shape(x)[:-1], [self.num_classes]], 0))
        logits = self.discriminator(tf.concat([x, planes], -1), training=training)
        return tf.cast(logits[:, 0], tf.float32)

    def sample(self, num_samples, seed=None, labels=None):
        return self.sample_outputs(num_samples, seed, labels=labels)["x"]

    def sample_outputs(self, num_samples, seed=None, labels=None):
        """x and z of `num_samples` draws; labels default to 0, 1, 2, ... in turn."""
        num_samples = self.check_count(num_samples)
        if labels is None:
            labels = tf.range(num_samples) % self.num_classes
        z = self.noise(num_samples, seed)
        return {"x": self.generate(z, labels), "z": z}

    def call(self, x, labels=None, training=False):
        return self.discriminate(x, labels, training=training)

    @picture("classes", "each row: one z drawn as every class 0, 1, ... (the label sets the "
                        "class, z the style)")
    def class_rows(self, x=None, y=None, seed=0, rows=8):
        """[rows, num_classes, *image]: row i is G(z_i, c) for every class c."""
        z = np.repeat(np.asarray(self.noise(rows, seed=[seed, 17])), self.num_classes, 0)
        labels = np.tile(np.arange(self.num_classes, dtype=np.int32), rows)
        images = np.asarray(self.generate(z, labels))
        return images.reshape(rows, self.num_classes, *self.event_shape)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
