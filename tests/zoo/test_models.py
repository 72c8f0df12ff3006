"""The shared harness: every model class and head combination passes the same checks."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import condition_for, fit_arguments, inputs_for, make_model


def compiled(name, overrides):
    model = make_model(name, overrides)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def test_built_at_construction(model_case):
    _, name, overrides = model_case
    model = make_model(name, overrides)
    assert model.built
    assert model.trainable_weights  # all parameters exist before any call


def test_shapes(model_case):
    _, name, overrides = model_case
    model = make_model(name, overrides)
    x = inputs_for(model, n=5)
    given = condition_for(model, n=5)
    z = model.encode(x, **given)
    assert z.shape == (5, model.latent_dim)
    image_shape = model.reconstruct(x, **given).shape
    assert image_shape[0] == 5
    assert model.decode(z, **given).shape == image_shape
    assert model.sample(3, seed=0).shape == (3, *image_shape[1:])
    batches = tf.data.Dataset.from_tensor_slices(
        x if not given else (x, given["labels"])).batch(5)
    assert model.predict(batches, verbose=0).shape == image_shape
    assert model.likelihood(z, **given).log_prob(x).shape == (5,)
    if model.has_density:
        assert model.elbo(x, seed=0, **given).shape == (5,)
        log_px = model.log_prob(x, num_samples=7, seed=0, chunk_size=3, **given)
        assert log_px.shape == (5,)
        assert np.all(np.isfinite(log_px))
    else:
        with pytest.raises(NotImplementedError):
            model.log_prob(x)


def test_sampling_is_seeded(model_case):
    _, name, overrides = model_case
    model = make_model(name, overrides)
    a, b = model.sample(4, seed=3), model.sample(4, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, model.sample(4, seed=4))


def test_config_round_trip(model_case):
    _, name, overrides = model_case
    model = make_model(name, overrides)
    config = model.get_config()
    assert json.loads(json.dumps(config)) == config  # JSON-serialisable
    clone = type(model).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(model), safe_mode=True)
    assert type(restored) is type(model) and restored.get_config() == config
    # Every constructor argument given is reflected in the config.
    for key, value in overrides.items():
        got = config[key]
        assert (list(got) if isinstance(got, tuple) else got) == \
            (list(value) if isinstance(value, tuple) else value), key


def test_one_finite_training_step_reports_metrics(model_case):
    _, name, overrides = model_case
    model = compiled(name, overrides)
    x = inputs_for(model, n=32)
    history = model.fit(*fit_arguments(model, x), batch_size=16, epochs=1, verbose=0)
    assert set(history.history) == set(model.metric_names)
    for values in history.history.values():
        assert np.isfinite(values[-1])
    assert int(model.optimizer.iterations) == 2


def test_training_lowers_the_loss(model_case):
    _, name, overrides = model_case
    model = compiled(name, overrides)
    x = inputs_for(model, n=64)
    first = model.evaluate(*fit_arguments(model, x), verbose=0, return_dict=True)["loss"]
    model.fit(*fit_arguments(model, x), batch_size=16, epochs=15, verbose=0)
    assert model.evaluate(*fit_arguments(model, x), verbose=0, return_dict=True)["loss"] < first


def test_save_reload_and_continue_fit_keeps_optimizer_state(model_case, tmp_path):
    _, name, overrides = model_case
    model = compiled(name, overrides)
    x = inputs_for(model, n=32)
    model.fit(*fit_arguments(model, x), batch_size=16, epochs=2, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert int(reloaded.optimizer.iterations) == 4
    for a, b in zip(model.weights, reloaded.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(model.optimizer.variables, reloaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    reloaded.fit(*fit_arguments(model, x), batch_size=16, epochs=1, verbose=0)
    assert int(reloaded.optimizer.iterations) == 6


def test_model_folder_round_trip(model_case, tmp_path):
    _, name, overrides = model_case
    model = compiled(name, overrides)
    x = inputs_for(model, n=16)
    model.fit(*fit_arguments(model, x), batch_size=16, epochs=1, verbose=0)
    folder = zoo.save(model, str(tmp_path / "m"), metadata={"note": "test"}, metrics={"a": 1})
    loaded = zoo.load(folder)
    given = condition_for(model, n=len(x))
    np.testing.assert_allclose(loaded.reconstruct(x, **given), model.reconstruct(x, **given),
                               atol=1e-6)
    assert int(loaded.optimizer.iterations) == 1
    loaded.fit(*fit_arguments(model, x), batch_size=16, epochs=1, verbose=0)


def test_wrong_input_shape_is_named(model_case):
    _, name, overrides = model_case
    model = make_model(name, overrides)
    with pytest.raises(ValueError, match="expects a batch of shape"):
        model.encode(np.zeros((2, 5, 5, 1), inputs_for(model).dtype),
                     **condition_for(model, n=2))


def test_out_of_range_values_are_named():
    model = compiled("vae", {})
    with pytest.raises(ValueError, match=r"must be in \[0, 1\].*divide 8-bit images by 255"):
        model.fit(np.linspace(0, 255, 256, dtype=np.float32).reshape(4, 8, 8, 1), verbose=0)
    with pytest.raises(ValueError, match="expects float32 observations, got dtype uint8"):
        model.encode(np.zeros((4, 8, 8, 1), np.uint8))
    palette = make_model("vae", {"event_shape": (8, 8), "likelihood": "categorical"})
    with pytest.raises(ValueError, match="must be in \\[0, 15\\]"):
        palette.encode(np.full((2, 8, 8), 16, np.int32))


def test_metrics_are_keras_metrics():
    model = compiled("vae", {})
    assert [m.name for m in model.metrics] == ["loss", "elbo", "kl", "reconstruction"]


def test_kl_warmup_scales_the_rate():
    model = compiled("vae", {"kl_warmup_steps": 100, "beta": 2.0})
    assert float(model.kl_weight(training=True)) == 0.0
    model.optimizer.iterations.assign(50)
    assert float(model.kl_weight(training=True)) == pytest.approx(1.0)
    assert float(model.kl_weight(training=False)) == pytest.approx(2.0)


def test_iwae_k1_loss_is_the_elbo_objective():
    iwae = make_model("iwae", {"num_importance_samples": 1})
    x = inputs_for(iwae, n=8)
    terms = iwae.per_example_losses(x)
    np.testing.assert_allclose(terms["loss"], -terms["elbo"], rtol=1e-5)


def test_iwae_rejects_k0():
    with pytest.raises(ValueError, match="num_importance_samples"):
        make_model("iwae", {"num_importance_samples": 0})


def test_unknown_names_list_the_choices():
    with pytest.raises(ValueError, match="choose one of: autoencoder, cvae, "):
        zoo.get_model("gan")
    with pytest.raises(ValueError, match="Unknown likelihood 'poisson'"):
        make_model("vae", {"likelihood": "poisson"})
    with pytest.raises(ValueError, match="Unknown posterior"):
        make_model("vae", {"posterior": "flow"})
    with pytest.raises(ValueError, match="Unknown prior"):
        make_model("vae", {"prior": "vamp"})
    with pytest.raises(ValueError, match="Unknown network"):
        make_model("vae", {"network": "transformer"})


def test_conv_decoder_rejects_indivisible_sizes():
    with pytest.raises(ValueError, match="not divisible"):
        make_model("vae", {"network": "conv", "event_shape": (10, 10, 1)})


def test_mixed_precision_keeps_heads_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = compiled("vae", {})
        x = inputs_for(model, n=16)
        assert model.encoder_network.compute_dtype == "float16"
        assert model.posterior_head.compute_dtype == "float32"
        assert model.likelihood_head.compute_dtype == "float32"
        assert model.posterior(x).dtype == tf.float32
        history = model.fit(*fit_arguments(model, x), batch_size=16, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][-1])
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_fine_tuning_with_a_frozen_part(model_case, part):
    _, name, overrides = model_case
    model = make_model(name, overrides).freeze(part)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    frozen = model.encoder_network if part == "encoder" else model.decoder_network
    before = [w.numpy().copy() for w in frozen.weights]
    x = inputs_for(model, n=64)
    first = model.evaluate(*fit_arguments(model, x), verbose=0, return_dict=True)["loss"]
    model.fit(*fit_arguments(model, x), batch_size=16, epochs=10, verbose=0)
    assert model.evaluate(*fit_arguments(model, x), verbose=0, return_dict=True)["loss"] < first
    for a, w in zip(before, frozen.weights):
        np.testing.assert_array_equal(a, w.numpy())


def test_freeze_rejects_unknown_parts():
    with pytest.raises(ValueError, match="choose 'encoder' or 'decoder'"):
        make_model("vae", {}).freeze("prior")
