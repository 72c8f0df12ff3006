"""Every committed preset loads in a fresh process, reproduces its golden values, and (slow)
re-measures a cheap version of its metrics against metrics.json."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import zoo
from training import data as data_lib
from training.evaluation.leaderboard import render
from training.pictures import picture_targets
from zoo.presets import presets_dir

SHARED_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "..", "shared", "data")
# data set -> (environment variable, the shared folder its loader reads through it)
SHARED_FOLDERS = {"pokemon": ("ZOO_POKEMON_DIR", os.path.join(SHARED_DATA, "pokemon")),
                  "jsb_chorales": ("ZOO_JSB_DIR", os.path.join(SHARED_DATA, "jsb_chorales"))}
PRESETS = zoo.list_presets()
GENERATIVE = [p for p in PRESETS if p != "mnist_classifier"]


def _recorded(name):
    with open(os.path.join(presets_dir(), name, "metrics.json")) as f:
        return json.load(f)


WITH_NLL = [p for p in GENERATIVE if "test_nll" in _recorded(p)]
WITH_ERROR = [p for p in GENERATIVE if "test_error" in _recorded(p)]

FRESH_PROCESS = """
import json, sys
import numpy as np
import zoo
from training import data
from training.evaluation.classifier import golden_logits
from training.pictures import picture_targets
from training.presets.builder import golden_values
out = {}
for name in zoo.list_presets():
    model = zoo.load(name)
    if name == "mnist_classifier":
        out[name] = {"logits": golden_logits(model, data.load_dataset("mnist").test.x)}
        continue
    recipe = json.load(open(zoo.presets.resolve(name) + "/metadata.json"))["recipe"]
    try:
        ds = data.load_dataset(recipe["dataset"], None)
    except data.DataError as e:  # e.g. the Pokemon sprites are not on this machine
        out[name] = {"skipped": str(e)}
        continue
    arrays = data.prepare(ds, recipe["binarization"])
    out[name] = golden_values(model, arrays["x_test"], picture_targets(model, arrays))
json.dump(out, sys.stdout)
"""


def data_environment():
    """The environment in which presets find their data: the shared Pokémon sprites and JSB
    chorales when they are next to the repository (../shared/data), never a download."""
    environment = dict(os.environ)
    for variable, folder in SHARED_FOLDERS.values():
        if os.path.isdir(folder):
            environment.setdefault(variable, folder)
    return environment


def preset_arrays(name, monkeypatch):
    """(model, recipe, arrays of its data set), or a skip when the data are not here."""
    for key, value in data_environment().items():
        monkeypatch.setenv(key, value)
    recipe = json.load(open(os.path.join(presets_dir(), name, "metadata.json")))["recipe"]
    try:
        dataset = data_lib.load_dataset(recipe["dataset"])
    except data_lib.DataError as e:
        pytest.skip(f"{name}: its data are not on this machine ({e})")
    return recipe, data_lib.prepare(dataset, recipe["binarization"])


def test_presets_are_listed_with_complete_folders():
    assert "mnist_classifier" in PRESETS
    for name in PRESETS:
        folder = os.path.join(presets_dir(), name)
        for f in ("config.json", "model.weights.h5", "metadata.json", "metrics.json",
                  "README.md", "golden.json"):
            assert os.path.exists(os.path.join(folder, f)), (name, f)
        assert os.path.getsize(os.path.join(folder, "model.weights.h5")) < 10 * 2**20


def test_every_preset_loads_in_a_fresh_process_with_its_golden_values(tmp_path):
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS], capture_output=True,
                            text=True, cwd=os.getcwd(), timeout=600, env=data_environment())
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout)
    assert sorted(measured) == PRESETS
    for name in PRESETS:
        with open(os.path.join(presets_dir(), name, "golden.json")) as f:
            golden = json.load(f)
        if "skipped" in measured[name]:
            dataset = json.load(open(os.path.join(presets_dir(), name, "metadata.json"))
                                )["recipe"]["dataset"]
            shared = SHARED_FOLDERS.get(dataset, (None, ""))[1]
            assert not os.path.isdir(shared), measured[name]["skipped"]
            continue  # its data are not on this machine
        for key, value in golden.items():
            np.testing.assert_allclose(measured[name][key], value, rtol=1e-4, atol=1e-4,
                                       err_msg=f"{name}: {key}")


# One preset per family of signatures runs by default (the harness exports every model class
# in tests/zoo/test_export.py); the others' trained weights are exported under -m slow.
SERVED_BY_DEFAULT = ("vae_mnist", "cvae_mnist", "m1m2_mnist_100", "pixel_lstm_pokemon",
                     "vrae_jsb", "vaegan_mnist")


@pytest.mark.parametrize("name", [pytest.param(p, marks=[pytest.mark.slow] * (
    p not in SERVED_BY_DEFAULT)) for p in GENERATIVE])
def test_every_preset_exports_and_serves_in_the_session_loader(name, tmp_path, monkeypatch):
    """The SavedModel of each preset runs in a fresh process through TF Serving's loader (the
    TF1 session loader, importing neither the project nor TFP) and agrees with Python."""
    from tests.zoo.test_export import run_in_fresh_process
    from zoo.export import export_model

    model = zoo.load(name, compile=False)
    recipe, arrays = preset_arrays(name, monkeypatch)
    x, targets = arrays["x_test"][:3], picture_targets(model, arrays)[:3]
    sequence = model.modality == "piano_roll"  # its signatures take the step masks
    out = run_in_fresh_process(export_model(model, str(tmp_path / name)), x, tmp_path,
                               labels=None if sequence else targets.astype(np.int32),
                               mask=targets if sequence else None)
    assert json.loads(str(out["imported_project_or_tfp"])) == []
    given = model.conditioning(targets)
    assert out["sample_a1_x"].shape == (6, *x.shape[1:])
    if model.capabilities.latent == "single":
        np.testing.assert_allclose(out["reconstruction"], model.reconstruct(x, **given),
                                   atol=1e-4)
        np.testing.assert_allclose(out["encode_mean"], model.encode(x, **given), atol=1e-4)
    if model.capabilities.density == "exact":
        np.testing.assert_allclose(out["log_prob"], model.log_prob(x, **given), rtol=1e-5)
    if model.capabilities.completion:
        half = x.shape[1] * x.shape[2] // 2
        np.testing.assert_array_equal(out["complete_a1_x"].reshape(3, -1)[:, :half],
                                      x.reshape(3, -1)[:, :half])
    if model.capabilities.classifier:
        np.testing.assert_array_equal(out["classify_label"], model.classify(x)[1])


def test_leaderboard_is_generated_from_the_metrics_files():
    with open(os.path.join(presets_dir(), "README.md")) as f:
        assert f.read() == render(), "run `python -m training leaderboard`"


@pytest.mark.slow
@pytest.mark.parametrize("name", WITH_NLL)
def test_cheap_nll_agrees_with_metrics_json(name, monkeypatch):
    """NLL with k=100 on 500 test images: a looser bound on a subset, so within a few nats
    (an exact density: the same number where the test set has at most 500 images)."""
    from training.evaluation.suite import evaluate

    preset_arrays(name, monkeypatch)  # its data (skipped when they are not here)
    with open(os.path.join(presets_dir(), name, "metrics.json")) as f:
        recorded = json.load(f)
    cheap = evaluate(name, ["nll"], num_samples=100, max_images=500, write=False, verbose=0)
    assert cheap["test_nll"] >= recorded["test_nll"] - 3 * cheap["test_nll_stderr"]
    assert abs(cheap["test_nll"] - recorded["test_nll"]) < 3.0


@pytest.mark.slow
def test_classifier_accuracy_agrees_with_metrics_json():
    model = zoo.load("mnist_classifier")
    ds = data_lib.load_dataset("mnist")
    logits = np.concatenate([np.asarray(model(ds.test.x[i:i + 1000]))
                             for i in range(0, 10000, 1000)])
    with open(os.path.join(presets_dir(), "mnist_classifier", "metrics.json")) as f:
        recorded = json.load(f)["test_accuracy"]
    assert np.mean(logits.argmax(1) == ds.test.y) == pytest.approx(recorded, abs=1e-4)


def test_fine_tuning_vae_mnist_on_one_digit_improves_its_elbo():
    """The README's example: adapt the pretrained VAE to sevens with `fit`."""
    if "vae_mnist" not in PRESETS:
        pytest.skip("vae_mnist is not built")
    arrays = data_lib.prepare(data_lib.load_dataset("mnist"), "dynamic")
    sevens = arrays["x_train"][arrays["y_train"] == 7]
    test_sevens = arrays["x_test"][arrays["y_test"] == 7]
    vae = zoo.load("vae_mnist")
    vae.compile(optimizer=keras.optimizers.Adam(1e-4))
    before = float(np.mean(vae.elbo(test_sevens, seed=[5, 5])))
    vae.fit(data_lib.train_pipeline(sevens, 100, dynamic_binarization=True), epochs=5, verbose=0)
    after = float(np.mean(vae.elbo(test_sevens, seed=[5, 5])))
    assert after > before + 0.3, (before, after)  # measured: -80.44 -> -79.38 nats


@pytest.mark.slow
@pytest.mark.parametrize("name", [p for p in GENERATIVE if "fd" in _recorded(p)])
def test_parzen_and_fd_reproduce_metrics_json(name):
    """Parzen and FD are deterministic given the seed: the same protocol gives the same numbers."""
    from training.evaluation.suite import evaluate

    with open(os.path.join(presets_dir(), name, "metrics.json")) as f:
        recorded = json.load(f)
    again = evaluate(name, ["parzen", "fd"], write=False, verbose=0)
    assert again["parzen_log_likelihood"] == pytest.approx(recorded["parzen_log_likelihood"],
                                                           abs=0.05)
    assert again["fd"] == pytest.approx(recorded["fd"], rel=1e-3, abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", WITH_ERROR)
def test_classification_error_reproduces_metrics_json(name):
    """q(y|x) is deterministic: the semi-supervised test error is measured again exactly."""
    from training.evaluation.suite import evaluate

    again = evaluate(name, ["error"], write=False, verbose=0)
    assert again["test_error"] == pytest.approx(_recorded(name)["test_error"], abs=1e-4)
