"""The adversarial family: the losses, a GAN that finds the modes of a toy mixture, LAPGAN's
pyramid, the VAE-GAN's groups, and clear errors. (Fit, save/load of every optimizer, export and
the fresh-process loader run for every model in the harness, tests/conftest.py MODEL_CASES.)"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import objectives
from zoo.models.lapgan import laplacian_pyramid, upsample


def test_losses_match_their_formulas():
    real, fake = np.array([2.0, -1.0, 0.3]), np.array([-0.5, 1.5, 0.0])
    sigmoid = lambda v: 1 / (1 + np.exp(-v))
    np.testing.assert_allclose(objectives.discriminator_loss(real, fake),
                               -np.log(sigmoid(real)) - np.log(1 - sigmoid(fake)), rtol=1e-6)
    np.testing.assert_allclose(objectives.generator_loss(fake), -np.log(sigmoid(fake)),
                               rtol=1e-6)
    a, b = np.random.default_rng(0).normal(size=(2, 4, 3, 3, 2)).astype(np.float32)
    np.testing.assert_allclose(objectives.gaussian_feature_distortion(a, b),
                               0.5 * ((a - b) ** 2).reshape(4, -1).sum(1), rtol=1e-5)


def test_gan_recovers_the_modes_of_a_toy_mixture():
    """Four well-separated 2-D Gaussians in [0, 1]^2: after a short seeded run most samples lie
    near a mode and every mode is drawn (no mode collapse)."""
    keras.utils.set_random_seed(0)
    modes = np.array([[0.25, 0.25], [0.25, 0.75], [0.75, 0.25], [0.75, 0.75]], np.float32)
    rng = np.random.default_rng(0)
    data = (modes[rng.integers(0, 4, 8192)] + 0.02 * rng.normal(size=(8192, 2))).astype(
        np.float32).clip(0, 1)
    gan = zoo.GAN(event_shape=(2,), latent_dim=4, generator_units=(64, 64),
                  discriminator_units=(32, 32), maxout_pieces=2, dropout=0.0, seed=0)
    gan.compile(optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    gan.fit(data, batch_size=128, epochs=20, verbose=0)
    samples = np.asarray(gan.sample(2000, seed=[0, 1]))
    distance = np.linalg.norm(samples[:, None] - modes[None], axis=-1)
    near = distance.min(1) < 0.1
    shares = np.bincount(distance.argmin(1)[near], minlength=4) / len(samples)
    assert near.mean() > 0.7, near.mean()
    assert shares.min() > 0.08, shares


def test_laplacian_pyramid_reconstructs_the_image_exactly():
    x = tf.random.stateless_uniform([3, 28, 28, 1], [0, 1])
    gaussian, residuals = laplacian_pyramid(x, 3)
    assert [tuple(g.shape[1:3]) for g in gaussian] == [(7, 7), (14, 14), (28, 28)]
    image = gaussian[0]
    for h in residuals:
        image = upsample(image) + h
    np.testing.assert_allclose(image, x, atol=1e-5)


def test_lapgan_samples_run_the_chain():
    model = zoo.LAPGAN(event_shape=(16, 16, 1), latent_dim=5, levels=3, coarse_units=(8,),
                       filters=(4,), seed=0)
    assert model.latent_shape == (5 + 8 * 8 + 16 * 16,)
    z = model.noise(3, seed=[1, 2])
    levels = model.generation_levels(z)
    assert [tuple(level.shape[1:]) for level in levels] == [(4, 4, 1), (8, 8, 1), (16, 16, 1)]
    np.testing.assert_allclose(levels[-1], model.generate(z), atol=1e-6)
    assert 0 <= np.min(levels[-1]) and np.max(levels[-1]) <= 1
    rows = model.pyramid_rows(np.random.rand(2, 16, 16, 1).astype(np.float32), rows=2)
    assert rows.shape == (2, 6, 16, 16, 1)


@pytest.mark.parametrize("make, message", [
    (lambda: zoo.DCGAN(event_shape=(30, 30, 1), filters=(4, 8)), "divide by 4"),
    (lambda: zoo.LAPGAN(event_shape=(28, 28, 1), levels=4), "divide by 8"),
    (lambda: zoo.LAPGAN(event_shape=(28, 28, 1), levels=1), "at least 2"),
    (lambda: zoo.GAN(event_shape=(8, 8, 1), dropout=1.0), "dropout"),
    (lambda: zoo.VAEGAN(event_shape=(8, 8, 1), prior="mixture"), "only the 'normal' prior"),
])
def test_bad_configurations_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_generate_and_discriminate_refuse_bad_input():
    model = zoo.DCGAN(event_shape=(8, 8, 1), latent_dim=3, filters=(4, 8), seed=0)
    with pytest.raises(ValueError, match=r"z of shape \[batch, 3\]"):
        model.generate(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="finite"):
        model.generate(np.full((2, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        model.discriminate(np.full((2, 8, 8, 1), 2.0, np.float32))
    with pytest.raises(ValueError, match="expects a batch of shape"):
        model.discriminate(np.zeros((2, 9, 9, 1), np.float32))


def test_conditional_dcgan_needs_labels_and_uses_them():
    model = zoo.ConditionalDCGAN(event_shape=(8, 8, 1), latent_dim=3, filters=(4, 8), seed=0)
    z, x = np.asarray(model.noise(4, seed=[1, 2])), np.random.rand(4, 8, 8, 1).astype("float32")
    with pytest.raises(ValueError, match="pass labels"):
        model.generate(z)
    with pytest.raises(ValueError, match="pass labels"):
        model.discriminate(x)
    with pytest.raises(ValueError, match="one class index per example: got 3 labels for 4"):
        model.generate(z, [1, 2, 3])
    with pytest.raises(ValueError, match=r"class indices in \[0, 10\)"):
        model.discriminate(x, [0, 1, 2, 10])
    # the label changes both networks' outputs; sample() cycles the classes 0, 1, 2, ...
    assert np.abs(model.generate(z, [3] * 4) - model.generate(z, [7] * 4)).max() > 1e-4
    assert np.abs(model.discriminate(x, [3] * 4) - model.discriminate(x, [7] * 4)).max() > 1e-4
    drawn = model.sample_outputs(12, seed=[5, 6])
    np.testing.assert_allclose(drawn["x"], model.generate(drawn["z"], np.arange(12) % 10),
                               atol=1e-6)
    assert model.class_rows(rows=2).shape == (2, 10, 8, 8, 1)


def test_conditional_dcgan_draws_the_class_it_is_asked_for():
    """Two classes of 8x8 images (0: the top half lit, 1: the bottom half): after a short
    seeded run, G(z, 0) is brighter on top and G(z, 1) below for most z."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 2048).astype(np.int32)
    images = np.zeros((2048, 8, 8, 1), np.float32)
    images[labels == 0, :4] = 1.0
    images[labels == 1, 4:] = 1.0
    images = np.clip(images + 0.1 * rng.normal(size=images.shape), 0, 1).astype(np.float32)
    model = zoo.ConditionalDCGAN(event_shape=(8, 8, 1), latent_dim=4, filters=(8, 16),
                                 num_classes=2, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    model.fit(images, labels, batch_size=64, epochs=8, verbose=0)
    z = model.noise(200, seed=[3, 4])
    top_minus_bottom = lambda g: (np.asarray(g)[:, :4].mean((1, 2, 3))
                                  - np.asarray(g)[:, 4:].mean((1, 2, 3)))
    assert (top_minus_bottom(model.generate(z, np.zeros(200, np.int32))) > 0.2).mean() > 0.9
    assert (top_minus_bottom(model.generate(z, np.ones(200, np.int32))) < -0.2).mean() > 0.9


def test_vaegan_groups_learn_only_from_their_own_losses():
    """The encoder's loss never reads the discriminator's logit and the discriminator's loss
    never reads the encoder's KL: each group's gradient is zero where the paper says so."""
    model = zoo.VAEGAN(event_shape=(8, 8, 1), latent_dim=3, hidden_units=(16,),
                       conv_filters=(4, 8), discriminator_filters=(4, 8), seed=0)
    model.compile(optimizer="adam")
    x = np.random.default_rng(0).random((6, 8, 8, 1)).astype(np.float32)
    head = model.discriminator_head.trainable_variables
    for group, unused in (("encoder", head), ("discriminator",
                                                model.posterior_head.trainable_variables)):
        with tf.GradientTape() as tape:
            loss = model.group_loss(group, x)
        grads = tape.gradient(loss, unused)
        assert all(g is None or not np.any(g) for g in grads), group
    with tf.GradientTape() as tape:
        loss = model.group_loss("decoder", x)
    grads = tape.gradient(loss, model.parameter_groups()["decoder"])
    assert all(g is not None for g in grads)
    assert model.generate(np.zeros((2, 3), np.float32)).shape == (2, 8, 8, 1)
    assert set(model.exported_endpoints()) >= {"encode", "decode", "generate", "discriminate",
                                               "log_prob"}
