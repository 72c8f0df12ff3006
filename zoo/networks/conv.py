"""Convolutional encoder and decoder for small images (28x28x1 MNIST, 8x8 digits)."""

import keras

from zoo.networks.stack import LayerStack


class ConvEncoder(LayerStack):
    """Stride-2 3x3 convolutions with `filters`, flatten, then Dense `hidden_units`.

    Args:
        filters: channels of each stride-2 convolution, e.g. (32, 64): 28x28 -> 14x14 -> 7x7.
        hidden_units: Dense layers after flattening.
        activation: Keras activation name.
    """

    def __init__(self, filters=(32, 64), hidden_units=(256,), activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(int(f) for f in filters)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.stack = [
            keras.layers.Conv2D(f, 3, strides=2, padding="same", activation=activation,
                                name=f"conv_{i}")
            for i, f in enumerate(self.filters)
        ]
        self.stack.append(keras.layers.Flatten())
        self.stack += [
            keras.layers.Dense(u, activation=activation, name=f"dense_{i}")
            for i, u in enumerate(self.hidden_units)
        ]

    def build(self, input_shape):
        if len(input_shape) == 3:  # a single-channel image without its channel axis
            input_shape = (*input_shape, 1)
        super().build(input_shape)

    def call(self, x):
        return super().call(x[..., None] if len(x.shape) == 3 else x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.hidden_units[-1])

    def get_config(self):
        config = super().get_config()
        config.update(filters=list(self.filters), hidden_units=list(self.hidden_units),
                      activation=self.activation)
        return config


class ConvDecoder(LayerStack):
    """Dense to a (H/2^n, W/2^n, filters[0]) map, then n stride-2 transposed convolutions.

    Outputs spatial features [B, H, W, filters[-1]]; the likelihood head projects each pixel.

    Args:
        event_shape: the image shape (H, W[, C]); H and W must be divisible by 2^len(filters).
        filters: channels of each stride-2 transposed convolution, e.g. (64, 32).
        hidden_units: Dense layers from z before the first feature map.
        activation: Keras activation name.
    """

    def __init__(self, event_shape, filters=(64, 32), hidden_units=(256,), activation="relu",
                 **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.filters = tuple(int(f) for f in filters)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        factor = 2 ** len(self.filters)
        height, width = self.event_shape[:2]
        if height % factor or width % factor:
            raise ValueError(
                f"ConvDecoder: image size {height}x{width} is not divisible by {factor} "
                f"(2^{len(self.filters)} for {len(self.filters)} upsampling layers); use fewer "
                "conv_filters or the MLP networks."
            )
        start = (height // factor, width // factor, self.filters[0])
        self.stack = [
            keras.layers.Dense(u, activation=activation, name=f"dense_{i}")
            for i, u in enumerate(self.hidden_units)
        ]
        self.stack += [
            keras.layers.Dense(start[0] * start[1] * start[2], activation=activation,
                               name="to_map"),
            keras.layers.Reshape(start),
        ]
        self.stack += [
            keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation=activation,
                                         name=f"deconv_{i}")
            for i, f in enumerate(self.filters)
        ]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.event_shape[:2], self.filters[-1])

    def get_config(self):
        config = super().get_config()
        config.update(event_shape=list(self.event_shape), filters=list(self.filters),
                      hidden_units=list(self.hidden_units), activation=self.activation)
        return config
