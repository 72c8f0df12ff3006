"""Callbacks for `fit`: a NaN guard with a useful message, and a sample grid per epoch."""

import json
import math
import os
import time

import keras
import tensorflow as tf

from training.pictures import image_grid, sample_images
from zoo.atomic import TMP_PREFIX, write_json


class TrainingError(RuntimeError):
    """Training cannot go on (a NaN loss, ...); the message says what to change."""


class StopOnNaN(keras.callbacks.Callback):
    """Stops training with a clear error as soon as the loss is NaN or infinite.

    Keras's TerminateOnNaN ends training quietly; we raise so that no model folder is written
    from diverged weights (the previous one stays in place).
    """

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        # Every optimizer group's loss ("loss", or "d_loss" and "g_loss", ...): a term that
        # becomes NaN makes its loss NaN, and reading only the losses keeps the check cheap.
        for name in [n for n in logs if "loss" in n]:
            value = logs[name]
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(value):
                self.model.stop_training = True
                raise TrainingError(
                    f"The {name} became {value} at epoch {self.epoch + 1}, batch {batch + 1}. "
                    "Check that the data match the likelihood (bernoulli needs binary or grey "
                    "levels in [0, 1]) and start again with --restart and a lower "
                    "--learning-rate (or a KL warm-up, --kl-warmup-epochs, for the models that "
                    "take it). --resume would continue from the last good checkpoint with the "
                    "same recipe and optimizer, so it would not change the learning rate.")


class SampleGridToTensorBoard(keras.callbacks.Callback):
    """Writes a grid of samples from fixed z (and a fixed seed) to TensorBoard after each epoch."""

    def __init__(self, log_dir, num_samples=64, seed=0):
        super().__init__()
        self.log_dir = log_dir
        self.num_samples = num_samples
        self.seed = seed
        self.writer = None

    def on_train_begin(self, logs=None):
        self.writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        grid = image_grid(sample_images(self.model, self.num_samples, self.seed))
        with self.writer.as_default():
            tf.summary.image("samples", grid[None], step=epoch + 1)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


class TimeLimit(keras.callbacks.Callback):
    """Stops training after the first epoch that ends past `minutes` of this call's wall time
    (the checkpoint of that epoch is kept, so the run continues with --resume); `stopped` is
    the number of the last epoch run, or 0."""

    def __init__(self, minutes):
        super().__init__()
        self.minutes = minutes
        self.start = None
        self.stopped = 0

    def on_train_begin(self, logs=None):
        self.start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") if self.params else None
        if self.minutes and time.time() - self.start > 60 * self.minutes and epoch + 1 != last:
            self.stopped = epoch + 1
            self.model.stop_training = True


class WallClock(keras.callbacks.Callback):
    """Training wall time in seconds, kept across resumed runs in a small JSON file."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.previous = 0.0
        self.start = None

    def on_train_begin(self, logs=None):
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.previous = float(json.load(f)["seconds"])
        self.start = time.time()

    @property
    def seconds(self):
        return self.previous + (time.time() - self.start if self.start else 0.0)

    def on_epoch_end(self, epoch, logs=None):
        write_json(self.path, {"seconds": self.seconds})


class KeepBest(keras.callbacks.Callback):
    """`--keep-best`: at the end of a finished run, the model gets back the weights of the epoch
    with the lowest `monitor` (the validation loss), so a model that overfits a small data set
    is kept at its best epoch. The best weights and their epoch live in the run's work folder,
    so a resumed run remembers them. `best_epoch` is the 1-based epoch kept (0: none yet).

    Args:
        folder: the run's work folder.
        monitor: the logged value to minimise.
    """

    def __init__(self, folder, monitor="val_loss"):
        super().__init__()
        self.weights_path = os.path.join(folder, "best.weights.h5")
        self.state_path = os.path.join(folder, "best.json")
        self.monitor = monitor
        self.best = math.inf
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        if os.path.exists(self.state_path) and os.path.exists(self.weights_path):
            with open(self.state_path) as f:
                state = json.load(f)
            self.best, self.best_epoch = float(state["best"]), int(state["epoch"])

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and math.isfinite(float(value)) and float(value) < self.best:
            self.best, self.best_epoch = float(value), epoch + 1
            # Keras wants the .weights.h5 ending, so the temporary file keeps it.
            folder, name = os.path.split(self.weights_path)
            temporary = os.path.join(folder, TMP_PREFIX + name)
            self.model.save_weights(temporary)
            os.replace(temporary, self.weights_path)
            write_json(self.state_path, {"best": self.best, "epoch": self.best_epoch,
                                         "monitor": self.monitor})

    def on_train_end(self, logs=None):
        # A run stopped early (--time-limit) goes on later from its last epoch; a finished one
        # (also one resumed after its last epoch) keeps its best.
        if not self.model.stop_training and self.best_epoch and os.path.exists(
                self.weights_path):
            self.model.load_weights(self.weights_path)


class EpochHistory(keras.callbacks.Callback):
    """The logged values of every epoch (losses, validation losses, monitors), kept across
    resumed runs in a JSON file: [{"epoch": 1, "d_loss": ..., ...}, ...]. An epoch run again
    after a resume replaces its earlier entry. The model folder keeps it as history.json (the
    presets' training curves)."""

    def __init__(self, path, sources=()):
        super().__init__()
        self.path = path
        self.sources = tuple(sources)  # monitors whose `extras` (a dict) join each entry
        self.entries = []

    def on_train_begin(self, logs=None):
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.entries = json.load(f)

    def on_epoch_end(self, epoch, logs=None):
        entry = {"epoch": epoch + 1}
        for name, value in (logs or {}).items():
            try:
                entry[name] = float(value)
            except (TypeError, ValueError):
                continue
        for source in self.sources:
            entry.update(source.extras)
        self.entries = [e for e in self.entries if e["epoch"] < epoch + 1] + [entry]
        write_json(self.path, self.entries)


class ClassCoverageMonitor(keras.callbacks.Callback):
    """The mode-collapse monitor: after each epoch, `num_samples` samples (fixed seed) through
    the zoo's MNIST classifier; logs `class_entropy` (nats; uniform over 10 digits: 2.303) and
    `classes_covered` (digits drawn at least 1% of the time) for TensorBoard and the history,
    and the class histogram for the history. Runs before the callbacks that record logs."""

    def __init__(self, classifier_path, num_samples=10000, seed=0):
        super().__init__()
        self.classifier_path = classifier_path
        self.num_samples = num_samples
        self.seed = seed
        self.classifier = None
        self.extras = {}  # the last epoch's class histogram, for EpochHistory

    def on_train_begin(self, logs=None):
        import zoo

        self.classifier = zoo.load(self.classifier_path, compile=False)

    def on_epoch_end(self, epoch, logs=None):
        from training.evaluation import sample_quality

        samples = sample_quality.model_samples(self.model, self.num_samples, self.seed)
        coverage = sample_quality.measure_coverage(self.classifier, samples)
        if logs is not None:
            logs["class_entropy"] = coverage["class_entropy"]
            logs["classes_covered"] = float(coverage["classes_covered"])
        # For EpochHistory: values that are not scalars stay out of the Keras logs.
        self.extras = {"class_histogram": coverage["class_histogram"]}
