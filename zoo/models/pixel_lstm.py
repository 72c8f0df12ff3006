"""The pixel LSTM of the generation lecture ("Pokémon creation", seed 001).

An LSTM reads the image one pixel at a time in raster order and predicts the next pixel:

    h_t = LSTM(embed(x_{t-1}), h_{t-1}),    p(x_t | x_<t) = softmax(W h_t + b)

with x_{-1} a start token. The lecture's recipe: one layer of 512 cells over 20x20 sprites whose
pixels are indices into a 167-colour palette. Training reads the whole image at once (teacher
forcing); sampling and completion run in the graph, one LSTM step per pixel with the cells' state
carried by a `tf.while_loop`.
"""

import dataclasses

import keras
import tensorflow as tf

from zoo.autoregressive import AutoregressiveModel
from zoo.capabilities import Option, merge_options
from zoo.models.registry import MODELS


@MODELS.register("pixel_lstm")
@keras.saving.register_keras_serializable(package="zoo")
class PixelLSTM(AutoregressiveModel):
    """Pixel-by-pixel LSTM with an exact density (see the module docstring).

    Args:
        event_shape: (H, W) palette images (likelihood "categorical") or (H, W, 1) binary
            images ("bernoulli").
        lstm_units: cells of each LSTM layer, bottom first (the lecture: [512]).
        embedding_dim: size of the embedding of the previous pixel's value.
        dropout: dropout rate on the embeddings and the LSTM outputs during training.
        likelihood, palette, seed: see `AutoregressiveModel`.
    """

    options = merge_options(AutoregressiveModel.options, (
        dataclasses.replace(AutoregressiveModel.options[0], default="categorical"),
        Option("lstm_units", list, [512], "cells of each LSTM layer, bottom first", minimum=1),
        Option("embedding_dim", int, 64, "size of the embedding of the previous pixel",
               minimum=1),
        Option("dropout", float, 0.0, "dropout on embeddings and LSTM outputs in training",
               minimum=0.0, maximum=0.9),
    ))

    def __init__(self, event_shape=(20, 20), lstm_units=(512,), embedding_dim=64, dropout=0.0,
                 likelihood="categorical", palette=None, seed=None, **kwargs):
        super().__init__(event_shape=event_shape, likelihood=likelihood, palette=palette,
                         seed=seed, **kwargs)
        self.lstm_units = tuple(int(u) for u in lstm_units)
        if not self.lstm_units or min(self.lstm_units) < 1:
            raise ValueError(f"lstm_units must be one or more positive sizes, got {lstm_units}.")
        self.embedding_dim = int(embedding_dim)
        self.dropout_rate = float(dropout)
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
        # Token num_values is the start token read before the first pixel.
        self.embedding = keras.layers.Embedding(self.num_values + 1, self.embedding_dim,
                                                name="embedding")
        self.lstms = [keras.layers.LSTM(u, return_sequences=True, name=f"lstm_{i}")
                      for i, u in enumerate(self.lstm_units)]
        self.dropout = keras.layers.Dropout(self.dropout_rate)
        self.embedding.build((None, None))
        features = self.embedding_dim
        for lstm in self.lstms:
            lstm.build((None, None, features))
            features = lstm.units
        self.head.build((None, self.height, self.width, features))
        self.built = True

    @property
    def start_token(self):
        return self.num_values

    def params(self, x, training=False, **condition):
        x = self.check_input(x)
        tokens = tf.reshape(self.tokens(self.to_grid(x)), [-1, self.num_pixels])
        inputs = tf.concat([tf.fill([tf.shape(tokens)[0], 1], self.start_token),
                            tokens[:, :-1]], axis=1)
        h = self.dropout(self.embedding(inputs), training=training)
        for lstm in self.lstms:
            h = lstm(h, training=training)
        h = self.dropout(h, training=training)
        h = tf.reshape(h, [-1, self.height, self.width, h.shape[-1]])
        return self.head(h)

    def complete_grid(self, grid, num_known, seed, **condition):
        """One LSTM step per pixel, the state carried by a tf.while_loop: pixel t is the given
        one for t < num_known, else drawn with fold_in(seed, t)."""
        batch = tf.shape(grid)[0]
        known = tf.reshape(grid, [batch, self.num_pixels])
        states = [[tf.zeros([batch, lstm.units]), tf.zeros([batch, lstm.units])]
                  for lstm in self.lstms]
        previous = tf.fill([batch], self.start_token)
        drawn = tf.TensorArray(grid.dtype, size=self.num_pixels)

        def body(t, previous, states, drawn):
            h = self.embedding(previous)
            new_states = []
            for lstm, state in zip(self.lstms, states):
                h, state = lstm.cell(h, state, training=False)
                new_states.append(list(state))
            params = self.head.projection(h)
            value = tf.where(t < num_known, known[:, t],
                             tf.cast(self.draw_pixel(params, seed, t), grid.dtype))
            return t + 1, self.tokens(value), new_states, drawn.write(t, value)

        _, _, _, drawn = tf.while_loop(lambda t, *_: t < self.num_pixels, body,
                                       (tf.constant(0), previous, states, drawn))
        return tf.reshape(tf.transpose(drawn.stack()), [batch, self.height, self.width])

    def forward_flops_per_image(self):
        flops, inputs = 0, self.embedding_dim
        for units in self.lstm_units:
            flops += 2 * (inputs + units) * 4 * units  # the four gates
            inputs = units
        flops += 2 * inputs * self.head.projection.units
        return flops * self.num_pixels

    def get_config(self):
        config = super().get_config()
        config.update(lstm_units=list(self.lstm_units), embedding_dim=self.embedding_dim,
                      dropout=self.dropout_rate)
        return config
