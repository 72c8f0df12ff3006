"""Model folders: atomic writes, sha256 verification, clear errors for damaged folders."""

import json
import os

import keras
import numpy as np
import pytest

import zoo
from tests.conftest import inputs_for, make_model
from zoo.saving import ModelFolderError


@pytest.fixture()
def folder(tmp_path):
    model = make_model("vae", {})
    model.compile(optimizer="adam")
    return zoo.save(model, str(tmp_path / "m"), metadata={"recipe": {}}, metrics={"x": 1.0})


def test_metadata_records_hashes_and_versions(folder):
    meta = json.load(open(os.path.join(folder, "metadata.json")))
    assert set(meta["sha256"]) == {"config.json", "model.weights.h5", "metrics.json"}
    assert meta["versions"]["tensorflow"] and meta["model_class"] == "VAE"


def test_tampered_file(folder):
    with open(os.path.join(folder, "config.json"), "a") as f:
        f.write(" ")
    with pytest.raises(ModelFolderError, match="config.json does not match the sha256"):
        zoo.load(folder)


def test_truncated_weights(folder):
    path = os.path.join(folder, "model.weights.h5")
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(ModelFolderError, match="truncated or was modified"):
        zoo.load(folder)


def test_missing_file(folder):
    os.remove(os.path.join(folder, "model.weights.h5"))
    with pytest.raises(ModelFolderError, match="missing model.weights.h5"):
        zoo.load(folder)


def test_not_a_model_folder(tmp_path):
    with pytest.raises(ModelFolderError, match="neither a model folder nor a preset"):
        zoo.load(str(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFolderError, match="no metadata.json"):
        zoo.load(str(tmp_path / "empty"))


def test_incompatible_format_version(folder):
    path = os.path.join(folder, "metadata.json")
    meta = json.load(open(path))
    meta["format_version"] = 99
    json.dump(meta, open(path, "w"))
    with pytest.raises(ModelFolderError, match="format 99"):
        zoo.load(folder)


def test_incompatible_keras_version(folder):
    path = os.path.join(folder, "metadata.json")
    meta = json.load(open(path))
    meta["versions"]["keras"] = "2.15.0"
    json.dump(meta, open(path, "w"))
    with pytest.raises(ModelFolderError, match="saved with Keras 2.15.0"):
        zoo.load(folder)


def test_failed_save_keeps_the_previous_folder(folder):
    model = make_model("vae", {})
    before = open(os.path.join(folder, "model.weights.h5"), "rb").read()

    def fail(tmp):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        zoo.save(model, folder, write_extra=fail, overwrite=True)
    assert open(os.path.join(folder, "model.weights.h5"), "rb").read() == before
    zoo.load(folder)
    parent = os.path.dirname(folder)
    assert [p for p in os.listdir(parent) if p.startswith(".")] == []


def test_replacing_a_folder(folder):
    model = make_model("vae", {"seed": 7})
    with pytest.raises(ModelFolderError, match="already holds a model; replacing it needs"):
        zoo.save(model, folder)  # never replaced by accident
    zoo.save(model, folder, overwrite=True)
    loaded = zoo.load(folder)
    x = inputs_for(model, n=2)
    np.testing.assert_allclose(loaded.reconstruct(x), model.reconstruct(x), atol=1e-6)


def test_presets_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_PRESETS_DIR", str(tmp_path))
    model = make_model("vae", {})
    model.compile(optimizer="adam")
    model.fit(inputs_for(model, n=16), epochs=1, verbose=0)
    model.save_to_preset(str(tmp_path / "tiny_vae"), metrics={"test_nll": 1.0})
    assert zoo.list_presets() == ["tiny_vae"]
    loaded = zoo.VAE.from_preset("tiny_vae")
    assert int(loaded.optimizer.iterations) == 0  # presets carry no optimizer state
    x = inputs_for(model, n=2)
    np.testing.assert_allclose(loaded.reconstruct(x), model.reconstruct(x), atol=1e-6)
    loaded.fit(inputs_for(model, n=16), epochs=1, verbose=0)
    with pytest.raises(TypeError, match="holds a VAE, not a IWAE"):
        zoo.IWAE.from_preset("tiny_vae")
    with pytest.raises(ModelFolderError, match="Presets: tiny_vae"):
        zoo.load("no_such_preset")


def test_optimizer_with_a_schedule_is_restored(tmp_path):
    """A run trained with a learning-rate schedule reloads the same optimizer (no LR variable)
    and all of its state, so fine-tuning continues where training stopped."""
    model = make_model("vae", {})
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=100, alpha=0.1)
    model.compile(optimizer=keras.optimizers.Adam(schedule))
    model.fit(inputs_for(model, n=32), batch_size=16, epochs=1, verbose=0)
    loaded = zoo.load(zoo.save(model, str(tmp_path / "m")))
    assert isinstance(loaded.optimizer._learning_rate,
                      keras.optimizers.schedules.CosineDecay)
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
