"""`GenerativeModel`: what every generator of the zoo has, and its Keras training step.

Every model samples, round-trips its config, saves and loads as a preset, reads one data
modality and exports SavedModel endpoints. What else it can do (a density, latent variables,
conditioning, a classifier, completion, several optimizers) it declares in `capabilities`
(`zoo.capabilities`); the training options it accepts in `options`. Latent-variable models
build on `zoo.latent.LatentVariableModel`.
"""

import keras
import numpy as np
import tensorflow as tf

from zoo.capabilities import Capabilities
from zoo.optimizers import GroupedOptimizer, grouped

INT32_MAX = 2**31 - 1


def as_stateless_seed(seed):
    """An int32 [2] stateless seed from an int, a pair, or a tensor of shape [2]."""
    if isinstance(seed, (int, np.integer)):
        if not 0 <= int(seed) <= INT32_MAX:
            raise ValueError(f"A seed must be an integer in [0, {INT32_MAX}], got {seed}.")
        return tf.constant([int(seed), 0], dtype=tf.int32)
    if isinstance(seed, (list, tuple, np.ndarray)):
        values = np.asarray(seed)
        if values.dtype.kind in "iu" and values.size and (
                values.min() < -INT32_MAX - 1 or values.max() > INT32_MAX):
            raise ValueError(f"Seed values must fit in int32, got {seed}.")
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank != 1 or (seed.shape[0] is not None and seed.shape[0] != 2):
        raise ValueError(f"A seed is an int or a pair of ints, got shape {seed.shape}.")
    return tf.cast(seed, tf.int32)


class GenerativeModel(keras.Model):
    """Base class of the zoo's generators: a Keras model with a probabilistic API.

    Subclasses define `sample` and either `per_example_losses(x, y, training)` (one parameter
    group: a dict of [B] tensors holding "loss" and the entries of `metric_names`) or, for
    models with several optimizers, `group_loss(group, x, y, training)` for each group named in
    `capabilities.optimizers` and `parameter_groups()`. This class runs the Keras training and
    evaluation steps, which report `metric_names` as Keras metrics, and keeps every group's
    optimizer state through `fit`, saving and the multi-worker loop. Models are built at
    construction, so saving keeps the optimizer state.

    Args:
        event_shape: shape of one observation, e.g. (28, 28, 1).
        seed: seed of the model's random stream (sampling during training and evaluation).
    """

    capabilities = Capabilities()
    options = ()  # zoo.capabilities.Option: the training options the model accepts
    metric_names = ("loss",)
    # Exported signatures that take an int32 `labels` [None] input besides their standard ones
    # (DESIGN.md: conditional models add it to decode and sample), and the number of classes.
    labelled_endpoints = ()
    num_classes = None

    def __init__(self, event_shape, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        if seed is not None and not 0 <= int(seed) <= INT32_MAX:
            raise ValueError(f"seed must be an integer in [0, {INT32_MAX}], got {seed}.")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        self.trackers = {n: keras.metrics.Mean(name=n) for n in self.metric_names}

    # --- what every generator does -----------------------------------------------------------
    def sample(self, num_samples, seed=None, **condition):
        """num_samples draws from the model, shape [num_samples, *event_shape]."""
        raise NotImplementedError

    def sample_outputs(self, num_samples, seed, **condition):
        """Named outputs of the exported `sample` signature (at least "x")."""
        return {"x": self.sample(num_samples, seed=seed, **condition)}

    @property
    def modality(self):
        """The data modality the model reads ("image", "palette_image", "piano_roll")."""
        return "image"

    observation_dtype = "float32"

    def to_images(self, x):
        """Observations as images in [0, 1] for pictures (palette indices become colours)."""
        return np.asarray(x, np.float32)

    def serving_endpoints(self):
        """Extra signatures beyond those its capabilities give: {name: (fn, input TensorSpecs)}."""
        return {}

    def exported_endpoints(self):
        """Names of the SavedModel signatures `zoo.export` writes for this model."""
        from zoo.export import standard_endpoints

        return sorted({"serving_default", *standard_endpoints(self), *self.serving_endpoints()})

    def pictures(self):
        """{kind: (bound method, title)} of the pictures this model brings (see
        `zoo.capabilities.picture`); the plotting code adds the generic ones."""
        found = {}
        for klass in reversed(type(self).__mro__):
            for attribute, value in vars(klass).items():
                if callable(value) and hasattr(value, "picture"):
                    kind, title = value.picture
                    found[kind] = (getattr(self, attribute), title)
        return found

    def conditioning(self, labels):
        """Keyword arguments that pass `labels` to a conditional model's methods ({} for other
        models), so model-agnostic code can call e.g. `model.elbo(x, **model.conditioning(y))`."""
        if not self.capabilities.conditional:
            return {}
        if labels is None:
            raise ValueError(f"{type(self).__name__} is conditioned on class labels: pass labels.")
        return {"labels": labels}

    def label_assertions(self, labels):
        """Graph-safe checks that labels lie in [0, num_classes)."""
        message = f"labels must be class indices in [0, {self.num_classes})"
        return [tf.debugging.assert_greater_equal(labels, 0, message=message),
                tf.debugging.assert_less(labels, self.num_classes, message=message)]

    def training_callbacks(self, arrays):
        """Keras callbacks the model needs during training on the training arrays (the dict of
        `training.data.prepare`), e.g. the GAE's per-epoch E-step; none by default. Both the
        `fit` path and the multi-worker loop run them."""
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
        """Raises ValueError if numpy observations are outside the model's support."""

    def value_assertions(self, x):
        """Graph-safe checks that observations lie in the model's support."""
        return []

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

    # --- Keras training: one optimizer per parameter group -----------------------------------
    @property
    def metrics(self):
        return list(self.trackers.values())

    def parameter_groups(self):
        """{group name: trainable variables} for the groups of `capabilities.optimizers`."""
        groups = self.capabilities.optimizers
        if len(groups) > 1:
            raise NotImplementedError(f"{type(self).__name__} declares the optimizer groups "
                                      f"{groups} and must define parameter_groups().")
        return {groups[0]: self.trainable_variables}

    def compile(self, optimizer="adam", **kwargs):
        """Keras `compile`; a model with several optimizer groups takes a dict {group:
        optimizer} (or one optimizer, copied for every group), wrapped in a GroupedOptimizer."""
        groups = self.capabilities.optimizers
        if len(groups) > 1:
            optimizer = grouped(optimizer, groups)
        super().compile(optimizer=optimizer, **kwargs)
        inner = self.optimizer
        while isinstance(getattr(inner, "inner_optimizer", None), keras.optimizers.Optimizer):
            inner = inner.inner_optimizer  # under mixed_float16 Keras wraps it for loss scaling
        if isinstance(inner, GroupedOptimizer):
            inner.assign_groups({g: list(v) for g, v in self.parameter_groups().items()})
            # Built now with every group: a wrapper (mixed-precision loss scaling) would
            # otherwise build it lazily from the first group's variables alone.
            if self.built and not self.optimizer.built:
                self.build_optimizer()

    def build_optimizer(self):
        """Creates the optimizer's variables (every group's), e.g. before restoring them."""
        self.optimizer.build(self.trainable_variables)

    def get_compile_config(self):
        return super().get_compile_config()

    def compile_from_config(self, config):
        # Keras skips models that override `compile`; this one only adds the optimizer groups.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.build_optimizer()

    def report(self, terms, loss_name="loss"):
        """Updates the Keras metrics from per-example `terms` and returns the global-batch
        average of `terms[loss_name]` (correct under tf.distribute, the mean without it)."""
        for name, value in terms.items():
            if name in self.trackers:
                self.trackers[name].update_state(tf.reduce_mean(value))
        return tf.nn.compute_average_loss(terms[loss_name])

    def group_loss(self, group, x, y=None, training=True):
        """The scalar loss that the optimizer of `group` minimises on one batch."""
        loss = self.report(self.per_example_losses(x, y, training=training))
        if self.losses:
            loss += tf.nn.scale_regularization_loss(tf.add_n(self.losses))
        return loss

    def per_example_losses(self, x, y=None, training=False):
        """Dict of [B] tensors: "loss" (what training minimises) and each of `metric_names`.

        `y` is what `capabilities.training_targets` names (labels or training-set indices).
        """
        raise NotImplementedError

    def check_targets(self, y):
        targets = self.capabilities.training_targets
        if targets and y is None:
            raise ValueError(f"{type(self).__name__} trains on (x, {targets}): "
                             f"call fit(x, {targets}) or give a dataset of pairs.")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total global-batch loss of one batch (x, y), summed over parameter groups."""
        self.check_targets(y)
        return tf.add_n([self.group_loss(g, x, y, training=training)
                         for g in self.capabilities.optimizers])

    def train_step(self, data):
        """One update of every parameter group in turn, each on its own loss; the step that
        Keras `fit` and the multi-worker loop both run."""
        x, y = self.unpack(data)
        self.check_targets(y)
        for group, variables in self.parameter_groups().items():
            with tf.GradientTape() as tape:
                loss = self.group_loss(group, x, y, training=True)
                scaled_loss = self.optimizer.scale_loss(loss)
            gradients = tape.gradient(scaled_loss, variables)
            self.optimizer.apply(gradients, variables)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def test_step(self, data):
        x, y = self.unpack(data)
        for group in self.capabilities.optimizers:
            self.group_loss(group, x, y, training=False)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def predict_step(self, data):
        raise NotImplementedError(f"{type(self).__name__} has no per-input prediction; use "
                                  "sample() (or log_prob() where it has a density).")

    def unpack(self, data):
        """(x, y) from a batch that may be x, (x,), (x, y) or (x, y, sample_weight); y is None
        for models without training targets."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x, (y if self.capabilities.training_targets else None)

    def fit(self, x=None, *args, **kwargs):
        if isinstance(x, np.ndarray):  # datasets are checked by their pipelines
            self.check_values(x)
            self.check_input(x[:1])
        return super().fit(x, *args, **kwargs)

    # --- presets -----------------------------------------------------------------------------
    @classmethod
    def from_preset(cls, name_or_path, compile=True):
        """Loads a preset (or model folder) holding a model of this class."""
        from zoo.presets import load

        model = load(name_or_path, compile=compile)
        if not isinstance(model, cls):
            raise TypeError(f"{name_or_path!r} holds a {type(model).__name__}, not a "
                            f"{cls.__name__}: load it with zoo.{type(model).__name__}"
                            f".from_preset({name_or_path!r}) or zoo.load({name_or_path!r}).")
        return model

    def save_to_preset(self, folder, metadata=None, metrics=None, write_extra=None):
        """Writes this model as a preset folder (weights without optimizer state), atomically."""
        from zoo.saving import save_model_folder

        return save_model_folder(self, folder, metadata=metadata, metrics=metrics,
                                 write_extra=write_extra, include_optimizer=False)

    def get_config(self):
        return {"name": self.name, "event_shape": list(self.event_shape), "seed": self.seed}
