"""DRAW: the attention filterbanks against the paper's formulas, the bound against a computation
by hand, the canvases, the importance-sampled bound, input errors and the `canvases` export."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import training.serving.session_loader
import zoo
from tests.conftest import inputs_for
from zoo.checks import as_stateless_seed
from zoo.export import export_model
from zoo.networks import attention

LOADER = training.serving.session_loader.__file__


def tiny(**overrides):
    arguments = {"event_shape": (8, 8, 1), "latent_dim": 3, "num_steps": 3, "encoder_units": 6,
                 "decoder_units": 7, "read_size": 2, "write_size": 3, "seed": 0}
    return zoo.DRAW(**{**arguments, **overrides})


def randomize(model, seed=0, scale=0.5):
    """Random values for every weight (biases too), so that no term hides behind a zero."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(scale * rng.standard_normal(variable.shape).astype(np.float32))


# --- 1. the filterbank is the paper's (section 3.2) ---------------------------------------------
def numpy_filterbank(raw, height, width, size, epsilon=attention.EPSILON):
    """F_X [batch, N, A], F_Y [batch, N, B], gamma [batch], written out term by term."""
    A, B, N = width, height, size
    f_x, f_y, gammas = [], [], []
    for g_x, g_y, log_sigma2, log_delta, log_gamma in raw.astype(np.float64):
        centre_x, centre_y = (A + 1) / 2 * (g_x + 1), (B + 1) / 2 * (g_y + 1)
        delta = (max(A, B) - 1) / (N - 1) * np.exp(log_delta)
        sigma2 = np.exp(log_sigma2)
        fx, fy = np.zeros((N, A)), np.zeros((N, B))
        for i in range(1, N + 1):
            mu_x = centre_x + (i - N / 2 - 0.5) * delta
            mu_y = centre_y + (i - N / 2 - 0.5) * delta
            for a in range(1, A + 1):
                fx[i - 1, a - 1] = np.exp(-(a - mu_x) ** 2 / (2 * sigma2))
            for b in range(1, B + 1):
                fy[i - 1, b - 1] = np.exp(-(b - mu_y) ** 2 / (2 * sigma2))
        f_x.append(fx / (fx.sum(axis=1, keepdims=True) + epsilon))
        f_y.append(fy / (fy.sum(axis=1, keepdims=True) + epsilon))
        gammas.append(np.exp(log_gamma))
    return np.array(f_x), np.array(f_y), np.array(gammas)


def test_filterbank_matches_the_papers_formulas():
    rng = np.random.default_rng(0)
    height, width, size = 7, 9, 4  # not square: A and B must not be swapped
    raw = rng.normal(0, 0.7, (6, 5)).astype(np.float32)
    f_x, f_y, gamma = attention.filterbanks(tf.constant(raw), height, width, size)
    expected_x, expected_y, expected_gamma = numpy_filterbank(raw, height, width, size)
    assert f_x.shape == (6, size, width) and f_y.shape == (6, size, height)
    np.testing.assert_allclose(f_x, expected_x, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(f_y, expected_y, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gamma, expected_gamma, rtol=1e-5)
    # read = gamma F_Y x F_X^T and write = 1/gamma F_Y^T w F_X, per image
    x = rng.random((6, height, width, 1)).astype(np.float32)
    x_hat = rng.random((6, height, width, 1)).astype(np.float32) - 0.5
    r = attention.read((tf.constant(x), tf.constant(x_hat)), tf.constant(raw), size)
    w = rng.normal(size=(6, size, size, 1)).astype(np.float32)
    image = attention.write(tf.constant(w), tf.constant(raw), height, width)
    for k in range(6):
        glimpses = [expected_gamma[k] * expected_y[k] @ v[k, ..., 0] @ expected_x[k].T
                    for v in (x, x_hat)]
        np.testing.assert_allclose(r[k], np.concatenate([g.ravel() for g in glimpses]),
                                   rtol=1e-4, atol=1e-5)
        pasted = expected_y[k].T @ w[k, ..., 0] @ expected_x[k] / expected_gamma[k]
        np.testing.assert_allclose(image[k, ..., 0], pasted, rtol=1e-4, atol=1e-5)


def test_filters_far_outside_the_image_are_zero_not_nan():
    raw = tf.constant([[40.0, -40.0, np.log(0.01), 0.0, 0.0]])
    f_x, f_y, _ = attention.filterbanks(raw, 8, 8, 3)
    assert np.all(np.isfinite(f_x)) and np.all(np.isfinite(f_y))
    np.testing.assert_allclose(f_x, 0.0, atol=1e-6)


# --- 2. full-image attention with unit stride is the identity -----------------------------------
@pytest.mark.parametrize("gamma", [1.0, 2.0])
def test_full_image_attention_with_unit_stride_reads_and_writes_the_image(gamma):
    size = 8  # N = image size, centre at the image centre (g~ = 0), delta = 1, small sigma
    raw = tf.constant([[0.0, 0.0, np.log(0.01), 0.0, np.log(gamma)]] * 2, tf.float32)
    f_x, f_y, _ = attention.filterbanks(raw, size, size, size)
    np.testing.assert_allclose(f_x[0], np.eye(size), atol=1e-6)
    np.testing.assert_allclose(f_y[0], np.eye(size), atol=1e-6)
    x = inputs_for(tiny(), n=2)
    x_hat = x - 0.5
    r = attention.read((tf.constant(x), tf.constant(x_hat)), raw, size)
    np.testing.assert_allclose(r, gamma * np.concatenate([x.reshape(2, -1),
                                                          x_hat.reshape(2, -1)], axis=1),
                               atol=1e-5)
    patch = np.random.default_rng(1).normal(size=(2, size, size, 1)).astype(np.float32)
    np.testing.assert_allclose(attention.write(tf.constant(patch), raw, size, size),
                               patch / gamma, atol=1e-5)


# --- 3. the ELBO computed by hand (T = 1, no attention) -------------------------------------------
def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _lstm(cell, inputs):
    """One step of a Keras LSTMCell from zero states: gates i, f, c, o."""
    kernel, recurrent, bias = (w.numpy().astype(np.float64) for w in cell.weights)
    gates = inputs @ kernel + np.zeros((len(inputs), cell.units)) @ recurrent + bias
    i, f, c, o = np.split(gates, 4, axis=-1)
    memory = _sigmoid(f) * 0.0 + _sigmoid(i) * np.tanh(c)
    return _sigmoid(o) * np.tanh(memory)


def test_one_step_elbo_equals_the_computation_by_hand():
    model = tiny(num_steps=1, attention=False)
    randomize(model)
    x = inputs_for(model, n=4).astype(np.float64)
    batch = len(x)
    seed = 7
    eps = tf.random.stateless_normal([batch, 1, model.latent_dim],
                                     as_stateless_seed(seed)).numpy()[:, 0].astype(np.float64)
    flat = x.reshape(batch, -1)
    read = np.concatenate([flat, flat - 0.5], axis=1)  # c_0 = 0: x_hat = x - sigmoid(0)
    h_enc = _lstm(model.encoder_cell, np.concatenate(
        [read, np.zeros((batch, model.decoder_units))], axis=1))  # h_dec_0 = 0
    kernel, bias = (w.numpy().astype(np.float64) for w in model.posterior_head.weights)
    mean, raw = np.split(h_enc @ kernel + bias, 2, axis=1)
    scale = np.log1p(np.exp(raw)) + model.posterior_head.min_scale
    z = mean + scale * eps
    h_dec = _lstm(model.decoder_cell, z)
    kernel, bias = (w.numpy().astype(np.float64) for w in model.write_patch.weights)
    logits = h_dec @ kernel + bias  # c_1 = c_0 + write(h_dec_1)
    p = _sigmoid(logits)
    log_px = np.sum(flat * np.log(p) + (1 - flat) * np.log(1 - p), axis=1)
    kl = np.sum(0.5 * (mean ** 2 + scale ** 2 - 1) - np.log(scale), axis=1)
    np.testing.assert_allclose(model.elbo(x.astype(np.float32), seed=seed), log_px - kl,
                               rtol=1e-5, atol=1e-4)
    terms = model.per_example_losses(x.astype(np.float32))  # the training terms, same parts
    np.testing.assert_allclose(terms["loss"], -terms["elbo"], rtol=1e-6)
    np.testing.assert_allclose(terms["elbo"], -terms["reconstruction"] - terms["kl"],
                               rtol=1e-5)
    # the reconstruction uses the posterior means
    np.testing.assert_allclose(
        model.reconstruct(x.astype(np.float32))[..., 0].numpy().reshape(batch, -1),
        _sigmoid(_lstm(model.decoder_cell, mean) @ kernel + bias), atol=1e-5)


# --- 4. canvases -------------------------------------------------------------------------------
@pytest.mark.parametrize("use_attention", [True, False])
def test_canvases_end_in_the_reconstruction_and_the_sample(use_attention):
    model = tiny(attention=use_attention, num_steps=4)
    randomize(model, scale=0.3)
    x = inputs_for(model, n=3)
    painted = model.canvases(x)
    assert painted.shape == (3, 4, 8, 8, 1)
    np.testing.assert_allclose(painted[:, -1], model.reconstruct(x), atol=1e-6)
    drawn = model.canvases(num_samples=5, seed=11)
    assert drawn.shape == (5, 4, 8, 8, 1)
    np.testing.assert_allclose(drawn[:, -1], model.sample(5, seed=11), atol=1e-6)
    outputs = model.sample_outputs(5, seed=11)
    assert outputs["z"].shape == (5, 4, model.latent_dim)
    np.testing.assert_allclose(outputs["x"], drawn[:, -1], atol=1e-6)
    assert not np.allclose(drawn[:, 0], drawn[:, -1])  # every step paints
    assert np.all((0 <= painted) & (painted <= 1))


@pytest.mark.parametrize("use_attention", [True, False])
def test_the_canvas_accumulates_the_writes(use_attention):
    """With a write that is the same image W at every step, c_t = t W."""
    model = tiny(attention=use_attention, num_steps=4)
    randomize(model)
    rng = np.random.default_rng(3)
    kernel, bias = model.write_patch.weights
    kernel.assign(np.zeros(kernel.shape, np.float32))
    bias.assign(rng.normal(size=bias.shape).astype(np.float32))
    if use_attention:
        kernel_a, bias_a = model.write_attention.weights
        kernel_a.assign(np.zeros(kernel_a.shape, np.float32))
        raw = np.array([0.1, -0.2, np.log(0.8), np.log(0.9), 0.2], np.float32)
        bias_a.assign(raw)
        written = attention.write(tf.reshape(bias, [1, 3, 3, 1]), tf.constant(raw[None]), 8, 8)
    else:
        written = tf.reshape(bias, [1, 8, 8, 1])
    steps = np.arange(1, 5, dtype=np.float32)[None, :, None, None, None]
    expected = _sigmoid(steps * np.asarray(written)[:, None])
    for painted in (model.canvases(inputs_for(model, n=2)), model.canvases(num_samples=2,
                                                                             seed=0)):
        np.testing.assert_allclose(painted, np.broadcast_to(expected, painted.shape), atol=1e-5)


# --- 5. the importance-weighted bound -------------------------------------------------------------
def test_more_importance_samples_give_a_bound_above_the_elbo():
    model = tiny(num_steps=3)
    randomize(model, scale=0.3)
    x = inputs_for(model, n=6)
    draws = 256
    tiled = np.tile(x, (draws, 1, 1, 1))
    elbos = np.asarray(model.elbo(tiled, seed=1)).reshape(draws, len(x))
    mean, stderr = elbos.mean(0), elbos.std(0) / np.sqrt(draws)
    # k = 1 is the ELBO in expectation: log N(z; 0, I) - log q(z | .) averages to -KL
    one = np.asarray(model.log_prob(tiled, num_samples=1, seed=2)).reshape(draws, len(x))
    one_stderr = one.std(0) / np.sqrt(draws)
    assert np.all(np.abs(one.mean(0) - mean) < 4 * np.hypot(stderr, one_stderr))
    bound = np.asarray(model.log_prob(x, num_samples=256, seed=3, chunk_size=64))
    assert bound.shape == (len(x),) and np.all(np.isfinite(bound))
    assert np.all(bound >= mean - 3 * stderr)
    assert bound.mean() > mean.mean()
    # seeded, and the same in a graph with a tensor k (the exported signature's path)
    np.testing.assert_allclose(model.log_prob(x, num_samples=5, seed=4),
                               model.log_prob(x, num_samples=5, seed=4))
    graph = tf.function(lambda v, k: model.log_prob(v, num_samples=k, seed=[4, 0]))
    np.testing.assert_allclose(graph(tf.constant(x), tf.constant(5)),
                               model.log_prob(x, num_samples=5, seed=4), rtol=1e-5)


# --- 6. errors ---------------------------------------------------------------------------------
def test_bad_inputs_and_arguments_are_named():
    model = tiny()
    x = inputs_for(model, n=2)
    for method in (model.elbo, model.reconstruct, model.canvases,
                   lambda v: model.log_prob(v, num_samples=2)):
        with pytest.raises(ValueError, match="expects a batch of shape"):
            method(np.zeros((2, 5, 5, 1), np.float32))
        with pytest.raises(ValueError, match=r"must be in \[0, 1\].*divide 8-bit images by 255"):
            method(x * 255)
        with pytest.raises(ValueError, match="NaN or infinite"):
            method(np.full_like(x, np.nan))
    with pytest.raises(ValueError, match="expects float32 observations, got dtype uint8"):
        model.elbo(np.zeros((2, 8, 8, 1), np.uint8))
    with pytest.raises(ValueError, match="either images x .* or num_samples"):
        model.canvases()
    with pytest.raises(ValueError, match="either images x .* or num_samples"):
        model.canvases(x, num_samples=2)
    for n in (0, -1):
        with pytest.raises(ValueError, match="num_samples must be an integer in"):
            model.sample(n, seed=0)
        with pytest.raises(ValueError, match="num_samples must be an integer in"):
            model.canvases(num_samples=n, seed=0)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        model.log_prob(x, num_samples=2, chunk_size=0)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
        model.fit(x * 255, verbose=0)
    elbo = tf.function(lambda v: model.elbo(v, seed=1))  # symbolic: graph assertions
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must be in \[0, 1\]"):
        elbo(tf.constant(x + 1))
    with pytest.raises(ValueError, match=r"images of shape \(height, width, channels\)"):
        zoo.DRAW(event_shape=(8, 8))
    for name in ("num_steps", "latent_dim", "read_size", "write_size", "encoder_units"):
        with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
            tiny(**{name: 0})


# --- colour, mixed precision, cost ---------------------------------------------------------------
def test_colour_images_use_the_same_filters_per_channel():
    model = tiny(event_shape=(6, 10, 3))
    x = np.random.default_rng(0).random((2, 6, 10, 3)).astype(np.float32)
    assert model.read_dim == 2 * 2 * 2 * 3
    assert model.sample(2, seed=0).shape == (2, 6, 10, 3)
    assert model.canvases(x).shape == (2, 3, 6, 10, 3)
    assert np.all(np.isfinite(model.elbo(x, seed=0)))


def test_mixed_precision_keeps_the_canvas_and_heads_float32():
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tiny()
        model.compile(optimizer="adam")
        assert model.encoder_cell.compute_dtype == "float16"
        assert model.posterior_head.compute_dtype == "float32"
        x = inputs_for(model, n=8)
        assert model.elbo(x, seed=0).dtype == tf.float32
        assert model.reconstruct(x).dtype == tf.float32
        history = model.fit(x, batch_size=4, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][-1])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_flops_count_the_layers_of_every_step():
    model = tiny(attention=False, num_steps=2)
    e, d, z, pixels = 6, 7, 3, 64
    per_step = 2 * (4 * e * (2 * pixels + d + e) + e * 2 * z + 4 * d * (z + d) + d * pixels)
    assert model.forward_flops_per_image() == 2 * per_step
    assert tiny(num_steps=6).forward_flops_per_image() == 2 * tiny(
        num_steps=3).forward_flops_per_image()


# --- the canvases signature in a fresh process, through the TF Serving loader -------------------
SCRIPT = """
import importlib.util, json, sys
import numpy as np
spec = importlib.util.spec_from_file_location("session_loader", sys.argv[1])
loader = importlib.util.module_from_spec(spec)
spec.loader.exec_module(loader)
model = loader.LoadedModel(sys.argv[2])
seed = np.array([1, 2], np.int32)
out = {"canvases": model.run("canvases", num_samples=np.int32(3), seed=seed)["canvases"],
       "sample": model.run("sample", num_samples=np.int32(3), seed=seed)["x"],
       "error": loader.error_of(lambda: model.run("canvases", num_samples=np.int32(0),
                                                  seed=seed)),
       "modules": json.dumps(sorted(m for m in sys.modules
                                    if m.split(".")[0] in ("zoo", "training",
                                                           "tensorflow_probability")))}
np.savez(sys.argv[3], **out)
"""


def test_exported_canvases_signature_runs_in_the_serving_loader(tmp_path):
    model = tiny(num_steps=2)
    export_dir = export_model(model, str(tmp_path / "draw"))
    script, outputs = tmp_path / "run.py", tmp_path / "out.npz"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, str(script), LOADER, export_dir, str(outputs)],
                            capture_output=True, text=True, cwd=str(tmp_path), env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(outputs) as out:
        assert json.loads(str(out["modules"])) == []
        canvases = out["canvases"]
        assert canvases.shape == (3, 2, 8, 8, 1)
        np.testing.assert_allclose(canvases, model.canvases(num_samples=3, seed=[1, 2]),
                                   atol=1e-5)
        np.testing.assert_allclose(canvases[:, -1], out["sample"], atol=1e-6)
        assert "num_samples must be between 1 and" in str(out["error"])


def test_the_canvas_figure_and_the_painting_gif(tmp_path):
    from PIL import Image

    from training.pictures import available_plots, plot

    model = tiny(num_steps=4)
    x = inputs_for(model, n=6)
    rows = model.canvas_rows(x, seed=1, images=3, columns=10)
    assert rows.shape == (6, 4, 8, 8, 1)  # min(columns, T) steps, the last one is step T
    np.testing.assert_allclose(rows[:3, -1], model.reconstruct(x[:3]), atol=1e-5)
    assert {"canvases", "painting"} <= set(available_plots(model))
    png = plot(model, "canvases", str(tmp_path / "canvases.png"), x, None)
    gif = plot(model, "painting", str(tmp_path / "painting.gif"), x, None, seed=2)
    assert os.path.getsize(png) > 500
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames == 4


# --- the attention windows (the rectangles of the paper's figures) --------------------------------
def _fixed_attention(model, read_raw, write_raw):
    """Attention layers that ignore h_dec: every step's grid is placed by the given five numbers."""
    for layer, raw in ((model.read_attention, read_raw), (model.write_attention, write_raw)):
        kernel, bias = layer.weights
        kernel.assign(np.zeros(kernel.shape, np.float32))
        bias.assign(np.asarray(raw, np.float32))


def test_attention_windows_are_the_grids_of_the_attention_parameters():
    height, width = 11, 13  # not square: rows and columns must not be swapped
    model = tiny(event_shape=(height, width, 1), num_steps=3, read_size=3, write_size=4)
    randomize(model, scale=0.3)
    # filters wide enough (sigma^2 = 0.6) for their centres of mass on the pixel grid to be
    # their centres mu, and far enough inside the image not to be cut
    read_raw = [0.1, 0.0, np.log(0.6), np.log(0.2), 0.1]
    write_raw = [-0.1, 0.1, np.log(0.6), np.log(0.3), -0.2]
    _fixed_attention(model, read_raw, write_raw)
    x = np.random.default_rng(0).random((2, height, width, 1)).astype(np.float32)
    windows = model.attention_windows(x)
    assert set(windows) == {"read", "write"}
    for name, raw, size in (("read", read_raw, 3), ("write", write_raw, 4)):
        window = {k: np.asarray(v) for k, v in windows[name].items()}
        g_x, g_y, log_sigma2, log_delta, _ = raw
        centre_x = (width + 1) / 2 * (g_x + 1) - 1  # the paper's a = 1..A, 0-based here
        centre_y = (height + 1) / 2 * (g_y + 1) - 1
        delta = (max(height, width) - 1) / (size - 1) * np.exp(log_delta)
        assert window["box"].shape == (2, 3, 4)
        np.testing.assert_allclose(window["centre_x"], centre_x, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(window["centre_y"], centre_y, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(window["stride"], delta, rtol=1e-5)
        np.testing.assert_allclose(window["sigma"], np.exp(log_sigma2 / 2), rtol=1e-5)
        np.testing.assert_allclose(window["size"], size * delta, rtol=1e-5)
        np.testing.assert_allclose(window["box"], np.broadcast_to(
            [centre_x - size * delta / 2, centre_y - size * delta / 2,
             centre_x + size * delta / 2, centre_y + size * delta / 2], (2, 3, 4)),
            rtol=1e-5, atol=1e-5)
        # The box holds the N x N filter centres, half a stride in from its edges: the centres
        # of mass of the (narrow, inside the image) filters of the paper's filterbank.
        f_x, f_y, _ = numpy_filterbank(np.array([raw], np.float32), height, width, size)
        mass_x = f_x[0] @ np.arange(width)
        mass_y = f_y[0] @ np.arange(height)
        left, top, right, bottom = window["box"][0, 0]
        np.testing.assert_allclose([mass_x[0], mass_x[-1]], [left + delta / 2, right - delta / 2],
                                   atol=1e-3)
        np.testing.assert_allclose([mass_y[0], mass_y[-1]], [top + delta / 2, bottom - delta / 2],
                                   atol=1e-3)
    sampled = model.attention_windows(num_samples=4, seed=1)
    assert set(sampled) == {"write"}  # sampling reads nothing
    assert sampled["write"]["box"].shape == (4, 3, 4)


def _numpy_lstm_step(cell, inputs, h, c):
    kernel, recurrent, bias = (w.numpy().astype(np.float64) for w in cell.weights)
    i, f, g, o = np.split(inputs @ kernel + h @ recurrent + bias, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def test_sample_write_windows_follow_the_decoder_state_step_by_step():
    """For samples z_t = noise_t: h_dec_t by hand, then the write grid it places."""
    model = tiny(num_steps=3)
    randomize(model, scale=0.5)
    seed, n = 5, 3
    noise = tf.random.stateless_normal([n, 3, model.latent_dim],
                                       as_stateless_seed(seed)).numpy().astype(np.float64)
    windows = model.attention_windows(num_samples=n, seed=seed)["write"]
    h = c = np.zeros((n, model.decoder_units))
    kernel, bias = (w.numpy().astype(np.float64) for w in model.write_attention.weights)
    for t in range(3):
        h, c = _numpy_lstm_step(model.decoder_cell, noise[:, t], h, c)
        g_x, g_y, _, log_delta, _ = (h @ kernel + bias).T
        delta = (8 - 1) / (3 - 1) * np.exp(log_delta)
        np.testing.assert_allclose(windows["centre_x"][:, t], 4.5 * (g_x + 1) - 1, rtol=1e-4,
                                   atol=1e-4)
        np.testing.assert_allclose(windows["centre_y"][:, t], 4.5 * (g_y + 1) - 1, rtol=1e-4,
                                   atol=1e-4)
        np.testing.assert_allclose(windows["size"][:, t], 3 * delta, rtol=1e-4)


def test_the_read_window_of_a_step_is_placed_by_the_previous_decoder_state():
    model = tiny(num_steps=4, read_size=3, write_size=3)
    randomize(model, scale=0.4)
    for read, write in zip(model.read_attention.weights, model.write_attention.weights):
        read.assign(write)  # the same layer: read_t must then be write_{t-1}
    windows = model.attention_windows(inputs_for(model, n=3))
    read, write = (np.asarray(windows[k]["box"]) for k in ("read", "write"))
    np.testing.assert_allclose(read[:, 1:], write[:, :-1], rtol=1e-5, atol=1e-5)
    bias = model.read_attention.weights[1].numpy()  # h_dec_0 = 0 places the first read
    np.testing.assert_allclose(windows["read"]["centre_x"][:, 0], 4.5 * (bias[0] + 1) - 1,
                               rtol=1e-5)


def test_draw_windows_outlines_the_box_at_the_zoomed_pixels():
    from zoo.models.draw import WINDOW_COLOURS, draw_windows

    image = np.zeros((1, 4, 4, 1), np.float32)
    # columns 0.5..2.5 and rows -0.5..1.5 in pixel coordinates: zoomed 2x, columns 2..5 and
    # rows 0..3 (pixel i covers [i - 0.5, i + 0.5] -> zoomed [2i, 2i + 2))
    drawn = draw_windows(image, {"read": np.array([[0.5, -0.5, 2.5, 1.5]])}, zoom=2)[0]
    red = np.array(WINDOW_COLOURS["read"], np.float32)
    outline = np.zeros((8, 8), bool)
    outline[0:4, 2] = outline[0:4, 5] = outline[0, 2:6] = outline[3, 2:6] = True
    np.testing.assert_array_equal(np.all(drawn == red, axis=-1), outline)
    assert np.all(drawn[~outline] == 0)
    # a box partly outside the image: only its visible edges
    drawn = draw_windows(image, {"write": np.array([[-3.0, 1.5, 10.0, 2.5]])}, zoom=2)[0]
    green = np.all(drawn == np.array(WINDOW_COLOURS["write"], np.float32), axis=-1)
    assert green[4, :].all() and green[5, :].all() and green.sum() == 16


def test_the_attention_picture_and_the_models_that_have_none(tmp_path):
    from training.pictures import available_plots, plot

    model = tiny(num_steps=4)
    _fixed_attention(model, [0.0, 0.0, np.log(0.1), np.log(0.2), 0.0],
                     [0.3, -0.3, np.log(0.1), np.log(0.3), 0.0])
    x = inputs_for(model, n=4)
    rows = model.attention_rows(x, seed=1, images=2, columns=3, zoom=4)
    assert rows.shape == (4, 3, 32, 32, 3)
    steps = [0, 2, 3]  # 3 evenly spaced steps of 4, ending with T
    canvases = np.asarray(model.canvases(x[:2]))[:, steps].repeat(4, axis=2).repeat(4, axis=3)
    grey = (rows[:2, ..., 0] == rows[:2, ..., 1]) & (rows[:2, ..., 1] == rows[:2, ..., 2])
    np.testing.assert_allclose(rows[:2, ..., 0][grey], canvases[..., 0][grey], atol=1e-6)
    assert grey.mean() > 0.5  # the outlines cover a little of each canvas
    windows = model.attention_windows(x[:2])
    left, top, right, bottom = np.round((np.asarray(windows["read"]["box"])[0, 0] + 0.5) * 4)
    red = np.array([1.0, 0.2, 0.2], np.float32)
    assert np.all(rows[0, 0, int(top):int(bottom), int(left)] == red)
    assert "attention" in available_plots(model)
    png = plot(model, "attention", str(tmp_path / "attention.png"), x, None, seed=0)
    assert os.path.getsize(png) > 500
    plain = tiny(attention=False)
    assert "attention" not in available_plots(plain)
    with pytest.raises(ValueError, match="attention=False.*no attention windows"):
        plain.attention_windows(x)
    with pytest.raises(ValueError, match="cannot draw|Unknown plot"):
        plot(plain, "attention", str(tmp_path / "none.png"), x, None)
    with pytest.raises(ValueError, match="attention_windows takes either images x"):
        model.attention_windows(x, num_samples=2)
