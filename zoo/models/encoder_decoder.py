"""`EncoderDecoderModel`: the shared body of models with an encoder, a decoder, heads and a prior."""

import numpy as np
import tensorflow as tf

from zoo.capabilities import Option
from zoo.distributions import LIKELIHOODS, get_likelihood
from zoo.latent import LatentVariableModel
from zoo.networks import NETWORKS, make_networks
from zoo.priors import PRIORS, get_prior


class EncoderDecoderModel(LatentVariableModel):
    """Encoder network -> (subclass's code) -> decoder network -> likelihood head, plus a prior.

    Subclasses add what maps encoder features to z (a posterior head, a deterministic code) and
    the objective. Heads and priors run in float32 under mixed precision.

    Args:
        event_shape: shape of one observation, e.g. (28, 28, 1), or (H, W) of palette indices
            for the "categorical" likelihood.
        latent_dim: dimension of z.
        network: "mlp" or "conv".
        hidden_units: hidden layer sizes of the MLP (the conv networks use the last one).
        activation: activation of the hidden layers.
        conv_filters: channels of the stride-2 convolutions (conv networks only).
        likelihood: "bernoulli", "gaussian", "gaussian_fixed" or "categorical".
        likelihood_options: extra arguments of the likelihood head (e.g. {"scale": 0.1}).
        prior: "normal" or "mixture".
        prior_options: extra arguments of the prior (e.g. {"num_components": 10}).
        seed: seed of the model's random stream.
    """

    options = (
        Option("latent_dim", int, 50, "dimension of z", minimum=1),
        Option("network", str, "mlp", "encoder/decoder networks", choices=tuple(NETWORKS.names())),
        Option("hidden_units", list, [200, 200], "hidden layer sizes (conv networks: the last)",
               minimum=1),
        Option("conv_filters", list, [32, 64], "channels of the stride-2 convolutions (conv "
               "networks)", minimum=1, when=lambda recipe: recipe.get("network") == "conv"),
        Option("activation", str, "tanh", "activation of the hidden layers"),
        Option("likelihood", str, "bernoulli", "p(x|z)", choices=tuple(LIKELIHOODS.names()),
               argument=lambda value, run: {"likelihood": value, **(
                   # a palette data set brings its colours to the categorical head
                   {"likelihood_options": {"palette": run["palette"]}}
                   if value == "categorical" and run.get("palette") is not None else {})}),
        Option("prior", str, "normal", "p(z)", choices=tuple(PRIORS.names())),
    )

    def __init__(self, event_shape=(28, 28, 1), latent_dim=50, network="mlp",
                 hidden_units=(200, 200), activation="tanh", conv_filters=(32, 64),
                 likelihood="bernoulli", likelihood_options=None, prior="normal",
                 prior_options=None, seed=None, **kwargs):
        super().__init__(event_shape=event_shape, seed=seed, **kwargs)
        self.latent_dim = int(latent_dim)
        self.network = network
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.conv_filters = tuple(int(f) for f in conv_filters)
        self.likelihood_name = likelihood
        self.likelihood_options = dict(likelihood_options or {})
        self.prior_name = prior
        self.prior_options = dict(prior_options or {})
        self.likelihood_head = get_likelihood(
            likelihood, self.event_shape, name="likelihood_head", **self.likelihood_options
        )
        self.encoder_network, self.decoder_network = make_networks(
            network, self.likelihood_head.feature_shape, self.hidden_units, activation,
            self.conv_filters,
        )
        self.prior_layer = self.make_prior()

    def make_prior(self):
        """The prior layer p(z) (a model whose prior is built from its own networks, such as the
        VampPrior's mixture of posteriors, returns its own)."""
        return get_prior(self.prior_name, self.latent_dim, name="prior", **self.prior_options)

    def build_encoder(self, features_shape):
        """Builds the layers between encoder features and z (subclasses)."""
        raise NotImplementedError

    @property
    def encoder_head(self):
        """The layer mapping encoder features to z's parameters (subclasses)."""
        raise NotImplementedError

    def freeze(self, part):
        """Stops training of the "encoder" (network and head) or the "decoder" (network and
        likelihood head), e.g. to adapt one side to new data; compile again afterwards."""
        parts = {"encoder": (self.encoder_network, self.encoder_head),
                 "decoder": (self.decoder_network, self.likelihood_head)}
        if part not in parts:
            raise ValueError(f"Unknown part {part!r}; choose 'encoder' or 'decoder'.")
        for layer in parts[part]:
            layer.trainable = False
        return self

    def build(self, input_shape=None):
        feature_shape = (None, *self.likelihood_head.feature_shape)
        self.encoder_network.build(feature_shape)
        self.build_encoder(self.encoder_network.compute_output_shape(feature_shape))
        self.decoder_network.build((None, self.decoder_input_dim))
        self.likelihood_head.build(
            self.decoder_network.compute_output_shape((None, self.decoder_input_dim)))
        self.built = True

    def check_values(self, x):
        self.likelihood_head.check_values(x)

    @property
    def modality(self):
        return self.likelihood_head.modality

    def to_images(self, x):
        return np.asarray(self.likelihood_head.to_features(tf.convert_to_tensor(x)))

    @property
    def observation_dtype(self):
        return self.likelihood_head.observation_dtype

    def value_assertions(self, x):
        return self.likelihood_head.value_assertions(x)

    def decode_outputs(self, z, **condition):
        return self.likelihood_head.serving_outputs(self.likelihood_params(z, **condition))

    def encoder_features(self, x):
        """Encoder network features of x (palette indices are first turned into colours)."""
        return self.encoder_network(self.likelihood_head.to_features(self.check_input(x)))

    def decoder_inputs(self, z):
        """What the decoder network reads for z [..., latent_dim] (conditional models append
        their labels): a tensor [..., decoder_input_dim]."""
        return tf.convert_to_tensor(z)

    @property
    def decoder_input_dim(self):
        return self.latent_dim

    def likelihood_params(self, z, **condition):
        """Parameters of p(x|z); z has shape [..., latent_dim] with any leading dimensions."""
        inputs = self.decoder_inputs(z, **condition)
        leading = tf.shape(inputs)[:-1]
        features = self.decoder_network(tf.reshape(inputs, [-1, self.decoder_input_dim]))
        params = self.likelihood_head(features)
        return tf.reshape(params, tf.concat([leading, self.likelihood_head.param_shape], 0))

    def likelihood(self, z, **condition):
        return self.likelihood_head.make_distribution(self.likelihood_params(z, **condition))

    def decode(self, z, **condition):
        return self.likelihood_head.mean(self.likelihood_params(z, **condition))

    def prior(self):
        return self.prior_layer.distribution()

    def get_config(self):
        config = super().get_config()
        config.update(
            latent_dim=self.latent_dim, network=self.network,
            hidden_units=list(self.hidden_units), activation=self.activation,
            conv_filters=list(self.conv_filters), likelihood=self.likelihood_name,
            likelihood_options=self.likelihood_options, prior=self.prior_name,
            prior_options=self.prior_options,
        )
        return config
