"""`LayerStack`: a layer that builds and applies its sublayers in order."""

import keras


class LayerStack(keras.layers.Layer):
    """Base of the zoo's networks: subclasses list their sublayers in `sublayers()` (or `stack`).

    (The sublayers stay in the attributes each network always had, because saved weights are
    keyed by attribute path.)
    """

    def sublayers(self):
        """The layers to apply, in order."""
        return self.stack

    def build(self, input_shape):
        for layer in self.sublayers():
            layer.build(input_shape)
            input_shape = layer.compute_output_shape(input_shape)

    def call(self, x):
        for layer in self.sublayers():
            x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        for layer in self.sublayers():
            input_shape = layer.compute_output_shape(input_shape)
        return input_shape
