"""Trains the FD feature classifier once (`python -m training train-classifier`)."""

import json
import os
import platform
import time

import keras
import numpy as np

import zoo
from training import data as data_lib
from zoo.feature_classifier import FeatureClassifier
from zoo.saving import read_json, update_folder_files


def train_classifier(out, epochs=3, batch_size=128, seed=0, verbose=1, overwrite=False):
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
                "hardware": {"machine": platform.machine(), "cpus": os.cpu_count()},
                "data": {"dataset": "mnist", "source": dataset.source,
                         "protocol": "grey levels in [0, 1]; 50k train / 10k validation / 10k test"}}
    zoo.save(model, out, metadata=metadata, metrics=metrics, include_optimizer=False,
             overwrite=overwrite)
    write_card_and_golden(out)
    return out, metrics


def golden_logits(model, x):
    return np.asarray(model(x[:3])).tolist()


def write_card_and_golden(folder):
    """Adds README.md (the model card) and golden.json to a trained classifier folder."""
    model = zoo.load(folder, compile=False)
    dataset = data_lib.load_dataset("mnist")
    meta = read_json(os.path.join(folder, "metadata.json"))
    metrics = read_json(os.path.join(folder, "metrics.json"))
    card = f"""# `mnist_classifier`: the feature space of the zoo's Frechet distance

A small CNN (conv 32 - pool - conv 64 - pool - dense {model.feature_dim} ReLU - dense 10), trained
once on MNIST grey levels. Every FD in the zoo is measured on its {model.feature_dim}-unit
feature layer (`FeatureClassifier.features`), so FDs are comparable across presets; it is not
the Inception network of FID, and the numbers are not comparable with FIDs in papers.

| metric | value | protocol |
| --- | --- | --- |
| test accuracy | {metrics['test_accuracy']:.4f} | {metrics['protocol']['accuracy']} |

Recipe: `{meta['command']}` (seed {meta['seed']}, {meta['recipe']['epochs']} epochs, batch
{meta['recipe']['batch_size']}, Adam 1e-3; {meta['train_seconds']:.0f} s on
{meta.get('hardware', {}).get('cpus', os.cpu_count())} CPU cores).

Limits: grey-level MNIST digits only; its features say nothing about other image kinds.
"""
    golden = json.dumps({"logits": golden_logits(model, dataset.test.x)}, indent=2)
    update_folder_files(folder, files={"README.md": card.encode(), "golden.json": golden.encode()})


def classifier_features(classifier, images, batch_size=500):
    """Feature-layer activations of `images` (grey levels, [N, 28, 28, 1])."""
    images = np.asarray(images, np.float32)
    return np.concatenate([np.asarray(classifier.features(images[i:i + batch_size]))
                           for i in range(0, len(images), batch_size)])


def default_classifier_path():
    return os.path.join(zoo.presets.presets_dir(), "mnist_classifier")
