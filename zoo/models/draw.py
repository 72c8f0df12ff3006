"""DRAW (Gregor et al. 2015): a recurrent VAE that paints an image on a canvas in T steps.

At every step t = 1..T, with c_0 = 0, h_dec_0 = 0 and zero LSTM states:

    x_hat_t = x - sigmoid(c_{t-1})                         what is still to be painted
    r_t     = read(x, x_hat_t, h_dec_{t-1})                a glimpse of both
    h_enc_t = LSTM_enc([r_t, h_dec_{t-1}], h_enc_{t-1})
    q(z_t | x, z_<t) = N(mu(h_enc_t), diag sigma(h_enc_t)^2)  (float32 head, softplus scale)
    z_t ~ q (training, scoring), z_t ~ N(0, I) (sampling)
    h_dec_t = LSTM_dec(z_t, h_dec_{t-1})
    c_t     = c_{t-1} + write(h_dec_t)

and p(x | z_1..T) = prod_pixels Bernoulli(sigmoid(c_T)). The loss is the negative ELBO,

    -ELBO(x) = -log p(x | z_1..T) + sum_t KL(q(z_t | x, z_<t) || N(0, I))   (KL analytic),

and log p(x) is the importance-weighted bound whose proposal is the whole trajectory
q(z_1..T | x): log w = log p(x | z_1..T) + sum_t [log N(z_t; 0, I) - log q(z_t | x, z_<t)],
through the shared chunked estimator (`zoo.objectives`), as the VRNN does. The recursion, the
bound, the canvases and the exports are those of every painting model (`zoo.canvas`).

read and write use the paper's selective attention (`zoo.networks.attention`: an N x N grid of
Gaussian filters placed by five numbers from a linear layer of h_dec; N = read_size for read,
write_size for write, where a linear layer of h_dec gives the N x N patch). Without attention,
read = [x, x_hat] flattened and write = a linear layer of h_dec to the whole image.
`attention_windows` says where the grids lie at each step (the rectangles of the paper's
figures).
"""

import keras
import numpy as np
import tensorflow as tf

from zoo.canvas import CanvasModel, check_positive_integers, evenly_spaced_steps
from zoo.capabilities import Option, picture
from zoo.distributions.posteriors import DiagonalNormalHead
from zoo.models.registry import MODELS
from zoo.networks import attention as attention_lib

WINDOW_COLOURS = {"read": (1.0, 0.2, 0.2), "write": (0.2, 0.9, 0.2)}  # red, green


@MODELS.register("draw")
@keras.saving.register_keras_serializable(package="zoo")
class DRAW(CanvasModel):
    """Deep Recurrent Attentive Writer (see the module docstring).

    Args:
        event_shape: (H, W, C) of the images (pixels in [0, 1]; C = 1 for MNIST).
        latent_dim: size of each step's z_t.
        num_steps: T, the number of canvas updates.
        encoder_units, decoder_units: cells of the encoder and decoder LSTMs.
        attention: use the selective attention read and write (else the whole image).
        read_size: N of the read grid (attention only).
        write_size: N of the write grid (attention only).
        seed: seed of the model's random stream.

    Example:
        >>> draw = DRAW(event_shape=(28, 28, 1))    # the paper's MNIST model with attention
        >>> draw.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=10.0))
        >>> draw.fit(binarized_images, epochs=10)
        >>> movie = draw.canvases(num_samples=16, seed=0)   # [16, T, 28, 28, 1]
        >>> boxes = draw.attention_windows(num_samples=16, seed=0)["write"]["box"]

    Reference:
        Gregor, Danihelka, Graves, Rezende & Wierstra, "DRAW: A Recurrent Neural Network For
        Image Generation", ICML 2015.
    """

    options = (
        Option("latent_dim", int, 100, "size of each step's z_t", minimum=1),
        Option("num_steps", int, 64, "T, the number of canvas updates", minimum=1),
        Option("encoder_units", int, 256, "cells of the encoder LSTM", minimum=1),
        Option("decoder_units", int, 256, "cells of the decoder LSTM", minimum=1),
        Option("attention", bool, True, "selective attention (Gaussian filter grids) for read "
               "and write; without it they see and paint the whole image"),
        Option("read_size", int, 2, "N of the N x N read grid",
               minimum=1, when=lambda recipe: recipe.get("attention", True)),
        Option("write_size", int, 5, "N of the N x N write grid",
               minimum=1, when=lambda recipe: recipe.get("attention", True)),
    )

    def __init__(self, event_shape=(28, 28, 1), latent_dim=100, num_steps=64, encoder_units=256,
                 decoder_units=256, attention=True, read_size=2, write_size=5, seed=None,
                 **kwargs):
        super().__init__(event_shape=event_shape, num_steps=num_steps, seed=seed, **kwargs)
        check_positive_integers(latent_dim=latent_dim, encoder_units=encoder_units,
                                decoder_units=decoder_units, read_size=read_size,
                                write_size=write_size)
        self.latent_dim = int(latent_dim)
        self.encoder_units, self.decoder_units = int(encoder_units), int(decoder_units)
        self.attention = bool(attention)
        self.read_size, self.write_size = int(read_size), int(write_size)
        height, width, channels = self.event_shape
        pixels = height * width * channels

        self.encoder_cell = keras.layers.LSTMCell(self.encoder_units, name="encoder_cell")
        self.decoder_cell = keras.layers.LSTMCell(self.decoder_units, name="decoder_cell")
        self.posterior_head = DiagonalNormalHead(self.latent_dim, name="posterior_head")
        if self.attention:
            self.read_attention = keras.layers.Dense(
                attention_lib.NUM_PARAMETERS, dtype="float32", name="read_attention")
            self.write_attention = keras.layers.Dense(
                attention_lib.NUM_PARAMETERS, dtype="float32", name="write_attention")
            self.write_patch = keras.layers.Dense(self.write_size ** 2 * channels,
                                                  dtype="float32", name="write_patch")
            layers = ((self.read_attention, self.decoder_units),
                      (self.write_attention, self.decoder_units))
        else:
            self.write_patch = keras.layers.Dense(pixels, dtype="float32", name="write_patch")
            layers = ()
        for layer, features in (*layers, (self.write_patch, self.decoder_units),
                                (self.encoder_cell, self.read_dim + self.decoder_units),
                                (self.posterior_head, self.encoder_units),
                                (self.decoder_cell, self.latent_dim)):
            layer.build((None, features))
        self.built = True

    @property
    def step_latent_shape(self):
        return (self.latent_dim,)

    @property
    def read_dim(self):
        """Size of r_t: two N x N glimpses (x and x_hat), or both whole images."""
        height, width, channels = self.event_shape
        side = (self.read_size ** 2) if self.attention else height * width
        return 2 * side * channels

    # --- one step ---------------------------------------------------------------------------
    def read(self, x, x_hat, h_dec):
        """r_t [B, read_dim] from the images x, x_hat [B, H, W, C] and h_dec_{t-1}."""
        if self.attention:
            raw = self.read_attention(tf.cast(h_dec, tf.float32))
            return attention_lib.read((x, x_hat), raw, self.read_size)
        batch = tf.shape(x)[0]
        return tf.concat([tf.reshape(x, [batch, -1]), tf.reshape(x_hat, [batch, -1])], axis=-1)

    def write(self, h_dec):
        """What step t adds to the canvas (logits), [B, H, W, C], from h_dec_t."""
        height, width, channels = self.event_shape
        h_dec = tf.cast(h_dec, tf.float32)
        if self.attention:
            patch = tf.reshape(self.write_patch(h_dec),
                               [-1, self.write_size, self.write_size, channels])
            return attention_lib.write(patch, self.write_attention(h_dec), height, width)
        return tf.reshape(self.write_patch(h_dec), [-1, height, width, channels])

    # --- where the attention looks ----------------------------------------------------------
    def attention_windows(self, x=None, num_samples=None, seed=None):
        """Where the read and write grids lie at each step, in pixel coordinates.

        For images x (painted with z_t at the posterior means, as `canvases(x)`) both windows;
        for num_samples samples (z_t ~ N(0, I) seeded, as `canvases(num_samples=, seed=)`) the
        write window only (sampling reads nothing). Returns {"read": ..., "write": ...}, each a
        dict of [B, T] tensors: "centre_x", "centre_y" (column and row of the grid centre g_X -
        1, g_Y - 1: pixel (i, j) covers [j - 0.5, j + 0.5] x [i - 0.5, i + 0.5]), "stride"
        (delta), "sigma" (of each filter), "size" (N delta, the side of the N x N cells of one
        stride around the filter centres), and "box" [B, T, 4] (left, top, right, bottom) =
        centre -/+ size / 2. The read window of step t is placed by h_dec_{t-1}, the write
        window by h_dec_t.
        """
        if not self.attention:
            raise ValueError("This DRAW was built with attention=False: it reads and writes the "
                             "whole image, so it has no attention windows to show.")
        x, noise = self.trajectory_noise(x, num_samples, seed, "attention_windows")
        states = self.run_steps(noise, x=x, keep=("decoder_states",))["decoder_states"]
        states = tf.cast(states, tf.float32)  # h_dec_1..T, [B, T, units]
        windows = {"write": self._windows(self.write_attention, states, self.write_size)}
        if x is not None:
            previous = tf.concat([tf.zeros_like(states[:, :1]), states[:, :-1]], axis=1)
            windows["read"] = self._windows(self.read_attention, previous, self.read_size)
        return windows

    def _windows(self, layer, states, size):
        height, width, _ = self.event_shape
        centre_x, centre_y, sigma2, stride, _ = attention_lib.attention_parameters(
            layer(states), height, width, size)
        centre_x, centre_y = centre_x - 1.0, centre_y - 1.0  # paper's a = 1..A -> 0-based
        half = size * stride / 2.0
        box = tf.stack([centre_x - half, centre_y - half, centre_x + half, centre_y + half], -1)
        return {"centre_x": centre_x, "centre_y": centre_y, "stride": stride,
                "sigma": tf.sqrt(sigma2), "size": 2.0 * half, "box": box}

    @picture("attention", "read (red) and write (green) windows by step: 4 test images, then "
             "4 samples (write only)", when=lambda model: model.attention, scale=1)
    def attention_rows(self, x, y=None, seed=0, images=4, columns=10, zoom=4):
        """The paper's rectangles: [2 * images, columns, zoom H, zoom W, 3], the canvases of
        test images (read and write windows) and samples (write windows) at `columns` evenly
        spaced steps ending with T, each canvas enlarged `zoom` times."""
        steps = evenly_spaced_steps(self.num_steps, columns)
        x = np.asarray(x[:images], np.float32)
        rows = []
        for given in ({"x": x}, {"num_samples": images, "seed": seed}):
            canvases = np.asarray(self.canvases(**given))[:, steps]
            windows = {name: np.asarray(window["box"])[:, steps]
                       for name, window in self.attention_windows(**given).items()}
            rows.append(draw_windows(canvases, windows, zoom))
        return np.concatenate(rows)

    def forward_flops_per_image(self):
        """FLOPs of scoring one image (encoder and decoder, all T steps), 2 per weight use;
        with attention also the filter products of the two glimpses and the paste."""
        height, width, channels = self.event_shape
        e, d, z = self.encoder_units, self.decoder_units, self.latent_dim
        per_step = 2 * (4 * e * (self.read_dim + d + e)  # encoder LSTM
                        + e * 2 * z                      # posterior head
                        + 4 * d * (z + d))               # decoder LSTM
        if self.attention:
            n_r, n_w = self.read_size, self.write_size
            per_step += 2 * (2 * d * attention_lib.NUM_PARAMETERS + d * n_w * n_w * channels)
            per_step += 2 * attention_lib.glimpse_flops(n_r, height, width, channels)
            per_step += attention_lib.paste_flops(n_w, height, width, channels)
        else:
            per_step += 2 * d * height * width * channels
        return per_step * self.num_steps

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, num_steps=self.num_steps,
                      encoder_units=self.encoder_units, decoder_units=self.decoder_units,
                      attention=self.attention, read_size=self.read_size,
                      write_size=self.write_size)
        return config


def draw_windows(images, boxes, zoom):
    """Images [..., H, W, C] in [0, 1] enlarged `zoom` times as RGB, with the outline of each
    box {name: [..., 4] (left, top, right, bottom) in pixel coordinates} in its colour of
    WINDOW_COLOURS; edges outside the image are left out."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    images = images.repeat(zoom, axis=-3).repeat(zoom, axis=-2)
    height, width = images.shape[-3:-1]
    flat = images.reshape(-1, height, width, 3)
    for name in ("write", "read"):  # read on top
        if name not in boxes:
            continue
        colour = WINDOW_COLOURS[name]
        for image, box in zip(flat, np.asarray(boxes[name]).reshape(-1, 4)):
            # pixel coordinate u (pixel i covers [i - 0.5, i + 0.5]) -> zoomed (u + 0.5) zoom
            left, top, right, bottom = np.round((box + 0.5) * zoom).astype(int)
            right, bottom = right - 1, bottom - 1  # the last zoomed pixel inside the box
            rows = slice(max(top, 0), min(bottom, height - 1) + 1)
            columns = slice(max(left, 0), min(right, width - 1) + 1)
            for column in (left, right):
                if 0 <= column < width:
                    image[rows, column] = colour
            for row in (top, bottom):
                if 0 <= row < height:
                    image[row, columns] = colour
    return flat.reshape(images.shape)
