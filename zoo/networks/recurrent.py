"""Recurrent networks over sequences of binary vectors (piano rolls: one step = 88 keys).

`NoteDecoder` is the autoregressive part every sequence model of the zoo shares: LSTM layers read
the previous step's notes (and an optional context vector, such as a VRAE's z, which also sets the
layers' initial states) and give the logits of the next step's independent Bernoullis:

    h_t = LSTM([x_{t-1}, c], h_{t-1}),   h_0 = tanh(W c + b) (zero without a context)
    p(x_t | x_<t, c) = prod_k Bernoulli(x_t,k; sigmoid(V h_t + a)_k),   x_{-1} = 0.
"""

import keras
import tensorflow as tf


class NoteDecoder(keras.layers.Layer):
    """LSTM layers and a float32 Bernoulli logits head; see the module docstring.

    Args:
        num_keys: size of one step (88 for piano rolls).
        units: cells of each LSTM layer, bottom first.
        context_dim: size of the context vector (0: none).
        dropout: dropout on the LSTM outputs during training.
    """

    def __init__(self, num_keys, units=(256,), context_dim=0, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True  # masks pass through; the models weigh steps themselves
        self.num_keys, self.units = int(num_keys), tuple(int(u) for u in units)
        if not self.units or min(self.units) < 1:
            raise ValueError(f"units must be one or more positive sizes, got {units}.")
        self.context_dim = int(context_dim)
        self.lstms = [keras.layers.LSTM(u, return_sequences=True, name=f"lstm_{i}")
                      for i, u in enumerate(self.units)]
        self.initial = [keras.layers.Dense(u, activation="tanh", name=f"initial_state_{i}")
                        for i, u in enumerate(self.units)] if self.context_dim else []
        self.dropout = keras.layers.Dropout(float(dropout))
        self.logits = keras.layers.Dense(self.num_keys, dtype="float32", name="logits")

    def build(self, input_shape=None):
        features = self.num_keys + self.context_dim
        for lstm, dense in zip(self.lstms, self.initial or [None] * len(self.lstms)):
            lstm.build((None, None, features))
            if dense is not None:
                dense.build((None, self.context_dim))
            features = lstm.units
        self.logits.build((None, None, features))
        self.built = True

    def initial_states(self, batch, context=None):
        """[[h_0, c_0] per layer]: h_0 from the context (zeros without one), c_0 zeros."""
        states = []
        for i, units in enumerate(self.units):
            h = self.initial[i](context) if self.initial else tf.zeros([batch, units])
            states.append([h, tf.zeros([batch, units], h.dtype)])
        return states

    def call(self, x, context=None, training=False):
        """Logits [B, T, K] of every step given the previous ones (teacher forcing on x)."""
        previous = tf.pad(x[:, :-1], [[0, 0], [1, 0], [0, 0]])
        inputs = self._with_context(previous, context)
        h = inputs
        for lstm, state in zip(self.lstms, self.initial_states(tf.shape(x)[0], context)):
            h = self.dropout(lstm(h, initial_state=state, training=training), training=training)
        return self.logits(h)

    def _with_context(self, inputs, context):
        if context is None:
            return inputs
        steps = tf.shape(inputs)[1]
        tiled = tf.tile(context[:, None, :], tf.stack([1, steps, 1]))
        return tf.concat([inputs, tf.cast(tiled, inputs.dtype)], axis=-1)

    def generate(self, batch, num_steps, seed, context=None, greedy=False, shared_noise=False):
        """(notes, probabilities), both [B, num_steps, K], one LSTM step at a time in a
        tf.while_loop: step t's notes are drawn with fold_in(seed, t) (or set where the
        probability exceeds 1/2 when `greedy`) and fed back as the next step's input.
        `shared_noise`: every sequence of the batch reads the same uniform noise."""
        states = self.initial_states(batch, context)
        notes = tf.TensorArray(tf.float32, size=num_steps)
        probabilities = tf.TensorArray(tf.float32, size=num_steps)

        def body(t, previous, states, notes, probabilities):
            h = previous if context is None else tf.concat(
                [previous, tf.cast(context, previous.dtype)], axis=-1)
            new_states = []
            for lstm, state in zip(self.lstms, states):
                h, state = lstm.cell(h, state, training=False)
                new_states.append(list(state))
            p = tf.sigmoid(self.logits(h))
            if greedy:
                x = tf.cast(p > 0.5, tf.float32)
            else:
                shape = [1, self.num_keys] if shared_noise else tf.shape(p)
                u = tf.random.stateless_uniform(
                    shape, tf.random.experimental.stateless_fold_in(seed, t))
                x = tf.cast(u < p, tf.float32)
            return t + 1, x, new_states, notes.write(t, x), probabilities.write(t, p)

        _, _, _, notes, probabilities = tf.while_loop(
            lambda t, *_: t < num_steps, body,
            (tf.constant(0), tf.zeros([batch, self.num_keys]), states, notes, probabilities))
        return (tf.transpose(notes.stack(), [1, 0, 2]),
                tf.transpose(probabilities.stack(), [1, 0, 2]))

    def flops_per_step(self):
        """Multiply-add FLOPs of one step (2 per weight use)."""
        flops, inputs = 0, self.num_keys + self.context_dim
        for units in self.units:
            flops += 2 * (inputs + units) * 4 * units
            inputs = units
        return flops + 2 * inputs * self.num_keys
