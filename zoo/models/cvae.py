"""The conditional VAE: encoder and decoder see the class label, so `sample(labels=...)` draws a
chosen digit."""

import keras
import tensorflow as tf

from zoo.capabilities import Option, merge_options
from zoo.models.registry import MODELS
from zoo.models.vae import VAE


@MODELS.register("cvae")
@keras.saving.register_keras_serializable(package="zoo")
class CVAE(VAE):
    """Conditional VAE: q(z|x, y), p(x|z, y), p(z) = N(0, I), trained on the ELBO of log p(x|y).

        ELBO(x | y) = E_q(z|x,y)[log p(x|z, y)] - KL(q(z|x, y) || p(z))

    The one-hot label is appended to the decoder's input z and to the encoder features that
    the posterior head reads (so the conv encoder needs no label channels). Every method that
    reads x or z takes `labels` (int class indices [B]); `sample(n)` without labels draws the
    classes 0, 1, ..., num_classes - 1 in turn. Training data are (x, labels) pairs:
    `fit(x_train, y_train)`; the exported signatures all take a `labels` input.

    Args:
        num_classes: number of classes (labels are 0 .. num_classes - 1).
        **kwargs: the arguments of `VAE` (architecture, posterior, beta, warm-up, ...).

    Example:
        >>> cvae = CVAE(latent_dim=50)
        >>> cvae.compile(optimizer="adam")
        >>> cvae.fit(x_train, y_train, epochs=10)
        >>> sevens = cvae.sample(16, labels=[7] * 16)

    Reference:
        Sohn, Lee & Yan, "Learning Structured Output Representation using Deep Conditional
        Generative Models", NeurIPS 2015; Kingma, Rezende, Mohamed & Welling, "Semi-Supervised
        Learning with Deep Generative Models", NeurIPS 2014 (the conditional generator p(x|y,z)).
    """

    capabilities = VAE.capabilities.replace(conditional=True, training_targets="labels",
                                            objective="conditional elbo")
    options = merge_options(VAE.options, (
        Option("num_classes", int, 10, "number of classes", minimum=2),))
    labelled_endpoints = ("serving_default", "encode", "decode", "sample", "log_prob", "score")

    def __init__(self, num_classes=10, **kwargs):
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        self._num_classes = int(num_classes)  # read by build(), which VAE.__init__ calls
        super().__init__(**kwargs)

    @property
    def num_classes(self):
        return self._num_classes

    def one_hot(self, labels):
        """One-hot float32 [B, num_classes] of int labels, range-checked (`check_labels`)."""
        return tf.one_hot(self.check_labels(labels), self.num_classes)

    def build_encoder(self, features_shape):
        self.posterior_head.build((*features_shape[:-1], features_shape[-1] + self.num_classes))

    def head_features(self, x, labels=None):
        if labels is None:
            raise ValueError("CVAE encodes x given its class: pass labels=[...].")
        return tf.concat([self.encoder_features(x), self.one_hot(labels)], -1)

    @property
    def decoder_input_dim(self):
        return self.latent_dim + self.num_classes

    def decoder_inputs(self, z, labels=None):
        if labels is None:
            raise ValueError("CVAE decodes z given a class: pass labels=[...].")
        z = tf.convert_to_tensor(z)
        codes = self.one_hot(labels)  # [B, C], broadcast over z's leading sample dimensions
        codes = tf.broadcast_to(codes, tf.concat([tf.shape(z)[:-1], [self.num_classes]], 0))
        return tf.concat([z, codes], -1)

    def sample(self, num_samples, seed=None, labels=None):
        """Mean images of p(x|z, y), z ~ N(0, I); labels default to 0, 1, 2, ... in turn."""
        num_samples = self.check_count(num_samples)
        if labels is None:
            labels = tf.range(num_samples) % self.num_classes
        return super().sample(num_samples, seed=seed, labels=labels)

    def predict_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError("CVAE reconstructs x given its class: call predict((x, labels)) "
                             "or give a dataset of (x, labels) pairs.")
        return self.reconstruct(x, labels=y)

    def get_config(self):
        config = super().get_config()
        config.update(num_classes=self.num_classes)
        return config
