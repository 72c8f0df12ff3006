"""Sequence models through the command line: training on a chorale file with step masks, the
per-step NLL and the KL in metrics.json, piano-roll pictures, MIDI samples and interpolation,
and evaluation on another data set of chorales."""

import json
import os

import numpy as np
import pytest

import zoo
from tests.conftest import piano_rolls
from training.__main__ import main
from training.data import load_dataset, method_targets, prepare, read_chorales
from training.data.music import roll_from_file


def chorale_file(path, seed):
    """A JSB-format file: 12 / 4 / 4 synthetic chorales of 5 to 12 steps."""
    rng = np.random.default_rng(seed)
    rolls = piano_rolls(20, 12, seed)
    lengths = rng.integers(5, 13, 20)
    pieces = [[[int(k) + 21 for k in np.flatnonzero(step)] for step in roll[:n]]
              for roll, n in zip(rolls, lengths)]
    with open(path, "w") as f:
        json.dump({"train": pieces[:12], "valid": pieces[12:16], "test": pieces[16:]}, f)
    return str(path)


@pytest.fixture(scope="module")
def chorales(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chorales")
    return chorale_file(folder / "a.json", 0), chorale_file(folder / "b.json", 1)


@pytest.fixture(scope="module")
def trained_vrae(chorales, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "vrae")
    assert main(["train", "--model", "vrae", "--dataset", "jsb_chorales", "--data-path",
                 chorales[0], "--rnn-units", "8", "--encoder-units", "8", "--latent-dim", "3",
                 "--free-bits", "0.1", "--epochs", "2", "--batch-size", "4", "--nll-samples",
                 "4", "--verbose", "0", "--out", out]) == 0
    return out


def test_masks_ride_along_as_the_targets_of_sequence_models(chorales):
    arrays = prepare(load_dataset("jsb_chorales", chorales[0]), "none")
    mask = method_targets(zoo.VRAE.capabilities, arrays, "test")
    lengths = [len(piece) for piece in read_chorales(chorales[0])["test"]]
    np.testing.assert_array_equal(mask.sum(1), lengths)
    assert method_targets(zoo.VAE.capabilities, arrays, "test") is None


def test_a_vrae_run_reports_the_nll_per_step_and_the_kl(trained_vrae, chorales):
    metrics = json.loads(open(os.path.join(trained_vrae, "metrics.json")).read())
    steps = sum(len(p) for p in read_chorales(chorales[0])["test"])
    assert metrics["test_steps"] == steps
    assert metrics["test_nll_per_step"] == pytest.approx(metrics["test_nll"] * 4 / steps)
    assert np.isfinite(metrics["test_kl"]) and metrics["test_kl"] >= 0
    assert "per time step" in metrics["protocol"]["per_step"]
    for picture in ("samples.png", "reconstructions.png"):
        assert os.path.getsize(os.path.join(trained_vrae, picture)) > 1000


def test_sample_writes_midi_that_reads_back_and_an_interpolation(trained_vrae, tmp_path,
                                                                  capsys):
    out = str(tmp_path / "music")
    assert main(["sample", trained_vrae, "--out", out, "--num-samples", "2", "--num-steps", "6",
                 "--interpolate", "0,1", "--seed", "3"]) == 0
    assert "sample_02.mid" in capsys.readouterr().out
    drawn = np.asarray(zoo.load(trained_vrae).sample(2, seed=3, num_steps=6))
    for i in range(2):
        back = roll_from_file(os.path.join(out, f"sample_{i + 1:02d}.mid"))
        last = int(np.flatnonzero(drawn[i].any(1))[-1]) + 1  # MIDI ends at the last sound
        np.testing.assert_array_equal(back, drawn[i][:last])
    for name in ("samples.png", "interpolation.mid", "interpolation.png"):
        assert os.path.getsize(os.path.join(out, name)) > 100
    assert main(["sample", trained_vrae, "--out", out, "--interpolate", "0,99"]) == 2
    assert "not among the 4 test sequences" in capsys.readouterr().err


def test_evaluate_on_another_chorale_set_keeps_its_own_figures_apart(trained_vrae, chorales,
                                                                     capsys):
    assert main(["evaluate", trained_vrae, "--metrics", "nll", "--num-samples", "4",
                 "--dataset", "jsb_chorales", "--data-path", chorales[1], "--out",
                 os.path.join(os.path.dirname(trained_vrae), "other.json")]) == 0
    printed = capsys.readouterr().out
    assert "On the test split of jsb_chorales" in printed and "NLL per time step" in printed
    other = json.loads(open(os.path.join(os.path.dirname(trained_vrae), "other.json")).read())
    assert "jsb_chorales_test_nll_per_step" in other and "test_nll" not in other
    assert main(["evaluate", trained_vrae, "--metrics", "parzen"]) == 2
    assert "cannot be measured with parzen" in capsys.readouterr().err


@pytest.mark.parametrize("model, flags", [("note_rnn", ["--rnn-units", "8"]),
                                          ("vrnn", ["--rnn-units", "8", "--hidden-units", "8",
                                                    "--latent-dim", "3"])])
def test_the_other_sequence_models_train_from_the_cli(model, flags, chorales, tmp_path):
    out = str(tmp_path / model)
    assert main(["train", "--model", model, "--dataset", "jsb_chorales", "--data-path",
                 chorales[0], *flags, "--epochs", "1", "--batch-size", "4", "--nll-samples", "3",
                 "--verbose", "0", "--out", out]) == 0
    metrics = json.loads(open(os.path.join(out, "metrics.json")).read())
    assert np.isfinite(metrics["test_nll_per_step"])
    assert ("exact" in metrics["protocol"]["nll"]) == (model == "note_rnn")
