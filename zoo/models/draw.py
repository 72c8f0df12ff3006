"""DRAW (Gregor et al. 2015): a recurrent VAE that paints an image on a canvas in T steps.

At every step t = 1..T, with c_0 = 0, h_dec_0 = 0 and zero LSTM states:

    x_hat_t = x - sigmoid(c_{t-1})                         what is still to be painted
    r_t     = read(x, x_hat_t, h_dec_{t-1})                a glimpse of both
    h_enc_t = LSTM_enc([r_t, h_dec_{t-1}], h_enc_{t-1})
    q(z_t | x, z_<t) = N(mu(h_enc_t), diag sigma(h_enc_t)^2)  (float32 head, softplus scale)
    z_t ~ q (training, scoring), z_t ~ N(0, I) (sampling)
    h_dec_t = LSTM_dec(z_t, h_dec_{t-1})
    c_t     = c_{t-1} + write(h_dec_t)

and p(x | z_1..T) = prod_pixels Bernoulli(sigmoid(c_T)). The loss is the negative ELBO,

    -ELBO(x) = -log p(x | z_1..T) + sum_t KL(q(z_t | x, z_<t) || N(0, I))   (KL analytic),

and log p(x) is the importance-weighted bound whose proposal is the whole trajectory
q(z_1..T | x): log w = log p(x | z_1..T) + sum_t [log N(z_t; 0, I) - log q(z_t | x, z_<t)],
through the shared chunked estimator (`zoo.objectives`), as the VRNN does.

read and write use the paper's selective attention (`zoo.networks.attention`: an N x N grid of
Gaussian filters placed by five numbers from a linear layer of h_dec; N = read_size for read,
write_size for write, where a linear layer of h_dec gives the N x N patch). Without attention,
read = [x, x_hat] flattened and write = a linear layer of h_dec to the whole image.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import objectives
from zoo.base import GenerativeModel
from zoo.capabilities import Capabilities, Option, picture
from zoo.checks import check_chunk_size
from zoo.distributions.likelihoods import BernoulliHead
from zoo.distributions.posteriors import DiagonalNormalHead
from zoo.models.registry import MODELS
from zoo.networks import attention as attention_lib

tfd = tfp.distributions


@MODELS.register("draw")
@keras.saving.register_keras_serializable(package="zoo")
class DRAW(GenerativeModel):
    """Deep Recurrent Attentive Writer (see the module docstring).

    Args:
        event_shape: (H, W, C) of the images (pixels in [0, 1]; C = 1 for MNIST).
        latent_dim: size of each step's z_t.
        num_steps: T, the number of canvas updates.
        encoder_units, decoder_units: cells of the encoder and decoder LSTMs.
        attention: use the selective attention read and write (else the whole image).
        read_size: N of the read grid (attention only).
        write_size: N of the write grid (attention only).
        seed: seed of the model's random stream.

    Example:
        >>> draw = DRAW(event_shape=(28, 28, 1))    # the paper's MNIST model with attention
        >>> draw.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=10.0))
        >>> draw.fit(binarized_images, epochs=10)
        >>> movie = draw.canvases(num_samples=16, seed=0)   # [16, T, 28, 28, 1]

    Reference:
        Gregor, Danihelka, Graves, Rezende & Wierstra, "DRAW: A Recurrent Neural Network For
        Image Generation", ICML 2015.
    """

    capabilities = Capabilities(density="bound", latent="sequence", objective="elbo")
    metric_names = ("loss", "elbo", "kl", "reconstruction")
    likelihood_name = "bernoulli"  # p(x | z_1..T): independent Bernoulli pixels
    options = (
        Option("latent_dim", int, 100, "size of each step's z_t", minimum=1),
        Option("num_steps", int, 64, "T, the number of canvas updates", minimum=1),
        Option("encoder_units", int, 256, "cells of the encoder LSTM", minimum=1),
        Option("decoder_units", int, 256, "cells of the decoder LSTM", minimum=1),
        Option("attention", bool, True, "selective attention (Gaussian filter grids) for read "
               "and write; without it they see and paint the whole image"),
        Option("read_size", int, 2, "N of the N x N read grid",
               minimum=1, when=lambda recipe: recipe.get("attention", True)),
        Option("write_size", int, 5, "N of the N x N write grid",
               minimum=1, when=lambda recipe: recipe.get("attention", True)),
    )

    def __init__(self, event_shape=(28, 28, 1), latent_dim=100, num_steps=64, encoder_units=256,
                 decoder_units=256, attention=True, read_size=2, write_size=5, seed=None,
                 **kwargs):
        super().__init__(event_shape=event_shape, seed=seed, **kwargs)
        if len(self.event_shape) != 3 or min(self.event_shape) < 1:
            raise ValueError(f"DRAW reads images of shape (height, width, channels), got "
                             f"event_shape {tuple(event_shape)}.")
        for name, value in (("latent_dim", latent_dim), ("num_steps", num_steps),
                            ("encoder_units", encoder_units), ("decoder_units", decoder_units),
                            ("read_size", read_size), ("write_size", write_size)):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        self.latent_dim, self.num_steps = int(latent_dim), int(num_steps)
        self.encoder_units, self.decoder_units = int(encoder_units), int(decoder_units)
        self.attention = bool(attention)
        self.read_size, self.write_size = int(read_size), int(write_size)
        height, width, channels = self.event_shape
        pixels = height * width * channels

        # The canvas holds the Bernoulli logits: the head brings the value checks and the
        # distribution, not a projection (it has no weights of its own).
        self.likelihood_head = BernoulliHead(self.event_shape, name="likelihood_head")
        self.likelihood_head.built = True
        self.encoder_cell = keras.layers.LSTMCell(self.encoder_units, name="encoder_cell")
        self.decoder_cell = keras.layers.LSTMCell(self.decoder_units, name="decoder_cell")
        self.posterior_head = DiagonalNormalHead(self.latent_dim, name="posterior_head")
        if self.attention:
            self.read_attention = keras.layers.Dense(
                attention_lib.NUM_PARAMETERS, dtype="float32", name="read_attention")
            self.write_attention = keras.layers.Dense(
                attention_lib.NUM_PARAMETERS, dtype="float32", name="write_attention")
            self.write_patch = keras.layers.Dense(self.write_size ** 2 * channels,
                                                  dtype="float32", name="write_patch")
            layers = ((self.read_attention, self.decoder_units),
                      (self.write_attention, self.decoder_units))
        else:
            self.write_patch = keras.layers.Dense(pixels, dtype="float32", name="write_patch")
            layers = ()
        for layer, features in (*layers, (self.write_patch, self.decoder_units),
                                (self.encoder_cell, self.read_dim + self.decoder_units),
                                (self.posterior_head, self.encoder_units),
                                (self.decoder_cell, self.latent_dim)):
            layer.build((None, features))
        self.built = True

    # --- inputs: images with Bernoulli pixels in [0, 1] -------------------------------------
    def check_values(self, x):
        self.likelihood_head.check_values(x)

    def value_assertions(self, x):
        return self.likelihood_head.value_assertions(x)

    @property
    def read_dim(self):
        """Size of r_t: two N x N glimpses (x and x_hat), or both whole images."""
        height, width, channels = self.event_shape
        side = (self.read_size ** 2) if self.attention else height * width
        return 2 * side * channels

    # --- one step ---------------------------------------------------------------------------
    def read(self, x, x_hat, h_dec):
        """r_t [B, read_dim] from the images x, x_hat [B, H, W, C] and h_dec_{t-1}."""
        if self.attention:
            raw = self.read_attention(tf.cast(h_dec, tf.float32))
            return attention_lib.read((x, x_hat), raw, self.read_size)
        batch = tf.shape(x)[0]
        return tf.concat([tf.reshape(x, [batch, -1]), tf.reshape(x_hat, [batch, -1])], axis=-1)

    def write(self, h_dec):
        """What step t adds to the canvas (logits), [B, H, W, C], from h_dec_t."""
        height, width, channels = self.event_shape
        h_dec = tf.cast(h_dec, tf.float32)
        if self.attention:
            patch = tf.reshape(self.write_patch(h_dec),
                               [-1, self.write_size, self.write_size, channels])
            return attention_lib.write(patch, self.write_attention(h_dec), height, width)
        return tf.reshape(self.write_patch(h_dec), [-1, height, width, channels])

    def posterior_step(self, h_enc):
        """q(z_t | x, z_<t) from h_enc_t: a diagonal Normal (float32)."""
        return self.posterior_head.make_distribution(self.posterior_head(h_enc))

    def prior_step(self):
        """p(z_t) = N(0, I) for every t."""
        return tfd.MultivariateNormalDiag(loc=tf.zeros([self.latent_dim]),
                                          scale_diag=tf.ones([self.latent_dim]))

    def _zero_state(self, cell, batch):
        dtype = cell.compute_dtype
        return [tf.zeros([batch, cell.units], dtype), tf.zeros([batch, cell.units], dtype)]

    def run_steps(self, noise, x=None, keep_canvases=False):
        """The T steps from noise [B, T, latent_dim].

        With images x [B, H, W, C]: z_t = mu_t + sigma_t noise_t from the posterior (noise 0:
        the posterior means); without: z_t = noise_t, drawn from the prior. Returns a dict:
        "logits" c_T [B, H, W, C]; with x also "kl" (sum_t KL(q || N(0, I))) and "log_ratio"
        (sum_t log N(z_t; 0, I) - log q(z_t | ...)), each [B]; with `keep_canvases` also
        "canvases", sigmoid(c_t) for t = 1..T, [B, T, H, W, C].
        """
        noise = tf.cast(noise, tf.float32)
        batch = tf.shape(noise)[0]
        steps = tf.transpose(noise, [1, 0, 2])  # [T, B, d]
        prior = self.prior_step()
        state = {"canvas": tf.zeros(tf.concat([[batch], self.event_shape], 0)),
                 "decoder": self._zero_state(self.decoder_cell, batch)}
        if x is not None:
            x = tf.cast(x, tf.float32)
            state.update(encoder=self._zero_state(self.encoder_cell, batch),
                         kl=tf.zeros([batch]), log_ratio=tf.zeros([batch]))
        if keep_canvases:
            state["canvases"] = tf.TensorArray(tf.float32, size=self.num_steps,
                                               element_shape=[None, *self.event_shape])

        def body(t, state):
            state = dict(state)
            noise_t, h_dec = steps[t], state["decoder"][0]
            if x is None:
                z = noise_t
            else:
                r = self.read(x, x - tf.sigmoid(state["canvas"]), h_dec)
                inputs = tf.concat([tf.cast(r, self.encoder_cell.compute_dtype),
                                    tf.cast(h_dec, self.encoder_cell.compute_dtype)], axis=-1)
                h_enc, encoder_state = self.encoder_cell(inputs, state["encoder"])
                q_z = self.posterior_step(h_enc)
                z = q_z.mean() + q_z.stddev() * noise_t
                state.update(encoder=list(encoder_state),
                             kl=state["kl"] + tfd.kl_divergence(q_z, prior),
                             log_ratio=state["log_ratio"] + prior.log_prob(z) - q_z.log_prob(z))
            h_dec, decoder_state = self.decoder_cell(z, state["decoder"])
            state.update(decoder=list(decoder_state), canvas=state["canvas"] + self.write(h_dec))
            if keep_canvases:
                state["canvases"] = state["canvases"].write(t, tf.sigmoid(state["canvas"]))
            return t + 1, state

        _, state = tf.while_loop(lambda t, _: t < self.num_steps, body, (tf.constant(0), state),
                                 maximum_iterations=self.num_steps)
        out = {"logits": state["canvas"]}
        if x is not None:
            out.update(kl=state["kl"], log_ratio=state["log_ratio"])
        if keep_canvases:
            out["canvases"] = tf.transpose(state["canvases"].stack(), [1, 0, 2, 3, 4])
        return out

    def noise(self, batch, seed):
        """Standard normal noise [batch, T, latent_dim] drawn statelessly with `seed`."""
        return tf.random.stateless_normal(
            tf.stack([batch, self.num_steps, self.latent_dim]), seed)

    def log_likelihood(self, x, logits):
        """log p(x | z_1..T) = sum over pixels of log Bernoulli(x; sigmoid(c_T)), [B]."""
        return self.likelihood_head.make_distribution(logits).log_prob(tf.cast(x, tf.float32))

    # --- the bound and the density -------------------------------------------------------
    def elbo_terms(self, x, seed):
        """(log p(x | z_1..T), sum_t KL_t), each [B], for one trajectory z ~ q seeded by seed."""
        out = self.run_steps(self.noise(tf.shape(x)[0], seed), x=x)
        return self.log_likelihood(x, out["logits"]), out["kl"]

    def elbo(self, x, seed=None):
        """Per-example ELBO (one trajectory z_1..T ~ q(z | x)), in nats."""
        x = self.check_input(x)
        reconstruction, kl = self.elbo_terms(x, self.next_seed(seed))
        return reconstruction - kl

    def log_prob(self, x, num_samples=5000, seed=None, chunk_size=100):
        """Per-example importance-weighted estimate of log p(x) with k trajectories from q.

        Args:
            x: images [B, H, W, C] in [0, 1].
            num_samples: k (an int or int32 scalar tensor); 5000 is the standard protocol.
            seed: int, pair, or int32 [2] tensor; None draws from the model's seed stream.
            chunk_size: trajectories evaluated at once (k x B rows); lower it if memory is short.
        """
        num_samples = self.check_count(num_samples)
        chunk_size = check_chunk_size(chunk_size)
        x, seed = self.check_input(x), self.next_seed(seed)
        if x.shape[0] == 0:  # nothing to sample for
            return tf.zeros([0])
        batch = tf.shape(x)[0]

        def log_weights(n, seed):
            tiled = tf.tile(x, tf.stack([n, 1, 1, 1]))
            out = self.run_steps(self.noise(n * batch, seed), x=tiled)
            weights = self.log_likelihood(tiled, out["logits"]) + out["log_ratio"]
            return tf.reshape(weights, tf.stack([n, batch]))

        return objectives.chunked_iwae_bound(log_weights, num_samples, chunk_size, seed)

    def per_example_losses(self, x, y=None, training=False):
        x = self.check_input(x)
        reconstruction, kl = self.elbo_terms(x, self.next_seed())
        return {"loss": kl - reconstruction, "elbo": reconstruction - kl, "kl": kl,
                "reconstruction": -reconstruction}

    # --- images -------------------------------------------------------------------------------
    def reconstruct(self, x):
        """sigmoid(c_T) with every z_t at its posterior mean, [B, H, W, C]."""
        x = self.check_input(x)
        return tf.sigmoid(self.run_steps(tf.zeros([tf.shape(x)[0], self.num_steps,
                                                   self.latent_dim]), x=x)["logits"])

    def sample(self, num_samples, seed=None):
        """Mean images sigmoid(c_T) of z_1..T ~ N(0, I), [num_samples, H, W, C]."""
        return self.sample_outputs(num_samples, seed)["x"]

    def sample_outputs(self, num_samples, seed=None):
        """{"x": mean images [n, H, W, C], "z": z_1..T [n, T, latent_dim]} (the exported
        `sample` signature)."""
        num_samples = self.check_count(num_samples)
        z = self.noise(num_samples, self.next_seed(seed))
        return {"x": tf.sigmoid(self.run_steps(z)["logits"]), "z": z}

    def canvases(self, x=None, num_samples=None, seed=None):
        """sigmoid(c_t) for t = 1..T, [B, T, H, W, C]: how the model paints x (z_t at the
        posterior means; the last canvas is `reconstruct(x)`) or, given num_samples instead,
        its samples (z_t ~ N(0, I), seeded; the last canvas is `sample(num_samples, seed)`)."""
        if (x is None) == (num_samples is None):
            raise ValueError("canvases takes either images x (to paint them) or num_samples "
                             "(to paint samples), not both and not neither.")
        if x is not None:
            x = self.check_input(x)
            noise = tf.zeros([tf.shape(x)[0], self.num_steps, self.latent_dim])
            return self.run_steps(noise, x=x, keep_canvases=True)["canvases"]
        num_samples = self.check_count(num_samples)
        return self.run_steps(self.noise(num_samples, self.next_seed(seed)),
                              keep_canvases=True)["canvases"]

    @picture("canvases", "canvases by step: 5 test images, then 5 samples")
    def canvas_rows(self, x, y=None, seed=0, images=5, columns=10):
        """The paper's figure: [2 * images, columns, H, W, C], test images painted (z_t at the
        posterior means) and samples, at `columns` evenly spaced steps ending with T."""
        steps = np.unique(np.linspace(0, self.num_steps - 1, min(columns, self.num_steps))
                          .round().astype(int))
        painted = np.asarray(self.canvases(np.asarray(x[:images], np.float32)))
        drawn = np.asarray(self.canvases(num_samples=images, seed=seed))
        return np.concatenate([painted, drawn])[:, steps]

    def call(self, x, training=False):
        return self.reconstruct(x)

    # --- serving ------------------------------------------------------------------------------
    def serving_endpoints(self):
        """`serving_default` (x -> reconstruction) and `canvases` (num_samples, seed ->
        canvases [n, T, H, W, C]); `sample` and `log_prob` are the standard ones."""
        from zoo.export import _checked, _count_assertions, _shape_assertion

        x_spec = tf.TensorSpec([None, *self.event_shape], tf.float32, name="x")
        n_spec = tf.TensorSpec([], tf.int32, name="num_samples")
        seed_spec = tf.TensorSpec([2], tf.int32, name="seed")

        def serving_default(x):
            x = _checked(x, [_shape_assertion(x, self.event_shape, "x"),
                             *self.value_assertions(x)])
            return {"reconstruction": self.reconstruct(x)}

        def canvases(num_samples, seed):
            num_samples = _checked(num_samples, _count_assertions(num_samples))
            return {"canvases": self.canvases(num_samples=num_samples, seed=seed)}

        return {"serving_default": (serving_default, [x_spec]),
                "canvases": (canvases, [n_spec, seed_spec])}

    def forward_flops_per_image(self):
        """FLOPs of scoring one image (encoder and decoder, all T steps), 2 per weight use;
        with attention also the filter products of the two glimpses and the paste."""
        height, width, channels = self.event_shape
        e, d, z = self.encoder_units, self.decoder_units, self.latent_dim
        per_step = 2 * (4 * e * (self.read_dim + d + e)  # encoder LSTM
                        + e * 2 * z                      # posterior head
                        + 4 * d * (z + d))               # decoder LSTM
        if self.attention:
            n_r, n_w = self.read_size, self.write_size
            per_step += 2 * (2 * d * attention_lib.NUM_PARAMETERS + d * n_w * n_w * channels)
            per_step += 2 * attention_lib.glimpse_flops(n_r, height, width, channels)
            per_step += attention_lib.paste_flops(n_w, height, width, channels)
        else:
            per_step += 2 * d * height * width * channels
        return per_step * self.num_steps

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, num_steps=self.num_steps,
                      encoder_units=self.encoder_units, decoder_units=self.decoder_units,
                      attention=self.attention, read_size=self.read_size,
                      write_size=self.write_size)
        return config
