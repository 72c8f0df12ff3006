"""A model with two optimizers (tests/toy_models.py: ToyGAN) end to end: `fit` through the
command's recipe, kill and resume, model folders, per-group learning rates, mixed precision,
the multi-worker loop on 2 local workers, and the export in a fresh session loader."""

import json
import os

import keras
import numpy as np
import pytest

import zoo
from tests.conftest import inputs_for, make_model
from tests.training.test_distribute import _env, _train_on_two_workers
from training.run import train as train_lib
from zoo.optimizers import GroupedOptimizer

TINY = {"model": "toy_gan", "dataset": "digits", "batch_size": 100, "latent_dim": 4,
        "hidden_units": [16]}


def group_steps(model):
    return {g: int(o.iterations.numpy())
            for g, o in model.optimizer.group_optimizers.items()}


def test_each_group_has_its_own_optimizer_and_learning_rate():
    model = make_model("toy_gan", {})
    model.compile(optimizer={"discriminator": keras.optimizers.Adam(1e-3),
                             "generator": keras.optimizers.SGD(1e-2)})
    assert isinstance(model.optimizer, GroupedOptimizer)
    x = inputs_for(model, n=32)
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    optimizers = model.optimizer.group_optimizers
    assert group_steps(model) == {"discriminator": 2, "generator": 2}
    assert float(optimizers["generator"].learning_rate) == pytest.approx(1e-2)
    # Adam keeps two moments per discriminator variable; SGD without momentum none.
    assert len(optimizers["discriminator"].variables) > len(optimizers["generator"].variables)
    with pytest.raises(ValueError, match=r"names no optimizer for the groups \['generator'\]"):
        make_model("toy_gan", {}).compile(optimizer={"discriminator": "adam"})


def test_mixed_precision_with_two_optimizers_is_finite():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = make_model("toy_gan", {})
        model.compile(optimizer="adam")
        history = model.fit(inputs_for(model, n=32), batch_size=16, epochs=1, verbose=0)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert int(model.optimizer.iterations) == 2


def test_train_kill_resume_and_folder_keep_every_optimizer(tmp_path, monkeypatch):
    out = tmp_path / "gan"

    def killed(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt

    original = train_lib.WallClock.on_epoch_end
    monkeypatch.setattr(train_lib.WallClock, "on_epoch_end", killed)
    with pytest.raises(KeyboardInterrupt):
        train_lib.train({**TINY, "epochs": 4, "out": str(out)}, verbose=0)
    monkeypatch.setattr(train_lib.WallClock, "on_epoch_end", original)
    assert not out.exists() and (tmp_path / "gan.partial" / "checkpoint").exists()

    folder, metrics = train_lib.train({"out": str(out), "resume": True}, verbose=0)
    model = zoo.load(folder)
    # 1197 digits / 100 = 11 steps per epoch; 4 epochs for both groups, across the kill.
    assert group_steps(model) == {"discriminator": 44, "generator": 44}
    assert metrics["epochs"] == 4 and "test_nll" not in metrics  # no density, no NLL
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["optimizer"]["class_name"] == "GroupedOptimizer"
    assert (out / "samples.png").exists() and not (out / "reconstructions.png").exists()
    model.fit(inputs_for(model, n=100), batch_size=50, epochs=1, verbose=0)
    assert group_steps(model) == {"discriminator": 46, "generator": 46}


def test_export_of_a_model_without_latent_or_density(tmp_path):
    from tests.zoo.test_export import run_in_fresh_process
    from zoo.export import export_model

    model = make_model("toy_gan", {})
    x = inputs_for(model, n=4)
    export_dir = export_model(model, str(tmp_path / "export"))
    out = run_in_fresh_process(export_dir, x, tmp_path)
    assert json.loads(str(out["signatures"])) == ["sample", "serving_default"]
    np.testing.assert_array_equal(out["sample_a1_x"], out["sample_a2_x"])  # seeded
    assert out["sample_a1_x"].shape == (6, 8, 8, 1)
    assert "num_samples must be between" in str(out["error_sample_count"])


@pytest.mark.slow
def test_two_workers_train_both_optimizers_identically(tmp_path):
    out = tmp_path / "gan"
    args = ["--model", "toy_gan", "--dataset", "digits", "--latent-dim", "4", "--hidden-units",
            "16", "--epochs", "2", "--batch-size", "50", "--verbose", "2", "--out", str(out)]
    logs, digests = _train_on_two_workers(args, tmp_path,
                                          env=_env(ZOO_PLUGINS="tests.toy_models"))
    assert digests[0][0] == "22"
    assert "d_loss" in logs[0] and "g_loss" in logs[0]  # the model's own metrics, per epoch
    model = zoo.load(str(out))
    assert group_steps(model) == {"discriminator": 22, "generator": 22}
    assert os.path.exists(out / "samples.png")
