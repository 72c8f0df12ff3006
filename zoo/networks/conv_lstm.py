"""A convolutional LSTM cell (Shi et al. 2015): an LSTM whose states are feature maps and whose
matrix products are convolutions (Keras 3 has a ConvLSTM2D layer over sequences, but no public
cell to step by hand, as DRAW's loop does).

With inputs x_t [B, h, w, F_in] and states h_{t-1}, c_{t-1} [B, h, w, F]:

    [i, f, g, o] = W * [x_t, h_{t-1}] + b          one 'same' convolution to 4F channels
    c_t = sigmoid(f) c_{t-1} + sigmoid(i) tanh(g)
    h_t = sigmoid(o) tanh(c_t)

with the gates in the order of Keras's LSTMCell (i, f, c, o) and the forget bias started at 1
(Keras's `unit_forget_bias`).
"""

import keras
import tensorflow as tf


class ConvLSTMCell(keras.layers.Layer):
    """One step of a convolutional LSTM; the interface of Keras's LSTMCell: `cell(x, [h, c])`
    returns (h, [h, c]) and `get_initial_state(batch)` the zero states.

    Args:
        filters: F, the channels of the states.
        kernel_size: side of the square convolution over [x_t, h_{t-1}].
    """

    def __init__(self, filters, kernel_size=3, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = int(filters), int(kernel_size)
        if self.filters < 1 or self.kernel_size < 1:
            raise ValueError(f"ConvLSTMCell needs positive filters and kernel_size, got "
                             f"{filters} and {kernel_size}.")
        self.gates = keras.layers.Conv2D(4 * self.filters, self.kernel_size, padding="same",
                                         dtype=self.dtype_policy, name="gates")
        self.spatial_shape = None

    def build(self, input_shape):
        """input_shape: (batch, h, w, F_in)."""
        *_, height, width, channels = input_shape
        self.spatial_shape = (int(height), int(width))
        self.gates.build((None, height, width, channels + self.filters))
        bias = self.gates.bias
        bias.assign(tf.concat([tf.zeros([self.filters]), tf.ones([self.filters]),
                               tf.zeros([2 * self.filters])], 0))
        self.built = True

    def get_initial_state(self, batch_size=None):
        """[h_0, c_0]: zeros [batch, h, w, F] in the compute dtype."""
        shape = tf.stack([batch_size, *self.spatial_shape, self.filters])
        return [tf.zeros(shape, self.compute_dtype), tf.zeros(shape, self.compute_dtype)]

    def call(self, inputs, states):
        h, c = states
        gates = self.gates(tf.concat([inputs, tf.cast(h, inputs.dtype)], axis=-1))
        i, f, g, o = tf.split(gates, 4, axis=-1)
        c = tf.sigmoid(f) * tf.cast(c, gates.dtype) + tf.sigmoid(i) * tf.tanh(g)
        h = tf.sigmoid(o) * tf.tanh(c)
        return h, [h, c]

    def flops(self, input_channels):
        """Multiply-add FLOPs (2 per product) of one step for one example."""
        height, width = self.spatial_shape
        return (2 * height * width * self.kernel_size ** 2 * (input_channels + self.filters)
                * 4 * self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=self.kernel_size)
        return config
