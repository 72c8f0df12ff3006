"""Sample-quality measures (class coverage, precision/recall), the per-epoch history with the
mode-collapse monitor, the training-curves picture and the adversarial pictures."""

import json

import keras
import numpy as np
import pytest

import zoo
from training import pictures
from training.curves import save_training_curves
from training.evaluation import sample_quality as quality
from training.evaluation.classifier import default_classifier_path
from training.run.callbacks import ClassCoverageMonitor, EpochHistory


def test_class_coverage_counts_each_sample_at_its_arg_max():
    probabilities = np.eye(10)[[0] * 50 + [1] * 49 + [2]]
    coverage = quality.class_coverage(probabilities)
    assert coverage["class_histogram"][:3] == [0.5, 0.49, 0.01]
    assert coverage["classes_covered"] == 3  # 1% counts
    expected = -(0.5 * np.log(0.5) + 0.49 * np.log(0.49) + 0.01 * np.log(0.01))
    assert coverage["class_entropy"] == pytest.approx(expected)
    uniform = quality.class_coverage(np.eye(10)[np.arange(1000) % 10])
    assert uniform["class_entropy"] == pytest.approx(np.log(10))
    with pytest.raises(ValueError, match="probabilities"):
        quality.class_coverage(np.zeros((0, 10)))


def test_conditional_samples_are_scored_against_the_classes_asked_for(classifier, monkeypatch):
    """A conditional model draws 0, 1, 2, ... in turn; label accuracy counts the samples the
    classifier calls the class they were drawn as."""
    model = zoo.ConditionalDCGAN(event_shape=(28, 28, 1), latent_dim=3, filters=(4, 8), seed=0)
    np.testing.assert_array_equal(quality.requested_labels(model, 23), np.arange(23) % 10)
    assert quality.requested_labels(zoo.DCGAN(latent_dim=3, filters=(4, 8)), 5) is None
    drawn = quality.model_samples(model, 30, seed=2, chunk=7)  # chunks not a multiple of 10
    np.testing.assert_allclose(drawn[7:14], model.sample(7, seed=[2, 1],
                                                          labels=np.arange(7, 14) % 10), atol=1e-6)
    # The classifier's verdicts stand in: 15 of 20 samples called what they were asked for.
    labels = np.arange(20) % 10
    verdicts = np.eye(10)[np.where(np.arange(20) < 15, labels, (labels + 1) % 10)]
    monkeypatch.setattr(quality, "class_probabilities", lambda c, images: verdicts)
    scored = quality.measure_coverage(classifier, np.zeros((20, 28, 28, 1)), labels)
    assert scored["label_accuracy"] == pytest.approx(0.75)
    assert "label_accuracy" not in quality.measure_coverage(classifier, np.zeros((20, 28, 28, 1)))


def test_precision_and_recall_on_known_sets():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 4))
    b = rng.normal(size=(300, 4)) + np.array([50, 0, 0, 0])
    assert quality.precision_recall(a, a) == (1.0, 1.0)
    assert quality.precision_recall(a, b) == (0.0, 0.0)
    # Samples from only one of two real clusters: realistic (precision 1), half the data
    # covered (recall about 0.5).
    real = np.concatenate([a, b])
    precision, recall = quality.precision_recall(real, rng.normal(size=(300, 4)))
    assert precision > 0.9 and 0.4 < recall < 0.6
    with pytest.raises(ValueError, match="more than 3 points"):
        quality.precision_recall(a[:3], a)


@pytest.fixture(scope="module")
def classifier():
    return zoo.load(default_classifier_path(), compile=False)


def test_history_and_mode_collapse_monitor_record_every_epoch(tmp_path):
    keras.utils.set_random_seed(0)
    gan = zoo.GAN(event_shape=(28, 28, 1), latent_dim=4, generator_units=(8,),
                  discriminator_units=(4,), maxout_pieces=2, seed=0)
    gan.compile(optimizer="adam")
    monitor = ClassCoverageMonitor(default_classifier_path(), num_samples=300)
    path = tmp_path / "history.json"
    x = np.random.default_rng(0).random((64, 28, 28, 1)).astype(np.float32)
    gan.fit(x, batch_size=32, epochs=2, verbose=0,
            callbacks=[monitor, EpochHistory(str(path), [monitor])])
    history = json.loads(path.read_text())
    assert [e["epoch"] for e in history] == [1, 2]
    for entry in history:
        assert {"d_loss", "g_loss", "d_real", "d_fake", "class_entropy"} <= set(entry)
        assert sum(entry["class_histogram"]) == pytest.approx(1.0, abs=1e-5)
        assert 0 <= entry["class_entropy"] <= np.log(10) + 1e-6
    # A resumed run that repeats epoch 2 replaces its entry.
    again = EpochHistory(str(path))
    again.set_model(gan)
    again.on_train_begin()
    again.on_epoch_end(1, {"d_loss": 7.0})
    assert [e.get("d_loss") for e in json.loads(path.read_text())][1] == 7.0
    picture = save_training_curves(str(tmp_path / "curves.png"), history)
    assert open(picture, "rb").read(4) == b"\x89PNG"
    with pytest.raises(ValueError, match="no training history"):
        save_training_curves(str(tmp_path / "none.png"), [])


def test_arithmetic_and_latent_walk_pictures(tmp_path, classifier):
    gan = zoo.DCGAN(event_shape=(28, 28, 1), latent_dim=4, filters=(4, 8), seed=0)
    grid, found = pictures.latent_arithmetic_grid(gan, classifier, rows=3, num_samples=200,
                                                  confidence=0.0)
    rows = min(3, len(found))
    assert grid.shape[:2] == (rows * 29 + 1, 11 * 29 + 1)  # 28-pixel cells, 1-pixel padding
    with pytest.raises(ValueError, match="recognises"):
        pictures.latent_arithmetic_grid(gan, classifier, num_samples=50, confidence=1.01)
    walk = pictures.latent_walk_grid(gan, rows=2, steps=5)
    assert walk.shape[:2] == (2 * 29 + 1, 5 * 29 + 1)
    assert {"latent_walk", "arithmetic", "curves"} <= set(pictures.available_plots(gan))
