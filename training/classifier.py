"""Trains the FD feature classifier once (`python -m training train-classifier`)."""

import os
import time

import keras
import numpy as np

import zoo
from training import data as data_lib
from zoo.feature_classifier import FeatureClassifier


def train_classifier(out, epochs=3, batch_size=128, seed=0, verbose=1):
    """Trains FeatureClassifier on MNIST grey levels; writes it as a preset folder."""
    keras.utils.set_random_seed(seed)
    dataset = data_lib.load_dataset("mnist")
    model = FeatureClassifier()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    start = time.time()
    model.fit(dataset.train.x, dataset.train.y, batch_size=batch_size, epochs=epochs,
              validation_data=(dataset.validation.x, dataset.validation.y), verbose=verbose)
    seconds = time.time() - start
    _, accuracy = model.evaluate(dataset.test.x, dataset.test.y, verbose=0)
    metrics = {"test_accuracy": float(accuracy), "test_images": len(dataset.test.x),
               "protocol": {"accuracy": "top-1 accuracy on the 10k MNIST test images (grey "
                                        "levels, no binarization)"}}
    metadata = {"recipe": {"epochs": epochs, "batch_size": batch_size, "optimizer": "adam 1e-3"},
                "command": f"python -m training train-classifier --epochs {epochs}",
                "seed": seed, "train_seconds": round(seconds, 1),
                "data": {"dataset": "mnist", "source": dataset.source,
                         "protocol": "grey levels in [0, 1]; 50k train / 10k validation / 10k test"}}
    zoo.save(model, out, metadata=metadata, metrics=metrics, include_optimizer=False)
    return out, metrics


def classifier_features(classifier, images, batch_size=500):
    """Feature-layer activations of `images` (grey levels, [N, 28, 28, 1])."""
    images = np.asarray(images, np.float32)
    return np.concatenate([np.asarray(classifier.features(images[i:i + batch_size]))
                           for i in range(0, len(images), batch_size)])


def default_classifier_path():
    return os.path.join(zoo.presets.presets_dir(), "mnist_classifier")
