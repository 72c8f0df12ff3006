"""Every model class exports a SavedModel that the TF Serving loader (the TF1 session loader, in
a fresh process importing neither the project nor TFP) loads and runs, signature by signature."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import training.serving.session_loader
from tests.conftest import MODEL_CASES, condition_for, inputs_for, make_model
from zoo.export import MAX_SAMPLES, export_model, next_version

LOADER = training.serving.session_loader.__file__


def run_in_fresh_process(export_dir, x, tmp_path, labels=None, mask=None):
    inputs, outputs = tmp_path / "in.npz", tmp_path / "out.npz"
    extra = {k: v for k, v in (("labels", labels), ("mask", mask)) if v is not None}
    np.savez(inputs, x=x, **extra)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, LOADER, export_dir, str(inputs), str(outputs)],
                            capture_output=True, text=True, cwd=str(tmp_path), env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(outputs) as f:
        return {k: f[k] for k in f.files}


# Cases whose signatures and export code another case already runs (vae-mlp, conditional-dcgan,
# draw-attention, gan-maxout): exported under -m slow only, to keep the default suite short.
SLOW_EXPORT = ("betavae-fixedgaussian-warmup", "iwae", "dcgan", "draw-no-attention",
               "toy-gan-two-optimizers")


@pytest.mark.parametrize("model_case", [
    pytest.param(case, id=case[0], marks=[pytest.mark.slow] * (case[0] in SLOW_EXPORT))
    for case in MODEL_CASES])
def test_every_model_exports_and_serves(model_case, tmp_path):
    _, name, overrides = model_case
    model = make_model(name, overrides)
    x = inputs_for(model, n=5)
    if model.modality == "piano_roll":
        return check_sequence_export(model, x, tmp_path)
    # The labels the loader feeds to every signature that takes them.
    labels = {**condition_for(model, n=5, endpoint="decode"), **condition_for(model, n=5)
              }.get("labels")
    export_dir = export_model(model, str(tmp_path / "export"))
    out = run_in_fresh_process(export_dir, x, tmp_path, labels)

    def given(endpoint, n=5):
        """The labels the loader fed to `endpoint` (repeated to n), as model keywords."""
        cond = condition_for(model, n=5, endpoint=endpoint)
        return {"labels": np.resize(cond["labels"], n)} if cond else {}

    assert json.loads(str(out["imported_project_or_tfp"])) == []
    capabilities = model.capabilities
    expected = {"serving_default", "sample"} | (
        {"encode", "decode"} if capabilities.latent == "single" else set()) | (
        {"log_prob"} if capabilities.has_density else set()) | (
        {"classify"} if capabilities.classifier else set()) | (
        {"complete"} if capabilities.completion else set()) | (
        {"generate", "discriminate"} if capabilities.adversarial else set()) | (
        {"score"} if model.anomaly_score_kind else set()) | (
        set(model.serving_endpoints()))  # a model's own signatures (DRAW: canvases)
    assert set(model.exported_endpoints()) == expected
    assert set(json.loads(str(out["signatures"]))) == expected
    if model.anomaly_score_kind:  # the loader's k and seed, as for log_prob
        np.testing.assert_allclose(out["score"], model.anomaly_score(
            x, num_samples=16, seed=np.array([1, 2]), **given("score")), rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(out["sample_a1_x"], out["sample_a2_x"])  # seeded
    if capabilities.completion:  # the first half kept, seeded, as the Python model draws
        half = x.shape[1] * x.shape[2] // 2
        completed = out["complete_a1_x"]
        np.testing.assert_array_equal(completed, out["complete_a2_x"])
        np.testing.assert_array_equal(completed.reshape(5, -1)[:, :half],
                                      x.reshape(5, -1)[:, :half])
        python = model.complete(x, half, 1, seed=np.array([1, 2]), **given("complete"))[:, 0]
        np.testing.assert_array_equal(completed, python)
        assert "num_known must be between 0 and" in str(out["error_num_known"])
    if capabilities.adversarial:  # G of the sampled z; D(x) as the Python model scores it
        np.testing.assert_allclose(out["generate_x"], out["sample_a1_x"], atol=1e-5)
        np.testing.assert_allclose(out["generate_x"], model.generate(
            out["sample_a1_z"], **given("generate", n=6)), atol=1e-5)
        logits = np.asarray(model.discriminate(x, **given("discriminate")))
        np.testing.assert_allclose(out["discriminate_logits"], logits, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(out["discriminate_probability"], 1 / (1 + np.exp(-logits)),
                                   atol=1e-5)
        assert "Cannot feed value of shape" in str(out["error_shape"]) \
            or "x must have shape" in str(out["error_shape"])
        assert "must be in [0, 1]" in str(out["error_values"])
    if capabilities.latent != "single":  # a generator without encoder
        assert out["sample_a1_x"].shape == (6, *model.event_shape)
        np.testing.assert_allclose(out["sample_a1_x"], model.sample(
            6, seed=np.array([1, 2]), **given("sample", 6)), atol=1e-5)
        if "reconstruction" in out:  # a serving_default that reads x (DRAW)
            np.testing.assert_allclose(out["reconstruction"], model.reconstruct(x), atol=1e-5)
        if capabilities.has_density:  # the loader's k and seed (exact densities ignore them)
            np.testing.assert_allclose(out["log_prob"], model.log_prob(
                x, num_samples=16, seed=np.array([1, 2]), **given("log_prob")),
                rtol=1e-5, atol=1e-3)
            assert "num_samples must be between 1 and" in str(out["error_num_samples"])
        if capabilities.has_density:  # log_prob reads x: a wrong shape is refused
            assert "Cannot feed value of shape" in str(out["error_shape"]) \
                or "x must have shape" in str(out["error_shape"])
        if "error_values" in out and capabilities.has_density:
            message = ("Palette indices must be in" if model.observation_dtype == "int32"
                       else "must be in [0, 1]")
            assert message in str(out["error_values"])
        return

    image_shape = tuple(np.asarray(model.reconstruct(x, **given("serving_default"))).shape)
    assert out["reconstruction"].shape == image_shape
    np.testing.assert_allclose(out["reconstruction"],
                               model.reconstruct(x, **given("serving_default")), atol=1e-5)
    np.testing.assert_allclose(out["encode_mean"], model.encode(x, **given("encode")), atol=1e-5)
    if model.labelled_endpoints:
        assert "labels must be class indices" in str(out["error_labels"])
        np.testing.assert_allclose(
            out["decode_mean"], model.decode(out["encode_mean"], **given("decode")), atol=1e-5)
    assert out["encode_stddev"].shape == (5, model.latent_dim)
    assert out["decode_mean"].shape == image_shape
    if model.likelihood_name == "bernoulli":
        assert 0 <= out["decode_mean"].min() and out["decode_mean"].max() <= 1
        np.testing.assert_allclose(1 / (1 + np.exp(-out["decode_logits"])), out["decode_mean"],
                                   atol=1e-5)
    if model.likelihood_name == "categorical":
        probs = out["decode_probabilities"]
        assert probs.min() >= 0 and probs.max() <= 1
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    if overrides.get("posterior") == "full_covariance":
        tril = out["encode_scale_tril"]
        assert tril.shape == (5, model.latent_dim, model.latent_dim)
        np.testing.assert_array_equal(np.triu(tril, 1), 0)

    # Same seed, same images; another seed, other images; and the Python model agrees.
    np.testing.assert_array_equal(out["sample_a1_x"], out["sample_a2_x"])
    assert not np.allclose(out["sample_a1_z"], out["sample_b_z"])
    assert out["sample_a1_x"].shape == (6, *image_shape[1:])
    np.testing.assert_allclose(out["sample_a1_x"],
                               model.sample(6, seed=np.array([1, 2]), **given("sample", 6)),
                               atol=1e-5)

    if model.capabilities.has_density:
        python_log_prob = model.log_prob(x, num_samples=16, seed=np.array([1, 2]),
                                         **given("log_prob"))
        np.testing.assert_allclose(out["log_prob"], python_log_prob, atol=1e-3)
        assert "num_samples must be between 1 and" in str(out["error_num_samples"])

    assert "Cannot feed value of shape" in str(out["error_shape"]) \
        or "x must have shape" in str(out["error_shape"])
    assert f"num_samples must be between 1 and {MAX_SAMPLES}" in str(out["error_sample_count"])
    if model.likelihood_name == "bernoulli":
        assert "must be in [0, 1]" in str(out["error_values"])
    if model.likelihood_name == "categorical":
        assert "Palette indices must be in" in str(out["error_values"])


def check_sequence_export(model, x, tmp_path):
    """Sequence signatures: rolls of any length with a mask, num_steps for what is generated."""
    mask = condition_for(model, n=len(x))["mask"]
    out = run_in_fresh_process(export_model(model, str(tmp_path / "export")), x, tmp_path,
                               mask=mask)
    assert json.loads(str(out["imported_project_or_tfp"])) == []
    single = model.capabilities.latent == "single"
    expected = {"serving_default", "sample", "log_prob", "score"} | (
        {"encode", "decode"} if single else set())
    assert set(json.loads(str(out["signatures"]))) == set(model.exported_endpoints()) == expected
    seed, steps = np.array([1, 2]), x.shape[1]
    np.testing.assert_array_equal(out["sample_a1_x"], out["sample_a2_x"])
    assert out["sample_a1_x"].shape == (6, steps, 88)
    np.testing.assert_array_equal(out["sample_a1_x"], model.sample(6, seed=seed,
                                                                   num_steps=steps))
    np.testing.assert_allclose(out["log_prob"], model.log_prob(x, num_samples=16, seed=seed,
                                                               mask=mask), atol=1e-3)
    np.testing.assert_allclose(out["score"], -out["log_prob"], atol=1e-6)  # -log p(x)
    if single:
        np.testing.assert_allclose(out["reconstruction"], model.reconstruct(x, mask=mask),
                                   atol=1e-5)
        np.testing.assert_allclose(out["encode_mean"], model.encode(x, mask=mask), atol=1e-5)
        np.testing.assert_allclose(out["decode_mean"],
                                   model.decode(out["encode_mean"], num_steps=steps), atol=1e-5)
    assert "num_samples must be between 1 and" in str(out["error_num_samples"])
    assert "Cannot feed value of shape" in str(out["error_shape"])
    assert "The notes must be 0 or 1" in str(out["error_values"])
    assert f"num_samples must be between 1 and {MAX_SAMPLES}" in str(out["error_sample_count"])


def test_in_graph_shape_check_has_a_readable_message():
    """What TF Serving's C++ runtime reports for a wrong-shaped tensor (no Python feed check)."""
    import tensorflow as tf

    from zoo.export import _shape_assertion

    with pytest.raises(tf.errors.InvalidArgumentError, match=r"x must have shape \[batch, 8, 8, 1\]"):
        _shape_assertion(tf.zeros((2, 5, 5, 1)), (8, 8, 1), "x")
    with pytest.raises(tf.errors.InvalidArgumentError, match="x must have shape"):
        _shape_assertion(tf.zeros((2, 64)), (8, 8, 1), "x")


def test_versions_are_numbered_and_never_overwritten(tmp_path):
    model = make_model("vae", {})
    base = tmp_path / "vae_tiny"
    assert export_model(model, str(base)).endswith(os.sep + "1")
    assert next_version(str(base)) == 2
    assert export_model(model, str(base)).endswith(os.sep + "2")
    with pytest.raises(ValueError, match="already exists"):
        export_model(model, str(base), version=1)
    config = (base / "models.config").read_text()
    assert 'name: "vae_tiny"' in config and 'base_path: "/models/vae_tiny"' in config
    assert not [p for p in os.listdir(base) if p.startswith(".")]  # no temporary leftovers


def test_saved_model_cli_lists_the_signatures(tmp_path):
    model = make_model("vae", {})
    export_dir = export_model(model, str(tmp_path / "export"))
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    result = subprocess.run([cli, "show", "--all", "--dir", export_dir], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    for name in ("serving_default", "encode", "decode", "sample", "log_prob"):
        assert f"signature_def['{name}']" in result.stdout
    assert "inputs['num_samples']" in result.stdout and "inputs['seed']" in result.stdout
