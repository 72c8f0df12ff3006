"""The Generative Auto Encoder: E-step cache, leave-one-out prior, regulariser, sampling, EM
through the training command."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy.special import logsumexp

import zoo
from tests.conftest import inputs_for, make_model
from zoo.models.gae import GAE

tfd = tfp.distributions


def gae(n=12, **overrides):
    return make_model("gae", {"num_components": n, **overrides})


def random_cache(model, seed=0):
    rng = np.random.default_rng(seed)
    shape = (model.num_components, model.latent_dim)
    loc = rng.normal(size=shape).astype(np.float32)
    scale = rng.uniform(0.3, 1.5, size=shape).astype(np.float32)
    model.component_loc.assign(loc)
    model.component_scale.assign(scale)
    return loc, scale


def normal_log_pdf(z, loc, scale):
    """log N(z; loc_j, scale_j) for z [d] against every component: [n]."""
    return np.sum(-0.5 * ((z - loc) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi), -1)


def test_cache_starts_as_standard_normal_components():
    model = gae()
    np.testing.assert_array_equal(model.component_loc.numpy(), 0.0)
    np.testing.assert_array_equal(model.component_scale.numpy(), 1.0)
    assert not model.component_loc.trainable and not model.component_scale.trainable
    z = np.random.default_rng(0).normal(size=(5, model.latent_dim)).astype(np.float32)
    np.testing.assert_allclose(model.prior().log_prob(z),
                               tfd.MultivariateNormalDiag(tf.zeros(model.latent_dim)).log_prob(z),
                               rtol=1e-5)


def test_refresh_components_caches_the_encoder_outputs():
    model = gae(n=12)
    x = inputs_for(model, n=12)
    model.refresh_components(x, batch_size=5)  # several batches, the last one partial
    q_z = model.posterior(x)
    np.testing.assert_allclose(model.component_loc.numpy(), q_z.mean(), atol=1e-6)
    np.testing.assert_allclose(model.component_scale.numpy(), q_z.stddev(), atol=1e-6)


def test_refresh_components_names_both_sizes_on_a_mismatch():
    model = gae(n=12)
    with pytest.raises(ValueError, match=r"num_components=12 but the training set holds 10"):
        model.refresh_components(inputs_for(model, n=10))


def test_prior_is_the_exact_mixture():
    model = gae(n=5)
    loc, scale = random_cache(model)
    reference = tfd.MixtureSameFamily(tfd.Categorical(logits=tf.zeros(5)),
                                      tfd.MultivariateNormalDiag(loc, scale))
    z = np.random.default_rng(1).normal(size=(3, 7, model.latent_dim)).astype(np.float32)
    np.testing.assert_allclose(model.prior().log_prob(z), reference.log_prob(z), rtol=1e-5,
                               atol=1e-5)


def test_training_loss_leaves_out_each_images_own_component():
    model = gae(n=12)
    x = inputs_for(model, n=12)
    loc, scale = random_cache(model)
    seed = tf.constant([3, 4], tf.int32)
    model.next_seed = lambda seed_=None: seed  # the same z below as inside the loss
    # Image 3's own component is centred on its z (whatever the initial weights), so that
    # leaving it out must raise that image's KL.
    y = np.array([3, -1, 0, 11], np.int32)
    batch = x[[3, 5, 0, 11]]
    loc[3] = model.posterior(batch).sample(1, seed=seed)[0, 0].numpy()
    scale[3] = 0.5
    model.component_loc.assign(loc)
    model.component_scale.assign(scale)
    terms = model.per_example_losses(batch, y, training=True)
    q_z = model.posterior(batch)
    z = q_z.sample(1, seed=seed)[0].numpy()
    log_q = q_z.log_prob(z).numpy()
    for b, own in enumerate(y):
        keep = np.arange(12) != own
        log_p = logsumexp(normal_log_pdf(z[b], loc[keep], scale[keep])) - np.log(keep.sum())
        assert float(terms["kl"][b]) == pytest.approx(log_q[b] - log_p, rel=1e-4, abs=1e-4)
    # Leaving the own component out makes image 3's KL larger than scoring it with it.
    with_own = model.per_example_losses(batch, np.full(4, -1, np.int32), training=True)
    assert float(terms["kl"][0]) > float(with_own["kl"][0])
    np.testing.assert_allclose(terms["kl"][1:2], with_own["kl"][1:2], rtol=1e-5)


def test_indices_beyond_the_cache_are_refused():
    model = gae(n=10)
    model.compile(optimizer="adam")
    x = inputs_for(model, n=16)
    # numpy indices are checked before training, a dataset's by the graph assertion
    with pytest.raises(ValueError, match="below num_components=10"):
        model.fit(x, np.arange(16, dtype=np.int32), batch_size=16, epochs=1, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.arange(16, dtype=np.int32))).batch(16)
    with pytest.raises(tf.errors.InvalidArgumentError, match="below num_components=10"):
        model.fit(dataset, epochs=1, verbose=0)


def test_fit_without_indices_says_what_to_pass():
    model = gae(n=16)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"call fit\(x, index\)"):
        model.fit(inputs_for(model, n=16), batch_size=16, epochs=1, verbose=0)


def test_regulariser_penalises_like_the_vae_kl():
    model = gae(lambda1=0.3, lambda2=0.2)
    d = model.latent_dim
    at_prior = model.regularizer(tfd.Normal(tf.zeros((1, d)), tf.ones((1, d))))
    far = model.regularizer(tfd.Normal(tf.fill((1, d), 2.0), tf.fill((1, d), 0.5)))
    assert float(at_prior[0]) == pytest.approx(0.0, abs=1e-6)
    expected = d * (0.3 * 4.0 - 0.2 * (1.0 + np.log(0.25) - 0.25))
    assert float(far[0]) == pytest.approx(expected, rel=1e-5)
    assert float(far[0]) > 0
    # It is added to the loss (not subtracted): loss = distortion + KL + regulariser.
    x = inputs_for(model, n=6)
    terms = model.per_example_losses(x, np.arange(6, dtype=np.int32), training=True)
    np.testing.assert_allclose(terms["loss"],
                               terms["reconstruction"] + terms["kl"] + terms["regularizer"],
                               rtol=1e-5)
    assert np.all(terms["regularizer"].numpy() > 0)


def test_sampling_picks_cached_components():
    model = gae(n=6)
    loc = np.zeros((6, model.latent_dim), np.float32)
    loc[:, 0] = 100.0 * np.arange(6)
    model.component_loc.assign(loc)
    model.component_scale.assign(np.full_like(loc, 1e-3))
    z = model.prior().sample(200, seed=tf.constant([0, 7])).numpy()
    picked = np.rint(z[:, 0] / 100.0).astype(int)
    np.testing.assert_allclose(z, loc[picked], atol=0.01)
    assert len(set(picked)) == 6  # every training image gets picked
    np.testing.assert_allclose(model.sample(200, seed=[0, 7]), model.decode(z), atol=1e-6)


def test_constructor_rejects_bad_options():
    with pytest.raises(ValueError, match="num_components must be at least 2"):
        gae(n=1)
    with pytest.raises(ValueError, match="non-negative"):
        gae(lambda1=-1.0)
    with pytest.raises(ValueError, match="only the 'diagonal' posterior"):
        gae(posterior="full_covariance")
    with pytest.raises(ValueError, match="brings its own prior"):
        gae(prior="mixture")


def test_cache_is_saved_with_the_model(tmp_path):
    model = gae(n=8)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    loc, scale = random_cache(model)
    loaded = zoo.load(zoo.save(model, str(tmp_path / "gae")))
    np.testing.assert_array_equal(loaded.component_loc.numpy(), loc)
    np.testing.assert_array_equal(loaded.component_scale.numpy(), scale)


def test_training_command_runs_the_e_step_every_epoch(tmp_path, monkeypatch):
    from training import data as data_lib
    from training.run.train import train

    calls = []
    refresh = GAE.refresh_components

    def counted(self, x_train, batch_size=1000):
        calls.append(len(x_train))
        return refresh(self, x_train, batch_size)

    monkeypatch.setattr(GAE, "refresh_components", counted)
    out, metrics = train({"model": "gae", "dataset": "digits", "epochs": 3, "latent_dim": 2,
                          "hidden_units": [16], "batch_size": 100, "nll_samples": 2,
                          "out": str(tmp_path / "gae_digits")}, verbose=0)
    x_train = data_lib.load_digits().train.x
    assert calls == [len(x_train)] * 4  # before each of the 3 epochs, and after the last
    assert np.isfinite(metrics["test_nll"])
    loaded = zoo.load(out)
    assert loaded.num_components == len(x_train)  # defaulted to the training set size
    # The saved cache is the final encoder on the fixed (seed 0) binarization of x_train.
    binary = (np.random.default_rng(0).random(x_train.shape, dtype=np.float32)
              < x_train).astype(np.float32)
    q_z = loaded.posterior(binary)
    np.testing.assert_allclose(loaded.component_loc.numpy(), q_z.mean(), atol=1e-5)
    np.testing.assert_allclose(loaded.component_scale.numpy(), q_z.stddev(), atol=1e-5)
