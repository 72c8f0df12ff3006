"""Callbacks for `fit`: a NaN guard with a useful message, and a sample grid per epoch."""

import math

import keras
import numpy as np
import tensorflow as tf

from training.plotting import image_grid


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
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True
            raise TrainingError(
                f"The loss became {float(loss)} at epoch {self.epoch + 1}, batch {batch + 1}. "
                "Lower --learning-rate, check that the images are in [0, 1] and match the "
                "likelihood (bernoulli needs binary or grey levels in [0, 1]), or use "
                "--kl-warmup. The last good checkpoint is kept; rerun with --resume after the fix."
            )


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
        grid = image_grid(np.asarray(self.model.sample(self.num_samples, seed=self.seed)))
        with self.writer.as_default():
            tf.summary.image("samples", grid[None], step=epoch + 1)
        self.writer.flush()

    def on_train_end(self, logs=None):
        if self.writer is not None:
            self.writer.close()


class WallClock(keras.callbacks.Callback):
    """Training wall time in seconds, kept across resumed runs in a small JSON file."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.previous = 0.0
        self.start = None

    def on_train_begin(self, logs=None):
        import json
        import os
        import time

        if os.path.exists(self.path):
            with open(self.path) as f:
                self.previous = float(json.load(f)["seconds"])
        self.start = time.time()

    @property
    def seconds(self):
        import time

        return self.previous + (time.time() - self.start if self.start else 0.0)

    def on_epoch_end(self, epoch, logs=None):
        from zoo.saving import write_json

        write_json(self.path, {"seconds": self.seconds})
