"""Generators and discriminators of the adversarial family (`zoo.adversarial`).

Each builder returns a built `keras.Sequential`; the layers that produce images or logits run in
float32 under mixed precision. Images are in [0, 1] (sigmoid outputs); discriminators return one
logit per image, [B, 1]. Batch norm is synchronized across replicas (the statistics of the
global batch), so that every worker of a distributed run keeps the same moving averages.
"""

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="zoo")
class Maxout(keras.layers.Layer):
    """A maxout layer (Goodfellow et al. 2013): `units` outputs, each the maximum of `pieces`
    linear functions of the input. The GAN paper's MNIST discriminator uses it."""

    def __init__(self, units, pieces=5, **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1 or int(pieces) < 1:
            raise ValueError(f"Maxout needs units >= 1 and pieces >= 1, got {units}, {pieces}.")
        self.units, self.pieces = int(units), int(pieces)
        self.dense = keras.layers.Dense(self.units * self.pieces, name="linear")

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, x):
        y = self.dense(x)
        return tf.reduce_max(tf.reshape(y, [-1, self.units, self.pieces]), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "pieces": self.pieces}


def _size(shape):
    return int(math.prod(shape))


def _batch_norm(name):
    """Batch norm over the global batch (synchronized across replicas)."""
    return keras.layers.BatchNormalization(synchronized=True, name=name)


def mlp_generator(latent_dim, event_shape, hidden_units, batch_norm=False, name="generator"):
    """z -> ReLU Dense layers -> sigmoid Dense to the image (Goodfellow et al. 2014); with
    `batch_norm`, each hidden layer is normalised over the batch before its ReLU (Ioffe &
    Szegedy 2015, as DCGAN does), which keeps Adam-trained MLP GANs from collapsing."""
    layers = []
    for i, units in enumerate(hidden_units):
        layers.append(keras.layers.Dense(units, use_bias=not batch_norm, name=f"dense_{i}"))
        if batch_norm:
            layers.append(_batch_norm(f"dense_{i}_bn"))
        layers.append(keras.layers.ReLU())
    network = keras.Sequential(
        layers + [keras.layers.Dense(_size(event_shape), activation="sigmoid", dtype="float32",
                                     name="pixels"),
                  keras.layers.Reshape(tuple(event_shape), dtype="float32")], name=name)
    network.build((None, int(latent_dim)))
    return network


def mlp_discriminator(event_shape, hidden_units, pieces=5, dropout=0.5, input_dropout=0.2,
                      name="discriminator"):
    """x -> maxout layers with dropout -> one logit (the GAN paper's MNIST discriminator: input
    dropout 0.2, then 0.5 before each further layer)."""
    layers = [keras.layers.Flatten()]
    for i, units in enumerate(hidden_units):
        layers += [keras.layers.Dropout(input_dropout if i == 0 else dropout),
                   Maxout(units, pieces, name=f"maxout_{i}")]
    layers += [keras.layers.Dropout(dropout), keras.layers.Dense(1, dtype="float32",
                                                                 name="logit")]
    network = keras.Sequential(layers, name=name)
    network.build((None, *event_shape))
    return network


def check_stride_shape(event_shape, halvings, what):
    """Raises ValueError unless the image's height and width halve `halvings` times exactly."""
    factor = 2 ** halvings
    if len(event_shape) != 3 or event_shape[0] % factor or event_shape[1] % factor:
        raise ValueError(f"{what} needs images [H, W, C] whose height and width divide by "
                         f"{factor} ({halvings} halvings), got event_shape {tuple(event_shape)}; "
                         "pad or crop the images, or change the number of layers.")


def dcgan_generator(latent_dim, event_shape, filters, name="generator"):
    """The DCGAN generator (Radford et al. 2016) at the image's scale: z -> Dense to
    [H/2^L, W/2^L, filters[-1]] -> L stride-2 transposed convolutions (5x5) with batch norm
    and ReLU, the last to C channels with a sigmoid (no batch norm on the output layer)."""
    halvings = len(filters)
    check_stride_shape(event_shape, halvings, "DCGAN")
    height, width, channels = event_shape
    base = (height // 2 ** halvings, width // 2 ** halvings, filters[-1])
    layers = [keras.layers.Dense(_size(base), use_bias=False, name="project"),
              _batch_norm("project_bn"), keras.layers.ReLU(),
              keras.layers.Reshape(base)]
    for i, f in enumerate(reversed(filters[:-1])):
        layers += [keras.layers.Conv2DTranspose(f, 5, strides=2, padding="same", use_bias=False,
                                                name=f"deconv_{i}"),
                   _batch_norm(f"deconv_{i}_bn"), keras.layers.ReLU()]
    layers.append(keras.layers.Conv2DTranspose(channels, 5, strides=2, padding="same",
                                               activation="sigmoid", dtype="float32",
                                               name="pixels"))
    network = keras.Sequential(layers, name=name)
    network.build((None, int(latent_dim)))
    return network


def dcgan_features(event_shape, filters, name="discriminator_features"):
    """The DCGAN discriminator's convolutions: stride-2 5x5 convolutions with leaky ReLU (0.2),
    batch norm on all but the first; returns the last convolution's feature map."""
    check_stride_shape(event_shape, len(filters), "The DCGAN discriminator")
    layers = []
    for i, f in enumerate(filters):
        layers.append(keras.layers.Conv2D(f, 5, strides=2, padding="same", use_bias=i == 0,
                                          name=f"conv_{i}"))
        if i:
            layers.append(_batch_norm(f"conv_{i}_bn"))
        layers.append(keras.layers.LeakyReLU(0.2))
    network = keras.Sequential(layers, name=name)
    network.build((None, *event_shape))
    return network


def logit_head(input_shape, name="discriminator_head"):
    """Flatten -> one logit (float32)."""
    network = keras.Sequential([keras.layers.Flatten(),
                                keras.layers.Dense(1, dtype="float32", name="logit")], name=name)
    network.build((None, *input_shape))
    return network
