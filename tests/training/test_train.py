"""`python -m training train`: the end-to-end run on tiny data, bad input, crash safety, resume."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import zoo
from training.run import train as train_lib
from training.__main__ import main

TINY_RUN = ["--dataset", "digits", "--epochs", "2", "--batch-size", "100", "--latent-dim", "4",
            "--hidden-units", "32", "--nll-samples", "20", "--verbose", "0"]


def tiny_args(out, **overrides):
    args = {"dataset": "digits", "epochs": 2, "batch_size": 100, "latent_dim": 4,
            "hidden_units": [32], "nll_samples": 20, "out": str(out)}
    args.update(overrides)
    return args


def test_train_writes_a_complete_model_folder(tmp_path, capsys):
    out = tmp_path / "vae"
    assert main(["train", *TINY_RUN, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Test NLL:" in printed and "samples.png" in printed
    for name in ("config.json", "model.weights.h5", "metadata.json", "metrics.json",
                 "samples.png", "reconstructions.png"):
        assert (out / name).exists(), name
    assert any(f.name.startswith("events") for f in (out / "logs" / "samples").iterdir())
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["test_nll"]) and metrics["nll_num_samples"] == 20
    assert metrics["test_nll"] <= -metrics["test_elbo"] + 1.0  # IWAE_20 is above the ELBO
    assert "k=20" in metrics["protocol"]["nll"] and "dynamic" in metrics["protocol"]["data"]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["recipe"]["model"] == "vae" and meta["versions"]["keras"]
    assert meta["command"].startswith("python -m training train")
    assert "--num-importance-samples" not in meta["command"]  # a VAE option only IWAE uses
    assert "--conv-filters" not in meta["command"] and "--latent-dim 4" in meta["command"]
    assert not (tmp_path / "vae.partial").exists()
    model = zoo.load(str(out))
    assert int(model.optimizer.iterations) == 2 * 11
    assert model.latent_dim == 4


@pytest.mark.parametrize("model", ["iwae", "autoencoder", "vamp"])
def test_other_models_train_from_the_cli(tmp_path, model):
    out = tmp_path / model
    assert main(["train", *TINY_RUN, "--epochs", "1", "--model", model, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert ("test_nll" in metrics) == (model != "autoencoder")


@pytest.mark.parametrize("argv, message", [
    (["--model", "wgan"], "Unknown model 'wgan'; choose one of"),
    (["--dataset", "cifar"], "Unknown dataset 'cifar'"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--likelihood", "poisson"], "--likelihood must be one of: bernoulli, categorical"),
    (["--learning-rate", "-1"], "--learning-rate must be above 0, got -1"),
    (["--beta", "-1"], "--beta must be at least 0, got -1"),
    (["--nll-samples", "0"], "--nll-samples must be at least 1, got 0"),
    (["--num-pseudo-inputs", "5"], "does not take --num-pseudo-inputs (an option of: vamp)"),
    (["--hidden-units", "16,x"], "--hidden-units expects integers, got"),
    (["--seed", str(2**31)], "--seed must be at most 2147483647"),
    (["--dataset", "mnist", "--data-path", "/no/such.npz"], "does not exist"),
])
def test_bad_input_exits_2_with_a_message(tmp_path, capsys, argv, message):
    args = [a for a in TINY_RUN if a not in ("digits",)]
    args = ["--dataset", "digits", *TINY_RUN[2:]] + argv
    assert main(["train", *args, "--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err


def test_nan_loss_stops_with_a_message_and_keeps_the_previous_folder(tmp_path, monkeypatch):
    out = tmp_path / "vae"
    train_lib.train(tiny_args(out, epochs=1), verbose=0)
    before = (out / "model.weights.h5").read_bytes()

    original = zoo.VAE.per_example_losses

    def nan_losses(self, x, y=None, training=False):
        terms = original(self, x, y, training)
        return {k: v * float("nan") for k, v in terms.items()}

    monkeypatch.setattr(zoo.VAE, "per_example_losses", nan_losses)
    with pytest.raises(train_lib.TrainingError, match="loss became nan at epoch 1, batch 1"):
        train_lib.train(tiny_args(out, epochs=1, overwrite=True), verbose=0)
    assert (out / "model.weights.h5").read_bytes() == before
    zoo.load(str(out))  # still complete and verified


def test_killed_run_keeps_the_old_folder_and_resume_continues(tmp_path, monkeypatch):
    out = tmp_path / "vae"
    train_lib.train(tiny_args(out, epochs=1), verbose=0)
    old_metrics = (out / "metrics.json").read_text()

    class Killed(Exception):
        pass

    original = train_lib.WallClock.on_epoch_end

    def kill_after_second_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise Killed()

    monkeypatch.setattr(train_lib.WallClock, "on_epoch_end", kill_after_second_epoch)
    with pytest.raises(Killed):
        train_lib.train(tiny_args(out, epochs=4, overwrite=True), verbose=0)
    assert (out / "metrics.json").read_text() == old_metrics  # the old folder is intact
    assert (tmp_path / "vae.partial" / "checkpoint").exists()
    monkeypatch.setattr(train_lib.WallClock, "on_epoch_end", original)

    seen_epochs = []
    monkeypatch.setattr(train_lib.SampleGridToTensorBoard, "on_epoch_end",
                        lambda self, epoch, logs=None: seen_epochs.append(epoch))
    train_lib.train({"out": str(out), "resume": True}, verbose=0)
    assert seen_epochs == [2, 3]  # epochs 1-2 were not run again
    model = zoo.load(str(out))
    assert int(model.optimizer.iterations) == 4 * 11  # the step counter carried over
    assert json.loads((out / "metrics.json").read_text())["epochs"] == 4
    assert not (tmp_path / "vae.partial").exists()


def test_an_unfinished_run_is_never_discarded_silently(tmp_path, monkeypatch, capsys):
    out = tmp_path / "vae"
    original = train_lib.WallClock.on_epoch_end

    def kill(self, epoch, logs=None):
        original(self, epoch, logs)
        raise KeyboardInterrupt()

    monkeypatch.setattr(train_lib.WallClock, "on_epoch_end", kill)
    with pytest.raises(KeyboardInterrupt):
        train_lib.train(tiny_args(out, epochs=3), verbose=0)
    monkeypatch.setattr(train_lib.WallClock, "on_epoch_end", original)
    assert main(["train", *TINY_RUN, "--out", str(out)]) == 2
    assert "Pass --resume to continue it, or --restart" in capsys.readouterr().err
    assert (tmp_path / "vae.partial" / "checkpoint").exists()
    assert main(["train", *TINY_RUN, "--out", str(out), "--restart"]) == 0
    assert not (tmp_path / "vae.partial").exists()


def test_resume_without_a_checkpoint(tmp_path, capsys):
    assert main(["train", *TINY_RUN, "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "Nothing to resume" in capsys.readouterr().err


def test_module_runs_as_a_script(tmp_path):
    result = subprocess.run([sys.executable, "-m", "training", "train", "--help"],
                            capture_output=True, text=True, cwd=os.getcwd())
    assert result.returncode == 0 and "--nll-samples" in result.stdout


def test_export_from_the_cli(tmp_path, capsys):
    out = tmp_path / "vae"
    assert main(["train", *TINY_RUN, "--epochs", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["export", str(out), "--out", str(tmp_path / "serve" / "vae_digits")]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "serve" / "vae_digits" / "1" / "saved_model.pb").exists()
    assert "docker run" in printed and "/models/vae_digits" in printed
    assert main(["export", str(out), "--out", str(tmp_path / "serve" / "vae_digits"),
                 "--version", "1"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["benchmark", str(tmp_path / "serve" / "vae_digits" / "1"),
                 "--repeats", "3"]) == 0
    assert "serving_default, batch 256" in capsys.readouterr().out


def test_export_of_a_damaged_folder(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing"), "--out", str(tmp_path / "e")]) == 2
    assert "neither a model folder nor a preset" in capsys.readouterr().err


def test_num_pseudo_inputs_reaches_only_the_vampprior():
    recipe = train_lib.resolve_recipe({"model": "vamp", "num_pseudo_inputs": 7,
                                       "dataset": "digits"})
    model = train_lib.build_model(recipe, (8, 8, 1), steps_per_epoch=1)
    assert model.num_pseudo_inputs == 7
    assert "--num-pseudo-inputs 7" in train_lib.reproducing_command(recipe)
    vae_recipe = train_lib.resolve_recipe({"model": "vae", "dataset": "digits"})
    assert "--num-pseudo-inputs" not in train_lib.reproducing_command(vae_recipe)
    assert "num_pseudo_inputs" not in vae_recipe


def test_gae_options_reach_only_the_gae(tmp_path, capsys):
    recipe = train_lib.resolve_recipe({"model": "gae", "dataset": "digits", "lambda1": 0.2})
    model = train_lib.build_model(recipe, (8, 8, 1), steps_per_epoch=1, num_training_images=30)
    assert model.num_components == 30 and model.lambda1 == 0.2 and model.lambda2 == 0.05
    command = train_lib.reproducing_command(recipe)
    assert "--lambda1 0.2" in command and "--num-components" not in command
    with pytest.raises(ValueError, match="does not take --lambda1 \\(an option of: gae\\)"):
        train_lib.resolve_recipe({"model": "vae", "dataset": "digits", "lambda1": 0.2})
    # A cache of another size than the training set is refused with both numbers.
    assert main(["train", *TINY_RUN, "--epochs", "1", "--model", "gae", "--num-components",
                 "10", "--out", str(tmp_path / "gae")]) == 2
    assert "num_components=10 but the training set holds 1197" in capsys.readouterr().err
