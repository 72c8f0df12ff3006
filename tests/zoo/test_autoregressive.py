"""The autoregressive models (pixel LSTM, gated PixelCNN): causal masks, an exactly normalised
density, completion, fast samplers that draw what the naive one draws, and clear errors."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo

PALETTE = [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]


def pixelcnn(shape=(5, 5, 1), layers=3, kernel=3, **kwargs):
    return zoo.PixelCNN(event_shape=shape, filters=6, num_layers=layers, kernel_size=kernel,
                        output_units=6, seed=1, **kwargs)


def lstm(shape=(4, 5), **kwargs):
    kwargs.setdefault("likelihood", "categorical")
    kwargs.setdefault("palette", PALETTE if kwargs["likelihood"] == "categorical" else None)
    return zoo.PixelLSTM(event_shape=shape, lstm_units=[8], embedding_dim=4, seed=1, **kwargs)


def flipped(model, x, j):
    """x with pixel j (raster order) changed to another value."""
    grid = np.array(model.to_grid(x)).reshape(len(x), -1)
    grid[:, j] = (grid[:, j] + 1) % model.num_values
    return model.from_grid(grid.reshape(len(x), model.height, model.width)).astype(x.dtype)


def pixel_params(model, x):
    return np.asarray(model.params(x)).reshape(len(x), model.num_pixels, -1)


CAUSAL_CASES = {
    "pixelcnn-k3": lambda: pixelcnn(layers=6, kernel=3),
    "pixelcnn-k5": lambda: pixelcnn(layers=3, kernel=5),
    "pixelcnn-palette": lambda: pixelcnn(shape=(5, 5), layers=3, likelihood="categorical",
                                         palette=PALETTE),
    "pixel-lstm": lambda: lstm(shape=(5, 5)),
}
SLOW_CAUSAL = ("pixelcnn-k5", "pixelcnn-palette")  # the same masks as k3, other widths


@pytest.mark.parametrize("case", [pytest.param(c, marks=[pytest.mark.slow] * (c in SLOW_CAUSAL))
                                  for c in CAUSAL_CASES])
def test_the_output_at_a_pixel_never_sees_it_or_later_ones_and_sees_every_earlier_one(case):
    """Perturbation test at every position: changing pixel j changes the parameters of pixel
    i only if j < i; with enough layers every earlier pixel matters (no blind spot)."""
    # The model's seed drives sampling only; initial weights come from Keras' global seed.
    # Unseeded, each process drew other weights: some tiny test networks had far dependencies
    # near the float32 noise, or dead units that hid every dependency (both seen in CI).
    # Seeded, the weakest real dependency is ~1e-4, two decades above the threshold below.
    keras.utils.set_random_seed(2)
    model = CAUSAL_CASES[case]()
    x = np.asarray(model.sample(3, seed=4))
    base = pixel_params(model, x)
    n = model.num_pixels
    depends = np.zeros((n, n), bool)  # depends[i, j]: pixel i's parameters change with pixel j
    changes = np.zeros((n, n))
    for j in range(n):
        changes[:, j] = np.abs(pixel_params(model, flipped(model, x, j)) - base).max(axis=(0, 2))
        depends[:, j] = changes[:, j] > 1e-6
    # A leak is a change above the float32 noise of two evaluations on a loaded machine;
    # seeing is judged at 1e-6 (the weakest real dependency here is ~1e-4, see above).
    leaks = [(i, j) for i, j in zip(*np.nonzero(changes > 1e-5)) if j >= i]
    assert not leaks, f"pixel i sees pixel j >= i: {leaks[:5]}"
    if case in ("pixelcnn-k3", "pixel-lstm"):  # receptive field covering the whole image
        blind = [(i, j) for i in range(n) for j in range(i) if not depends[i, j]]
        assert not blind, f"blind spot: pixel i does not see earlier pixel j: {blind[:5]}"


@pytest.mark.parametrize("make,values", [
    (lambda: pixelcnn(shape=(2, 2, 1), layers=2), [0.0, 1.0]),
    (lambda: pixelcnn(shape=(2, 2), layers=2, likelihood="categorical", palette=PALETTE),
     [0, 1, 2]),
    (lambda: lstm(shape=(2, 2)), [0, 1, 2]),
    (lambda: lstm(shape=(2, 2, 1), likelihood="bernoulli"), [0.0, 1.0]),
])
def test_the_density_is_exact_it_sums_to_one_over_every_image(make, values):
    model = make()
    images = np.array(list(itertools.product(values, repeat=4)))
    x = images.reshape(-1, *model.event_shape).astype(model.observation_dtype)
    total = np.exp(np.asarray(model.log_prob(x), np.float64)).sum()
    assert total == pytest.approx(1.0, abs=1e-5)
    # num_samples and seed are accepted (one signature for every density) and change nothing
    np.testing.assert_array_equal(model.log_prob(x, num_samples=7, seed=3), model.log_prob(x))


SAMPLER_CASES = {
    "pixelcnn-k3": lambda: pixelcnn(shape=(6, 5, 1), layers=3),
    "pixelcnn-k5-palette": lambda: pixelcnn(shape=(5, 6), kernel=5, layers=2,
                                            likelihood="categorical", palette=PALETTE),
    "conditional-pixelcnn": lambda: zoo.ConditionalPixelCNN(
        event_shape=(6, 5, 1), filters=6, num_layers=2, kernel_size=3, output_units=6, seed=1),
    "pixel-lstm": lambda: lstm(),
}


@pytest.mark.parametrize("case", SAMPLER_CASES)
def test_the_fast_sampler_draws_what_the_full_re_evaluation_draws(case):
    model = SAMPLER_CASES[case]()
    condition = ({"labels": np.array([0, 3, 7, 9])} if model.capabilities.conditional else {})
    fast = np.asarray(model.sample(4, seed=11, **condition))
    np.testing.assert_array_equal(fast, model.sample(4, seed=11, naive=True, **condition))
    assert not np.array_equal(fast, model.sample(4, seed=12, **condition))
    x = fast[:2]
    given = {k: v[:2] for k, v in condition.items()}
    for known in (0, 1, model.width + 2, model.num_pixels - 1, model.num_pixels):
        cached = np.asarray(model.complete(x, known, 3, seed=5, **given))
        np.testing.assert_array_equal(cached,
                                      model.complete(x, known, 3, seed=5, naive=True, **given))
        assert cached.shape == (2, 3, *model.event_shape)
        kept = cached.reshape(2, 3, -1)[:, :, :known]
        np.testing.assert_array_equal(kept, np.repeat(x.reshape(2, 1, -1)[:, :, :known], 3, 1))


def test_completion_draws_differ_between_samples_and_seeds():
    model = pixelcnn(shape=(6, 6, 1))
    x = np.asarray(model.sample(1, seed=0))
    completions = np.asarray(model.complete(x, 12, 4, seed=1))[0]
    assert len({c.tobytes() for c in completions}) > 1
    np.testing.assert_array_equal(completions, model.complete(x, 12, 4, seed=1)[0])


@pytest.mark.parametrize("known,message", [
    (-1, "num_known must be between 0 and 25"), (26, "num_known must be between 0 and 25"),
    (2.5, "num_known must be integers"), ([1, 2], "num_known must be one integer")])
def test_num_known_outside_the_image_is_named(known, message):
    model = pixelcnn()
    x = np.zeros((1, 5, 5, 1), np.float32)
    with pytest.raises(ValueError, match=message):
        model.complete(x, known)


def test_bad_palette_data_are_named():
    model = lstm()
    with pytest.raises(ValueError, match=r"Palette indices must be in \[0, 2\]"):
        model.log_prob(np.full((1, 4, 5), 3, np.int32))
    with pytest.raises(ValueError, match="expects int32 observations, got dtype float"):
        model.log_prob(np.zeros((1, 4, 5), np.float32) + 0.5)
    with pytest.raises(ValueError, match=r"expects a batch of shape \[batch, 4, 5\]"):
        model.complete(np.zeros((1, 5, 5), np.int32), 3)


def test_bad_constructions_are_named():
    with pytest.raises(ValueError, match="kernel_size must be an odd number"):
        pixelcnn(kernel=4)
    with pytest.raises(ValueError, match=r"reads binary images of shape \(H, W, 1\)"):
        zoo.PixelCNN(event_shape=(5, 5))
    with pytest.raises(ValueError, match=r"index images of shape \(H, W\)"):
        zoo.PixelLSTM(event_shape=(5, 5, 1), likelihood="categorical")
    with pytest.raises(ValueError, match="likelihood must be one of"):
        zoo.PixelLSTM(likelihood="gaussian")


def test_conditional_pixelcnn_needs_and_uses_labels():
    model = SAMPLER_CASES["conditional-pixelcnn"]()
    x = np.asarray(model.sample(2, seed=0, labels=[1, 1]))
    with pytest.raises(ValueError, match="pass labels"):
        model.log_prob(x)
    assert not np.allclose(model.log_prob(x, labels=[1, 1]), model.log_prob(x, labels=[2, 2]))
    with pytest.raises(ValueError, match=r"labels must be class indices in \[0, 10\)"):
        model.log_prob(x, labels=[1, 10])


def test_the_loss_is_the_exact_nll_and_bits_per_pixel_match():
    model = lstm()
    x = np.asarray(model.sample(4, seed=2))
    terms = model.per_example_losses(tf.constant(x))
    np.testing.assert_allclose(terms["loss"], -np.asarray(model.log_prob(x)), rtol=1e-6)
    np.testing.assert_allclose(terms["bits_per_pixel"],
                               terms["loss"] / (model.num_pixels * np.log(2)), rtol=1e-6)


def test_palette_images_become_colours_for_pictures():
    model = lstm()
    x = np.asarray(model.sample(2, seed=0))
    images = model.to_images(x)
    assert images.shape == (2, 4, 5, 3)
    np.testing.assert_array_equal(images, np.asarray(PALETTE, np.float32)[x])
