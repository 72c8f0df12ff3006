"""training/compression.py: the model's bits are its KL sums measured directly, its reconstructions
those of the first t posterior latents and the prior mean, JPEG sizes the bytes Pillow writes, and
the `compress` command."""

import io
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

import zoo
from tests.conftest import inputs_for
from training import compression
from training.__main__ import main
from zoo.checks import as_stateless_seed

DRAW = {"event_shape": (8, 8, 1), "latent_dim": 3, "num_steps": 3, "encoder_units": 6,
        "decoder_units": 7, "read_size": 2, "write_size": 3, "seed": 0}
CONV_DRAW = {"event_shape": (8, 8, 1), "num_steps": 3, "latent_channels": 2, "stride": 2,
             "read_filters": 3, "encoder_filters": 4, "decoder_filters": 4, "seed": 0}


def randomized(cls, arguments, seed=0, scale=0.4):
    model = cls(**arguments)
    rng = np.random.default_rng(seed)
    for variable in model.trainable_variables:
        variable.assign(scale * rng.standard_normal(variable.shape).astype(np.float32))
    return model


def trajectory_by_hand(model, x, noise, sent):
    """The T steps in Python, z_t = mu_t + sigma_t noise_t for t <= sent, else 0: (logits, KL
    of the sent steps)."""
    x = tf.constant(x, tf.float32)
    batch = len(x)
    canvas = tf.zeros_like(x)
    encoder = model.encoder_cell.get_initial_state(batch)
    decoder = model.decoder_cell.get_initial_state(batch)
    kl = np.zeros(batch)
    for t in range(model.num_steps):
        h_dec = decoder[0]
        r = model.read(x, x - tf.sigmoid(canvas), h_dec)
        h_enc, encoder = model.encoder_cell(tf.concat([r, h_dec], -1), encoder)
        q_z = model.posterior_step(h_enc)
        if t < sent:
            z = q_z.mean() + q_z.stddev() * noise[:, t]
            kl += np.asarray(tf.reduce_sum(tf.reshape(
                0.5 * (q_z.mean() ** 2 + q_z.stddev() ** 2 - 1) - tf.math.log(q_z.stddev()),
                [batch, -1]), -1))
        else:
            z = tf.zeros_like(q_z.mean())
        h_dec, decoder = model.decoder_cell(z, decoder)
        canvas = canvas + model.write(h_dec)
    return np.asarray(canvas), kl


@pytest.mark.parametrize("cls, arguments", [(zoo.DRAW, DRAW), (zoo.ConvDRAW, CONV_DRAW)],
                         ids=["draw", "conv_draw"])
def test_bits_are_the_kl_of_the_steps_sent_and_reconstructions_their_canvases(cls, arguments):
    model = randomized(cls, arguments)
    x = inputs_for(model, n=5)
    tables, arrays = compression.compress(model, x, seed=3, qualities=(1, 50))
    steps = arrays["steps"]
    bits = steps["bits"]
    assert bits.shape == (5, 3) and steps["reconstruction"].shape == (5, 3, 8, 8, 1)
    assert np.all(np.diff(bits, axis=1) >= 0) and np.all(bits > 0)
    # one batch, seeded (seed, 0): the posterior trajectory's noise
    noise = model.noise(5, as_stateless_seed([3, 0])).numpy()
    for t in range(1, 4):
        # the KL of the first t steps, from a model that stops after t steps (same weights)
        short = cls(**{**arguments, "num_steps": t})
        short.set_weights(model.get_weights())
        direct = short.run_steps(noise[:, :t], x=x)["kl"].numpy()
        np.testing.assert_allclose(bits[:, t - 1], direct / math.log(2), rtol=1e-4, atol=1e-5)
        logits, kl = trajectory_by_hand(model, x, noise, t)
        np.testing.assert_allclose(bits[:, t - 1] * math.log(2), kl, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(steps["reconstruction"][:, t - 1], tf.sigmoid(logits),
                                   atol=1e-5)
        nll = -np.sum(x * np.log(1 / (1 + np.exp(-logits))) +
                      (1 - x) * np.log(1 - 1 / (1 + np.exp(-logits))), axis=(1, 2, 3))
        np.testing.assert_allclose(-steps["log_likelihood"][:, t - 1], nll, rtol=1e-4)
        row = tables["model"][t - 1]
        assert row["step"] == t
        assert row["bits"] == pytest.approx(bits[:, t - 1].mean(), rel=1e-6)
        assert row["nll"] == pytest.approx(nll.mean(), rel=1e-4)
        mse = ((steps["reconstruction"][:, t - 1] - x) ** 2).mean()
        assert row["mse"] == pytest.approx(mse, rel=1e-5)
    # all T steps sent: KL + distortion is the negative ELBO of that trajectory
    np.testing.assert_allclose(bits[:, -1] * math.log(2) - steps["log_likelihood"][:, -1],
                               -model.elbo(x, seed=[3, 0]), rtol=1e-5)


def test_jpeg_sizes_are_the_bytes_pillow_writes_and_the_payload_is_the_scan():
    from PIL import Image

    x = inputs_for(zoo.DRAW(**DRAW), n=4)
    rows, decoded = compression.jpeg_table(x, qualities=(1, 30, 95))
    pixels = compression.to_8bit(x)
    for row in rows:
        sizes, payloads = [], []
        for image in pixels:
            buffer = io.BytesIO()
            Image.fromarray(image[..., 0], "L").save(buffer, format="JPEG",
                                                     quality=row["quality"], optimize=True)
            data = buffer.getvalue()
            sizes.append(8 * len(data))
            payload = compression.jpeg_payload_size(data)
            payloads.append(8 * payload)
            # the payload ends at EOI and starts right after the SOS header
            start = len(data) - 2 - payload
            sos = data.rfind(b"\xff\xda", 0, start)
            assert sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big") == start
        assert row["file_bits"] == pytest.approx(np.mean(sizes))
        assert row["payload_bits"] == pytest.approx(np.mean(payloads))
        assert 0 < row["payload_bits"] < row["file_bits"]
        assert decoded[row["quality"]].shape == x.shape
    assert rows[0]["payload_bits"] < rows[-1]["payload_bits"]  # quality costs bits
    assert rows[-1]["mse"] < rows[0]["mse"]
    # With the standard tables (no `optimize`) every header is the same, so the difference of
    # the files is the difference of the payloads: the payload is all that varies.
    standard = []
    for image in (pixels[0], pixels[1], np.full_like(pixels[0], 255)):
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0], "L").save(buffer, format="JPEG", quality=75)
        standard.append(buffer.getvalue())
    headers = {len(d) - compression.jpeg_payload_size(d) for d in standard}
    assert len(headers) == 1
    with pytest.raises(ValueError, match="not a complete JPEG"):
        compression.jpeg_payload_size(b"\x89PNG....")


def test_each_step_is_matched_with_the_closest_jpeg_payload():
    rows = [{"quality": q, "payload_bits": b} for q, b in ((1, 100.0), (2, 100.0), (3, 180.0),
                                                            (4, 260.0))]
    assert compression.match_quality(10.0, rows)["quality"] == 1  # ties: the lower quality
    assert compression.match_quality(150.0, rows)["quality"] == 3
    assert compression.match_quality(1000.0, rows)["quality"] == 4
    assert compression.shown_steps(64) == [1, 4, 16, 64]
    assert compression.shown_steps(3) == [1, 2, 3]


def test_the_compress_command(tmp_path, capsys):
    model = randomized(zoo.DRAW, DRAW)
    model.compile(optimizer="adam")
    recipe = {"dataset": "digits", "binarization": "dynamic"}
    folder = zoo.save(model, str(tmp_path / "draw"), metadata={"recipe": recipe})
    out = str(tmp_path / "compressed")
    assert main(["compress", folder, "--out", out, "--num-images", "6", "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert "JPEG q" in printed and "compression.png" in printed
    results = json.loads(open(os.path.join(out, "compression.json")).read())
    assert results["num_images"] == 6 and results["seed"] == 1
    assert [r["step"] for r in results["steps"]] == [1, 2, 3]
    assert [r["quality"] for r in results["jpeg"]] == list(range(1, 96))
    assert "bits-back" in results["protocol"]["model"] and "test" in results["data"]
    lines = open(os.path.join(out, "compression.csv")).read().splitlines()
    assert lines[0].startswith("method,step,quality,bits") and len(lines) == 1 + 3 + 95
    assert os.path.getsize(os.path.join(out, "compression.png")) > 1000
    # the images are the model's test split: binarized digits, the first 6
    from training.evaluation.suite import folder_data

    _, arrays = folder_data(folder)
    tables, _ = compression.compress(zoo.load(folder, compile=False), arrays["x_test"][:6],
                                     seed=1, qualities=(1,))
    assert tables["model"][-1]["bits"] == pytest.approx(results["steps"][-1]["bits"], rel=1e-5)
    # a model that does not send its latents step by step is refused in one line
    vae = zoo.VAE(event_shape=(8, 8, 1), latent_dim=2, hidden_units=(8,))
    vae.compile(optimizer="adam")
    other = zoo.save(vae, str(tmp_path / "vae"), metadata={"recipe": recipe})
    assert main(["compress", other, "--out", out]) == 2
    assert "does not send its latents step by step" in capsys.readouterr().err
    assert main(["compress", folder, "--out", out, "--num-images", "0"]) == 2
