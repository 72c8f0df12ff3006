"""The recurrent baseline of polyphonic music modelling: an RNN with independent Bernoullis.

    h_t = LSTM(x_{t-1}, h_{t-1}),   p(x_t | x_<t) = prod_k Bernoulli(x_t,k; sigmoid(V h_t + a)_k)

It is the VRAE (`zoo.models.vrae`) without its latent z, so the pair shows what z adds. The
literature's "RNN" row on the JSB chorales (Boulanger-Lewandowski et al. 2012) is about 8.7
nats per step.
"""

import keras

from zoo.capabilities import Capabilities, Option
from zoo.models.registry import MODELS
from zoo.networks.recurrent import NoteDecoder
from zoo.sequence import NUM_KEYS, SequenceModel, masked_sum, step_log_probs

RNN_OPTIONS = (
    Option("rnn_units", list, [256], "cells of each LSTM layer, bottom first", minimum=1),
    Option("dropout", float, 0.0, "dropout on the LSTM outputs in training", minimum=0.0,
           maximum=0.9),
)


@MODELS.register("note_rnn")
@keras.saving.register_keras_serializable(package="zoo")
class NoteRNN(SequenceModel):
    """LSTM over piano rolls with an exact density (see the module docstring).

    Args:
        event_shape: (T, K): default length of samples, keys per step.
        rnn_units: cells of each LSTM layer.
        dropout: dropout on the LSTM outputs during training.
        seed: seed of the model's random stream.
    """

    capabilities = Capabilities(density="exact", training_targets="mask", objective="nll")
    options = RNN_OPTIONS

    def __init__(self, event_shape=(100, NUM_KEYS), rnn_units=(256,), dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(event_shape=event_shape, seed=seed, **kwargs)
        self.rnn_units = tuple(int(u) for u in rnn_units)
        self.dropout_rate = float(dropout)
        self.decoder = NoteDecoder(self.num_keys, self.rnn_units, dropout=self.dropout_rate,
                                   name="decoder")
        self.decoder.build()
        self.built = True

    def log_prob(self, x, num_samples=None, seed=None, chunk_size=None, mask=None):
        """Exact log p(x) per sequence, summed over the steps the mask keeps (num_samples,
        seed and chunk_size are accepted and ignored: the density is exact)."""
        x = self.check_input(x)
        x, mask = self.trimmed(x, self.step_mask(x, mask))
        return masked_sum(step_log_probs(self.decoder(x), x), mask)

    def per_example_losses(self, x, y=None, training=False):
        x = self.check_input(x)
        x, mask = self.trimmed(x, self.step_mask(x, y))
        return {"loss": -masked_sum(step_log_probs(self.decoder(x, training=training), x),
                                    mask)}

    def call(self, x, training=False):
        return self.decoder(x, training=training)

    def generate(self, num_samples, num_steps, seed):
        notes, _ = self.decoder.generate(num_samples, num_steps, seed)
        return {"x": notes}

    def forward_flops_per_image(self):
        return self.decoder.flops_per_step() * self.event_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(rnn_units=list(self.rnn_units), dropout=self.dropout_rate)
        return config
