"""A newcomer's first hour (issue 12): quiet start-up, a `--help` that says what exists, and one
clear line (exit status 2) for the mistakes a newcomer makes, never a traceback."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import zoo
from training.__main__ import main
from training.commands import parser
from training.evaluation.suite import METRICS
from training.pictures import PLOT_WRITERS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# TensorFlow's C++ start-up messages: the cuInit error on machines without a GPU, the oneDNN and
# CPU-feature notices, absl's banner.
TF_NOISE = re.compile(r"cuinit|onednn|cuda|absl::|cpu_feature_guard", re.IGNORECASE)


def _fresh_env():
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "ZOO_PRESETS_DIR", "ZOO_PLUGINS")}
    env["PYTHONPATH"] = ROOT
    return env


def _run(args, tmp_path):
    return subprocess.run([sys.executable, *args], cwd=tmp_path, env=_fresh_env(),
                          capture_output=True, text=True, timeout=120)


# --- start-up noise ----------------------------------------------------------------------------

def test_tensorflow_start_up_noise_is_hidden(tmp_path):
    done = _run(["-m", "training", "models"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "vae" in done.stdout.split()
    noise = [line for line in done.stderr.splitlines() if TF_NOISE.search(line)]
    assert noise == []


@pytest.mark.slow  # three TensorFlow start-ups in fresh processes
def test_tf_log_lets_the_start_up_messages_through(tmp_path):
    # Whether TensorFlow prints anything at start-up depends on the machine: compare with a bare
    # import of TensorFlow and TFP in the same environment (the import `models` makes).
    bare = _run(["-c", "import tensorflow, tensorflow_probability; tensorflow.constant(0)"],
                tmp_path)
    shown = _run(["-m", "training", "--tf-log", "models"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    if any(TF_NOISE.search(line) for line in bare.stderr.splitlines()):
        assert any(TF_NOISE.search(line) for line in shown.stderr.splitlines()), shown.stderr


# --- --help ------------------------------------------------------------------------------------

def _subparser(name):
    p = parser()
    sub = next(a for a in p._actions if a.choices and name in a.choices)
    return sub.choices[name]


def _flat(text):
    return " ".join(text.split())


@pytest.mark.parametrize("command", ["train", "evaluate", "plot"])
def test_help_gives_each_default_once(command):
    sub = _subparser(command)
    shown = _flat(sub.format_help())
    for action in sub._actions:
        if not action.option_strings or not action.help:
            continue
        assert _flat(action.help).replace("%%", "%") in shown, action.option_strings
        said = re.findall(r"\bdefault\b", action.help, re.IGNORECASE)
        assert len(said) <= 1, f"{action.option_strings[0]} states its default {len(said)} times"
        # An argparse default the option really has is stated (store_true flags excepted).
        if action.default not in (None, False, True) and action.nargs != 0:
            value = ",".join(map(str, action.default)) if isinstance(
                action.default, (list, tuple)) else str(action.default)
            assert re.search(rf"\bdefault:? {re.escape(value)}\b", action.help), (
                f"{action.option_strings[0]} does not state its default {value}")


def test_train_help_lists_every_model():
    shown = _subparser("train").format_help()
    missing = [m for m in zoo.list_models() if not re.search(rf"\b{re.escape(m)}\b", shown)]
    assert "m1m2" in zoo.list_models() and missing == []


def test_evaluate_help_lists_every_metric():
    shown = _subparser("evaluate").format_help()
    assert [m for m in METRICS if not re.search(rf"\b{m}\b", shown)] == []


def test_plot_help_lists_every_generic_picture():
    shown = _subparser("plot").format_help()
    assert [k for k in PLOT_WRITERS if not re.search(rf"\b{k}\b", shown)] == []


# --- clear errors ------------------------------------------------------------------------------

def _one_error_line(capsys, argv):
    """Runs the command line in this process; an unexpected exception fails the test."""
    status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("command", ["evaluate", "plot"])
def test_a_preset_that_is_not_a_generative_model_is_refused(capsys, tmp_path, command):
    # mnist_classifier is the FD metric's feature classifier: no capabilities, no pictures.
    out = ["--out", str(tmp_path / "p.png")] if command == "plot" else []
    err = _one_error_line(capsys, [command, "mnist_classifier", *out])
    assert "mnist_classifier" in err


def _train_on(path, tmp_path):
    return ["train", "--model", "vae", "--dataset", "mnist", "--data-path", str(path),
            "--epochs", "1", "--nll-samples", "2", "--out", str(tmp_path / "run")]


def test_a_npy_file_as_data_path_is_refused(capsys, tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, np.zeros((10, 28, 28), np.float32))
    err = _one_error_line(capsys, _train_on(path, tmp_path))
    assert "images.npy" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("make", ["npz_of_empty_arrays", "empty_npy"])
def test_an_empty_array_file_is_refused(capsys, tmp_path, make):
    if make == "empty_npy":
        path = tmp_path / "empty.npy"
        np.save(path, np.zeros((0, 28, 28), np.float32))
    else:
        path = tmp_path / "empty.npz"
        np.savez(path, x_train=np.zeros((0, 28, 28)), y_train=np.zeros((0,)),
                 x_test=np.zeros((0, 28, 28)), y_test=np.zeros((0,)))
    err = _one_error_line(capsys, _train_on(path, tmp_path))
    assert path.name in err
