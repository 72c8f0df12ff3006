"""The Variational Recurrent Auto-Encoder (Fabius & van Amersfoort 2014) on piano rolls.

An encoder LSTM reads the whole roll and gives q(z|x), one global z per sequence; a decoder LSTM
whose initial state is set from z (and which also reads z at every step) emits each step's notes
as independent Bernoullis given the previous steps:

    q(z|x) = N(mu(h_T), sigma(h_T)),   p(z) = N(0, I),
    p(x|z) = prod_t prod_k Bernoulli(x_t,k | x_<t, z)          (`zoo.networks.recurrent`)

A decoder this strong can model the music without z, the posterior collapse of sequence VAEs
(Bowman et al. 2016): the KL term drops to zero and z carries nothing. Two remedies are options:
KL warm-up (the KL weight rises from 0 to 1) and free bits (the KL costs nothing below
`free_bits` nats per step of the sequence). The card reports the KL per sequence so a user sees
whether z is used. `NoteRNN` is the same decoder without z, the baseline that shows the gain.
"""

import keras
import tensorflow as tf

from zoo import objectives
from zoo.capabilities import Capabilities, Option
from zoo.distributions import get_posterior
from zoo.latent import LatentVariableModel
from zoo.models.note_rnn import RNN_OPTIONS
from zoo.models.registry import MODELS
from zoo.networks.recurrent import NoteDecoder
from zoo.priors import get_prior
from zoo.sequence import NUM_KEYS, SequenceModel, masked_sum, step_log_probs


class DecoderLikelihood:
    """p(x|z) of an autoregressive decoder: `log_prob(x)` runs it on x (teacher forcing) for
    every z; z may carry leading sample dimensions [..., B, d] (the result is then [..., B])."""

    def __init__(self, model, z, mask=None):
        self.model, self.z, self.mask = model, z, mask

    def log_prob(self, x):
        z = tf.convert_to_tensor(self.z)
        leading = tf.shape(z)[:-1]
        flat = tf.reshape(z, [-1, z.shape[-1]])
        copies = tf.shape(flat)[0] // tf.shape(x)[0]
        tiled = tf.tile(x, tf.stack([copies, 1, 1]))
        mask = self.model.step_mask(x, self.mask)
        log_p = masked_sum(step_log_probs(self.model.decoder(tiled, context=flat), tiled),
                           tf.tile(mask, tf.stack([copies, 1])))
        return tf.reshape(log_p, leading)


@MODELS.register("vrae")
@keras.saving.register_keras_serializable(package="zoo")
class VRAE(SequenceModel, LatentVariableModel):
    """Variational recurrent autoencoder (see the module docstring).

    Args:
        event_shape: (T, K): default length of samples, keys per step.
        latent_dim: size of z.
        encoder_units: cells of each encoder LSTM layer (the last one's final state feeds q).
        rnn_units: cells of each decoder LSTM layer.
        dropout: dropout on the decoder's LSTM outputs during training.
        kl_warmup_steps: optimizer steps over which the KL weight rises linearly from 0 to 1.
        free_bits: nats per (unmasked) step of each sequence below which the KL costs nothing.
        seed: seed of the model's random stream.

    Reference:
        Fabius & van Amersfoort, "Variational Recurrent Auto-Encoders", ICLR workshop 2015.
    """

    capabilities = Capabilities(density="bound", latent="single", training_targets="mask",
                                objective="elbo")
    options = RNN_OPTIONS + (
        Option("latent_dim", int, 32, "size of z", minimum=1),
        Option("encoder_units", list, [256], "cells of each encoder LSTM layer", minimum=1),
        Option("kl_warmup_epochs", int, 0, "epochs of linear KL warm-up from 0 to 1", minimum=0,
               argument=lambda value, run: {"kl_warmup_steps": value * run["steps_per_epoch"]}),
        Option("free_bits", float, 0.0, "nats per step of KL that cost nothing", minimum=0.0),
    )

    def __init__(self, event_shape=(100, NUM_KEYS), latent_dim=32, encoder_units=(256,),
                 rnn_units=(256,), dropout=0.0, kl_warmup_steps=0, free_bits=0.0, seed=None,
                 **kwargs):
        super().__init__(event_shape=event_shape, seed=seed, **kwargs)
        self.latent_dim = int(latent_dim)
        self.encoder_units = tuple(int(u) for u in encoder_units)
        self.rnn_units = tuple(int(u) for u in rnn_units)
        self.dropout_rate = float(dropout)
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.free_bits = float(free_bits)
        if not self.encoder_units or min(self.encoder_units) < 1:
            raise ValueError(f"encoder_units must be one or more positive sizes, got "
                             f"{encoder_units}.")
        self.encoder_network = keras.Sequential(
            [keras.layers.LSTM(u, return_sequences=i < len(self.encoder_units) - 1,
                               name=f"lstm_{i}") for i, u in enumerate(self.encoder_units)],
            name="encoder")
        self.posterior_head = get_posterior("diagonal", self.latent_dim, name="posterior_head")
        self.prior_layer = get_prior("normal", self.latent_dim, name="prior")
        self.decoder = NoteDecoder(self.num_keys, self.rnn_units, context_dim=self.latent_dim,
                                   dropout=self.dropout_rate, name="decoder")
        self.encoder_network.build((None, None, self.num_keys))
        self.posterior_head.build((None, self.encoder_units[-1]))
        self.decoder.build()
        self.built = True

    # --- the probabilistic model ----------------------------------------------------------
    def posterior(self, x, mask=None):
        x = self.check_input(x)
        # Masked steps carry the LSTM state on: the features are those of the last kept step.
        h, keep = x, self.step_mask(x, mask) > 0.5
        for lstm in self.encoder_network.layers:
            h = lstm(h, mask=keep)
        return self.posterior_head.make_distribution(self.posterior_head(h))

    def prior(self):
        return self.prior_layer.distribution()

    def likelihood(self, z, mask=None):
        return DecoderLikelihood(self, z, mask)

    def encode_outputs(self, x, mask=None):
        q_z = self.posterior(x, mask=mask)
        return {"mean": q_z.mean(), "stddev": q_z.stddev()}

    @property
    def decoder_network(self):
        return self.decoder

    def freeze(self, part):
        """Stops training of the "encoder" (LSTMs and posterior head) or the "decoder"; compile
        again afterwards."""
        parts = {"encoder": (self.encoder_network, self.posterior_head),
                 "decoder": (self.decoder,)}
        if part not in parts:
            raise ValueError(f"Unknown part {part!r}; choose 'encoder' or 'decoder'.")
        for layer in parts[part]:
            layer.trainable = False
        return self

    def elbo(self, x, seed=None, mask=None):
        x = self.check_input(x)
        x, mask = self.trimmed(x, self.step_mask(x, mask))
        return super().elbo(x, seed=seed, mask=mask)

    def log_prob(self, x, num_samples=5000, seed=None, chunk_size=500, mask=None):
        """The importance-weighted estimate of log p(x) per sequence (`LatentVariableModel`)
        over the steps the mask keeps."""
        x = self.check_input(x)
        x, mask = self.trimmed(x, self.step_mask(x, mask))
        return super().log_prob(x, num_samples=num_samples, seed=seed, chunk_size=chunk_size,
                                mask=mask)

    # --- decoding -------------------------------------------------------------------------
    def reconstruct(self, x, mask=None):
        """Each step's note probabilities given x's previous steps, at the posterior mean z."""
        x = self.check_input(x)
        return tf.sigmoid(self.decoder(x, context=self.encode(x, mask=mask)))

    def decode(self, z, num_steps=None, mask=None):
        """The note probabilities of the greedy decoding of z (each step's notes set where
        their probability exceeds 1/2 and fed back), [B, num_steps, K]; given a `mask` (the
        conditioning of the other methods), num_steps defaults to its number of steps."""
        if num_steps is None and mask is not None:
            num_steps = tf.shape(mask)[1]
        return self.decode_outputs(z, num_steps)["mean"]

    def decode_outputs(self, z, num_steps=None):
        z = tf.convert_to_tensor(z, tf.float32)
        notes, probabilities = self.decoder.generate(
            tf.shape(z)[0], self.check_num_steps(num_steps), tf.zeros([2], tf.int32),
            context=z, greedy=True)
        return {"mean": probabilities, "notes": notes}

    def generate(self, num_samples, num_steps, seed):
        z = self.prior().sample(num_samples, seed=tf.random.experimental.stateless_fold_in(
            seed, -1))
        notes, _ = self.decoder.generate(num_samples, num_steps, seed, context=z)
        return {"x": notes, "z": z}

    def interpolate(self, a, b, steps=8, mask_a=None, mask_b=None, num_steps=None, seed=0):
        """Rolls [steps, num_steps, K] decoded along the line from a's posterior mean to b's.

        a, b: one roll each ([T, K] or [1, T, K]) with optional masks; every row is drawn with
        the same noise (seed), so the rows differ only through z. num_steps defaults to the
        longer of the two pieces' kept steps."""
        if int(steps) < 2:
            raise ValueError(f"steps must be at least 2 (the two ends), got {steps}.")
        ends, lengths = [], []
        for roll, mask in ((a, mask_a), (b, mask_b)):
            roll = self.check_input(tf.reshape(tf.convert_to_tensor(roll, tf.float32),
                                               [1, -1, self.num_keys]))
            mask = None if mask is None else tf.reshape(tf.convert_to_tensor(mask, tf.float32),
                                                        [1, -1])
            ends.append(self.encode(roll, mask=mask))
            lengths.append(int(tf.reduce_sum(self.step_mask(roll, mask))))
        alpha = tf.linspace(0.0, 1.0, int(steps))[:, None]
        z = (1.0 - alpha) * ends[0] + alpha * ends[1]
        notes, _ = self.decoder.generate(int(steps), self.check_num_steps(num_steps or
                                                                          max(lengths)),
                                         self.next_seed(seed), context=z, shared_noise=True)
        return notes

    # --- training ----------------------------------------------------------------------------
    def kl_weight(self, training):
        if not training or not self.kl_warmup_steps or self.optimizer is None:
            return tf.constant(1.0)
        return objectives.linear_warmup(self.optimizer.iterations, self.kl_warmup_steps)

    def per_example_losses(self, x, y=None, training=False):
        x = self.check_input(x)
        x, mask = self.trimmed(x, self.step_mask(x, y))
        terms = objectives.elbo(x, self.posterior(x, mask=mask), self.prior(),
                                lambda z: self.likelihood(z, mask=mask), seed=self.next_seed())
        rate = terms["rate"]
        if self.free_bits and training:  # validation reports the plain bound
            rate = tf.maximum(rate, self.free_bits * tf.reduce_sum(mask, axis=-1))
        return {"loss": terms["distortion"] + self.kl_weight(training) * rate,
                "elbo": terms["elbo"], "kl": terms["rate"],
                "reconstruction": terms["distortion"]}

    def call(self, x, training=False):
        return self.reconstruct(x)

    def forward_flops_per_image(self):
        flops, inputs = 0, self.num_keys
        for units in self.encoder_units:
            flops += 2 * (inputs + units) * 4 * units
            inputs = units
        return (flops + self.decoder.flops_per_step()) * self.event_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, encoder_units=list(self.encoder_units),
                      rnn_units=list(self.rnn_units), dropout=self.dropout_rate,
                      kl_warmup_steps=self.kl_warmup_steps, free_bits=self.free_bits)
        return config
