"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders"): masked convolutions in a vertical and a horizontal stack, without a blind spot.

- The vertical stack sees the rows above: each layer is a (c + 1) x k convolution over rows
  i - c .. i (zero padding above), and what it passes to the horizontal stack is shifted down by
  one row, so the horizontal stack at (i, j) receives rows < i only.
- The horizontal stack sees the pixels to the left in the same row: 1 x (c + 1) convolutions
  over columns j - c .. j; the first layer's input is shifted right by one pixel, so pixel (i, j)
  never sees itself.
- Each layer has gated activations, tanh(W_f * v) * sigmoid(W_g * v), a 1x1 link from the
  vertical to the horizontal stack, a residual connection in the horizontal stack (from the
  second layer on) and, for the conditional model, a learned per-class bias in both stacks.

Shifts and crops replace multiplicative kernel masks, so no multiply-add is spent on zeros.

Fast sampling (the idea of Ramachandran et al. 2017, "Fast Generation for Convolutional
Autoregressive Models", at the granularity of rows): the vertical stack's output for row i
depends only on rows < i, so it is computed once per row, and each pixel of that row needs only
the horizontal stack on that one row. Per image that is H vertical passes plus H * W one-row
horizontal passes instead of H * W passes of the whole network; the draws are those of the
full re-evaluation (`complete_grid_naive`) for the same seed, as a test checks.
"""

import keras
import tensorflow as tf

from zoo.autoregressive import AutoregressiveModel
from zoo.capabilities import Option, merge_options
from zoo.models.registry import MODELS


def _shift_down(x):
    """[B, H, W, C] moved down one row (zeros enter at the top)."""
    return tf.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def _shift_right(x):
    """[B, H, W, C] moved right one column (zeros enter on the left)."""
    return tf.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


def _gate(x):
    filters, gates = tf.split(x, 2, axis=-1)
    return tf.tanh(filters) * tf.sigmoid(gates)


class GatedLayer(keras.layers.Layer):
    """One gated layer: `vertical(v)` and `horizontal(h, link)` (see the module docstring)."""

    def __init__(self, filters, kernel_size, first, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.first = filters, kernel_size, first
        self.reach = kernel_size // 2
        c, k = self.reach, kernel_size
        self.vertical_conv = keras.layers.Conv2D(2 * filters, (c + 1, k), name="vertical")
        self.horizontal_conv = keras.layers.Conv2D(2 * filters, (1, c + 1), name="horizontal")
        self.link = keras.layers.Conv2D(2 * filters, 1, name="vertical_to_horizontal")
        self.horizontal_out = keras.layers.Conv2D(filters, 1, name="horizontal_out")
        self.class_bias = (keras.layers.Embedding(num_classes, 4 * filters, name="class_bias")
                           if num_classes else None)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.vertical_conv.build((None, None, None, channels))
        self.horizontal_conv.build((None, None, None, channels))
        self.link.build((None, None, None, 2 * self.filters))
        self.horizontal_out.build((None, None, None, self.filters))
        if self.class_bias is not None:
            self.class_bias.build((None,))
        self.built = True

    def biases(self, labels):
        """(vertical, horizontal) class biases [B, 1, 1, 2F], or zeros without labels."""
        if self.class_bias is None or labels is None:
            return 0.0, 0.0
        bias = self.class_bias(labels)[:, None, None, :]
        return bias[..., :2 * self.filters], bias[..., 2 * self.filters:]

    def vertical(self, v, labels=None):
        """(next vertical input, link to the horizontal stack shifted below the rows it saw)."""
        c = self.reach
        pre = self.vertical_conv(tf.pad(v, [[0, 0], [c, 0], [c, c], [0, 0]]))
        pre = pre + self.biases(labels)[0]
        return _gate(pre), self.link(_shift_down(pre))

    def vertical_row(self, window, labels=None):
        """`vertical` for one row i - 1 from its window of input rows i - 1 - c .. i - 1
        [B, c + 1, W, C] (zero rows above the image): (that row's output [B, 1, W, F], the link
        to row i of the horizontal stack [B, 1, W, 2F])."""
        c = self.reach
        pre = self.vertical_conv(tf.pad(window, [[0, 0], [0, 0], [c, c], [0, 0]]))
        pre = pre + self.biases(labels)[0]
        return _gate(pre), self.link(pre)

    def first_link(self, batch, width):
        """The link to row 0, which sees no row: the 1x1 link of zeros [B, 1, W, 2F]."""
        return self.link(tf.zeros([batch, 1, width, 2 * self.filters], self.compute_dtype))

    def horizontal(self, h, link, labels=None):
        """The next horizontal input of rows `h` [B, R, W, C] given their links [B, R, W, 2F]."""
        inputs = _shift_right(h) if self.first else h
        pre = self.horizontal_conv(tf.pad(inputs, [[0, 0], [0, 0], [self.reach, 0], [0, 0]]))
        out = self.horizontal_out(_gate(pre + link + self.biases(labels)[1]))
        return out if self.first else out + h

    def horizontal_pixel(self, window, link, labels=None):
        """`horizontal` for one pixel j from its window of convolution inputs, columns
        j - c .. j [B, 1, c + 1, C] (the first layer's inputs shifted right): [B, 1, 1, F]."""
        pre = self.horizontal_conv(window)
        out = self.horizontal_out(_gate(pre + link + self.biases(labels)[1]))
        return out if self.first else out + window[:, :, -1:]


@MODELS.register("pixelcnn")
@keras.saving.register_keras_serializable(package="zoo")
class PixelCNN(AutoregressiveModel):
    """Gated PixelCNN with an exact density (see the module docstring).

    Args:
        event_shape: (H, W, 1) binary images ("bernoulli") or (H, W) palette images
            ("categorical").
        filters: channels of each stack (the paper: 128 on CIFAR; less suffices for MNIST).
        num_layers: gated layers.
        kernel_size: odd width k of the masks (the first layer uses the same k).
        output_units: channels of the 1x1 ReLU layer before the per-pixel output.
        embedding_dim: features of a palette index (categorical pixels only).
        likelihood, palette, seed: see `AutoregressiveModel`.
    """

    options = merge_options(AutoregressiveModel.options, (
        Option("filters", int, 64, "channels of the vertical and horizontal stacks", minimum=1),
        Option("num_layers", int, 8, "gated layers", minimum=1),
        Option("kernel_size", int, 5, "odd mask width k of every layer", minimum=3),
        Option("output_units", int, 128, "channels of the 1x1 layer before the output",
               minimum=1),
        Option("embedding_dim", int, 16, "features of a palette index (categorical pixels)",
               minimum=1, when=lambda recipe: recipe.get("likelihood") == "categorical"),
    ))
    num_classes = None  # the conditional subclass sets the number of classes

    def __init__(self, event_shape=(28, 28, 1), filters=64, num_layers=8, kernel_size=5,
                 output_units=128, embedding_dim=16, likelihood="bernoulli", palette=None,
                 seed=None, **kwargs):
        super().__init__(event_shape=event_shape, likelihood=likelihood, palette=palette,
                         seed=seed, **kwargs)
        self.filters, self.num_layers = int(filters), int(num_layers)
        self.kernel_size, self.output_units = int(kernel_size), int(output_units)
        self.embedding_dim = int(embedding_dim)
        if self.kernel_size < 3 or self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be an odd number >= 3, got {kernel_size}.")
        if min(self.filters, self.num_layers, self.output_units, self.embedding_dim) < 1:
            raise ValueError("filters, num_layers, output_units and embedding_dim must be "
                             "positive.")
        self.embedding = (keras.layers.Embedding(self.num_values, self.embedding_dim,
                                                 name="embedding")
                          if self.likelihood_name == "categorical" else None)
        self.gated = [GatedLayer(self.filters, self.kernel_size, first=i == 0,
                                 num_classes=self.num_classes, name=f"gated_{i}")
                      for i in range(self.num_layers)]
        self.output_layer = keras.layers.Conv2D(self.output_units, 1, name="output_hidden")
        channels = self.embedding_dim if self.embedding is not None else 1
        if self.embedding is not None:
            self.embedding.build((None,))
        for i, layer in enumerate(self.gated):
            layer.build((None, None, None, channels if i == 0 else self.filters))
        self.output_layer.build((None, None, None, self.filters))
        self.head.build((None, self.height, self.width, self.output_units))
        self.built = True

    # --- the two stacks ----------------------------------------------------------------------
    def features(self, grid):
        """Input features [B, R, W, C] of pixel values [B, R, W]."""
        if self.embedding is not None:
            return self.embedding(self.tokens(grid))
        return (2.0 * tf.cast(grid, self.compute_dtype) - 1.0)[..., None]

    def vertical_stack(self, grid, labels=None):
        """(the input of each layer's vertical convolution, [B, H, W, C] each; the vertical
        stack's link to the horizontal one per layer, [B, H, W, 2F] each, at row i a function
        of rows < i only)."""
        v, inputs, links = self.features(grid), [], []
        for layer in self.gated:
            inputs.append(v)
            v, link = layer.vertical(v, labels)
            links.append(link)
        return inputs, links

    def horizontal_stack(self, rows, links, labels=None):
        """(the input of each layer's horizontal convolution, [B, R, W, C] each (the first
        layer's shifted right); the last layer's output [B, R, W, F]) for rows [B, R, W]."""
        h, inputs = self.features(rows), []
        for layer, link in zip(self.gated, links):
            inputs.append(_shift_right(h) if layer.first else h)
            h = layer.horizontal(h, link, labels)
        return inputs, h

    def output_params(self, h):
        """Per-pixel output parameters [..., P] of the horizontal stack's output."""
        hidden = tf.nn.relu(self.output_layer(tf.nn.relu(h)))
        return self.head.projection(tf.cast(hidden, self.head.compute_dtype))

    def horizontal_params(self, rows, links, labels=None):
        """Output parameters of rows [B, R, W] given their links (the R rows of `links`)."""
        return self.output_params(self.horizontal_stack(rows, links, labels)[1])

    def params(self, x, training=False, labels=None):
        grid = self.to_grid(self.check_input(x))
        return self.horizontal_params(grid, self.vertical_stack(grid, labels)[1], labels)

    # --- fast sampling -----------------------------------------------------------------------
    def complete_grid(self, grid, num_known, seed, labels=None):
        """Row by row, then pixel by pixel, computing only what a new pixel changes. Each
        layer's vertical input is cached (c zero rows above the image): at the start of row i
        only row i - 1 of every layer is computed, from its c + 1 cached input rows, which
        gives the links to row i. Within the row each layer's horizontal input is cached (c
        zero columns to the left): pixel j computes column j of every layer from its c + 1
        cached input columns. The caches are TensorArrays (one element per row or column), so
        a step writes only what it computes. The draws are those of `complete_grid_naive`."""
        height, width, reach = self.height, self.width, self.gated[0].reach
        num_known = tf.cast(num_known, tf.int32)
        batch = tf.shape(grid)[0]

        def cache(values, axis):
            """A TensorArray of `values` [B, ...] split along `axis` (1: rows, 2: columns),
            with `reach` zero entries in front."""
            values = tf.pad(values, [[0, 0]] + [[reach if a == axis else 0, 0]
                                                for a in range(1, len(values.shape))])
            order = [axis] + [a for a in range(len(values.shape)) if a != axis]
            return tf.TensorArray(values.dtype, size=tf.shape(values)[axis],
                                  clear_after_read=False).unstack(tf.transpose(values, order))

        def window(array, end, axis):
            """Entries end - reach .. end (array indices end .. end + reach) as [B, ...]."""
            values = array.gather(tf.range(end, end + reach + 1))
            rank = len(values.shape)
            order = list(range(1, axis + 1)) + [0] + list(range(axis + 1, rank))
            return tf.transpose(values, order)

        # Rows < num_known // W are given: one pass of the vertical stack fills the caches.
        row_caches = [cache(v, 1) for v in self.vertical_stack(grid, labels)[0]]

        def row_body(row, grid, row_caches):
            def links_from_previous_row():
                previous = self.features(grid[:, row - 1])  # [B, W, C]
                links, updated = [], []
                for layer, array in zip(self.gated, row_caches):
                    array = array.write(row - 1 + reach, previous)
                    updated.append(array)
                    output, link = layer.vertical_row(window(array, row - 1, 1), labels)
                    previous = output[:, 0]
                    links.append(link)
                return links, updated

            def links_of_first_row():
                return [layer.first_link(batch, width) for layer in self.gated], row_caches

            links, row_caches = tf.cond(row > 0, links_from_previous_row, links_of_first_row)
            inputs, _ = self.horizontal_stack(grid[:, row:row + 1], links, labels)
            column_caches = [cache(h, 2) for h in inputs]  # [B, 1, C] per column
            pixels = tf.TensorArray(grid.dtype, size=width, clear_after_read=False).unstack(
                tf.transpose(grid[:, row]))

            def pixel_body(column, pixels, column_caches):
                updated, h = [], None
                for layer, link, array in zip(self.gated, links, column_caches):
                    if h is not None:  # the previous layer's output is this one's input
                        array = array.write(column + reach, h[:, :, 0])
                    updated.append(array)
                    h = layer.horizontal_pixel(window(array, column, 2),
                                               link[:, :, column:column + 1], labels)
                drawn = self.draw_pixel(self.output_params(h)[:, 0, 0], seed,
                                        row * width + column)
                # The first layer reads the row shifted right: pixel j is its input at j + 1.
                updated[0] = tf.cond(
                    column + 1 < width,
                    lambda: updated[0].write(column + 1 + reach,
                                             self.features(drawn[:, None])),
                    lambda: updated[0])
                return column + 1, pixels.write(column, tf.cast(drawn, grid.dtype)), updated

            first = tf.maximum(num_known - row * width, 0)
            _, pixels, _ = tf.while_loop(lambda column, *_: column < width, pixel_body,
                                         (first, pixels, column_caches))
            mask = tf.equal(tf.range(height), row)[None, :, None]
            grid = tf.where(mask, tf.transpose(pixels.stack())[:, None, :], grid)
            return row + 1, grid, row_caches

        _, grid, _ = tf.while_loop(lambda row, *_: row < height, row_body,
                                   (num_known // width, grid, row_caches))
        return grid

    def forward_flops_per_image(self):
        c, k, f = self.kernel_size // 2, self.kernel_size, self.filters
        flops = 0
        for i in range(self.num_layers):
            inputs = f if i else (self.embedding_dim if self.embedding is not None else 1)
            flops += 2 * (c + 1) * k * inputs * 2 * f  # vertical
            flops += 2 * (c + 1) * inputs * 2 * f  # horizontal
            flops += 2 * (2 * f) * (2 * f) + 2 * f * f  # vertical-to-horizontal, 1x1 out
        flops += 2 * f * self.output_units + 2 * self.output_units * self.head.projection.units
        return flops * self.num_pixels

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, num_layers=self.num_layers,
                      kernel_size=self.kernel_size, output_units=self.output_units,
                      embedding_dim=self.embedding_dim)
        return config
