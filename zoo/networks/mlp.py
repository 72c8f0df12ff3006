"""Fully connected encoder and decoder."""

import keras

from zoo.networks.stack import LayerStack


class MLPEncoder(LayerStack):
    """Flatten, then Dense layers of `hidden_units` with `activation`; outputs [B, units[-1]].

    Args:
        hidden_units: sizes of the hidden layers, e.g. (200, 200) as in Burda et al. 2016.
        activation: Keras activation name.
    """

    def __init__(self, hidden_units=(200, 200), activation="tanh", **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.flatten = keras.layers.Flatten()
        self.dense_layers = [
            keras.layers.Dense(u, activation=activation, name=f"dense_{i}")
            for i, u in enumerate(self.hidden_units)
        ]

    def sublayers(self):
        return [self.flatten, *self.dense_layers]

    def get_config(self):
        config = super().get_config()
        config.update(hidden_units=list(self.hidden_units), activation=self.activation)
        return config


class MLPDecoder(MLPEncoder):
    """Dense layers from z to flat features [B, units[-1]] (the likelihood head projects them)."""
