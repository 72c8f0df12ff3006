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
from zoo.checks import (  # noqa: F401 (as_stateless_seed stays importable from here)
    _CHECKED, INT32_MAX, _integers, as_stateless_seed, check_count, checked, is_symbolic,
    run_checks)
from zoo.optimizers import GroupedOptimizer, grouped

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
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or not 0 <= int(seed) <= INT32_MAX):
            raise ValueError(f"seed must be an integer in [0, {INT32_MAX}] or None, got {seed!r}.")
        seed = None if seed is None else int(seed)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        self.trackers = {n: keras.metrics.Mean(name=n) for n in self.metric_names}

    # --- what every generator does -----------------------------------------------------------
    def sample(self, num_samples, seed=None, **condition):
        """num_samples draws from the model, shape [num_samples, *event_shape].

        num_samples must lie in [1, MAX_SAMPLES_PER_CALL] (`check_count`): 0 is an error, as in
        the exported `sample` signature, not an empty batch."""
        raise NotImplementedError

    def sample_outputs(self, num_samples, seed, **condition):
        """Named outputs of the exported `sample` signature (at least "x")."""
        return {"x": self.sample(num_samples, seed=seed, **condition)}

    # --- anomaly detection ----------------------------------------------------------------
    @property
    def anomaly_score_kind(self):
        """What `anomaly_score` measures, for protocols and cards (None: nothing to score)."""
        if self.capabilities.density == "exact":
            return "negative log-likelihood -log p(x) (exact)"
        if self.capabilities.density == "bound":
            return ("negative log-likelihood estimate -log p(x) (importance-weighted bound, "
                    "k samples from q)")
        if self.capabilities.adversarial:
            return "negative discriminator logit -logit D(x)"
        return None

    def anomaly_score(self, x, num_samples=100, seed=None, chunk_size=None, **condition):
        """Per-example anomaly scores [B], higher = more unusual (`anomaly_score_kind`).

        Models with a density score -log p(x) (exact, or the importance-weighted estimate with
        `num_samples` draws and `seed`); GANs score -logit D(x), their discriminator's doubt;
        the autoencoder its reconstruction error. Models without any raise
        NotImplementedError. Exported as the `score` signature.
        """
        if self.capabilities.has_density:
            extra = {} if chunk_size is None else {"chunk_size": chunk_size}
            return -self.log_prob(x, num_samples=num_samples, seed=seed, **extra, **condition)
        if self.capabilities.adversarial:
            return -self.discriminate(x, **condition)
        raise NotImplementedError(f"{type(self).__name__} has no density, discriminator or "
                                  "reconstruction to score anomalies with.")

    @property
    def modality(self):
        """The data modality the model reads ("image", "palette_image", "piano_roll")."""
        return "image"

    observation_dtype = "float32"

    def to_images(self, x):
        """Observations as images in [0, 1] for pictures (palette indices become colours)."""
        return np.asarray(x, np.float32)

    def forward_flops_per_image(self):
        """Multiply-add FLOPs (2 per weight use) of one forward pass over one observation,
        counted from the layer sizes, for the benchmark; None when the model does not count
        them."""
        return None

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
                    if value.picture_when is None or value.picture_when(self):
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

    def label_assertions(self, labels, allow_unlabelled=False):
        """Graph-safe checks that labels lie in [0, num_classes) (or are -1, unlabelled, when
        `allow_unlabelled`)."""
        low = -1 if allow_unlabelled else 0
        message = f"labels must be class indices in [0, {self.num_classes})" + (
            " or -1 (unlabelled)" if allow_unlabelled else "")
        return [tf.debugging.assert_greater_equal(labels, tf.constant(low, labels.dtype),
                                                  message=message),
                tf.debugging.assert_less(labels, tf.constant(self.num_classes, labels.dtype),
                                         message=message)]

    def check_labels(self, labels, allow_unlabelled=False):
        """int32 labels [B] checked by `label_assertions`: eager values (numpy, lists, eager
        tensors) now, with a ValueError; symbolic tensors by graph assertions."""
        if is_symbolic(labels):
            if not labels.dtype.is_integer:
                labels = tf.cast(labels, tf.int32)
            return tf.cast(checked(labels, self.label_assertions(labels, allow_unlabelled)),
                           tf.int32)
        values = _integers(labels, "labels")
        low = -1 if allow_unlabelled else 0
        if values.size and (values.min() < low or values.max() >= self.num_classes):
            raise ValueError(
                f"labels must be class indices in [0, {self.num_classes})"
                + (" or -1 (unlabelled)" if allow_unlabelled else "")
                + f", got values from {values.min()} to {values.max()}.")
        return tf.convert_to_tensor(values.astype(np.int32))

    def target_assertions(self, y):
        """Graph-safe checks of the training targets `y` that `capabilities.training_targets`
        names (labels: class indices, -1 = unlabelled for semi-supervised models)."""
        if self.capabilities.training_targets == "labels":
            return self.label_assertions(y, allow_unlabelled=self.capabilities.semi_supervised)
        return []

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
        """Raises ValueError if eager observations (numpy) are outside the model's support."""
        run_checks(self.value_assertions, tf.convert_to_tensor(x))

    def value_assertions(self, x):
        """Graph-safe checks that observations lie in the model's support."""
        if x.dtype.is_floating:
            return [tf.debugging.assert_all_finite(x, "The inputs contain NaN or infinite "
                                                      "values.")]
        return []

    def check_input(self, x):
        """x as a tensor [batch, *event_shape] whose values lie in the model's support.

        One path for every input type: eager values (numpy arrays, lists, eager tensors) are
        checked now and raise ValueError; symbolic tensors (inside tf.function: `fit`, the
        exports) get `value_assertions` in the graph, which fail the step with their message.
        """
        if is_symbolic(x):
            if _CHECKED.get((id(self), id(x))) is x:  # already checked in this step's graph
                return x
            self._check_shape(x.shape, allow_unknown=True)
            x = checked(x, self.value_assertions(x))
            _CHECKED[(id(self), id(x))] = x
            return x
        tensor = x if isinstance(x, (tf.Tensor, tf.Variable)) else None
        values = np.asarray(x)
        self._check_shape(values.shape)
        self.check_values(values)
        if tensor is None:
            tensor = tf.convert_to_tensor(values)
        wanted = tf.as_dtype(self.observation_dtype)
        if tensor.dtype != wanted and tensor.dtype.is_floating == wanted.is_floating:
            tensor = tf.cast(tensor, wanted)  # e.g. float64 lists; values checked above
        return tensor

    def _check_shape(self, shape, allow_unknown=False):
        shape = tf.TensorShape(shape)
        if shape.rank is None and allow_unknown:
            return
        dims = tuple(shape)[1:] if shape.rank else ()
        if len(dims) == len(self.event_shape) and all(
                d == e or (d is None and allow_unknown) for d, e in zip(dims, self.event_shape)):
            return
        raise ValueError(
            f"{type(self).__name__} expects a batch of shape [batch, "
            f"{', '.join(map(str, self.event_shape))}], got {list(shape)}. Reshape the "
            "images (e.g. x.reshape(-1, 28, 28, 1)) or build the model for this shape."
        )

    def check_count(self, num_samples, name="num_samples", **limits):
        """See the module's `check_count`: [1, MAX_SAMPLES_PER_CALL], eager or in the graph."""
        return check_count(num_samples, name, **limits)

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

    def check_targets(self, y, training=True):
        """Refuses a batch without the targets the model needs: to train, every model with
        `training_targets` except semi-supervised ones (no labels = unlabelled); to evaluate,
        conditional models only (no index = leave nothing out, see `default_targets`)."""
        targets = self.capabilities.training_targets
        if not targets or y is not None:
            return
        if self.capabilities.conditional:
            call = "fit" if training else "evaluate"
            raise ValueError(f"{type(self).__name__} is conditioned on class labels and has "
                             f"none without them: call {call}(x, labels) or give a dataset of "
                             "(x, labels) pairs.")
        if training and not self.capabilities.semi_supervised:
            raise ValueError(f"{type(self).__name__} trains on (x, {targets}): "
                             f"call fit(x, {targets}) or give a dataset of pairs.")

    def default_targets(self, x, y, training=True):
        """y, or for a batch without targets that the model can use (`check_targets`) -1 for
        every example: unlabelled (semi-supervised models) or leave nothing out (training
        indices)."""
        self.check_targets(y, training=training)
        if y is None and self.capabilities.training_targets:
            return -tf.ones(tf.shape(x)[:1], tf.int32)
        return y

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total global-batch loss of one batch (x, y), summed over parameter groups."""
        y = self.default_targets(x, y, training=training)
        return tf.add_n([self.group_loss(g, x, y, training=training)
                         for g in self.capabilities.optimizers])

    def train_step(self, data):
        """One update of every parameter group in turn, each on its own loss; the step that
        Keras `fit` and the multi-worker loop both run."""
        x, y = self.unpack(data)
        y = self.default_targets(x, y, training=True)
        for group, variables in self.parameter_groups().items():
            self.update_group(group, variables, x, y)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def update_group(self, group, variables, x, y=None):
        """One optimizer step of `group` (its `variables`) on its own loss; returns the loss."""
        with tf.GradientTape() as tape:
            loss = self.group_loss(group, x, y, training=True)
            scaled_loss = self.optimizer.scale_loss(loss)
        self.optimizer.apply(tape.gradient(scaled_loss, variables), variables)
        return loss

    def test_step(self, data):
        x, y = self.unpack(data)
        y = self.default_targets(x, y, training=False)
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

    def fit(self, x=None, y=None, *args, **kwargs):
        # Eager arrays are checked once here, with a ValueError naming the problem, before any
        # step runs; datasets are checked by their pipelines and, step by step, by the graph
        # assertions of `check_input` and `target_assertions`.
        if isinstance(x, (np.ndarray, list)):
            x = np.asarray(x)
            self.check_input(x[:1])
            self.check_values(x)
            if y is not None and self.capabilities.training_targets:
                y = np.asarray(y)
                if len(y) != len(x):
                    raise ValueError(f"fit got {len(x)} examples but {len(y)} "
                                     f"{self.capabilities.training_targets}.")
                run_checks(self.target_assertions, tf.convert_to_tensor(y))
            self.check_targets(y, training=True)
        return super().fit(x, y, *args, **kwargs)

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

    def save_to_preset(self, folder, metadata=None, metrics=None, write_extra=None,
                       overwrite=False):
        """Writes this model as a preset folder (weights without optimizer state), atomically;
        an existing model folder is replaced only with `overwrite`."""
        from zoo.saving import save_model_folder

        return save_model_folder(self, folder, metadata=metadata, metrics=metrics,
                                 write_extra=write_extra, include_optimizer=False,
                                 overwrite=overwrite)

    def get_config(self):
        return {"name": self.name, "event_shape": list(self.event_shape), "seed": self.seed}
