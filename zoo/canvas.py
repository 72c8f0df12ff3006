"""`CanvasModel`: recurrent VAEs that paint an image on a canvas in T steps (DRAW, Gregor et al.
2015, and convolutional DRAW, Gregor et al. 2016).

At every step t = 1..T, with c_0 = 0, h_dec_0 = 0 and zero LSTM states:

    x_hat_t = x - sigmoid(c_{t-1})                              what is still to be painted
    r_t     = read(x, x_hat_t, h_dec_{t-1})
    h_enc_t = LSTM_enc([r_t, h_dec_{t-1}], h_enc_{t-1})
    q(z_t | x, z_<t) = N(mu(h_enc_t), diag sigma(h_enc_t)^2)     (float32 head, softplus scale)
    h_dec_t = LSTM_dec(z_t, h_dec_{t-1})
    c_t     = c_{t-1} + write(h_dec_t)

with p(z_t) = N(0, I) and p(x | z_1..T) = prod_pixels Bernoulli(sigmoid(c_T)). The loss is the
negative ELBO, -log p(x | z_1..T) + sum_t KL(q(z_t | x, z_<t) || N(0, I)) (KL analytic), and
log p(x) is the importance-weighted bound whose proposal is the whole trajectory q(z_1..T | x):
log w = log p(x | z_1..T) + sum_t [log N(z_t; 0, I) - log q(z_t | x, z_<t)], through the shared
chunked estimator (`zoo.objectives`).

Subclasses make the layers and say what a step does: `encoder_cell` and `decoder_cell` (with
the interface of Keras's LSTMCell), `posterior_head` (a `DiagonalNormalHead`, applied to the last
axis of h_enc, so per position for feature maps), `step_latent_shape` (the shape of one z_t:
(latent_dim,) or (h, w, channels)), `read`, `write` and `forward_flops_per_image`.

Conceptual compression (Gregor et al. 2016): with bits-back (relative-entropy) coding, sending
z_1..t drawn from q costs sum_{s <= t} KL_s nats on average, and the receiver decodes the
canvas from them; `compression_steps` gives that code length and the reconstruction for every t.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import objectives
from zoo.base import GenerativeModel
from zoo.capabilities import Capabilities, picture
from zoo.checks import check_chunk_size
from zoo.distributions.likelihoods import BernoulliHead

tfd = tfp.distributions


def check_positive_integers(**values):
    """Raises ValueError naming the first argument that is not a positive integer."""
    for name, value in values.items():
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def evenly_spaced_steps(num_steps, columns):
    """min(columns, T) step indices (0-based) evenly spaced from the first to the last."""
    return np.unique(np.linspace(0, num_steps - 1, min(columns, num_steps)).round().astype(int))


class CanvasModel(GenerativeModel):
    """Base class of the models that paint in T steps (see the module docstring).

    Args:
        event_shape: (H, W, C) of the images (pixels in [0, 1]).
        num_steps: T, the number of canvas updates.
        seed: seed of the model's random stream.
    """

    capabilities = Capabilities(density="bound", latent="sequence", objective="elbo",
                                progressive=True)
    metric_names = ("loss", "elbo", "kl", "reconstruction")
    likelihood_name = "bernoulli"  # p(x | z_1..T): independent Bernoulli pixels

    def __init__(self, event_shape, num_steps, seed=None, **kwargs):
        super().__init__(event_shape=event_shape, seed=seed, **kwargs)
        if len(self.event_shape) != 3 or min(self.event_shape) < 1:
            raise ValueError(f"{type(self).__name__} reads images of shape (height, width, "
                             f"channels), got event_shape {tuple(event_shape)}.")
        check_positive_integers(num_steps=num_steps)
        self.num_steps = int(num_steps)
        # The canvas holds the Bernoulli logits: the head brings the value checks and the
        # distribution, not a projection (it has no weights of its own).
        self.likelihood_head = BernoulliHead(self.event_shape, name="likelihood_head")
        self.likelihood_head.built = True

    # --- inputs: images with Bernoulli pixels in [0, 1] -------------------------------------
    def check_values(self, x):
        self.likelihood_head.check_values(x)

    def value_assertions(self, x):
        return self.likelihood_head.value_assertions(x)

    # --- one step (the parts subclasses give) ---------------------------------------------
    @property
    def step_latent_shape(self):
        """The shape of one step's z_t."""
        raise NotImplementedError

    def read(self, x, x_hat, h_dec):
        """r_t from the images x, x_hat [B, H, W, C] and h_dec_{t-1}; concatenated with h_dec
        on the last axis as the encoder's input."""
        raise NotImplementedError

    def write(self, h_dec):
        """What step t adds to the canvas (logits), [B, H, W, C], from h_dec_t."""
        raise NotImplementedError

    def posterior_step(self, h_enc):
        """q(z_t | x, z_<t) from h_enc_t: a diagonal Normal over z_t (float32)."""
        q_z = self.posterior_head.make_distribution(self.posterior_head(h_enc))
        return self._over_positions(q_z)

    def prior_step(self):
        """p(z_t) = N(0, I) for every t."""
        shape = self.step_latent_shape
        return self._over_positions(tfd.MultivariateNormalDiag(loc=tf.zeros(shape),
                                                               scale_diag=tf.ones(shape)))

    def _over_positions(self, distribution):
        # The heads give one Normal over the channels per position: for feature-map latents
        # (h, w, channels), one distribution over the whole z_t.
        positions = len(self.step_latent_shape) - 1
        return tfd.Independent(distribution, positions) if positions else distribution

    # --- the T steps --------------------------------------------------------------------------
    def run_steps(self, noise, x=None, posterior_steps=None, keep=()):
        """The T steps from noise [B, T, *step_latent_shape].

        With images x [B, H, W, C]: z_t = mu_t + sigma_t noise_t from the posterior (noise 0:
        the posterior means) for the first `posterior_steps` steps ([B] ints, default T), then
        z_t = noise_t (noise 0: the prior mean); without x: z_t = noise_t, drawn from the prior.
        Returns a dict: "logits" c_T [B, H, W, C]; with x also "kl" (sum of KL(q || N(0, I))
        over the posterior steps) and "log_ratio" (their log N(z_t; 0, I) - log q(z_t | ...)),
        each [B]; and the per-step values `keep` names, [B, T, ...]: "canvases" sigmoid(c_t),
        "step_kl" KL_t (0 past the posterior steps; with x), "decoder_states" h_dec_t.
        """
        noise = tf.cast(noise, tf.float32)
        batch = tf.shape(noise)[0]
        latent_rank = len(self.step_latent_shape)
        steps = tf.transpose(noise, [1, 0, *range(2, 2 + latent_rank)])  # [T, B, ...]
        prior = self.prior_step()
        if posterior_steps is not None:
            posterior_steps = tf.cast(posterior_steps, tf.int32)
        state = {"canvas": tf.zeros(tf.concat([[batch], self.event_shape], 0)),
                 "decoder": self.decoder_cell.get_initial_state(batch)}
        if x is not None:
            x = tf.cast(x, tf.float32)
            state.update(encoder=self.encoder_cell.get_initial_state(batch),
                         kl=tf.zeros([batch]), log_ratio=tf.zeros([batch]))
        kept = {"canvases": (tf.float32, [None, *self.event_shape]),
                "step_kl": (tf.float32, [None]),
                "decoder_states": (self.decoder_cell.compute_dtype,
                                   state["decoder"][0].shape)}
        for name in keep:
            dtype, shape = kept[name]
            state[name] = tf.TensorArray(dtype, size=self.num_steps, element_shape=shape)

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
                kl = tfd.kl_divergence(q_z, prior)
                log_ratio = prior.log_prob(z) - q_z.log_prob(z)
                if posterior_steps is not None:  # past them: z from the prior, weight 1
                    use_q = t < posterior_steps
                    z = tf.where(tf.reshape(use_q, [-1] + [1] * latent_rank), z, noise_t)
                    kl, log_ratio = (tf.where(use_q, v, tf.zeros_like(v))
                                     for v in (kl, log_ratio))
                state.update(encoder=list(encoder_state), kl=state["kl"] + kl,
                             log_ratio=state["log_ratio"] + log_ratio)
                if "step_kl" in keep:
                    state["step_kl"] = state["step_kl"].write(t, kl)
            h_dec, decoder_state = self.decoder_cell(z, state["decoder"])
            state.update(decoder=list(decoder_state), canvas=state["canvas"] + self.write(h_dec))
            if "canvases" in keep:
                state["canvases"] = state["canvases"].write(t, tf.sigmoid(state["canvas"]))
            if "decoder_states" in keep:
                state["decoder_states"] = state["decoder_states"].write(t, h_dec)
            return t + 1, state

        _, state = tf.while_loop(lambda t, _: t < self.num_steps, body, (tf.constant(0), state),
                                 maximum_iterations=self.num_steps)
        out = {"logits": state["canvas"]}
        if x is not None:
            out.update(kl=state["kl"], log_ratio=state["log_ratio"])
        for name in keep:
            stacked = state[name].stack()  # [T, B, ...]
            out[name] = tf.transpose(stacked, [1, 0, *range(2, len(stacked.shape))])
        return out

    def noise_shape(self, batch):
        """[batch, T, *step_latent_shape] as an int32 tensor."""
        return tf.concat([tf.stack([batch, self.num_steps]),
                          tf.constant(self.step_latent_shape, tf.int32)], 0)

    def noise(self, batch, seed):
        """Standard normal noise [batch, T, *step_latent_shape] drawn statelessly with `seed`."""
        return tf.random.stateless_normal(self.noise_shape(batch), seed)

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

    # --- conceptual compression ----------------------------------------------------------
    def compression_steps(self, x, seed=None):
        """What sending only z_1..t costs and gives, for t = 1..T (Gregor et al. 2016).

        The first t latents are one posterior trajectory z_s = mu_s + sigma_s eps_s (eps drawn
        with `seed`, the same for every t), the other T - t the prior mean 0, which the
        receiver fills in without being sent anything. Returns a dict:
            "kl": [B, T], KL_t of each step: with bits-back (relative-entropy) coding, sending
                z_1..t costs sum_{s <= t} KL_s nats on average;
            "log_likelihood": [B, T], log p(x | z_1..t, 0, ..., 0) (the distortion, negated);
            "reconstruction": [B, T, H, W, C], sigmoid(c_T) of that trajectory (the last one
                is the painting of the full posterior draw).
        """
        x = self.check_input(x)
        batch, steps = tf.shape(x)[0], self.num_steps
        noise = self.noise(batch, self.next_seed(seed))
        # Row (t, b): image b with its first t + 1 latents from the posterior.
        tiled = tf.tile(x, [steps, 1, 1, 1])
        cutoffs = tf.repeat(tf.range(1, steps + 1), batch)
        # Past its cutoff a row's noise is 0: z_t = the prior mean.
        ones = [1] * len(self.step_latent_shape)
        sent = tf.range(steps)[None, :] < cutoffs[:, None]  # [T * B, T]
        sent = tf.reshape(tf.cast(sent, tf.float32), [-1, steps, *ones])
        tiled_noise = tf.tile(noise, [steps, 1, *ones]) * sent
        out = self.run_steps(tiled_noise, x=tiled, posterior_steps=cutoffs, keep=("step_kl",))
        log_likelihood = self.log_likelihood(tiled, out["logits"])
        images = tf.sigmoid(out["logits"])

        def by_image(values):  # [T * B, ...] -> [B, T, ...]
            values = tf.reshape(values, tf.concat([[steps, batch], tf.shape(values)[1:]], 0))
            return tf.transpose(values, [1, 0, *range(2, len(values.shape))])

        return {"kl": out["step_kl"][-batch:],  # the row that sends all T steps
                "log_likelihood": by_image(log_likelihood),
                "reconstruction": by_image(images)}

    # --- images -------------------------------------------------------------------------------
    def reconstruct(self, x):
        """sigmoid(c_T) with every z_t at its posterior mean, [B, H, W, C]."""
        x = self.check_input(x)
        return tf.sigmoid(self.run_steps(tf.zeros(self.noise_shape(tf.shape(x)[0])),
                                         x=x)["logits"])

    def sample(self, num_samples, seed=None):
        """Mean images sigmoid(c_T) of z_1..T ~ N(0, I), [num_samples, H, W, C]."""
        return self.sample_outputs(num_samples, seed)["x"]

    def sample_outputs(self, num_samples, seed=None):
        """{"x": mean images [n, H, W, C], "z": z_1..T [n, T, *step_latent_shape]} (the
        exported `sample` signature)."""
        num_samples = self.check_count(num_samples)
        z = self.noise(num_samples, self.next_seed(seed))
        return {"x": tf.sigmoid(self.run_steps(z)["logits"]), "z": z}

    def trajectory_noise(self, x=None, num_samples=None, seed=None, caller="canvases"):
        """(x checked or None, noise) of the trajectories `canvases` shows: zeros (posterior
        means) for images x, seeded prior draws for num_samples."""
        if (x is None) == (num_samples is None):
            raise ValueError(f"{caller} takes either images x (to paint them) or num_samples "
                             "(to paint samples), not both and not neither.")
        if x is not None:
            x = self.check_input(x)
            return x, tf.zeros(self.noise_shape(tf.shape(x)[0]))
        num_samples = self.check_count(num_samples)
        return None, self.noise(num_samples, self.next_seed(seed))

    def canvases(self, x=None, num_samples=None, seed=None):
        """sigmoid(c_t) for t = 1..T, [B, T, H, W, C]: how the model paints x (z_t at the
        posterior means; the last canvas is `reconstruct(x)`) or, given num_samples instead,
        its samples (z_t ~ N(0, I), seeded; the last canvas is `sample(num_samples, seed)`)."""
        x, noise = self.trajectory_noise(x, num_samples, seed)
        return self.run_steps(noise, x=x, keep=("canvases",))["canvases"]

    @picture("canvases", "canvases by step: 5 test images, then 5 samples")
    def canvas_rows(self, x, y=None, seed=0, images=5, columns=10):
        """The paper's figure: [2 * images, columns, H, W, C], test images painted (z_t at the
        posterior means) and samples, at `columns` evenly spaced steps ending with T."""
        steps = evenly_spaced_steps(self.num_steps, columns)
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

    def get_config(self):
        config = super().get_config()
        config.update(num_steps=self.num_steps)
        return config
