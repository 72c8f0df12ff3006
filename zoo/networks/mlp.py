"""Fully connected encoder and decoder."""

import keras


class MLPEncoder(keras.layers.Layer):
    """Flatten, then Dense layers of `hidden_units` with `activation`; outputs [B, units[-1]].

    Args:
        hidden_units: sizes of the hidden layers, e.g. (200, 200) as in Burda et al. 2015.
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

    def build(self, input_shape):
        shape = self.flatten.compute_output_shape(input_shape)
        for layer in self.dense_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, x):
        h = self.flatten(x)
        for layer in self.dense_layers:
            h = layer(h)
        return h

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.hidden_units[-1])

    def get_config(self):
        config = super().get_config()
        config.update(hidden_units=list(self.hidden_units), activation=self.activation)
        return config


class MLPDecoder(MLPEncoder):
    """Dense layers from z to flat features [B, units[-1]] (the likelihood head projects them)."""
