"""The variational recurrent neural network (VRNN, Chung et al. 2015) on piano rolls.

A latent z_t at every step, with a learned prior that depends on the past:

    prior       p(z_t | h_{t-1})      = N(mu_p(h_{t-1}), sigma_p(h_{t-1}))
    posterior   q(z_t | x_t, h_{t-1}) = N(mu_q(phi_x(x_t), h_{t-1}), sigma_q(...))
    emission    p(x_t | z_t, h_{t-1}) = prod_k Bernoulli(sigmoid(g(phi_z(z_t), h_{t-1}))_k)
    recurrence  h_t = LSTM([phi_x(x_t), phi_z(z_t)], h_{t-1})

ELBO = sum_t mask_t (E_q log p(x_t | z_t, h_{t-1}) - KL(q(z_t | .) || p(z_t | h_{t-1}))), with
the KL analytic per step; log p(x) is the importance-weighted bound whose proposal is the whole
q(z_1..T | x) (one trajectory per sample), through the shared chunked estimator
(`zoo.objectives`). KL warm-up and free bits (nats per step) guard against posterior collapse.
"""

import keras
import numpy as np
import tensorflow as tf

from zoo import objectives
from zoo.capabilities import Capabilities, Option
from zoo.checks import check_chunk_size
from zoo.models.registry import MODELS
from zoo.sequence import NUM_KEYS, SequenceModel, masked_sum, step_log_probs

LOG_2PI = float(np.log(2.0 * np.pi))


def _gaussian(params, min_scale=1e-4):
    mean, raw = tf.split(tf.cast(params, tf.float32), 2, axis=-1)
    return mean, tf.nn.softplus(raw) + min_scale


def _log_normal(z, mean, scale):
    """log N(z; mean, diag(scale^2)) summed over the last axis."""
    return -tf.reduce_sum(0.5 * tf.square((z - mean) / scale) + tf.math.log(scale)
                          + 0.5 * LOG_2PI, axis=-1)


def _kl_normal(mean_q, scale_q, mean_p, scale_p):
    """KL(N(mean_q, scale_q) || N(mean_p, scale_p)) of diagonal Gaussians, summed."""
    return tf.reduce_sum(tf.math.log(scale_p / scale_q)
                         + (tf.square(scale_q) + tf.square(mean_q - mean_p))
                         / (2.0 * tf.square(scale_p)) - 0.5, axis=-1)


@MODELS.register("vrnn")
@keras.saving.register_keras_serializable(package="zoo")
class VRNN(SequenceModel):
    """Variational RNN with a latent per step (see the module docstring).

    Args:
        event_shape: (T, K): default length of samples, keys per step.
        latent_dim: size of each z_t.
        rnn_units: cells of the LSTM.
        hidden_units: width of the feature extractors phi_x, phi_z and of the prior, posterior
            and emission networks.
        kl_warmup_steps: optimizer steps over which the KL weight rises linearly from 0 to 1.
        free_bits: nats per (unmasked) step of each sequence below which the KL costs nothing.
        seed: seed of the model's random stream.

    Reference:
        Chung et al., "A Recurrent Latent Variable Model for Sequential Data", NeurIPS 2015.
    """

    capabilities = Capabilities(density="bound", latent="sequence", training_targets="mask",
                                objective="elbo")
    metric_names = ("loss", "elbo", "kl", "reconstruction")
    options = (
        Option("latent_dim", int, 32, "size of each step's z_t", minimum=1),
        Option("rnn_units", int, 256, "cells of the LSTM", minimum=1),
        Option("hidden_units", int, 256, "width of the feature, prior, posterior and emission "
               "networks", minimum=1),
        Option("kl_warmup_epochs", int, 0, "epochs of linear KL warm-up from 0 to 1", minimum=0,
               argument=lambda value, run: {"kl_warmup_steps": value * run["steps_per_epoch"]}),
        Option("free_bits", float, 0.0, "nats per step of KL that cost nothing", minimum=0.0),
    )

    def __init__(self, event_shape=(100, NUM_KEYS), latent_dim=32, rnn_units=256,
                 hidden_units=256, kl_warmup_steps=0, free_bits=0.0, seed=None, **kwargs):
        super().__init__(event_shape=event_shape, seed=seed, **kwargs)
        self.latent_dim, self.rnn_units = int(latent_dim), int(rnn_units)
        self.hidden_units = int(hidden_units)
        self.kl_warmup_steps, self.free_bits = int(kl_warmup_steps), float(free_bits)
        hidden = self.hidden_units

        def dense(units, name, activation="relu", dtype=None):
            return keras.layers.Dense(units, activation=activation, name=name, dtype=dtype)

        self.phi_x = dense(hidden, "phi_x")
        self.phi_z = dense(hidden, "phi_z")
        self.prior_net = dense(hidden, "prior_net")
        self.prior_head = dense(2 * self.latent_dim, "prior_head", None, "float32")
        self.posterior_net = dense(hidden, "posterior_net")
        self.posterior_head = dense(2 * self.latent_dim, "posterior_head", None, "float32")
        self.emission_net = dense(hidden, "emission_net")
        self.emission_head = dense(self.num_keys, "emission_head", None, "float32")
        self.cell = keras.layers.LSTMCell(self.rnn_units, name="cell")
        for layer, features in ((self.phi_x, self.num_keys), (self.phi_z, self.latent_dim),
                                (self.prior_net, self.rnn_units), (self.prior_head, hidden),
                                (self.posterior_net, hidden + self.rnn_units),
                                (self.posterior_head, hidden),
                                (self.emission_net, hidden + self.rnn_units),
                                (self.emission_head, hidden), (self.cell, 2 * hidden)):
            layer.build((None, features))
        self.built = True

    # --- one step -----------------------------------------------------------------------------
    def prior_step(self, h):
        return _gaussian(self.prior_head(self.prior_net(h)))

    def emission_step(self, features_z, h):
        return self.emission_head(self.emission_net(tf.concat([features_z, h], axis=-1)))

    def recur(self, features_x, features_z, state):
        _, state = self.cell(tf.concat([features_x, features_z], axis=-1), state)
        return list(state)

    def initial_state(self, batch):
        return [tf.zeros([batch, self.rnn_units]), tf.zeros([batch, self.rnn_units])]

    def trajectory(self, x, noise):
        """Per-step terms of one trajectory z_1..T ~ q given x [B, T, K] and noise [B, T, d]:
        (log p(x_t | z_t, h), KL_t, log p(z_t | h) - log q(z_t | x_t, h)), each [B, T]."""
        features = tf.transpose(self.phi_x(x), [1, 0, 2])  # [T, B, H]
        elements = (features, tf.transpose(x, [1, 0, 2]), tf.transpose(noise, [1, 0, 2]))

        def step(carry, inputs):
            state, _ = carry
            features_x, x_t, noise_t = inputs
            h = state[0]
            mean_p, scale_p = self.prior_step(h)
            mean_q, scale_q = _gaussian(self.posterior_head(self.posterior_net(
                tf.concat([features_x, h], axis=-1))))
            z = mean_q + scale_q * noise_t
            features_z = self.phi_z(z)
            log_px = step_log_probs(self.emission_step(features_z, h), x_t)
            terms = tf.stack([log_px, _kl_normal(mean_q, scale_q, mean_p, scale_p),
                              _log_normal(z, mean_p, scale_p) - _log_normal(z, mean_q, scale_q)],
                             axis=-1)
            return self.recur(features_x, features_z, state), terms

        batch = tf.shape(x)[0]
        _, terms = tf.scan(step, elements,
                           initializer=(self.initial_state(batch), tf.zeros([batch, 3])))
        terms = tf.transpose(terms, [1, 0, 2])  # [B, T, 3]
        return terms[..., 0], terms[..., 1], terms[..., 2]

    # --- the bound and the density -------------------------------------------------------
    def elbo_terms(self, x, mask, seed):
        noise = tf.random.stateless_normal(tf.concat([tf.shape(x)[:2], [self.latent_dim]], 0),
                                           seed)
        log_px, kl, _ = self.trajectory(x, noise)
        return masked_sum(log_px, mask), masked_sum(kl, mask)

    def elbo(self, x, seed=None, mask=None):
        """Per-sequence ELBO (one trajectory of z), in nats."""
        x = self.check_input(x)
        x, mask = self.trimmed(x, self.step_mask(x, mask))
        reconstruction, kl = self.elbo_terms(x, mask, self.next_seed(seed))
        return reconstruction - kl

    def log_prob(self, x, num_samples=500, seed=None, chunk_size=100, mask=None):
        """Per-sequence importance-weighted estimate of log p(x), k trajectories from q."""
        num_samples = self.check_count(num_samples)
        chunk_size = check_chunk_size(chunk_size)
        x, seed = self.check_input(x), self.next_seed(seed)
        x, mask = self.trimmed(x, self.step_mask(x, mask))

        def log_weights(n, seed):
            tiled = tf.tile(x, tf.stack([n, 1, 1]))
            noise = tf.random.stateless_normal(
                tf.concat([tf.shape(tiled)[:2], [self.latent_dim]], 0), seed)
            log_px, _, log_ratio = self.trajectory(tiled, noise)
            weights = masked_sum(log_px + log_ratio, tf.tile(mask, tf.stack([n, 1])))
            return tf.reshape(weights, tf.stack([n, tf.shape(x)[0]]))

        return objectives.chunked_iwae_bound(log_weights, num_samples, chunk_size, seed)

    def per_example_losses(self, x, y=None, training=False):
        x = self.check_input(x)
        x, mask = self.trimmed(x, self.step_mask(x, y))
        reconstruction, kl = self.elbo_terms(x, mask, self.next_seed())
        rate = kl
        if self.free_bits and training:  # validation reports the plain bound
            rate = tf.maximum(kl, self.free_bits * tf.reduce_sum(mask, axis=-1))
        weight = tf.constant(1.0)
        if training and self.kl_warmup_steps and self.optimizer is not None:
            weight = objectives.linear_warmup(self.optimizer.iterations, self.kl_warmup_steps)
        return {"loss": -reconstruction + weight * rate, "elbo": reconstruction - kl, "kl": kl,
                "reconstruction": -reconstruction}

    # --- generation ---------------------------------------------------------------------------
    def generate(self, num_samples, num_steps, seed):
        """z_t ~ p(z_t | h_{t-1}) and x_t drawn at every step (noise fold_in(seed, t))."""
        notes = tf.TensorArray(tf.float32, size=num_steps)
        latents = tf.TensorArray(tf.float32, size=num_steps)

        def body(t, state, notes, latents):
            step_seed = tf.random.experimental.stateless_fold_in(seed, t)
            noise_seed, note_seed = tf.unstack(tf.random.experimental.stateless_split(step_seed))
            mean_p, scale_p = self.prior_step(state[0])
            z = mean_p + scale_p * tf.random.stateless_normal(tf.shape(mean_p), noise_seed)
            features_z = self.phi_z(z)
            p = tf.sigmoid(self.emission_step(features_z, state[0]))
            x = tf.cast(tf.random.stateless_uniform(tf.shape(p), note_seed) < p, tf.float32)
            state = self.recur(self.phi_x(x), features_z, state)
            return t + 1, state, notes.write(t, x), latents.write(t, z)

        _, _, notes, latents = tf.while_loop(
            lambda t, *_: t < num_steps, body,
            (tf.constant(0), self.initial_state(num_samples), notes, latents))
        return {"x": tf.transpose(notes.stack(), [1, 0, 2]),
                "z": tf.transpose(latents.stack(), [1, 0, 2])}

    def call(self, x, training=False):
        return self.elbo(x)

    def forward_flops_per_image(self):
        hidden, r, d, k = self.hidden_units, self.rnn_units, self.latent_dim, self.num_keys
        per_step = 2 * (k * hidden + d * hidden + r * hidden + hidden * 2 * d
                        + (hidden + r) * hidden + hidden * 2 * d + (hidden + r) * hidden
                        + hidden * k + (2 * hidden + r) * 4 * r)
        return per_step * self.event_shape[0]

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, rnn_units=self.rnn_units,
                      hidden_units=self.hidden_units, kl_warmup_steps=self.kl_warmup_steps,
                      free_bits=self.free_bits)
        return config
