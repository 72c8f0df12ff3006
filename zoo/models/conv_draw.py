"""Convolutional DRAW (Gregor et al. 2016): DRAW whose states, latents and canvas updates are
feature maps, read and written by convolutions instead of attention.

With s the stride and every state at the reduced resolution H/s x W/s, at each step t = 1..T
(c_0 = 0, zero states; the recursion of `zoo.canvas`):

    x_hat_t = x - sigmoid(c_{t-1})                                   the error image
    r_t     = Conv_s([x, x_hat_t])                                   read: stride-s conv, F_r maps
    h_enc_t = ConvLSTM_enc([r_t, h_dec_{t-1}], h_enc_{t-1})         F_e maps
    q(z_t | x, z_<t) = prod_positions N(mu, diag sigma^2)            z_t: [H/s, W/s, L]
        (mu, softplus sigma from a 1 x 1 convolution of h_enc_t: the DiagonalNormalHead)
    h_dec_t = ConvLSTM_dec(z_t, h_dec_{t-1})                         F_d maps
    c_t     = c_{t-1} + ConvTranspose_s(h_dec_t)                     write: back to [H, W, C]

with p(z_t) = N(0, I), p(x | z_1..T) = prod_pixels Bernoulli(sigmoid(c_T)), and the ELBO, the
importance-weighted bound, canvases and exports of every painting model (`zoo.canvas`). The
read and write convolutions have kernels of side max(lstm_kernel_size, stride), so that every
pixel is seen and painted. The paper's prior may depend on the decoder state (p(z_t | h_dec_{t-1}));
here it is N(0, I) at every step, as in DRAW, so that a step's code length is its KL to one fixed
prior. With T = 1 the model is a convolutional VAE with a spatial latent.
"""

import keras
import tensorflow as tf

from zoo.canvas import CanvasModel, check_positive_integers
from zoo.capabilities import Option
from zoo.distributions.posteriors import DiagonalNormalHead
from zoo.models.registry import MODELS
from zoo.networks.conv_lstm import ConvLSTMCell


@MODELS.register("conv_draw")
@keras.saving.register_keras_serializable(package="zoo")
class ConvDRAW(CanvasModel):
    """Convolutional DRAW (see the module docstring).

    Args:
        event_shape: (H, W, C) of the images (pixels in [0, 1]); H and W divisible by stride.
        num_steps: T, the number of canvas updates.
        latent_channels: L, the channels of each step's z_t [H/s, W/s, L].
        stride: s, the reduction of the read convolution (and enlargement of the write).
        read_filters: F_r, the feature maps the read convolution gives.
        encoder_filters, decoder_filters: F_e, F_d, the channels of the ConvLSTM states.
        lstm_kernel_size: side of the ConvLSTMs' convolutions.
        seed: seed of the model's random stream.

    Example:
        >>> model = ConvDRAW(event_shape=(28, 28, 1))   # z_t: [7, 7, 4] per step
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3, clipnorm=10.0))
        >>> model.fit(binarized_images, epochs=10)
        >>> steps = model.compression_steps(test_images[:8], seed=0)   # bits and images by t

    Reference:
        Gregor, Besse, Rezende, Danihelka & Wierstra, "Towards Conceptual Compression",
        NeurIPS 2016.
    """

    options = (
        Option("num_steps", int, 16, "T, the number of canvas updates", minimum=1),
        Option("latent_channels", int, 4, "channels of each step's z_t [H/s, W/s, L]",
               minimum=1),
        Option("stride", int, 4, "reduction of the read convolution (and enlargement of the "
               "write): the states are H/s x W/s", minimum=1),
        Option("read_filters", int, 16, "feature maps of the read convolution", minimum=1),
        Option("encoder_filters", int, 32, "channels of the encoder ConvLSTM", minimum=1),
        Option("decoder_filters", int, 32, "channels of the decoder ConvLSTM", minimum=1),
        Option("lstm_kernel_size", int, 3, "side of the ConvLSTMs' convolutions", minimum=1),
    )

    def __init__(self, event_shape=(28, 28, 1), num_steps=16, latent_channels=4, stride=4,
                 read_filters=16, encoder_filters=32, decoder_filters=32, lstm_kernel_size=3,
                 seed=None, **kwargs):
        super().__init__(event_shape=event_shape, num_steps=num_steps, seed=seed, **kwargs)
        check_positive_integers(latent_channels=latent_channels, stride=stride,
                                read_filters=read_filters, encoder_filters=encoder_filters,
                                decoder_filters=decoder_filters,
                                lstm_kernel_size=lstm_kernel_size)
        self.latent_channels, self.stride = int(latent_channels), int(stride)
        self.read_filters, self.lstm_kernel_size = int(read_filters), int(lstm_kernel_size)
        self.encoder_filters, self.decoder_filters = int(encoder_filters), int(decoder_filters)
        height, width, channels = self.event_shape
        if height % self.stride or width % self.stride:
            raise ValueError(f"ConvDRAW: the image size {height}x{width} is not divisible by the "
                             f"stride {self.stride}; choose a stride that divides both sides.")
        small = (height // self.stride, width // self.stride)
        sampling_kernel = max(self.lstm_kernel_size, self.stride)

        self.read_conv = keras.layers.Conv2D(self.read_filters, sampling_kernel,
                                             strides=self.stride, padding="same",
                                             name="read_conv")
        self.encoder_cell = ConvLSTMCell(self.encoder_filters, self.lstm_kernel_size,
                                         name="encoder_cell")
        self.posterior_head = DiagonalNormalHead(self.latent_channels, name="posterior_head")
        self.decoder_cell = ConvLSTMCell(self.decoder_filters, self.lstm_kernel_size,
                                         name="decoder_cell")
        self.write_conv = keras.layers.Conv2DTranspose(channels, sampling_kernel,
                                                       strides=self.stride, padding="same",
                                                       dtype="float32", name="write_conv")
        self.read_conv.build((None, height, width, 2 * channels))
        self.encoder_cell.build((None, *small, self.read_filters + self.decoder_filters))
        self.posterior_head.build((None, *small, self.encoder_filters))
        self.decoder_cell.build((None, *small, self.latent_channels))
        self.write_conv.build((None, *small, self.decoder_filters))
        self.built = True

    @property
    def step_latent_shape(self):
        height, width, _ = self.event_shape
        return (height // self.stride, width // self.stride, self.latent_channels)

    def read(self, x, x_hat, h_dec):
        """r_t [B, H/s, W/s, F_r]: the stride-s convolution of [x, x_hat] (h_dec_{t-1} joins it
        in the encoder's input)."""
        return self.read_conv(tf.concat([x, x_hat], axis=-1))

    def write(self, h_dec):
        """What step t adds to the canvas (logits), [B, H, W, C]: the transposed stride-s
        convolution of h_dec_t."""
        return self.write_conv(tf.cast(h_dec, tf.float32))

    def forward_flops_per_image(self):
        """FLOPs of scoring one image (all T steps), 2 per weight use: the read convolution,
        both ConvLSTMs, the posterior's 1 x 1 convolution and the write."""
        height, width, channels = self.event_shape
        h, w, latent = self.step_latent_shape
        kernel = max(self.lstm_kernel_size, self.stride) ** 2
        per_step = (2 * h * w * kernel * 2 * channels * self.read_filters  # read
                    + self.encoder_cell.flops(self.read_filters + self.decoder_filters)
                    + 2 * h * w * self.encoder_filters * 2 * latent  # posterior head
                    + self.decoder_cell.flops(latent)
                    + 2 * h * w * kernel * self.decoder_filters * channels)  # write
        return per_step * self.num_steps

    def get_config(self):
        config = super().get_config()
        config.update(latent_channels=self.latent_channels, stride=self.stride,
                      read_filters=self.read_filters, encoder_filters=self.encoder_filters,
                      decoder_filters=self.decoder_filters,
                      lstm_kernel_size=self.lstm_kernel_size)
        return config
