"""Encoder and decoder networks (deterministic feature extractors, no distribution maths).

An encoder maps an image batch to flat features [B, f]; a decoder maps z [B, d] to features that
a likelihood head turns into parameters: flat [B, f] (MLP) or spatial [B, H, W, f] (conv).
"""

from zoo.naming import Registry
from zoo.networks.conv import ConvDecoder, ConvEncoder
from zoo.networks.mlp import MLPDecoder, MLPEncoder

NETWORKS = Registry("network")


@NETWORKS.register("mlp")
def mlp_networks(event_shape, hidden_units, activation, conv_filters):
    """Mirror-image MLPs: encoder `hidden_units`, decoder the same sizes reversed."""
    del event_shape, conv_filters  # an MLP flattens whatever it gets
    encoder = MLPEncoder(hidden_units, activation, name="encoder_network")
    decoder = MLPDecoder(tuple(reversed(hidden_units)), activation, name="decoder_network")
    return encoder, decoder


@NETWORKS.register("conv")
def conv_networks(event_shape, hidden_units, activation, conv_filters):
    """Conv encoder with `conv_filters` then one Dense of hidden_units[-1]; decoder mirrored."""
    encoder = ConvEncoder(conv_filters, hidden_units[-1:], activation, name="encoder_network")
    decoder = ConvDecoder(event_shape, tuple(reversed(conv_filters)), hidden_units[-1:],
                          activation, name="decoder_network")
    return encoder, decoder


def make_networks(kind, event_shape, hidden_units=(200, 200), activation="tanh",
                  conv_filters=(32, 64)):
    """(encoder, decoder) of `kind` ("mlp" or "conv"), sized by the model's arguments."""
    return NETWORKS.get(kind)(tuple(event_shape), tuple(hidden_units), activation,
                              tuple(conv_filters))
