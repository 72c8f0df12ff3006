"""DCGAN (Radford et al. 2016): strided convolutions, batch norm, ReLU / leaky ReLU."""

import keras

from zoo.adversarial import AdversarialModel
from zoo.capabilities import Option, merge_options
from zoo.models.registry import MODELS
from zoo.networks.adversarial import dcgan_features, dcgan_generator, logit_head


@MODELS.register("dcgan")
@keras.saving.register_keras_serializable(package="zoo")
class DCGAN(AdversarialModel):
    """Deep convolutional GAN at the image's scale (see `zoo.adversarial` for the losses).

    G: z -> Dense to [H/2^L, W/2^L, filters[-1]] -> L stride-2 5x5 transposed convolutions
    (batch norm, ReLU; the last to the image's channels with a sigmoid). D: L stride-2 5x5
    convolutions with leaky ReLU (0.2) and batch norm (not on the first), then one logit. With
    filters (64, 128) on 28x28 MNIST: G 100 -> 7x7x128 -> 14x14x64 -> 28x28x1, D 28 -> 14x14x64
    -> 7x7x128 -> 1. Any [H, W, C] whose sides divide by 2^L works.

    Args:
        event_shape: (H, W, C) of the images (pixels in [0, 1]).
        latent_dim: dimension of z.
        filters: channels of D's convolutions (G mirrors them); L = len(filters).
        seed: seed of the model's random stream.

    Reference:
        Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
        Generative Adversarial Networks", ICLR 2016.
    """

    options = merge_options(AdversarialModel.options, (
        Option("filters", list, [64, 128], "channels of the discriminator's stride-2 "
               "convolutions (the generator mirrors them)", minimum=1),
    ))

    def __init__(self, filters=(64, 128), **kwargs):
        self.filters = tuple(int(f) for f in filters)
        if not self.filters:
            raise ValueError("filters must name at least one convolution.")
        super().__init__(**kwargs)

    def make_networks(self):
        self.generator = dcgan_generator(self.latent_dim, self.event_shape, self.filters)
        features = dcgan_features(self.event_shape, self.filters)
        head = logit_head(features.compute_output_shape((None, *self.event_shape))[1:])
        self.discriminator = keras.Sequential([features, head], name="discriminator")
        self.discriminator.build((None, *self.event_shape))

    def get_config(self):
        return {**super().get_config(), "filters": list(self.filters)}
