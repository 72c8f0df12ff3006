"""The GAN of Goodfellow et al. (2014): MLP generator and maxout discriminator."""

import keras

from zoo.adversarial import AdversarialModel
from zoo.capabilities import Option, merge_options
from zoo.models.registry import MODELS
from zoo.networks.adversarial import mlp_discriminator, mlp_generator


@MODELS.register("gan")
@keras.saving.register_keras_serializable(package="zoo")
class GAN(AdversarialModel):
    """Generative adversarial network with fully connected networks (see `zoo.adversarial` for
    the losses): G is ReLU layers and a sigmoid output, D maxout layers with dropout, as in the
    paper's MNIST model (which drew z from a uniform distribution; here z ~ N(0, I)). By
    default G's hidden layers are batch-normalised (`batch_norm`), which the paper did not do:
    trained with Adam, the paper's G collapsed onto one digit within 3 epochs here (class
    entropy of its samples 0, measured by the mode-collapse monitor).

    Args:
        event_shape: shape of one image (pixels in [0, 1]); any shape, the networks flatten it.
        latent_dim: dimension of z.
        generator_units: hidden layer sizes of G.
        discriminator_units: maxout units of each hidden layer of D.
        maxout_pieces: linear pieces per maxout unit.
        dropout: dropout rate before each layer of D after the first (before the first:
            min(dropout, 0.2), the paper's input dropout).
        batch_norm: batch norm in G's hidden layers.
        seed: seed of the model's random stream.

    Example:
        >>> gan = GAN(event_shape=(28, 28, 1))
        >>> gan.compile(optimizer={"discriminator": keras.optimizers.Adam(2e-4, beta_1=0.5),
        ...                        "generator": keras.optimizers.Adam(2e-4, beta_1=0.5)})
        >>> gan.fit(grey_images, epochs=30)
        >>> images = gan.sample(64, seed=0)

    Reference:
        Goodfellow, Pouget-Abadie, Mirza, Xu, Warde-Farley, Ozair, Courville & Bengio,
        "Generative Adversarial Nets", NeurIPS 2014.
    """

    options = merge_options(AdversarialModel.options, (
        Option("generator_units", list, [1200, 1200], "hidden layer sizes of the generator",
               minimum=1),
        Option("discriminator_units", list, [240, 240], "maxout units per discriminator layer",
               minimum=1),
        Option("maxout_pieces", int, 5, "linear pieces per maxout unit", minimum=1),
        Option("dropout", float, 0.5, "dropout rate in the discriminator (its input: 0.2)",
               minimum=0, maximum=0.95),
        Option("batch_norm", bool, True, "batch norm in the generator's hidden layers (not in "
               "the paper, whose SGD recipe did without; with Adam it keeps the MLP GAN from "
               "collapsing onto one digit)"),
    ))

    def __init__(self, generator_units=(1200, 1200), discriminator_units=(240, 240),
                 maxout_pieces=5, dropout=0.5, batch_norm=True, **kwargs):
        self.batch_norm = bool(batch_norm)
        self.generator_units = tuple(int(u) for u in generator_units)
        self.discriminator_units = tuple(int(u) for u in discriminator_units)
        self.maxout_pieces = int(maxout_pieces)
        self.dropout = float(dropout)
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        super().__init__(**kwargs)

    def make_networks(self):
        self.generator = mlp_generator(self.latent_dim, self.event_shape, self.generator_units,
                                       self.batch_norm)
        self.discriminator = mlp_discriminator(self.event_shape, self.discriminator_units,
                                               self.maxout_pieces, self.dropout,
                                               min(self.dropout, 0.2))

    def get_config(self):
        return {**super().get_config(), "generator_units": list(self.generator_units),
                "discriminator_units": list(self.discriminator_units),
                "maxout_pieces": self.maxout_pieces, "dropout": self.dropout,
                "batch_norm": self.batch_norm}
