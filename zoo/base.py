"""`GenerativeModel`: the API every model of the zoo exposes, and its Keras training step."""

import keras
import numpy as np
import tensorflow as tf

from zoo import objectives


def as_stateless_seed(seed):
    """An int32 [2] stateless seed from an int, a pair, or a tensor of shape [2]."""
    if isinstance(seed, (int, np.integer)):
        return tf.constant([int(seed), 0], dtype=tf.int32)
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank != 1 or (seed.shape[0] is not None and seed.shape[0] != 2):
        raise ValueError(f"A seed is an int or a pair of ints, got shape {seed.shape}.")
    return tf.cast(seed, tf.int32)


class GenerativeModel(keras.Model):
    """Base class of the zoo's generative models: a Keras model with a probabilistic API.

    Subclasses define `posterior(x)` -> q(z|x), `prior()` -> p(z), `likelihood(z)` -> p(x|z),
    and `per_example_losses(x, training)` -> dict of [B] tensors holding "loss" and the entries of
    `metric_names`. This class derives the rest of the API (encode, decode, reconstruct, sample,
    elbo, log_prob) and the Keras training/evaluation steps, which report `metric_names` as Keras
    metrics. Models are built at construction, so saving keeps the optimizer state.

    Args:
        event_shape: shape of one observation, e.g. (28, 28, 1).
        seed: seed of the model's random stream (sampling of z during training and evaluation).
    """

    metric_names = ("loss", "elbo", "kl", "reconstruction")
    has_density = True  # False for models without log_prob (the deterministic autoencoder)
    # What training batches carry besides x, as the `y` of Keras `fit(x, y)`: None, "labels"
    # (class labels; -1 marks an unlabelled image for semi-supervised models) or "index" (the
    # position of each image in the training set, for priors built from the training points).
    training_targets = None
    conditional = False  # True for models whose methods take class `labels` (the CVAE)

    def __init__(self, event_shape, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        self.trackers = {n: keras.metrics.Mean(name=n) for n in self.metric_names}

    # --- the probabilistic model: subclasses define these -------------------------------------
    def posterior(self, x):
        """q(z|x) as a tfd distribution with batch shape [B]."""
        raise NotImplementedError

    def prior(self):
        """p(z) as a tfd distribution."""
        raise NotImplementedError

    def likelihood(self, z):
        """p(x|z) as a tfd distribution; z may carry extra leading sample dimensions."""
        raise NotImplementedError

    def per_example_losses(self, x, y=None, training=False):
        """Dict of [B] tensors: "loss" (what training minimises) and each of `metric_names`.

        `y` is what `training_targets` names (labels or training-set indices), else None.
        """
        raise NotImplementedError

    # --- derived API -------------------------------------------------------------------------
    # `**condition` carries the class `labels` of conditional models (see `conditioning`) to
    # their `posterior` and `likelihood`; other models take none.
    def encode(self, x, **condition):
        """Posterior mean E[z|x]."""
        return self.posterior(x, **condition).mean()

    def decode(self, z, **condition):
        """Mean of p(x|z)."""
        return self.likelihood(z, **condition).mean()

    def reconstruct(self, x, **condition):
        """decode(encode(x)): the mean image at the posterior mean."""
        return self.decode(self.encode(x, **condition), **condition)

    def sample(self, num_samples, seed=None, **condition):
        """Draws z ~ p(z) and returns the mean images of p(x|z), shape [num_samples, *event]."""
        z = self.prior().sample(num_samples, seed=self.next_seed(seed))
        return self.decode(z, **condition)

    def elbo(self, x, seed=None, **condition):
        """Per-example evidence lower bound (one Monte Carlo sample of z), in nats."""
        return objectives.elbo(
            self.check_input(x), self.posterior(x, **condition), self.prior(),
            lambda z: self.likelihood(z, **condition), seed=self.next_seed(seed),
        )["elbo"]

    def log_prob(self, x, num_samples=5000, seed=None, chunk_size=500, **condition):
        """Per-example importance-weighted estimate of log p(x) (the IWAE bound with k samples).

        Args:
            x: observations [B, *event_shape].
            num_samples: k (an int or int32 scalar tensor); 5000 is the standard protocol.
            seed: int, pair, or int32 [2] tensor; None draws from the model's seed stream.
            chunk_size: samples evaluated at once; lower it if memory is short.
        """
        x = self.check_input(x)
        q_z, p_z = self.posterior(x, **condition), self.prior()

        def log_weights(n, seed):
            return objectives.log_importance_weights(
                x, q_z, p_z, lambda z: self.likelihood(z, **condition), n, seed)[0]

        return objectives.chunked_iwae_bound(log_weights, num_samples, chunk_size,
                                             self.next_seed(seed))

    def call(self, x, training=False):
        return self.reconstruct(x)

    # --- serving (zoo.export builds the SavedModel signatures from these) --------------------
    observation_dtype = "float32"

    @property
    def latent_shape(self):
        """Shape of one z (the exported `decode` input)."""
        return (self.latent_dim,)

    def value_assertions(self, x):
        """Graph-safe checks that observations lie in the likelihood's support."""
        return []

    def encode_outputs(self, x, **condition):
        """Named outputs of the exported `encode` signature: posterior mean and stddev."""
        q_z = self.posterior(x, **condition)
        return {"mean": q_z.mean(), "stddev": q_z.stddev()}

    def decode_outputs(self, z, **condition):
        """Named outputs of the exported `decode` signature."""
        return {"mean": self.decode(z, **condition)}

    # Exported signatures that take an int32 `labels` [None] input besides their standard ones
    # (DESIGN.md: conditional models add it to decode and sample), and the number of classes.
    labelled_endpoints = ()
    num_classes = None

    def label_assertions(self, labels):
        """Graph-safe checks that labels lie in [0, num_classes)."""
        message = f"labels must be class indices in [0, {self.num_classes})"
        return [tf.debugging.assert_greater_equal(labels, 0, message=message),
                tf.debugging.assert_less(labels, self.num_classes, message=message)]

    def serving_endpoints(self):
        """Extra signatures beyond the standard five: {name: (fn, input TensorSpecs)}.

        Conditional and semi-supervised models add theirs here (e.g. `classify`).
        """
        return {}

    def conditioning(self, labels):
        """Keyword arguments that pass `labels` to a conditional model's methods ({} for other
        models), so model-agnostic code can call e.g. `model.elbo(x, **model.conditioning(y))`."""
        if not self.conditional:
            return {}
        if labels is None:
            raise ValueError(f"{type(self).__name__} is conditioned on class labels: pass labels.")
        return {"labels": labels}

    def training_callbacks(self, arrays):
        """Keras callbacks the model needs during `fit` on the training arrays (the dict of
        `training.data.prepare`), e.g. the GAE's per-epoch E-step; none by default."""
        return []

    # --- randomness and input checks ---------------------------------------------------------
    def next_seed(self, seed=None):
        """`seed` as a stateless int32 [2] seed, or the next one of the model's stream."""
        if seed is None:
            seed = tf.cast(self.seed_generator.next(), tf.int32)
            # Under tf.distribute every replica holds the same stream: fold in the replica id
            # so that replicas draw independent noise for their shares of the batch.
            context = tf.distribute.get_replica_context()
            if context is not None and context.num_replicas_in_sync > 1:
                seed = tf.random.experimental.stateless_fold_in(
                    seed, context.replica_id_in_sync_group)
            return seed
        return as_stateless_seed(seed)

    def check_values(self, x):
        """Raises ValueError if numpy observations are outside the likelihood's support."""

    def check_input(self, x):
        """Converts x to a tensor and checks its per-example shape against `event_shape` (and,
        for numpy input, its values)."""
        if isinstance(x, np.ndarray):
            self.check_values(x)
        x = tf.convert_to_tensor(x)
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(
                f"{type(self).__name__} expects a batch of shape [batch, "
                f"{', '.join(map(str, self.event_shape))}], got {list(x.shape)}. Reshape the "
                "images (e.g. x.reshape(-1, 28, 28, 1)) or build the model for this shape."
            )
        return x

    # --- Keras training ----------------------------------------------------------------------
    @property
    def metrics(self):
        return list(self.trackers.values())

    def fit(self, x=None, *args, **kwargs):
        if isinstance(x, np.ndarray):  # datasets are checked by their pipelines
            self.check_values(x)
            self.check_input(x[:1])
        return super().fit(x, *args, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The global-batch loss of one batch (x, y) as the training pipeline yields it; also
        the loss that custom (multi-worker) training loops call."""
        if self.training_targets and y is None:
            raise ValueError(f"{type(self).__name__} trains on (x, {self.training_targets}): "
                             f"call fit(x, {self.training_targets}) or give a dataset of pairs.")
        terms = self.per_example_losses(x, y, training=training)
        # Global-batch average: correct under tf.distribute, the plain mean without it.
        loss = tf.nn.compute_average_loss(terms["loss"])
        if self.losses:
            loss += tf.nn.scale_regularization_loss(tf.add_n(self.losses))
        for name, tracker in self.trackers.items():
            tracker.update_state(tf.reduce_mean(terms[name]))
        return loss

    def train_step(self, data):
        x, y = _unpack(data, self.training_targets)
        with tf.GradientTape() as tape:
            loss = self.compute_loss(x=x, y=y, training=True)
            scaled_loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        x, y = _unpack(data, self.training_targets)
        self.compute_loss(x=x, y=y, training=False)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def predict_step(self, data):
        return self.reconstruct(_unpack(data, None)[0])

    # --- presets -----------------------------------------------------------------------------
    @classmethod
    def from_preset(cls, name_or_path, compile=True):
        """Loads a preset (or model folder) holding a model of this class."""
        from zoo.presets import load

        model = load(name_or_path, compile=compile)
        if not isinstance(model, cls):
            raise TypeError(f"{name_or_path!r} holds a {type(model).__name__}, not a {cls.__name__}.")
        return model

    def save_to_preset(self, folder, metadata=None, metrics=None, write_extra=None):
        """Writes this model as a preset folder (weights without optimizer state), atomically."""
        from zoo.saving import save_model_folder

        return save_model_folder(self, folder, metadata=metadata, metrics=metrics,
                                 write_extra=write_extra, include_optimizer=False)

    def get_config(self):
        return {"name": self.name, "event_shape": list(self.event_shape), "seed": self.seed}


def _unpack(data, training_targets):
    """(x, y) from a batch that may be x, (x,), (x, y) or (x, y, sample_weight); y is None for
    models without `training_targets`."""
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x, (y if training_targets else None)
