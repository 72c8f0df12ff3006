"""The conditional VAE, M2 and M1+M2: labels through the API, the exact sum over classes, the
classifier and the analogies."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import TINY, TINY_M1, inputs_for, make_model
from training import data as data_lib


def test_cvae_draws_the_requested_digit():
    cvae = make_model("cvae", {})
    z = np.random.default_rng(0).normal(size=(3, TINY["latent_dim"])).astype(np.float32)
    sevens, ones = cvae.decode(z, labels=[7, 7, 7]), cvae.decode(z, labels=[1, 1, 1])
    assert not np.allclose(sevens, ones)  # the label changes the image for the same z
    # sample(n) without labels cycles through the classes: sample i is decoded as class i % 10.
    drawn = cvae.sample(12, seed=3)
    z = cvae.prior().sample(12, seed=cvae.next_seed(3))
    np.testing.assert_allclose(drawn, cvae.decode(z, labels=np.arange(12) % 10), atol=1e-6)
    np.testing.assert_allclose(cvae.sample(2, seed=3, labels=[4, 4]),
                               cvae.decode(z[:2], labels=[4, 4]), atol=1e-6)


def test_cvae_needs_valid_labels():
    cvae = make_model("cvae", {})
    x = inputs_for(cvae, n=2)
    with pytest.raises(ValueError, match="pass labels"):
        cvae.encode(x)
    with pytest.raises(ValueError, match=r"class indices in \[0, 10\)"):
        cvae.encode(x, labels=[3, 10])
    with pytest.raises(ValueError, match="at least 2"):
        make_model("cvae", {"num_classes": 1})


def test_m2_unlabelled_bound_is_the_exact_sum_over_classes():
    m2 = make_model("m2", {})
    x = tf.constant(inputs_for(m2, n=4))
    seed = tf.constant([5, 6])
    bound, _, _ = m2.unlabelled_bound(x, seed)
    # The same enumeration written out: L(x, y) for every class, weighted by q(y|x), + entropy.
    labelled, _, _ = m2.labelled_bound(tf.repeat(x, 10, axis=0), tf.tile(tf.range(10), [4]),
                                       seed)
    q = np.asarray(m2.classify(x)[0])
    expected = (q * np.asarray(labelled).reshape(4, 10)).sum(1) - (q * np.log(q + 1e-8)).sum(1)
    np.testing.assert_allclose(bound, expected, rtol=1e-5)
    np.testing.assert_allclose(q.sum(1), 1.0, atol=1e-5)


def test_m2_losses_split_labelled_and_unlabelled():
    m2 = make_model("m2", {"alpha": 3.0})
    x = inputs_for(m2, n=6)
    labels = np.array([2, -1, 5, -1, -1, 0], np.int32)
    terms = m2.per_example_losses(x, labels)
    ce = np.asarray(terms["classification"])
    assert np.all(ce[labels < 0] == 0) and np.all(ce[labels >= 0] > 0)
    # labelled rows: -L + alpha * CE (CE reported scaled so that its batch mean is the mean CE)
    share = len(labels) / (labels >= 0).sum()
    labelled = labels >= 0
    np.testing.assert_allclose(terms["loss"].numpy()[labelled],
                               -terms["elbo"].numpy()[labelled] + 3.0 * ce[labelled] / share,
                               rtol=1e-5)
    np.testing.assert_allclose(terms["loss"].numpy()[~labelled],
                               -terms["elbo"].numpy()[~labelled], rtol=1e-5)
    only_labelled = m2.per_example_losses(x, np.arange(6, dtype=np.int32))  # no unlabelled part
    assert np.all(np.isfinite(only_labelled["loss"]))


def test_m2_analogies_decode_one_style_as_every_class():
    m2 = make_model("m2", {})
    x = inputs_for(m2, n=3)
    grid = np.asarray(m2.analogies(x))
    assert grid.shape == (3, 10, *x.shape[1:])
    z = m2.encode(x)  # the style, inferred with the predicted label
    for c in (0, 7):
        np.testing.assert_allclose(grid[:, c], m2.decode(z, labels=[c] * 3), atol=1e-6)
    # decode without labels marginalises y under the uniform p(y).
    np.testing.assert_allclose(m2.decode(z), grid.mean(1), atol=1e-6)


def test_m2_learns_from_ten_labels_per_class():
    digits = data_lib.load_digits()
    x = data_lib.binarize(digits.train.x, 0)
    labelled = data_lib.labelled_subset(digits.train.y, 10, seed=0)
    y = np.full(len(x), -1, np.int32)
    y[labelled] = digits.train.y[labelled]
    m2 = zoo.M2(event_shape=(8, 8, 1), latent_dim=8, hidden_units=(64,), alpha=20.0, seed=0)
    m2.compile(optimizer=keras.optimizers.Adam(3e-3))
    ds = data_lib.semi_supervised_pipeline(x, y, labelled, 100, 50, False, seed=0)
    m2.fit(ds, epochs=8, verbose=0)
    x_test = data_lib.binarize(digits.test.x, 0)
    error = np.mean(np.asarray(m2.classify(x_test)[1]) != digits.test.y)
    assert error < 0.5  # chance is 0.9


def test_m1m2_classifies_the_codes_of_its_frozen_m1():
    model = make_model("m1m2", {"m1": TINY_M1})
    x = inputs_for(model, n=4)
    np.testing.assert_allclose(model.classify(x)[0], model.m2.classify(model.m1.encode(x))[0],
                               atol=1e-6)
    before = [w.numpy().copy() for w in model.m1.weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, np.array([1, -1, 3, -1], np.int32), epochs=2, verbose=0)
    for a, w in zip(before, model.m1.weights):
        np.testing.assert_array_equal(a, w.numpy())
    with pytest.raises(NotImplementedError, match="no density"):
        model.log_prob(x)
    with pytest.raises(ValueError, match="m1 must be a VAE"):
        zoo.M1M2(m1=keras.layers.Dense(3))
