"""Autoregressive models through the command line: training on palette images (with
--keep-best), evaluation with the data-only baselines, pictures and the sampling benchmark."""

import json
import os

import keras
import numpy as np
import pytest

import zoo
from training import data as data_lib
from training.__main__ import main
from training.evaluation.baselines import measure_baselines
from training.run.callbacks import KeepBest

COLOURS = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


@pytest.fixture(scope="module")
def palette_folder(tmp_path_factory):
    """40 synthetic 6x6 palette images: a dark square on white at a random place."""
    rng = np.random.default_rng(0)
    images = np.zeros((40, 6, 6), np.int32)
    for image in images:
        r, c = rng.integers(0, 4, 2)
        image[r:r + 2, c:c + 2] = rng.integers(1, 4)
    folder = str(tmp_path_factory.mktemp("palette"))
    data_lib.write_palette_dataset(images, COLOURS, folder)
    return folder


@pytest.fixture(scope="module")
def trained_lstm(palette_folder, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "lstm")
    assert main(["train", "--model", "pixel_lstm", "--dataset", "palette", "--data-path",
                 palette_folder, "--lstm-units", "8", "--embedding-dim", "4", "--epochs", "2",
                 "--batch-size", "16", "--keep-best", "--verbose", "0", "--out", out]) == 0
    return out


def test_the_pixel_lstm_trains_on_palette_images_and_leaves_its_pictures(trained_lstm):
    metrics = json.loads(open(os.path.join(trained_lstm, "metrics.json")).read())
    assert np.isfinite(metrics["test_nll"]) and "exact" in metrics["protocol"]["nll"]
    assert metrics["best_epoch"] in (1, 2) and np.isfinite(metrics["best_val_loss"])
    for picture in ("samples.png", "completion.png"):
        assert os.path.getsize(os.path.join(trained_lstm, picture)) > 1000
    model = zoo.load(trained_lstm)
    assert isinstance(model, zoo.PixelLSTM) and model.palette.shape == (4, 3)
    from training.pictures import sample_images

    shown = sample_images(model, 4)  # drawn indices become the palette's colours
    assert shown.shape == (4, 6, 6, 3)
    assert {tuple(c) for c in shown.reshape(-1, 3)} <= {tuple(c) for c in COLOURS}
    np.testing.assert_allclose(model.palette, COLOURS)


def test_evaluate_reports_exact_nll_bits_and_the_baselines(trained_lstm, capsys):
    assert main(["evaluate", trained_lstm, "--metrics", "nll,baselines"]) == 0
    printed = capsys.readouterr().out
    assert "exact density" in printed and "Test bits per pixel" in printed
    assert "Baseline 'frequency'" in printed and "Baseline 'position'" in printed


def test_the_baselines_on_data_they_can_fit_exactly():
    # Two colours; every training image is [0, 1]: each position is certain, the pooled
    # frequency is one half.
    x = np.tile(np.array([[[0, 1]]], np.int32), (8, 1, 1))
    arrays = {"modality": "palette_image", "palette": COLOURS[:2], "x_train": x, "x_val": x,
              "x_test": x}
    results = measure_baselines(arrays)
    assert results["position"]["nll"] == pytest.approx(0.0, abs=0.01)
    assert results["frequency"]["nll"] == pytest.approx(2 * np.log(2), abs=1e-3)
    assert results["frequency"]["bits_per_pixel"] == pytest.approx(1.0, abs=1e-3)
    grey = {"modality": "image", "x_train": np.full((4, 2, 2, 1), 0.25),
            "x_val": np.zeros((4, 2, 2, 1)), "x_test": np.ones((4, 2, 2, 1))}
    # Binary test pixels all 1 under p(1) = 0.25 (grey training levels count as expectations)
    assert measure_baselines(grey)["position"]["nll"] == pytest.approx(4 * np.log(4), abs=0.01)


def test_keep_best_restores_the_best_epoch_even_after_a_bad_one(tmp_path):
    model = zoo.PixelLSTM(event_shape=(4, 4), lstm_units=[8], embedding_dim=4,
                          palette=COLOURS, seed=0)
    model.compile(keras.optimizers.Adam(1e-2))
    x = np.random.default_rng(0).integers(0, 4, (32, 4, 4)).astype(np.int32)

    class Scramble(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:  # epochs 3 and 4 start from ruined weights
                for v in self.model.trainable_variables:
                    v.assign(v * 0 + 3.0)

    keep = KeepBest(str(tmp_path))
    history = model.fit(x, validation_data=(x,), epochs=4, batch_size=16, verbose=0,
                        callbacks=[Scramble(), keep]).history["val_loss"]
    assert keep.best_epoch == int(np.argmin(history)) + 1 <= 2
    assert model.evaluate(x, verbose=0, return_dict=True)["loss"] == pytest.approx(
        min(history), rel=1e-4)


def test_the_sampling_benchmark_compares_fast_and_naive(capsys):
    assert main(["benchmark", "--mode", "sampling", "--model", "pixelcnn", "--dataset",
                 "digits", "--filters", "4", "--num-layers", "2", "--kernel-size", "3",
                 "--output-units", "4", "--batch-size", "8", "--windows", "1",
                 "--naive-batch", "2"]) == 0
    printed = capsys.readouterr().out
    assert "fast sampler:" in printed and "naive sampler:" in printed
    assert "the same draws for the same seed: True" in printed


def test_the_sampling_benchmark_refuses_models_without_completion(capsys):
    assert main(["benchmark", "--mode", "sampling", "--model", "vae", "--dataset",
                 "digits"]) == 2
    assert "has no completion" in capsys.readouterr().err


def test_a_folder_of_rgb_images_becomes_a_palette_data_set_to_train_on(tmp_path, capsys):
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        pixels = np.zeros((12, 12, 3), np.uint8) + 255
        pixels[rng.integers(0, 6):, :6] = [200, 30, 30] if i % 2 else [30, 30, 200]
        Image.fromarray(pixels).save(images / f"{i}.png")
    out = tmp_path / "palette"
    assert main(["palette-dataset", str(images), "--out", str(out), "--colours", "3",
                 "--size", "6"]) == 0
    assert "--dataset palette --data-path" in capsys.readouterr().out
    dataset = data_lib.load_dataset("palette", str(out))
    assert dataset.event_shape == (6, 6) and len(dataset.info["palette"]) == 3
    assert main(["train", "--model", "pixel_lstm", "--dataset", "palette", "--data-path",
                 str(out), "--lstm-units", "4", "--epochs", "1", "--verbose", "0", "--out",
                 str(tmp_path / "run")]) == 0
    assert main(["train", "--model", "pixel_lstm", "--dataset", "palette", "--epochs", "1",
                 "--out", str(tmp_path / "run2")]) == 2
    assert "--dataset palette reads a folder of your own" in capsys.readouterr().err
