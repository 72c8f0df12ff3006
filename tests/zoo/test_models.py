"""The shared harness: every registered model (and head combination) passes the same checks;
capability-specific checks run only where the model declares the capability."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import MODEL_CASES, condition_for, fit_arguments, inputs_for, make_model


def compiled(name, overrides):
    model = make_model(name, overrides)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def test_every_registered_model_has_a_harness_case():
    covered = {name for _, name, _ in MODEL_CASES}
    missing = sorted(set(zoo.list_models()) - covered)
    assert not missing, f"models without a harness case in tests/conftest.py: {missing}"


def test_capabilities_and_options_are_declared(model_case):
    _, name, overrides = model_case
    cls = zoo.get_model(name)
    model = make_model(name, overrides)
    capabilities = cls.capabilities
    assert capabilities.has_density == (capabilities.density != "none")
    assert set(model.parameter_groups()) == set(capabilities.optimizers)
    grouped = [v.path for group in model.parameter_groups().values() for v in group]
    assert sorted(grouped) == sorted(v.path for v in model.trainable_variables)
    names = [o.name for o in cls.options]
    assert len(names) == len(set(names))
    # The declared defaults are the constructor's: a model built from them has the same config.
    from training.run.options import model_arguments

    recipe = {"model": name, **{o.name: o.default for o in cls.options}}
    if name == "m1m2":
        recipe["m1"] = overrides["m1"]
    run = {"steps_per_epoch": 1, "num_training_images": 30, "palette": None}
    arguments = model_arguments(recipe, run)
    built = cls(event_shape=model.event_shape, **arguments).get_config()
    default = cls(event_shape=model.event_shape,
                  **({"m1": overrides["m1"]} if name == "m1m2" else {}),
                  **({"num_components": 30} if "num_components" in names else {})).get_config()
    built.pop("name"), default.pop("name")
    assert built == default
    expected = {"sample", "serving_default"}
    if capabilities.latent == "single":
        expected |= {"serving_default", "encode", "decode"}
    if capabilities.has_density:
        expected.add("log_prob")
    if capabilities.classifier:
        expected.add("classify")
    if capabilities.completion:
        expected.add("complete")
    if capabilities.adversarial:
        expected |= {"generate", "discriminate"}
    if capabilities.has_density or capabilities.adversarial or \
            capabilities.objective == "reconstruction":  # the autoencoder's error
        expected.add("score")
    assert set(model.exported_endpoints()) == expected | set(model.serving_endpoints())


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
    assert model.sample(3, seed=0).shape[0] == 3
    if model.capabilities.latent != "single":
        assert model.sample(3, seed=0).shape == (3, *model.event_shape)
        return
    z = model.encode(x, **given)
    assert z.shape == (5, model.latent_dim)
    image_shape = model.reconstruct(x, **given).shape
    assert image_shape[0] == 5
    assert model.decode(z, **given).shape == image_shape
    assert model.sample(3, seed=0).shape == (3, *image_shape[1:])
    batches = tf.data.Dataset.from_tensor_slices(
        x if not given else (x, *given.values())).batch(5)
    assert model.predict(batches, verbose=0).shape == image_shape
    assert model.likelihood(z, **given).log_prob(x).shape == (5,)
    if model.capabilities.has_density:
        assert model.elbo(x, seed=0, **given).shape == (5,)
        log_px = model.log_prob(x, num_samples=7, seed=0, chunk_size=3, **given)
        assert log_px.shape == (5,)
        assert np.all(np.isfinite(log_px))


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
    before = {g: [v.numpy().copy() for v in vs] for g, vs in model.parameter_groups().items()}
    history = model.fit(*fit_arguments(model, x), batch_size=16, epochs=1, verbose=0)
    assert set(history.history) == set(model.metric_names)
    for values in history.history.values():
        assert np.isfinite(values[-1])
    assert int(model.optimizer.iterations) == 2
    for group, variables in model.parameter_groups().items():  # every group was trained
        assert any(not np.array_equal(a, v.numpy()) for a, v in zip(before[group], variables)), \
            group


def test_training_lowers_the_loss(model_case):
    _, name, overrides = model_case
    model = compiled(name, overrides)
    if "loss" not in model.metric_names:
        pytest.skip("an adversarial game has no loss that must fall (see its own tests)")
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
    if model.capabilities.latent == "single":
        given = condition_for(model, n=len(x))
        np.testing.assert_allclose(loaded.reconstruct(x, **given), model.reconstruct(x, **given),
                                   atol=1e-6)
    np.testing.assert_allclose(loaded.sample(3, seed=5), model.sample(3, seed=5), atol=1e-6)
    assert int(loaded.optimizer.iterations) == 1
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    loaded.fit(*fit_arguments(model, x), batch_size=16, epochs=1, verbose=0)


def test_wrong_input_shape_is_named(model_case):
    _, name, overrides = model_case
    model = make_model(name, overrides)
    wrong = np.zeros((2, 5, 5, 1), inputs_for(model).dtype)
    with pytest.raises(ValueError, match="expects a batch of shape"):
        if model.capabilities.latent == "single":
            model.encode(wrong, **condition_for(model, n=2))
        else:
            model.compile(optimizer="adam")
            model.fit(wrong, verbose=0)


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
    with pytest.raises(ValueError, match="choose one of: autoencoder, conditional_dcgan, "
                                         "conditional_pixelcnn, conv_draw, cvae, dcgan, "):
        zoo.get_model("wgan")
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
    if zoo.get_model(name).capabilities.latent != "single":
        pytest.skip("encoder and decoder are parts of latent-variable models")
    model = make_model(name, overrides).freeze(part)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    frozen = model.encoder_network if part == "encoder" else model.decoder_network
    before = [w.numpy().copy() for w in frozen.weights]
    x = inputs_for(model, n=64)
    # A loss that must fall, where there is one (not in the VAE-GAN's adversarial game).
    has_loss = "loss" in model.metric_names
    first = model.evaluate(*fit_arguments(model, x), verbose=0, return_dict=True).get("loss")
    model.fit(*fit_arguments(model, x), batch_size=16, epochs=10, verbose=0)
    if has_loss:
        assert model.evaluate(*fit_arguments(model, x), verbose=0,
                              return_dict=True)["loss"] < first
    for a, w in zip(before, frozen.weights):
        np.testing.assert_array_equal(a, w.numpy())


def test_freeze_rejects_unknown_parts():
    with pytest.raises(ValueError, match="choose 'encoder' or 'decoder'"):
        make_model("vae", {}).freeze("prior")
