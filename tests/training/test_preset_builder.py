"""make-preset end to end on a tiny recipe: preset folder, evaluation, card, leaderboard."""

import json

import numpy as np
import pytest

import zoo
from tests.conftest import install_tiny_preset_recipe
from training.__main__ import main
from training.evaluation.leaderboard import rows


@pytest.fixture()
def tiny_recipe(monkeypatch, tmp_path):
    return install_tiny_preset_recipe(monkeypatch, tmp_path, train={"epochs": 2},
                                      metrics="elbo,nll,parzen",
                                      pictures=["manifold", "scatter"])


def test_make_preset_writes_an_evaluated_preset(tiny_recipe, capsys):
    assert main(["make-preset", "vae_digits", "--num-samples", "20"]) == 0
    folder = tiny_recipe / "presets" / "vae_digits"
    for name in ("config.json", "model.weights.h5", "metadata.json", "metrics.json", "README.md",
                 "samples.png", "manifold.png", "scatter.png", "golden.json"):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["nll_num_samples"] == 20 and "parzen_sigma" in metrics
    assert "k=20" in metrics["protocol"]["nll"]
    card = (folder / "README.md").read_text()
    assert f"{metrics['test_nll']:.2f}" in card and "![samples](samples.png)" in card
    model = zoo.load("vae_digits")  # hashes cover the card and the metrics written afterwards
    golden = json.loads((folder / "golden.json").read_text())
    from training import data as data_lib

    x = data_lib.prepare(data_lib.load_digits(), "dynamic")["x_test"]
    np.testing.assert_allclose(np.asarray(model.encode(x[:3]))[:, :5], golden["encode_mean"],
                               atol=1e-5)
    board = (tiny_recipe / "presets" / "README.md").read_text()
    assert f"{metrics['test_nll']:.2f} ± {metrics['test_nll_stderr']:.2f}" in board
    assert [r["name"] for r in rows()] == ["vae_digits"]


def test_adopting_a_run_with_another_recipe_is_refused(tiny_recipe, capsys):
    assert main(["train", "--dataset", "digits", "--epochs", "1", "--latent-dim", "3",
                 "--hidden-units", "32", "--nll-samples", "5", "--out", "runs/other",
                 "--verbose", "0"]) == 0
    assert main(["make-preset", "vae_digits", "--from-run", "runs/other"]) == 2
    assert "latent_dim=3 (recipe: 2)" in capsys.readouterr().err
