"""The anomaly-detection protocol: training without a class, AUROC/AUPRC, the PCA and kNN
baselines, and the `anomaly` command end to end on the 8x8 digits (resumable, clear errors)."""

import json
import os

import numpy as np
import pytest

from training import anomaly
from training import data as data_lib
from training.commands import main


def test_without_classes_keeps_the_test_split_whole(digits):
    arrays = data_lib.prepare(digits, "dynamic")
    kept = data_lib.without_classes(arrays, [3, 7])
    for split in ("train", "val"):
        assert not np.isin(kept[f"y_{split}"], [3, 7]).any()
        assert len(kept[f"x_{split}"]) == len(kept[f"y_{split}"]) == int(
            (~np.isin(arrays[f"y_{split}"], [3, 7])).sum())
    np.testing.assert_array_equal(kept["x_test"], arrays["x_test"])
    assert "classes 3, 7 left out" in kept["protocol"]
    with pytest.raises(data_lib.DataError, match="no training example has class 12"):
        data_lib.without_classes(arrays, [12])
    with pytest.raises(data_lib.DataError, match="leaves no train examples"):
        data_lib.without_classes(arrays, range(10))
    with pytest.raises(data_lib.DataError, match="needs labelled data"):
        data_lib.without_classes({**arrays, "y_train": -np.ones_like(arrays["y_train"])}, [1])


def test_auroc_auprc_and_baselines_on_known_sets():
    positive = np.array([0, 0, 0, 1, 1], bool)
    assert anomaly.auroc([0.1, 0.2, 0.3, 0.9, 0.8], positive) == 1.0
    assert anomaly.auroc([0.9, 0.8, 0.7, 0.1, 0.2], positive) == 0.0
    assert anomaly.auprc([0.1, 0.2, 0.3, 0.9, 0.8], positive) == 1.0
    rng = np.random.default_rng(0)
    normal = np.zeros((200, 6, 6, 1), np.float32)
    normal[:, :3] = rng.random((200, 3, 6, 1)) > 0.5  # variation in the top half only
    odd = normal[:20].copy()
    odd[:, 3:] = 1.0  # lit where normal images never are
    test = np.concatenate([normal[100:180], odd])
    is_odd = np.arange(len(test)) >= 80
    assert anomaly.auroc(anomaly.pca_scores(normal[:100], test, components=10), is_odd) > 0.99
    assert anomaly.auroc(anomaly.knn_scores(normal[:100], test, k=3), is_odd) > 0.99
    with pytest.raises(ValueError, match="at least k=5"):
        anomaly.knn_scores(normal[:4], test)


def test_anomaly_command_trains_per_digit_scores_and_resumes(tmp_path, capsys):
    out = str(tmp_path / "anomaly")
    flags = ["anomaly", "--model", "vae", "--dataset", "digits", "--epochs", "2",
             "--hidden-units", "16", "--latent-dim", "2", "--digits", "1,8", "--out", out,
             "--score-samples", "4", "--nll-samples", "4", "--verbose", "0"]
    assert main(flags) == 0
    printed = capsys.readouterr().out
    assert "| held-out digit | model AUROC / AUPRC | pca AUROC / AUPRC | knn AUROC" in printed
    with open(os.path.join(out, "anomaly.json")) as f:
        results = json.load(f)
    assert sorted(results["digits"]) == ["1", "8"]
    for row in results["digits"].values():
        for key in ("model_auroc", "model_auprc", "pca_auroc", "knn_auroc", "knn_auprc"):
            assert 0.0 <= row[key] <= 1.0
        assert "log p(x)" in row["score_kind"]
    assert results["mean"]["model_auroc"] == pytest.approx(np.mean(
        [r["model_auroc"] for r in results["digits"].values()]))
    assert os.path.exists(os.path.join(out, "extremes.png"))
    assert os.path.exists(os.path.join(out, "without_8", "model.weights.h5"))
    with open(os.path.join(out, "without_8", "metadata.json")) as f:
        assert json.load(f)["recipe"]["exclude_classes"] == [8]
    # Run again: the trained digits are reused (same scores), nothing retrained.
    stamp = os.path.getmtime(os.path.join(out, "without_1", "model.weights.h5"))
    assert main(flags) == 0
    with open(os.path.join(out, "anomaly.json")) as f:
        again = json.load(f)
    assert again["digits"]["1"]["model_auroc"] == results["digits"]["1"]["model_auroc"]
    assert os.path.getmtime(os.path.join(out, "without_1", "model.weights.h5")) == stamp
    # Another recipe into the same folder, or a bad digit list, is refused with a message.
    assert main([*flags, "--latent-dim", "3"]) == 2
    assert "holds results of another recipe" in capsys.readouterr().err
    assert main([*flags[:11], "--digits", "1,x", "--out", out]) == 2
    assert "--digits expects class indices" in capsys.readouterr().err
