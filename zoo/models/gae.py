"""The Generative Auto Encoder: a VAE whose prior is the mixture of the training posteriors."""

import keras
import numpy as np
import tensorflow as tf

from zoo import objectives
from zoo.capabilities import Option, merge_options, without
from zoo.distributions import DiagonalGaussianMixture
from zoo.models.registry import MODELS
from zoo.models.vae import VAE, check_mixture_prior_options


@MODELS.register("gae")
@keras.saving.register_keras_serializable(package="zoo")
class GAE(VAE):
    """Generative Auto Encoder: p(z) is the equal-weight mixture of the encoder's posteriors
    over the n training images, trained by EM with the training index y as a second latent.

        p(z)      = (1/n) sum_j q(z|x_j)                     (y ~ uniform{1..n}, z ~ q(z|x_y))
        p(x)      = (1/n) sum_j integral p(x|z) q(z|x_j) dz
        bound(x_i) = E_q(z|x_i)[log p(x_i|z)] - E_q(z|x_i)[log q(z|x_i) - log p_-i(z)]
        loss      = -bound + lambda1 sum_d mu_d^2 - lambda2 sum_d (1 + log s_d^2 - s_d^2)

    EM as in the slides. E-step (`refresh_components`, run before every epoch and once after
    the last by the callback of `training_callbacks`): encode all n training images and store
    their posterior means and stddevs in a non-trainable cache; the cache *is* the mixture
    over y, i.e. the posterior over which training image generated z. M-step: gradient steps on
    the bound above with the cache held constant (stop_gradient), z ~ q(z|x_i) and the Monte
    Carlo KL log q(z|x_i) - log p_-i(z).

    Leave-one-out: training image i is scored against p_-i(z) = 1/(n-1) sum_{j != i} q(z|x_j),
    without its own component, otherwise the KL can be driven to ~0 by q(z|x_i) matching its
    own cached copy and the prior memorises the training set (Norouzi et al. 2020, "Exemplar
    VAEs", use the same leave-one-out). Training batches carry the index i (training_targets =
    "index"); index -1 (validation, test, `log_prob`) leaves nothing out.

    The regulariser is the slides' R with the signs of the VAE's KL to N(0, I), which equals
    0.5 sum mu^2 - 0.5 sum (1 + log s^2 - s^2): the GAE bound alone is invariant to an
    invertible affine map of z (prior and posterior move together, the decoder undoes it), so
    R pins the scale of the latent space. The default lambda1 = lambda2 = 0.05 is a tenth of
    the VAE's weight: it fixes the scale without pulling every posterior to N(0, I).

    Sampling as in the slides: pick a training image j uniformly, z ~ q(z|x_j), x ~ p(x|z).
    Before the first E-step the cache holds N(0, I) components (loc 0, scale 1), so the model
    is a valid VAE-like density from construction on.

    Args:
        num_components: n, the number of training images (50,000 for MNIST); the E-step
            refuses a training set of another size.
        lambda1: weight of sum mu^2 in the regulariser.
        lambda2: weight of -sum (1 + log s^2 - s^2) in the regulariser.
        component_chunk_size: rows of z scored against all n components at once (memory:
            chunk * n floats).
        **kwargs: the arguments of `VAE` (posterior must be "diagonal"; `prior` must stay
            "normal", it is replaced by the mixture).

    Example:
        >>> gae = GAE(num_components=len(x_train), latent_dim=16, hidden_units=(200, 200))
        >>> gae.compile(optimizer="adam")
        >>> gae.fit(x_train, np.arange(len(x_train)), epochs=10,
        ...         callbacks=gae.training_callbacks({"x_train": x_train}))
        >>> images = gae.sample(16, seed=0)

    Reference:
        Kim, Kim & Hwang, "Generative Auto Encoder", slides, Seoul National University, 2018.
        Norouzi, Fleet & Norouzi, "Exemplar VAE: Linking Generative Models, Nearest Neighbor
        Retrieval, and Data Augmentation", NeurIPS 2020.
    """

    capabilities = VAE.capabilities.replace(training_targets="index",
                                            objective="leave-one-out EM bound")
    options = merge_options(without(VAE.options, "posterior", "prior"), (
        Option("num_components", int, None, "prior components, one per training image "
               "(default: the training set size)", minimum=2,
               argument=lambda value, run: {
                   "num_components": value or run["num_training_images"]}),
        Option("lambda1", float, 0.05, "regulariser weight of sum mu^2", minimum=0),
        Option("lambda2", float, 0.05, "regulariser weight of -sum(1 + log s^2 - s^2)",
               minimum=0),
    ))
    metric_names = ("loss", "elbo", "kl", "reconstruction", "regularizer")

    def __init__(self, num_components=50000, lambda1=0.05, lambda2=0.05,
                 component_chunk_size=1024, **kwargs):
        if int(num_components) < 2:
            raise ValueError(f"num_components must be at least 2 (leave-one-out needs another "
                             f"component), got {num_components}.")
        if float(lambda1) < 0 or float(lambda2) < 0:
            raise ValueError(f"lambda1 and lambda2 must be non-negative, got {lambda1}, "
                             f"{lambda2}.")
        check_mixture_prior_options("GAE", "the mixture of the training posteriors", kwargs)
        self.num_components = int(num_components)  # read by build_encoder
        self.lambda1 = float(lambda1)
        self.lambda2 = float(lambda2)
        self.component_chunk_size = int(component_chunk_size)
        self._encode_batch = None
        super().__init__(**kwargs)

    def build_encoder(self, features_shape):
        super().build_encoder(features_shape)
        shape = (self.num_components, self.latent_dim)
        self.component_loc = self.add_weight(shape=shape, initializer="zeros", trainable=False,
                                             dtype="float32", name="component_loc")
        self.component_scale = self.add_weight(shape=shape, initializer="ones", trainable=False,
                                               dtype="float32", name="component_scale")

    def prior(self):
        return DiagonalGaussianMixture(tf.stop_gradient(tf.convert_to_tensor(self.component_loc)),
                                       tf.stop_gradient(tf.convert_to_tensor(self.component_scale)),
                                       chunk_size=self.component_chunk_size)

    # --- E-step ------------------------------------------------------------------------------
    def refresh_components(self, x_train, batch_size=1000):
        """E-step: caches the posterior mean and stddev of every training image (in order)."""
        if len(x_train) != self.num_components:
            raise ValueError(
                f"GAE was built with num_components={self.num_components} but the training set "
                f"holds {len(x_train)} images; build it with num_components={len(x_train)}.")
        if isinstance(x_train, np.ndarray):
            self.check_values(x_train)
        self.check_input(x_train[:1])
        if self._encode_batch is None:
            def encode(x):
                q_z = self.posterior(x)
                return q_z.mean(), q_z.stddev()
            self._encode_batch = tf.function(encode, reduce_retracing=True)
        locs, scales = [], []
        for start in range(0, len(x_train), batch_size):
            loc, scale = self._encode_batch(tf.convert_to_tensor(x_train[start:start + batch_size]))
            locs.append(loc)
            scales.append(scale)
        self.component_loc.assign(tf.concat(locs, 0))
        self.component_scale.assign(tf.concat(scales, 0))

    def training_callbacks(self, arrays):
        """The E-step callback for `arrays["x_train"]`; Bernoulli models encode one fixed
        binarization (seed 0) of grey training images, the kind of input the encoder sees."""
        x = np.asarray(arrays["x_train"])
        if self.likelihood_name == "bernoulli" and np.any((x > 0) & (x < 1)):
            x = (np.random.default_rng(0).random(x.shape, dtype=np.float32) < x).astype(np.float32)
        return [RefreshComponents(x)]

    # --- M-step ------------------------------------------------------------------------------
    def regularizer(self, q_z):
        """lambda1 sum mu^2 - lambda2 sum (1 + log s^2 - s^2), per example (>= 0 for s = 1)."""
        mu, var = q_z.mean(), tf.square(q_z.stddev())
        return (self.lambda1 * tf.reduce_sum(tf.square(mu), -1)
                - self.lambda2 * tf.reduce_sum(1.0 + tf.math.log(var) - var, -1))

    def per_example_losses(self, x, y=None, training=False):
        x = self.check_input(x)
        q_z, p_z = self.posterior(x), self.prior()
        exclude = -tf.ones(tf.shape(x)[:1], tf.int32) if y is None else tf.cast(
            tf.reshape(y, [-1]), tf.int32)
        with tf.control_dependencies(self.target_assertions(exclude)):
            exclude = tf.identity(exclude)
        terms = objectives.elbo(x, q_z, LeaveOneOut(p_z, exclude), self.likelihood,
                                seed=self.next_seed(), beta=self.kl_weight(training))
        regularizer = self.regularizer(q_z)
        return {"loss": terms["loss"] + regularizer, "elbo": terms["elbo"], "kl": terms["rate"],
                "reconstruction": terms["distortion"], "regularizer": regularizer}

    def target_assertions(self, y):
        """Training indices lie in [0, num_components), or are -1 (leave nothing out)."""
        message = (f"GAE training indices must be below num_components={self.num_components} "
                   "and at least -1 (leave nothing out)")
        return [tf.debugging.assert_less(y, tf.constant(self.num_components, y.dtype),
                                         message=message),
                tf.debugging.assert_greater_equal(y, tf.constant(-1, y.dtype), message=message)]

    def get_config(self):
        config = super().get_config()
        config.update(num_components=self.num_components, lambda1=self.lambda1,
                      lambda2=self.lambda2, component_chunk_size=self.component_chunk_size)
        return config


class LeaveOneOut:
    """The mixture with component `exclude[b]` left out for the b-th example of z [S, B, d]."""

    def __init__(self, mixture, exclude):
        self.mixture, self.exclude = mixture, exclude

    def log_prob(self, z):
        return self.mixture.log_prob(z, exclude=self.exclude)


class RefreshComponents(keras.callbacks.Callback):
    """Runs the GAE's E-step before every epoch (so also before the first) and after the last,
    so that the saved cache matches the final encoder."""

    def __init__(self, x_train, batch_size=1000):
        super().__init__()
        self.x_train, self.batch_size = x_train, batch_size
        self.calls = 0

    def refresh(self):
        self.model.refresh_components(self.x_train, self.batch_size)
        self.calls += 1

    def on_epoch_begin(self, epoch, logs=None):
        self.refresh()

    def on_train_end(self, logs=None):
        self.refresh()
