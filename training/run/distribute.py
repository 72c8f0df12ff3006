"""Where training runs: the tf.distribute strategy, the numeric precision, and the multi-worker loop.

One place chooses the strategy (`--strategy`):
- `none`: TensorFlow's default strategy (one device), Keras `fit`;
- `mirrored`: `tf.distribute.MirroredStrategy` over all GPUs (or, without GPUs, all logical CPU
  devices), Keras `fit`; the model is built and compiled inside `strategy.scope()`;
- `multiworker`: `tf.distribute.MultiWorkerMirroredStrategy` driven by `TF_CONFIG`. Keras 3 `fit`
  does not work under it (keras-team/keras#20585), so `CustomLoop` runs the model's own loss
  (`compute_loss`) through `strategy.run` with per-worker sharded datasets and a
  `tf.train.CheckpointManager`;
- `auto`: `multiworker` when `TF_CONFIG` is set, `mirrored` with more than one GPU, else `none`.

`--batch-size` is the batch per replica; the global batch is batch size x replicas (one replica
without a strategy, so single-device recipes keep their meaning).
"""

import contextlib
import hashlib
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

STRATEGIES = ("auto", "none", "mirrored", "multiworker")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def tf_config(environ=None):
    """The parsed `TF_CONFIG` (cluster and task), or None when it is unset; checks its shape."""
    text = (os.environ if environ is None else environ).get("TF_CONFIG")
    if not text:
        return None
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config["task"]
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            "TF_CONFIG is not valid: expected JSON like {\"cluster\": {\"worker\": "
            "[\"host1:port\", \"host2:port\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}, "
            f"got {text!r}.") from None
    if kind not in ("worker", "chief") or not isinstance(workers, list) or not workers:
        raise ValueError(f"TF_CONFIG: expected a cluster with a 'worker' list and a task of type "
                         f"'worker' or 'chief', got {text!r}.")
    if kind == "worker" and not 0 <= index < len(workers):
        raise ValueError(f"TF_CONFIG: task index {index} is outside the {len(workers)} workers.")
    return config


def resolve_strategy(name, environ=None):
    """The concrete strategy kind (none, mirrored or multiworker) for `--strategy name`."""
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}.")
    config = tf_config(environ)
    if name == "auto":
        if config is not None:
            return "multiworker"
        return "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "none"
    if name == "multiworker" and config is None:
        raise ValueError("--strategy multiworker needs TF_CONFIG describing the cluster, e.g. "
                         "TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", "
                         "\"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}' "
                         "on the first machine (index 1 on the second); see the README.")
    return name


def check_options(kind, steps_per_execution):
    """Raises ValueError for option combinations that TensorFlow/Keras cannot run."""
    if kind == "mirrored" and int(steps_per_execution) > 1:
        raise ValueError("--steps-per-execution above 1 fails under MirroredStrategy in Keras "
                         "3.15 (its multi-step loop feeds a placeholder it never fills); use 1 "
                         "with --strategy mirrored.")


def make_strategy(kind):
    """The tf.distribute strategy of a resolved kind."""
    if kind == "none":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices)
    if kind == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy kind {kind!r}.")


def is_chief(strategy):
    """True on the worker that writes the model folder (always, without multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def worker_index(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(getattr(resolver, "task_id", 0) or 0) if resolver is not None else 0


@contextlib.contextmanager
def precision(name):
    """Sets the global Keras dtype policy for building models (`--precision`), then restores it.

    Under the mixed policies layers compute in float16/bfloat16 with float32 variables; the zoo's
    distribution heads and priors stay float32, and Keras wraps the optimizer in a
    LossScaleOptimizer for mixed_float16.
    """
    if name not in PRECISIONS:
        raise ValueError(f"Unknown precision {name!r}; choose one of: {', '.join(PRECISIONS)}.")
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def weights_digest(model):
    """sha256 of the model's weights (bytes in order), to compare workers' results."""
    digest = hashlib.sha256()
    for w in model.get_weights():
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()


class CustomLoop:
    """The multi-worker training loop: the model's own `train_step` under `strategy.run`,
    checkpointed, with the same Keras callbacks as the `fit` path.

    Each replica runs `model.train_step` on its share of the global batch (the model averages
    its losses over the global batch, so gradients summed over replicas equal the single-device
    gradient, and its optimizer, one per parameter group, all-reduces them). After every chunk
    of steps the metrics are averaged over all replicas of all workers, so every worker sees the
    same numbers and takes the same decisions (the NaN guard, the time limit). A
    `tf.train.CheckpointManager` keeps the model variables, every optimizer's variables (the
    first group's `iterations` is the step counter) and the epoch; a restarted run continues
    from there.

    Args:
        model: a compiled zoo model built inside `strategy.scope()`.
        strategy: the tf.distribute strategy.
        make_dataset: `(batch_size, shard_index, num_shards) -> tf.data.Dataset` of one shard of
            the training data, shuffled and batched (the loop repeats it).
        steps_per_epoch: optimizer steps per epoch (equal on every worker).
        checkpoint_dir: this worker's checkpoint folder.
        checkpoint_steps: also checkpoint every this many steps (0: at epoch ends only).
        jit_compile: XLA-compile the train step (as Keras `fit` does with jit_compile).
    """

    def __init__(self, model, strategy, make_dataset, steps_per_epoch, checkpoint_dir,
                 checkpoint_steps=0, jit_compile=False):
        self.model, self.strategy = model, strategy
        self.steps_per_epoch = int(steps_per_epoch)
        self.checkpoint_steps = int(checkpoint_steps or 0)
        with strategy.scope():
            if not model.optimizer.built:
                model.build_optimizer()
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        # Flat lists of variables: their order is fixed by the architecture, and tracking them
        # directly does not depend on how the model nests its layers.
        self.checkpoint = tf.train.Checkpoint(
            model_variables=list(model.variables),
            optimizer_variables=list(model.optimizer.variables), epoch=self.epoch)
        self.manager = tf.train.CheckpointManager(self.checkpoint, checkpoint_dir, max_to_keep=2)
        self.global_batch = None

        def dataset_fn(context):
            batch = context.get_per_replica_batch_size(self.global_batch)
            return make_dataset(batch, context.input_pipeline_id,
                                context.num_input_pipelines).repeat()

        self._dataset_fn = dataset_fn
        self._train_steps = self._make_train_function(jit_compile)

    def _make_train_function(self, jit_compile):
        model, strategy = self.model, self.strategy
        step = model.train_step
        if jit_compile:
            step = tf.function(step, jit_compile=True, reduce_retracing=True)

        @tf.function
        def train_steps(iterator, num_steps):
            logs = None
            for _ in tf.range(num_steps):
                logs = strategy.run(step, args=(next(iterator),))
            # The metrics are running means over the epoch on each replica; their mean over
            # all replicas of all workers is what every worker reports.
            return {name: strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)
                    for name, value in logs.items()}

        return train_steps

    @property
    def step(self):
        return int(self.model.optimizer.iterations.numpy())

    def restore(self):
        """Restores the latest checkpoint if there is one; returns its step (0 if none)."""
        if self.manager.latest_checkpoint is None:
            return 0
        self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        return self.step

    def save(self):
        # Every worker saves (the variables are mirrored); only the chief's folder is kept.
        return self.manager.save(checkpoint_number=self.step)

    def fit(self, global_batch, epochs, callbacks=(), verbose=1):
        """Trains until `epochs` epochs are done, from the restored epoch and step, running the
        Keras `callbacks` as `fit` would (epoch and batch hooks, a progress bar when verbose).

        Returns the list of (epoch, logs) of the epochs run by this call.
        """
        self.global_batch = int(global_batch)
        iterator = iter(self.strategy.distribute_datasets_from_function(self._dataset_fn))
        callbacks = keras.callbacks.CallbackList(
            list(callbacks), add_history=False, add_progbar=verbose == 1, model=self.model,
            verbose=verbose, epochs=epochs, steps=self.steps_per_epoch)
        history = []
        start_epoch = int(self.epoch.numpy())
        # A checkpoint taken mid-epoch (checkpoint_steps) resumes with the rest of that epoch.
        done_in_epoch = self.step - start_epoch * self.steps_per_epoch
        # Progress (and the NaN guard) every ~5% of an epoch; checkpoints as asked.
        report = max(1, self.steps_per_epoch // 20)
        self.model.stop_training = False
        callbacks.on_train_begin()
        for epoch in range(start_epoch, epochs):
            start = time.perf_counter()
            self.model.reset_metrics()
            callbacks.on_epoch_begin(epoch)
            done = max(0, done_in_epoch)
            done_in_epoch = 0
            logs = {}
            while done < self.steps_per_epoch:
                n = min(report, self.steps_per_epoch - done)
                if self.checkpoint_steps:
                    n = min(n, self.checkpoint_steps - self.step % self.checkpoint_steps)
                logs = {k: float(v) for k, v in self._train_steps(iterator, tf.constant(n)).items()}
                done += n
                callbacks.on_train_batch_end(done - 1, logs)  # the NaN guard raises here
                if self.checkpoint_steps and self.step % self.checkpoint_steps == 0 \
                        and done < self.steps_per_epoch:
                    self.save()  # mid-epoch checkpoint
            self.epoch.assign(epoch + 1)
            self.save()
            callbacks.on_epoch_end(epoch, logs)
            history.append((epoch + 1, logs))
            if verbose == 2:
                print(f"Epoch {epoch + 1}/{epochs}: "
                      + ", ".join(f"{k} {v:.4f}" for k, v in logs.items())
                      + f", step {self.step}, {time.perf_counter() - start:.1f} s", flush=True)
            if self.model.stop_training:
                break
        callbacks.on_train_end()
        return history


def train_multiworker(model, strategy, recipe, work, steps_per_epoch, global_batch, make_dataset,
                      callbacks=(), verbose=1):
    """Runs `CustomLoop` for a recipe in the run folder `work` with the run's callbacks.

    Resumes from `work/checkpoint` when it holds a checkpoint (same step counter and epoch);
    writes the metrics per epoch to TensorBoard in `work/logs`.
    """
    loop = CustomLoop(model, strategy, lambda batch, i, n: make_dataset(batch, (i, n)),
                      steps_per_epoch, os.path.join(work, "checkpoint"),
                      checkpoint_steps=recipe.get("checkpoint_steps", 0),
                      jit_compile=recipe.get("jit_compile", False))
    step = loop.restore()
    worker = worker_index(strategy)
    if verbose or step:
        print(f"Worker {worker}: "
              + (f"resumed from the checkpoint at step {step} (epoch {int(loop.epoch.numpy())})"
                 if step else "starting at step 0")
              + f"; {strategy.num_replicas_in_sync} replicas, global batch {global_batch}.",
              flush=True)
    loop.fit(global_batch, recipe["epochs"],
             callbacks=[*callbacks, EpochScalars(os.path.join(work, "logs", "train"))],
             verbose=verbose)
    print(f"Worker {worker}: step {loop.step}, weights sha256 {weights_digest(model)}",
          flush=True)


class EpochScalars(keras.callbacks.Callback):
    """Writes each epoch's metrics to TensorBoard (what the `fit` path's TensorBoard does)."""

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir, self.writer = log_dir, None

    def on_train_begin(self, logs=None):
        self.writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        with self.writer.as_default():
            for name, value in (logs or {}).items():
                tf.summary.scalar(f"epoch_{name}", value, step=epoch + 1)
        self.writer.flush()

    def on_train_end(self, logs=None):
        self.writer.close()
