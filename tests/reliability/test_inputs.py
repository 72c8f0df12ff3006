"""No wrong answer is silent: every input path (eager values, graph tensors, exported
signatures, data files) refuses values outside the model's support with a message."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import MODEL_CASES, inputs_for, make_model, targets_for
from training.data import mnist
from training.data.registry import DataError, check_images
from zoo.checks import MAX_SAMPLES_PER_CALL, as_stateless_seed
from zoo.export import MAX_SAMPLES, export_model


def tiny(name="vae", **overrides):
    return make_model(name, overrides)


@pytest.fixture(scope="module")
def vae():
    return tiny()


@pytest.fixture(scope="module")
def cvae():
    return tiny("cvae")


@pytest.fixture(scope="module")
def m2():
    return tiny("m2", alpha=1.0)


# --- 1. every exported signature checks its inputs in the graph ---------------------------------
@pytest.fixture(scope="module")
def m2_signatures(m2, tmp_path_factory):
    """The signatures of an exported M2 (classify, decode and sample with labels, log_prob),
    loaded in-process."""
    export_dir = export_model(m2, str(tmp_path_factory.mktemp("export") / "m2"))
    return tf.saved_model.load(export_dir).signatures


def _fails(signature, match, **inputs):
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        signature(**{k: tf.constant(v) for k, v in inputs.items()})


def test_exported_classify_checks_values(m2, m2_signatures):
    x = inputs_for(m2, 4)
    out = m2_signatures["classify"](x=tf.constant(x))
    np.testing.assert_array_equal(out["label"], m2.classify(x)[1])
    _fails(m2_signatures["classify"], "NaN or infinite", x=np.full_like(x, np.nan))
    _fails(m2_signatures["classify"], r"must be in \[0, 1\]", x=np.full_like(x, 2.0))
    _fails(m2_signatures["classify"], "x must have shape", x=np.zeros((2, 4, 4, 1), np.float32))


def test_exported_decode_refuses_non_finite_z(m2, m2_signatures):
    z = np.zeros((2, m2.latent_dim), np.float32)
    labels = np.array([1, 2], np.int32)
    assert m2_signatures["decode"](z=tf.constant(z), labels=labels)["mean"].shape == (2, 8, 8, 1)
    for bad in (np.nan, np.inf):
        _fails(m2_signatures["decode"], "z must be finite", z=np.full_like(z, bad), labels=labels)
    _fails(m2_signatures["decode"], "labels must be class indices", z=z,
           labels=np.array([1, 10], np.int32))


def test_exported_sample_and_log_prob_check_counts_and_take_any_int32_seed(m2, m2_signatures):
    sample, log_prob = m2_signatures["sample"], m2_signatures["log_prob"]
    labels = np.array([3, 4], np.int32)
    for seed in ([0, 0], [-2**31, 2**31 - 1], [-1, 7]):  # any int32 pair is a valid seed
        out = sample(num_samples=tf.constant(2), seed=tf.constant(seed, tf.int32),
                     labels=tf.constant(labels))
        assert np.all(np.isfinite(out["x"]))
    for n in (0, -1, MAX_SAMPLES + 1):
        _fails(sample, "num_samples must be between 1 and", num_samples=np.int32(n),
               seed=np.array([1, 2], np.int32), labels=labels)
    x = inputs_for(m2, 2)
    assert np.all(np.isfinite(log_prob(x=tf.constant(x), num_samples=tf.constant(3),
                                       seed=tf.constant([5, 6]))["log_prob"]))
    _fails(log_prob, "num_samples must be between 1 and", x=x, num_samples=np.int32(0),
           seed=np.array([1, 2], np.int32))
    _fails(log_prob, "NaN or infinite", x=np.full_like(x, np.nan), num_samples=np.int32(2),
           seed=np.array([1, 2], np.int32))


# --- 2. one input-checking path for every input type ---------------------------------------------
@pytest.mark.parametrize("kind", ["numpy", "list", "tensor"])
@pytest.mark.parametrize("bad, match", [(np.nan, "NaN or infinite"),
                                        (2.0, r"must be in \[0, 1\]")])
def test_eager_inputs_of_every_type_are_value_checked(vae, kind, bad, match):
    x = inputs_for(vae, 3).copy()
    x[1, 2, 3, 0] = bad
    given = {"numpy": x, "list": x.tolist(), "tensor": tf.constant(x)}[kind]
    for method in (vae.elbo, vae.encode, vae.reconstruct,
                   lambda v: vae.log_prob(v, num_samples=2)):
        with pytest.raises(ValueError, match=match):
            method(given)


def test_valid_list_and_tensor_inputs_agree_with_numpy(vae):
    x = inputs_for(vae, 3)
    expected = vae.encode(x)
    np.testing.assert_allclose(vae.encode(x.tolist()), expected, atol=1e-6)
    np.testing.assert_allclose(vae.encode(tf.constant(x)), expected, atol=1e-6)


def test_symbolic_inputs_get_graph_assertions(vae):
    elbo = tf.function(lambda x: vae.elbo(x, seed=1))
    x = inputs_for(vae, 3).copy()
    assert np.all(np.isfinite(elbo(tf.constant(x))))
    x[0, 0, 0, 0] = 2.0
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be in \[0, 1\]"):
        elbo(tf.constant(x))


def test_fit_on_a_dataset_with_bad_values_fails_the_step():
    model = tiny()
    model.compile(optimizer="adam")
    x = inputs_for(model, 8).copy()
    x[3] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or infinite"):
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(4), epochs=1, verbose=0)


@pytest.mark.parametrize("kind", ["numpy", "list", "tensor"])
def test_labels_of_every_type_are_range_checked(cvae, kind):
    x = inputs_for(cvae, 2)
    for bad in ([1, 10], [-1, 2]):
        labels = {"numpy": np.array(bad), "list": bad, "tensor": tf.constant(bad)}[kind]
        with pytest.raises(ValueError, match=r"class indices in \[0, 10\)"):
            cvae.encode(x, labels=labels)
        with pytest.raises(ValueError, match=r"class indices in \[0, 10\)"):
            cvae.sample(2, seed=0, labels=labels)


def test_symbolic_labels_get_graph_assertions(cvae):
    decode = tf.function(lambda z, labels: cvae.decode(z, labels=labels))
    z = tf.zeros([2, cvae.latent_dim])
    decode(z, tf.constant([0, 9]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="class indices"):
        decode(z, tf.constant([0, 10]))


def test_fit_range_checks_numpy_labels_before_training():
    model = tiny("cvae")
    model.compile(optimizer="adam")
    x = inputs_for(model, 8)
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"class indices in \[0, 10\)"):
        model.fit(x, np.full(8, 10), batch_size=4, epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    semi = tiny("m2", alpha=1.0)
    semi.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"or -1 \(unlabelled\)"):
        semi.fit(x, np.full(8, -2), batch_size=4, epochs=1, verbose=0)
    semi.fit(x, np.full(8, -1), batch_size=4, epochs=1, verbose=0)  # all unlabelled is fine


def test_fit_on_a_dataset_with_bad_labels_fails_the_step():
    model = tiny("cvae")
    model.compile(optimizer="adam")
    x = inputs_for(model, 8)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.full(8, 12))).batch(4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="class indices"):
        model.fit(dataset, epochs=1, verbose=0)


# --- 3. the MNIST loader scales each array on its own --------------------------------------------
def _mnist_arrays(train_dtype, test_dtype):
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8)
    x_train = levels if train_dtype == "uint8" else levels.astype(np.float32) / 255
    levels = rng.integers(0, 256, (10000, 28, 28), dtype=np.uint8)
    x_test = levels if test_dtype == "uint8" else levels.astype(np.float32) / 255
    return x_train, np.zeros(60000, np.int64), x_test, np.zeros(10000, np.int64)


@pytest.mark.parametrize("train_dtype, test_dtype", [("uint8", "float"), ("float", "uint8")])
def test_mnist_scales_each_array_on_its_own(train_dtype, test_dtype):
    x_train, y_train, x_test, y_test = _mnist_arrays(train_dtype, test_dtype)
    dataset = mnist._split_mnist(x_train, y_train, x_test, y_test, source="test")
    expected_test = np.asarray(x_test, np.float32) / (255 if test_dtype == "uint8" else 1)
    np.testing.assert_allclose(dataset.test.x[..., 0], expected_test, atol=1e-6)
    expected_train = np.asarray(x_train[:50000], np.float32) / (
        255 if train_dtype == "uint8" else 1)
    np.testing.assert_allclose(dataset.train.x[..., 0], expected_train, atol=1e-6)


def test_mnist_refuses_fractional_floats_above_one():
    x = np.full((4, 28, 28), 0.5, np.float32)
    x[0, 0, 0] = 17.25
    with pytest.raises(DataError, match="neither 8-bit levels"):
        mnist._unit_scale(x, "test images", "test")
    whole = np.full((4, 28, 28), 17.0, np.float32)  # whole 8-bit levels stored as floats
    assert mnist._unit_scale(whole, "test images", "test").max() == pytest.approx(17 / 255)


def test_mnist_refuses_empty_arrays_and_other_file_formats(tmp_path):
    with pytest.raises(DataError, match="empty"):
        mnist._split_mnist(np.zeros((0, 28, 28)), np.zeros(0), np.zeros((0, 28, 28)),
                           np.zeros(0), source="test")
    with pytest.raises(DataError, match="holds no images"):
        check_images(np.zeros((0, 28, 28, 1), np.float32), "test")
    path = tmp_path / "mnist.npy"
    np.save(path, np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DataError, match=r"accepted formats are a Keras-style \.npz"):
        mnist.load_mnist_file(str(path))
    text = tmp_path / "mnist.csv"
    text.write_text("1,2,3\n")
    with pytest.raises(DataError, match="accepted formats"):
        mnist.load_mnist_file(str(text))


# --- 4. counts: num_samples, chunk_size, empty batches -------------------------------------------
@pytest.mark.parametrize("name", ["vae", "m2"])
def test_log_prob_refuses_bad_counts_and_scores_empty_batches(name):
    model = tiny(name) if name == "vae" else tiny("m2", alpha=1.0)
    x = inputs_for(model, 2)
    for n in (0, -3, MAX_SAMPLES_PER_CALL + 1, 2.5):
        with pytest.raises(ValueError, match="num_samples must be an integer"):
            model.log_prob(x, num_samples=n, seed=0)
    for chunk in (0, -1):
        with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
            model.log_prob(x, num_samples=4, seed=0, chunk_size=chunk)
    assert model.log_prob(x[:0], num_samples=4, seed=0).shape == (0,)
    assert model.log_prob(tf.constant(x), num_samples=np.int64(3), seed=0).shape == (2,)


def test_symbolic_num_samples_is_asserted_in_the_graph(vae):
    log_prob = tf.function(lambda x, n: vae.log_prob(x, num_samples=n, seed=[1, 2]))
    x = tf.constant(inputs_for(vae, 2))
    assert np.all(np.isfinite(log_prob(x, tf.constant(3))))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples must be between 1"):
        log_prob(x, tf.constant(0))


@pytest.mark.parametrize("name", ["vae", "cvae", "m2", "gae"])
def test_sample_refuses_counts_outside_one_to_the_limit(name):
    model = tiny(name, **({"num_components": 8} if name == "gae" else {}))
    assert model.sample(2, seed=0).shape == (2, 8, 8, 1)
    # sample(0) is an error, as in the exported signature, not an empty batch
    for n in (0, -1, 10**9, 2**31, 2**40):
        with pytest.raises(ValueError, match="num_samples must be an integer in"):
            model.sample(n, seed=0)


# --- 5. seeds outside int32 are refused, never truncated -----------------------------------------
BAD_SEEDS = [2**31, -1, np.int64(2**40), [2**40, 0], (0, -2**31 - 1), np.array([2**33, 1]),
             tf.constant([2**40, 0], tf.int64), [1.5, 2.0], 2.0, [2**70, 0], True]


@pytest.mark.parametrize("seed", BAD_SEEDS, ids=repr)
def test_every_seeded_entry_point_refuses_seeds_outside_int32(vae, seed):
    x = inputs_for(vae, 2)
    for call in (lambda: vae.sample(2, seed=seed), lambda: vae.elbo(x, seed=seed),
                 lambda: vae.log_prob(x, num_samples=2, seed=seed)):
        with pytest.raises(ValueError, match="seed|Seed"):
            call()


def test_valid_seeds_of_every_type_agree():
    reference = as_stateless_seed([3, 4]).numpy()
    for seed in ((3, 4), np.array([3, 4]), np.array([3, 4], np.int64), tf.constant([3, 4]),
                 tf.constant([3, 4], tf.int64)):
        np.testing.assert_array_equal(as_stateless_seed(seed), reference)
    np.testing.assert_array_equal(as_stateless_seed(np.int64(7)), [7, 0])


@pytest.mark.parametrize("seed", [2**31, -1, np.int64(2**32), 2.5, "5", True], ids=repr)
def test_model_constructor_refuses_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed must be an integer"):
        tiny(seed=seed)
    assert tiny(seed=np.int64(5)).get_config()["seed"] == 5


# --- 6. Keras conventions: evaluate and predict on x alone ---------------------------------------
@pytest.mark.parametrize("case", MODEL_CASES, ids=[c[0] for c in MODEL_CASES])
def test_evaluate_and_predict_on_images_alone_work_or_name_what_is_missing(case):
    _, name, overrides = case
    model = make_model(name, overrides)
    model.compile(optimizer="adam")
    x = inputs_for(model, 8)
    if model.capabilities.conditional:  # the labels are part of the question
        with pytest.raises(ValueError, match=r"evaluate\(x, labels\)"):
            model.evaluate(x, batch_size=4, verbose=0)
        expected = ((NotImplementedError, "no per-input prediction")
                    if model.capabilities.latent == "none" else (ValueError, "labels"))
        with pytest.raises(expected[0], match=expected[1]):
            model.predict(x, batch_size=4, verbose=0)
        return
    scores = model.evaluate(x, batch_size=4, verbose=0, return_dict=True)
    assert all(np.isfinite(v) for v in scores.values())
    if model.capabilities.latent != "single":  # nothing to predict per input
        with pytest.raises(NotImplementedError, match="no per-input prediction"):
            model.predict(x, batch_size=4, verbose=0)
        return
    assert model.predict(x, batch_size=4, verbose=0).shape[0] == 8


@pytest.mark.parametrize("name", ["m2", "m1m2"])
def test_semi_supervised_models_fit_on_images_alone(name):
    case = next(c for c in MODEL_CASES if c[1] == name)
    model = make_model(name, case[2])
    model.compile(optimizer="adam")
    x = inputs_for(model, 8)
    history = model.fit(x, batch_size=4, epochs=1, verbose=0)  # the unlabelled bound
    assert np.isfinite(history.history["loss"][-1])
    assert history.history["classification"][-1] == 0.0  # no label, no classification loss
    # scoring x alone equals scoring it with every label -1 (unlabelled)
    alone = model.evaluate(x, batch_size=8, verbose=0, return_dict=True)
    unlabelled = np.full(8, -1, np.int32)
    assert set(alone) == set(model.evaluate(x, unlabelled, batch_size=8, verbose=0,
                                            return_dict=True))


def test_models_that_need_targets_to_train_refuse_fit_without_them():
    gae = tiny("gae", num_components=8)
    cvae = tiny("cvae")
    for model, match in ((gae, r"trains on \(x, index\): call fit\(x, index\)"),
                         (cvae, r"call fit\(x, labels\)")):
        model.compile(optimizer="adam")
        with pytest.raises(ValueError, match=match):
            model.fit(inputs_for(model, 8), batch_size=4, epochs=1, verbose=0)
    # with its targets the GAE trains; scoring test images needs no index
    gae.fit(inputs_for(gae, 8), targets_for(gae, 8), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(gae.evaluate(inputs_for(gae, 8), verbose=0, return_dict=True)["loss"])
