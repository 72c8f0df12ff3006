"""The experiments registry and the `compare` experiment: pictures from tiny models, the card's
verdicts, the refusals, a whole run on tiny digits folders, and the shipped gae_mnist results."""

import argparse
import dataclasses
import json
import os

import numpy as np
import pytest

from tests.conftest import inputs_for, make_model, targets_for
from training.experiments import (
    EXPERIMENTS, Experiment, get_experiment, register_experiment)
from training.experiments import compare
from zoo.capabilities import Capabilities
from zoo.presets import PRESETS_DIR
from zoo.saving import list_files, read_json, verify_folder

PNG = b"\x89PNG\r\n\x1a\n"


# --- the registry ------------------------------------------------------------------------------
def test_compare_is_registered_with_its_command_line():
    experiment = EXPERIMENTS["compare"]
    assert experiment is compare.EXPERIMENT and get_experiment("compare") is experiment
    with pytest.raises(dataclasses.FrozenInstanceError):
        experiment.name = "other"
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    experiment.add_arguments(sub.add_parser(experiment.name, help=experiment.help))
    args = vars(parser.parse_args(["compare", "gae_mnist", "--baseline", "runs/b",
                                   "--latent2d", "runs/x,runs/y", "--num-images", "10"]))
    assert args == {"command": "compare", "model": "gae_mnist", "baseline": "runs/b",
                    "latent2d": "runs/x,runs/y", "num_samples": 500, "num_images": 10,
                    "seed": 0}
    with pytest.raises(SystemExit):  # the baseline is required
        parser.parse_args(["compare", "gae_mnist"])


def test_registry_refuses_a_second_experiment_of_the_same_name(monkeypatch):
    monkeypatch.setattr("training.experiments.EXPERIMENTS", dict(EXPERIMENTS))
    from training import experiments

    other = Experiment(name="compare", help="", add_arguments=lambda p: None,
                       run=lambda a, v: None, card_section=lambda f: "")
    with pytest.raises(ValueError, match="already registered"):
        register_experiment(other)
    register_experiment(compare.EXPERIMENT)  # the same one again is harmless
    new = register_experiment(dataclasses.replace(other, name="new"))
    assert experiments.EXPERIMENTS["new"] is new
    with pytest.raises(ValueError, match="Unknown experiment 'nope'; registered: compare, new"):
        get_experiment("nope")
    with pytest.raises(TypeError):
        register_experiment({"name": "x"})


# --- pictures ----------------------------------------------------------------------------------
def _gae2d(hidden_units=(32,)):
    model = make_model("gae", {"num_components": 20, "latent_dim": 2,
                               "hidden_units": hidden_units})
    model.refresh_components(inputs_for(model, n=20))
    return model


def test_pictures_are_written(tmp_path):
    shallow, deeper = _gae2d(), _gae2d((16, 16))
    vae = make_model("vae", {"latent_dim": 2})
    cvae = make_model("cvae", {"latent_dim": 2})
    x, y = inputs_for(shallow, n=50), np.arange(50) % 10
    compare.save_samples_side_by_side(str(tmp_path / "side.png"), shallow, vae)
    compare.save_samples_side_by_side(str(tmp_path / "side_labels.png"), cvae, vae, labels=y)
    compare.save_latent_pictures(str(tmp_path / "kde.png"), str(tmp_path / "sc.png"),
                                 [shallow, deeper, cvae], ["a", "b", "c"], x, y)
    for name in ("side.png", "side_labels.png", "kde.png", "sc.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == PNG and len(data) < 300_000
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def test_latent_pictures_need_one_two_dimensional_latent(tmp_path):
    vae16 = make_model("vae", {"latent_dim": 4})
    x, y = inputs_for(vae16, n=20), np.arange(20) % 10
    with pytest.raises(ValueError, match=r"VAE has a latent of shape \[4\]; --latent2d needs "
                                         "models with a 2-D latent"):
        compare.save_latent_pictures(str(tmp_path / "k.png"), str(tmp_path / "s.png"),
                                     [vae16], ["runs/v"], x, y)

    class Flow:  # a model without a latent z (none is in the zoo yet)
        capabilities = Capabilities(density="exact", latent="none")

    with pytest.raises(ValueError, match=r"runs/f: Flow has no single latent z \(latent "
                                         "'none'\)"):
        compare.check_latent2d(Flow(), "runs/f")
    assert not os.listdir(tmp_path)


# --- refusals ----------------------------------------------------------------------------------
def test_nll_is_compared_only_between_models_with_a_density_of_the_same_kind():
    vae, iwae = make_model("vae", {}), make_model("iwae", {})
    assert compare.nll_refusal(vae, iwae) is None
    reason = compare.nll_refusal(vae, make_model("autoencoder", {}))
    assert reason.startswith("Autoencoder has no density (density none") and "no test NLL" in reason
    assert "not comparable" in compare.nll_refusal(make_model("cvae", {}), vae)


def _folder(path, recipe, **metadata):
    os.makedirs(path)
    with open(os.path.join(path, "metadata.json"), "w") as f:
        json.dump({"recipe": recipe, **metadata}, f)
    return str(path)


RECIPE = {"dataset": "mnist", "latent_dim": 16, "hidden_units": [200, 200], "activation": "tanh",
          "epochs": 30, "batch_size": 100, "learning_rate": 0.001, "lr_schedule": "cosine",
          "binarization": "dynamic", "seed": 0}


def test_recipe_mismatch_is_refused_with_the_differences(tmp_path):
    model = _folder(tmp_path / "model", {**RECIPE, "model": "gae", "lambda1": 0.05})
    same = _folder(tmp_path / "same", {**RECIPE, "model": "vae", "beta": 1.0})
    assert compare.shared_recipe(model, same) == RECIPE  # the model and its options may differ
    other = _folder(tmp_path / "other", {**RECIPE, "model": "vae", "latent_dim": 2,
                                         "epochs": 5, "dataset": "digits"})
    with pytest.raises(ValueError) as error:
        compare.shared_recipe(model, other)
    message = str(error.value)
    assert "was not trained with the recipe of" in message
    assert "latent_dim: 16 (model) vs 2 (baseline)" in message
    assert "epochs: 30 (model) vs 5 (baseline)" in message
    assert "dataset: 'mnist' (model) vs 'digits' (baseline)" in message
    assert "activation" not in message
    norecipe = _folder(tmp_path / "norecipe", {})
    with pytest.raises(ValueError, match="records no training recipe"):
        compare.shared_recipe(model, norecipe)


# --- the card ----------------------------------------------------------------------------------
def results(nll, baseline_nll, stderr, parzen, baseline_parzen, classes=("IWAE", "VAE")):
    row = {"test_nll_stderr": 0.5, "parzen_stderr": 1.0, "parzen_sigma": 0.2, "fd": 3.0,
           "train_seconds": 600, "epochs": 30}
    return {"model": {**row, "class": classes[0], "folder": "saved_models/tiny",
                      "command": "python -m training train --model a", "test_nll": nll,
                      "parzen_log_likelihood": parzen},
            "baseline": {**row, "class": classes[1], "folder": "runs/baseline",
                         "command": "python -m training train --model b",
                         "test_nll": baseline_nll, "parzen_log_likelihood": baseline_parzen},
            "nll_difference": {"mean": nll - baseline_nll, "stderr": stderr},
            "shared_recipe": RECIPE, "protocol": {"nll": "n", "parzen": "p", "fd": "f"},
            "settings": {"num_samples": 500, "num_images": 1000, "seed": 0}}


@pytest.mark.parametrize("numbers, verdict", [
    ((90.0, 92.0, 0.3, 200.0, 150.0), "holds here on both measures"),
    ((90.0, 92.0, 0.3, 100.0, 150.0), "holds here for the NLL but not for the Parzen window"),
    ((91.8, 92.0, 0.3, 200.0, 150.0), "holds here for the Parzen window but not for the NLL"),
    ((95.0, 92.0, 0.3, 100.0, 150.0), "does not hold here on either measure"),
])
def test_card_section_states_the_verdict(tmp_path, numbers, verdict):
    assert compare.card_section(str(tmp_path)) == ""
    (tmp_path / compare.RESULTS_FILE).write_text(json.dumps(results(*numbers)))
    section = compare.card_section(str(tmp_path))
    assert section.startswith("## IWAE vs VAE")
    assert f"The claim that IWAE beats VAE on both NLL and Parzen {verdict}" in section
    assert "| IWAE | " in section and "| VAE | " in section
    difference = numbers[0] - numbers[1]
    assert f"Paired NLL difference IWAE - VAE over the same images: {difference:+.2f}" in section
    assert "python -m training compare tiny --baseline runs/baseline\n" in section
    assert f"({compare.SAMPLES_FILE})" in section and "2-D latents" not in section


def test_card_section_without_nll_and_with_latent_pictures(tmp_path):
    r = results(0, 0, 0, 200.0, 150.0, classes=("Autoencoder", "VAE"))
    for role in ("model", "baseline"):
        del r[role]["test_nll"], r[role]["test_nll_stderr"]
    del r["nll_difference"]
    r["nll_skipped"] = "Autoencoder has no density, so no test NLL was measured"
    r["latent2d"] = [{"class": "Autoencoder", "folder": "runs/ae2d", "command": "python -m x",
                      "epochs": 3, "hidden_units": [500]}]
    r["settings"]["num_images"] = 20
    (tmp_path / compare.RESULTS_FILE).write_text(json.dumps(r))
    section = compare.card_section(str(tmp_path))
    assert "| Autoencoder | not measured | 200.0" in section and "Paired" not in section
    assert ("The test NLL was not compared (Autoencoder has no density, so no test NLL was "
            "measured); on the Parzen window Autoencoder beats VAE.") in section
    assert "--latent2d runs/ae2d --num-images 20" in section
    assert "Autoencoder 1-layer (500): 3 epochs)" in section
    assert f"({compare.KDE_FILE})" in section and f"({compare.SCATTER_FILE})" in section


# --- a whole run on tiny folders ---------------------------------------------------------------
def _saved(tmp_path, name, overrides=None, **recipe):
    model = make_model(name, overrides or {})
    model.compile(optimizer="adam")
    x = inputs_for(model, n=16)
    model.fit(x, targets_for(model, 16), batch_size=16, epochs=1, verbose=0)
    recipe = {**RECIPE, "dataset": "digits", "latent_dim": 4, "hidden_units": [32], "epochs": 1,
              "seed": 1, "model": name, **recipe}
    folder = str(tmp_path / name)
    model.save_to_preset(folder, metadata={"recipe": recipe, "train_seconds": 1.0,
                                           "train_command": f"python -m training train "
                                                            f"--model {name}"})
    return folder


@pytest.fixture
def fake_sample_quality(monkeypatch):
    """Parzen and FD need 10,000 samples and the MNIST classifier: numbers from the model's
    class stand in for them (the NLL path runs for real)."""
    def quality(model, dataset, labels, classifier, seed=0, verbose=1):
        value = 100.0 if type(model).__name__ == "VAE" else 50.0
        return {"parzen_log_likelihood": value, "parzen_stderr": 1.0, "parzen_sigma": 0.2,
                "fd": 1.0}

    monkeypatch.setattr(compare, "sample_quality", quality)


def test_run_writes_results_pictures_and_summary(tmp_path, fake_sample_quality, capsys):
    vae, iwae = _saved(tmp_path, "vae"), _saved(tmp_path, "iwae")
    EXPERIMENTS["compare"].run({"model": iwae, "baseline": vae, "latent2d": "",
                                "num_samples": 2, "num_images": 20, "seed": 0}, verbose=0)
    printed = capsys.readouterr().out
    assert "IWAE (" in printed and "NLL difference IWAE - VAE (paired)" in printed
    r = read_json(os.path.join(iwae, compare.RESULTS_FILE))
    assert (r["model"]["class"], r["baseline"]["class"]) == ("IWAE", "VAE")
    assert r["baseline"]["folder"].endswith("vae") and r["settings"]["num_images"] == 20
    assert np.isfinite(r["model"]["test_nll"]) and np.isfinite(r["nll_difference"]["mean"])
    assert "k=2 samples" in r["protocol"]["nll"] and "first 20 test images" in r["protocol"]["nll"]
    assert (tmp_path / "iwae" / compare.SAMPLES_FILE).read_bytes()[:8] == PNG
    assert set(verify_folder(iwae)["sha256"]) == set(list_files(iwae)) - {"metadata.json"}
    assert "README.md" not in list_files(iwae)  # not a preset: no model card
    assert "## IWAE vs VAE" in compare.card_section(iwae)


def test_run_without_a_density_skips_the_nll_and_draws_latents(tmp_path, fake_sample_quality,
                                                               capsys):
    vae, autoencoder = _saved(tmp_path, "vae"), _saved(tmp_path, "autoencoder")
    flat = _saved(tmp_path / "2d", "vae", {"latent_dim": 2}, latent_dim=2)
    results = compare.run_comparison(autoencoder, vae, [flat], num_samples=2, num_images=20,
                                     verbose=0)
    assert results["nll_skipped"].startswith("Autoencoder has no density")
    assert "test_nll" not in results["model"] and "nll_difference" not in results
    assert results["latent2d"][0]["class"] == "VAE" and "test_elbo" in results["latent2d"][0]
    for name in (compare.SAMPLES_FILE, compare.KDE_FILE, compare.SCATTER_FILE):
        assert (tmp_path / "autoencoder" / name).read_bytes()[:8] == PNG
    verify_folder(autoencoder)
    assert "NLL not compared: Autoencoder has no density" in "\n".join(compare.summary(results))
    with pytest.raises(ValueError, match="has a latent of shape \\[4\\]"):
        compare.run_comparison(autoencoder, vae, [vae], verbose=0)
    mismatch = _saved(tmp_path / "mismatch", "vae", epochs=2)
    with pytest.raises(ValueError, match="epochs: 1 \\(model\\) vs 2 \\(baseline\\)"):
        compare.run_comparison(autoencoder, mismatch, verbose=0)


# --- the shipped preset ------------------------------------------------------------------------
def test_gae_mnist_holds_the_migrated_comparison():
    folder = os.path.join(PRESETS_DIR, "gae_mnist")
    files = verify_folder(folder)["sha256"]
    assert "comparison.json" in files and "samples_comparison.png" in files
    assert "gae_vs_vae.json" not in files and "samples_gae_vs_vae.png" not in files
    r = read_json(os.path.join(folder, "comparison.json"))
    assert (r["model"]["class"], r["baseline"]["class"]) == ("GAE", "VAE")
    section = compare.card_section(folder)
    assert section.startswith("## GAE vs VAE")
    assert ("The claim that GAE beats VAE on both NLL and Parzen holds here for the Parzen "
            "window but not for the NLL") in section
    assert "| GAE | 111.24 ± 1.28 | 327.5 ± 1.7" in section
    assert "python -m training compare gae_mnist --baseline runs/gae_vs_vae_vae --latent2d " \
           "runs/gae2d_1layer,runs/gae2d_2layer\n" in section
    assert "GAE 2-layer (500,500): 5 epochs, test ELBO -155.1" in section


def test_gae_mnist_recipe_lists_the_experiment_and_its_own_text():
    from zoo.preset_recipes import PRESETS

    spec = PRESETS["gae_mnist"]
    assert spec["experiments"] == ["compare"] and "card_extra" not in spec
    assert spec["card_text"].startswith("## How it is trained (EM, as in the slides)\n\n")
    assert all(name in EXPERIMENTS for p in PRESETS.values() for name in p.get("experiments", ()))
