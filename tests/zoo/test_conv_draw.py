"""Convolutional DRAW: the ConvLSTM cell and the one-step bound against numpy convolutions written
out by hand, spatial latents at 8x8 and 28x28, the per-step KL, input errors and the FLOP count."""

import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import inputs_for
from zoo.checks import as_stateless_seed
from zoo.networks.conv_lstm import ConvLSTMCell


def tiny(**overrides):
    arguments = {"event_shape": (8, 8, 1), "num_steps": 3, "latent_channels": 2, "stride": 2,
                 "read_filters": 3, "encoder_filters": 4, "decoder_filters": 5,
                 "lstm_kernel_size": 3, "seed": 0}
    return zoo.ConvDRAW(**{**arguments, **overrides})


def randomize(model, seed=0, scale=0.3):
    """Random values for every weight (biases too), so that no term hides behind a zero."""
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(scale * rng.standard_normal(variable.shape).astype(np.float32))


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def _same_padding(size, stride, kernel):
    """(before, after) of TensorFlow's 'same' padding for one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d(x, kernel, bias, stride=1):
    """'same' cross-correlation: x [B, H, W, Cin], kernel [k, k, Cin, Cout] -> [B, H/s, W/s,
    Cout]."""
    k = kernel.shape[0]
    (top, bottom), (left, right) = (_same_padding(n, stride, k) for n in x.shape[1:3])
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    rows, columns = -(-x.shape[1] // stride), -(-x.shape[2] // stride)
    out = np.zeros((len(x), rows, columns, kernel.shape[-1]))
    for i in range(rows):
        for j in range(columns):
            patch = padded[:, i * stride:i * stride + k, j * stride:j * stride + k]
            out[:, i, j] = np.einsum("bklc,klco->bo", patch, kernel)
    return out + bias


def conv2d_transpose(x, kernel, bias, stride):
    """Keras's Conv2DTranspose with 'same' padding, as the gradient of `conv2d`: each input
    position adds kernel x value to the output window it was read from. kernel [k, k, Cout,
    Cin]; x [B, h, w, Cin] -> [B, h s, w s, Cout]."""
    k = kernel.shape[0]
    height, width = x.shape[1] * stride, x.shape[2] * stride
    top, left = _same_padding(height, stride, k)[0], _same_padding(width, stride, k)[0]
    out = np.zeros((len(x), height, width, kernel.shape[2]))
    for i in range(x.shape[1]):
        for j in range(x.shape[2]):
            for a in range(k):
                for b in range(k):
                    row, column = i * stride + a - top, j * stride + b - left
                    if 0 <= row < height and 0 <= column < width:
                        out[:, row, column] += x[:, i, j] @ kernel[a, b].T
    return out + bias


def conv_lstm(cell, inputs, h, c):
    """One ConvLSTM step by hand: gates i, f, g, o from one conv of [inputs, h]."""
    kernel, bias = (w.numpy().astype(np.float64) for w in cell.gates.weights)
    i, f, g, o = np.split(conv2d(np.concatenate([inputs, h], -1), kernel, bias), 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def test_conv_lstm_cell_is_the_lstm_with_convolutions():
    rng = np.random.default_rng(0)
    cell = ConvLSTMCell(3, kernel_size=3)
    cell.build((None, 5, 6, 2))
    kernel, bias = cell.gates.weights
    np.testing.assert_array_equal(bias, np.repeat([0.0, 1.0, 0.0, 0.0], 3))  # forget bias 1
    kernel.assign(0.5 * rng.standard_normal(kernel.shape).astype(np.float32))
    bias.assign(0.5 * rng.standard_normal(bias.shape).astype(np.float32))
    x, h, c = (rng.standard_normal((2, 5, 6, n)) for n in (2, 3, 3))
    out, (h_new, c_new) = cell(tf.constant(x, tf.float32), [tf.constant(h, tf.float32),
                                                            tf.constant(c, tf.float32)])
    expected_h, expected_c = conv_lstm(cell, x, h, c)
    np.testing.assert_allclose(out, expected_h, atol=1e-5)
    np.testing.assert_allclose(h_new, expected_h, atol=1e-5)
    np.testing.assert_allclose(c_new, expected_c, atol=1e-5)
    zeros = cell.get_initial_state(4)
    assert [tuple(s.shape) for s in zeros] == [(4, 5, 6, 3)] * 2
    assert cell.flops(2) == 2 * 5 * 6 * 9 * (2 + 3) * 12


@pytest.mark.parametrize("stride, kernel_size", [(2, 3), (4, 3), (2, 5)])
def test_one_step_is_a_conv_vae_whose_elbo_matches_the_computation_by_hand(stride, kernel_size):
    model = tiny(num_steps=1, stride=stride, lstm_kernel_size=kernel_size)
    randomize(model)
    x = inputs_for(model, n=3).astype(np.float64)
    batch, seed = len(x), 7
    h, w, latent = model.step_latent_shape
    assert (h, w, latent) == (8 // stride, 8 // stride, 2)
    eps = tf.random.stateless_normal([batch, 1, h, w, latent],
                                     as_stateless_seed(seed)).numpy()[:, 0].astype(np.float64)
    weights = {layer.name: [v.numpy().astype(np.float64) for v in layer.weights]
               for layer in (model.read_conv, model.write_conv)}
    read = conv2d(np.concatenate([x, x - 0.5], -1), *weights["read_conv"], stride=stride)
    zeros_dec = np.zeros((batch, h, w, model.decoder_filters))  # h_dec_0 = 0
    zeros_enc = np.zeros((batch, h, w, model.encoder_filters))
    h_enc, _ = conv_lstm(model.encoder_cell, np.concatenate([read, zeros_dec], -1), zeros_enc,
                         zeros_enc)
    kernel, bias = (v.numpy().astype(np.float64) for v in model.posterior_head.weights)
    mean, raw = np.split(h_enc @ kernel + bias, 2, axis=-1)  # a 1 x 1 convolution
    scale = np.log1p(np.exp(raw)) + model.posterior_head.min_scale
    z = mean + scale * eps
    h_dec, _ = conv_lstm(model.decoder_cell, z, zeros_dec, zeros_dec)
    logits = conv2d_transpose(h_dec, *weights["write_conv"], stride=stride)  # c_1
    assert logits.shape == x.shape
    p = _sigmoid(logits)
    log_px = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    kl = np.sum(0.5 * (mean ** 2 + scale ** 2 - 1) - np.log(scale), axis=(1, 2, 3))
    np.testing.assert_allclose(model.elbo(x.astype(np.float32), seed=seed), log_px - kl,
                               rtol=1e-5, atol=1e-4)
    reconstruction, model_kl = model.elbo_terms(tf.constant(x, tf.float32),
                                                as_stateless_seed(seed))
    np.testing.assert_allclose(model_kl, kl, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(reconstruction, log_px, rtol=1e-5, atol=1e-4)
    # the reconstruction uses the posterior means
    h_mean, _ = conv_lstm(model.decoder_cell, mean, zeros_dec, zeros_dec)
    np.testing.assert_allclose(
        model.reconstruct(x.astype(np.float32)),
        _sigmoid(conv2d_transpose(h_mean, *weights["write_conv"], stride=stride)), atol=1e-5)


def test_spatial_latents_and_canvases_at_mnist_size():
    model = tiny(event_shape=(28, 28, 1), stride=4, num_steps=2)
    randomize(model)
    assert model.step_latent_shape == (7, 7, 2)
    outputs = model.sample_outputs(3, seed=1)
    assert outputs["z"].shape == (3, 2, 7, 7, 2) and outputs["x"].shape == (3, 28, 28, 1)
    x = (np.random.default_rng(0).random((2, 28, 28, 1)) < 0.3).astype(np.float32)
    painted = model.canvases(x)
    assert painted.shape == (2, 2, 28, 28, 1)
    np.testing.assert_allclose(painted[:, -1], model.reconstruct(x), atol=1e-6)
    drawn = model.canvases(num_samples=3, seed=1)
    np.testing.assert_allclose(drawn[:, -1], outputs["x"], atol=1e-6)
    # the write (kernel max(3, 4) = 4 for stride 4) paints every pixel: no pixel is left at the
    # bias alone
    h_dec = tf.random.stateless_normal([1, 7, 7, 5], [0, 1])
    single = np.zeros((1, 7, 7, 5), np.float32)
    single[0, 3, 3] = 1.0
    painted_by_one = np.asarray(model.write(single)) - np.asarray(model.write(single * 0))
    assert np.count_nonzero(np.abs(painted_by_one[0, ..., 0]) > 1e-7) == 16  # one 4 x 4 cell
    assert np.all(np.isfinite(model.write(h_dec)))
    assert np.all(np.isfinite(model.elbo(x, seed=0)))


def test_the_steps_kl_add_up_to_the_bound_kl():
    model = tiny(num_steps=3)
    randomize(model)
    x = inputs_for(model, n=4)
    noise = model.noise(4, as_stateless_seed(3))
    out = model.run_steps(noise, x=x, keep=("step_kl",))
    assert out["step_kl"].shape == (4, 3)
    assert np.all(np.asarray(out["step_kl"]) > 0)
    np.testing.assert_allclose(np.sum(out["step_kl"], 1), out["kl"], rtol=1e-5)
    _, kl = model.elbo_terms(tf.constant(x), as_stateless_seed(3))
    np.testing.assert_allclose(kl, out["kl"], rtol=1e-6)


def test_bad_inputs_and_arguments_are_named():
    for name in ("num_steps", "latent_channels", "stride", "read_filters", "encoder_filters",
                 "decoder_filters", "lstm_kernel_size"):
        with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
            tiny(**{name: 0})
    with pytest.raises(ValueError, match="num_steps must be a positive integer"):
        tiny(num_steps=-2)
    with pytest.raises(ValueError, match=r"image size 28x28 is not divisible by the stride 3"):
        tiny(event_shape=(28, 28, 1), stride=3)
    with pytest.raises(ValueError, match=r"image size 8x10 is not divisible by the stride 4"):
        tiny(event_shape=(8, 10, 1), stride=4)
    with pytest.raises(ValueError, match=r"images of shape \(height, width, channels\)"):
        zoo.ConvDRAW(event_shape=(8, 8))
    model = tiny()
    x = inputs_for(model, n=2)
    for method in (model.elbo, model.reconstruct, model.canvases, model.compression_steps,
                   lambda v: model.log_prob(v, num_samples=2)):
        with pytest.raises(ValueError, match="expects a batch of shape"):
            method(np.zeros((2, 28, 28, 1), np.float32))
        with pytest.raises(ValueError, match=r"must be in \[0, 1\]"):
            method(x * 255)


def test_colour_images_and_the_flop_count():
    model = tiny(event_shape=(8, 4, 3), num_steps=2)
    x = np.random.default_rng(0).random((2, 8, 4, 3)).astype(np.float32)
    assert model.step_latent_shape == (4, 2, 2)
    assert model.sample(2, seed=0).shape == (2, 8, 4, 3)
    assert np.all(np.isfinite(model.elbo(x, seed=0)))
    h, w = 4, 2
    per_step = (2 * h * w * 9 * 6 * 3                # read: [x, x_hat] (6 channels) -> 3 maps
                + 2 * h * w * 9 * (3 + 5 + 4) * 16   # encoder ConvLSTM, 4 x 4 gates
                + 2 * h * w * 4 * 4                  # posterior head (1 x 1, 2 x 2 channels)
                + 2 * h * w * 9 * (2 + 5) * 20       # decoder ConvLSTM
                + 2 * h * w * 9 * 5 * 3)             # write
    assert model.forward_flops_per_image() == 2 * per_step


def test_mixed_precision_keeps_the_canvas_and_heads_float32():
    import keras

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = tiny(num_steps=2)
        model.compile(optimizer="adam")
        assert model.encoder_cell.compute_dtype == "float16"
        assert model.posterior_head.compute_dtype == "float32"
        assert model.write_conv.compute_dtype == "float32"
        x = inputs_for(model, n=8)
        assert model.elbo(x, seed=0).dtype == tf.float32
        assert model.reconstruct(x).dtype == tf.float32
        history = model.fit(x, batch_size=4, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][-1])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_pictures_are_the_canvases_without_attention_windows(tmp_path):
    from training.pictures import available_plots, plot

    model = tiny(num_steps=2)
    assert {"canvases", "painting"} <= set(available_plots(model))
    assert "attention" not in available_plots(model)
    rows = model.canvas_rows(inputs_for(model, n=4), seed=0, images=2)
    assert rows.shape == (4, 2, 8, 8, 1)
    assert model.capabilities.progressive and model.capabilities.latent == "sequence"
    assert "canvases" in model.exported_endpoints()
    png = plot(model, "canvases", str(tmp_path / "canvases.png"), inputs_for(model, n=4), None)
    assert png.endswith("canvases.png")
