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
    """The multi-worker training loop: the model's own loss under `strategy.run`, checkpointed.

    Each replica draws its share of the global batch, computes `model.compute_loss` (the
    global-batch average, so gradients summed over replicas equal the single-device gradient),
    scales it for mixed_float16, and `model.optimizer.apply` all-reduces the gradients. A
    `tf.train.CheckpointManager` keeps the model variables, the optimizer variables (its
    `iterations` is the step counter) and the epoch; a restarted run continues from there.

    Args:
        model: a compiled zoo model built inside `strategy.scope()`.
        strategy: the tf.distribute strategy.
        make_dataset: `(batch_size, shard_index, num_shards) -> tf.data.Dataset` of one shard of
            the training data, shuffled and batched (the loop repeats it).
        steps_per_epoch: optimizer steps per epoch (equal on every worker).
        checkpoint_dir: this worker's checkpoint folder.
        checkpoint_steps: also checkpoint every this many steps (0: at epoch ends only).
        jit_compile: XLA-compile the per-replica forward and backward pass.
    """

    def __init__(self, model, strategy, make_dataset, steps_per_epoch, checkpoint_dir,
                 checkpoint_steps=0, jit_compile=False):
        self.model, self.strategy = model, strategy
        self.steps_per_epoch = int(steps_per_epoch)
        self.checkpoint_steps = int(checkpoint_steps or 0)
        with strategy.scope():
            model.optimizer.build(model.trainable_variables)
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

        def loss_and_gradients(batch):
            x, y, _ = keras.utils.unpack_x_y_sample_weight(batch)
            with tf.GradientTape() as tape:
                loss = model.compute_loss(x=x, y=y if model.training_targets else None,
                                          training=True)
                scaled_loss = model.optimizer.scale_loss(loss)
            return loss, tape.gradient(scaled_loss, model.trainable_weights)

        if jit_compile:
            loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

        def replica_step(batch):
            loss, gradients = loss_and_gradients(batch)
            model.optimizer.apply(gradients, model.trainable_weights)  # all-reduces gradients
            return loss

        @tf.function
        def train_steps(iterator, num_steps):
            total = tf.constant(0.0)
            for _ in tf.range(num_steps):
                per_replica = strategy.run(replica_step, args=(next(iterator),))
                # Each replica's loss is its share of the global-batch mean: their sum is the mean.
                total += tf.cast(strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica,
                                                 axis=None), tf.float32)
            return total / tf.cast(num_steps, tf.float32)

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

    def fit(self, global_batch, epochs, on_epoch_end=None, verbose=1):
        """Trains until `epochs` epochs are done, from the restored epoch and step.

        Returns the list of (epoch, mean loss) of the epochs run by this call.
        """
        self.global_batch = int(global_batch)
        dataset = self.strategy.distribute_datasets_from_function(self._dataset_fn)
        iterator = iter(dataset)
        history = []
        start_epoch = int(self.epoch.numpy())
        # A checkpoint taken mid-epoch (checkpoint_steps) resumes with the rest of that epoch.
        done_in_epoch = self.step - start_epoch * self.steps_per_epoch
        for epoch in range(start_epoch, epochs):
            start = time.perf_counter()
            remaining = self.steps_per_epoch - max(0, done_in_epoch)
            done_in_epoch = 0
            chunk = self.checkpoint_steps or remaining
            losses = []
            while remaining > 0:
                n = min(chunk, remaining)
                loss = float(self._train_steps(iterator, tf.constant(n)))
                if not np.isfinite(loss):
                    from training.callbacks import TrainingError

                    raise TrainingError(
                        f"The loss became {loss} in epoch {epoch + 1}. Lower --learning-rate "
                        "or use --kl-warmup-epochs; rerun with --resume after the fix.")
                losses.append((loss, n))
                remaining -= n
                if remaining > 0:  # mid-epoch checkpoint
                    self.save()
            self.epoch.assign(epoch + 1)
            self.save()
            mean_loss = sum(l * n for l, n in losses) / max(1, sum(n for _, n in losses))
            history.append((epoch + 1, mean_loss))
            if verbose:
                print(f"Epoch {epoch + 1}/{epochs}: loss {mean_loss:.4f}, step {self.step}, "
                      f"{time.perf_counter() - start:.1f} s", flush=True)
            if on_epoch_end is not None:
                on_epoch_end(epoch, {"loss": mean_loss})
        return history


def train_multiworker(model, strategy, recipe, work, steps_per_epoch, global_batch, make_dataset,
                      verbose=1):
    """Runs `CustomLoop` for a recipe in the run folder `work`; returns the wall time in seconds.

    Resumes from `work/checkpoint` when it holds a checkpoint (same step counter and epoch);
    writes the loss per epoch to TensorBoard in `work/logs`.
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
    clock_path = os.path.join(work, "wall_time.json")
    previous = 0.0
    if os.path.exists(clock_path):
        with open(clock_path) as f:
            previous = json.load(f)["seconds"]
    writer = tf.summary.create_file_writer(os.path.join(work, "logs", "train"))
    start = time.perf_counter()

    def on_epoch_end(epoch, logs):
        with writer.as_default():
            tf.summary.scalar("epoch_loss", logs["loss"], step=epoch + 1)
        with open(clock_path, "w") as f:
            json.dump({"seconds": previous + time.perf_counter() - start}, f)

    loop.fit(global_batch, recipe["epochs"], on_epoch_end=on_epoch_end, verbose=verbose)
    writer.close()
    print(f"Worker {worker}: step {loop.step}, weights sha256 {weights_digest(model)}",
          flush=True)
    return previous + time.perf_counter() - start
