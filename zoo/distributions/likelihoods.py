"""Likelihood heads p(x|z): Keras layers that map decoder features to distribution parameters.

Each head is a layer whose `call` returns a parameter tensor of shape `[batch, *param_shape]` and
whose `make_distribution(params)` builds the `tfd` distribution over one example (event shape =
`event_shape`, any leading batch shape). Heads run in float32 even under mixed precision:
`log_prob` of a float16 distribution overflows.
"""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from zoo.naming import Registry

tfd = tfp.distributions

LIKELIHOODS = Registry("likelihood")


def get_likelihood(kind, event_shape, **kwargs):
    """Builds the likelihood head called `kind` for observations of `event_shape`."""
    return LIKELIHOODS.get(kind)(event_shape=event_shape, **kwargs)


class LikelihoodHead(keras.layers.Layer):
    """Base head: a Dense projection to `param_shape`, applied per pixel when features are spatial.

    Decoder features are either flat `[batch, f]` (an MLP decoder; the projection outputs all
    parameters at once) or spatial `[batch, *event_shape[:s], f]` (a convolutional decoder; the
    projection acts on the channel axis, a 1x1 convolution).

    Args:
        event_shape: shape of one observation, e.g. `(28, 28, 1)`.
    """

    def __init__(self, event_shape, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.projection = None

    @property
    def param_shape(self):
        """Shape of the parameters of one example."""
        return self.event_shape

    def build(self, input_shape):
        spatial_rank = len(input_shape) - 2
        if spatial_rank > 0 and tuple(input_shape[1:-1]) != self.param_shape[:spatial_rank]:
            raise ValueError(
                f"{type(self).__name__}: decoder features of shape {tuple(input_shape[1:])} do "
                f"not match the event shape {self.event_shape}."
            )
        units = int(np.prod(self.param_shape[spatial_rank:]))
        self.projection = keras.layers.Dense(units, dtype=self.dtype_policy, name="projection")
        self.projection.build(input_shape)

    def call(self, features):
        features = tf.cast(features, self.compute_dtype)
        params = self.projection(features)
        return tf.reshape(params, [-1, *self.param_shape])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.param_shape)

    @property
    def feature_shape(self):
        """Shape of one observation as the encoder sees it (see `to_features`)."""
        return self.event_shape

    def to_features(self, x):
        """Observations as float encoder input (identity here; palette indices -> colours)."""
        return tf.cast(x, tf.float32)

    observation_dtype = "float32"
    modality = "image"  # the data modality (training.data) whose observations it scores

    def value_assertions(self, x):
        """Graph-safe checks that observations lie in the support (used by exports and
        `check_values`); each fails with a message naming the problem."""
        return [tf.debugging.assert_all_finite(
            x, "The images contain NaN or infinite values.")]

    def check_values(self, x):
        """Raises ValueError naming the problem if numpy observations are outside the support."""
        wanted = np.integer if self.observation_dtype.startswith("int") else np.floating
        if not np.issubdtype(x.dtype, wanted):
            raise ValueError(
                f"{type(self).__name__} expects {self.observation_dtype} observations, got dtype "
                f"{x.dtype}" + ("; divide 8-bit images by 255." if wanted is np.floating else
                                "; convert colour images with `to_indices`."))
        try:
            self.value_assertions(tf.convert_to_tensor(x, self.observation_dtype))
        except tf.errors.InvalidArgumentError as e:
            raise ValueError(e.message.split("\n")[0]) from None

    def serving_outputs(self, params):
        """Named outputs of the exported `decode` signature."""
        return {"mean": self.mean(params)}

    def make_distribution(self, params):
        """The distribution p(x|z) for parameters `params` (any leading batch shape)."""
        raise NotImplementedError

    def mean(self, params):
        """Mean image of p(x|z); what `decode` returns."""
        return self.make_distribution(params).mean()

    def _independent(self, dist):
        return tfd.Independent(dist, reinterpreted_batch_ndims=len(self.event_shape))

    def get_config(self):
        config = super().get_config()
        config.update(event_shape=list(self.event_shape))
        return config


@LIKELIHOODS.register("bernoulli")
class BernoulliHead(LikelihoodHead):
    """Independent Bernoulli per pixel, parameterized by logits; for binarized images.

    p(x|z) = prod_i sigmoid(l_i)^x_i (1 - sigmoid(l_i))^(1 - x_i).
    """

    def make_distribution(self, params):
        return self._independent(tfd.Bernoulli(logits=params, dtype=params.dtype))

    def mean(self, params):
        return tf.sigmoid(params)

    def value_assertions(self, x):
        message = ("Bernoulli likelihood: pixel values must be in [0, 1] (binary images, or grey "
                   "levels for dynamic binarization); divide 8-bit images by 255.")
        # The finiteness check first, so that NaN is named as such rather than as out of range.
        return [*super().value_assertions(x),
                tf.debugging.assert_greater_equal(x, tf.zeros([], x.dtype), message=message),
                tf.debugging.assert_less_equal(x, tf.ones([], x.dtype), message=message)]

    def serving_outputs(self, params):
        return {"mean": tf.sigmoid(params), "logits": params}

    def draw(self, params, seed):
        """One stateless draw per element of `params` (logits, any shape): float32 0/1 values,
        x = [u < sigmoid(l)] with u ~ U(0, 1) seeded by `seed` (int32 [2])."""
        uniform = tf.random.stateless_uniform(tf.shape(params), seed)
        return tf.cast(uniform < tf.sigmoid(tf.cast(params, tf.float32)), tf.float32)


@LIKELIHOODS.register("gaussian")
class GaussianHead(LikelihoodHead):
    """Independent Normal per pixel with a learned, per-pixel (diagonal) scale.

    The scale is softplus(raw) + `min_scale`; the floor keeps log-densities bounded on pixels
    the data set never changes (MNIST borders), which otherwise drive the scale to zero.

    Args:
        event_shape: shape of one observation.
        min_scale: lower bound on the standard deviation.
    """

    def __init__(self, event_shape, min_scale=1e-2, **kwargs):
        super().__init__(event_shape, **kwargs)
        self.min_scale = float(min_scale)

    @property
    def param_shape(self):
        return (*self.event_shape, 2)

    def make_distribution(self, params):
        loc, raw_scale = params[..., 0], params[..., 1]
        scale = tf.nn.softplus(raw_scale) + self.min_scale
        return self._independent(tfd.Normal(loc=loc, scale=scale))

    def mean(self, params):
        return params[..., 0]

    def serving_outputs(self, params):
        return {"mean": params[..., 0],
                "scale": tf.nn.softplus(params[..., 1]) + self.min_scale}

    def get_config(self):
        config = super().get_config()
        config.update(min_scale=self.min_scale)
        return config


@LIKELIHOODS.register("gaussian_fixed")
class FixedScaleGaussianHead(LikelihoodHead):
    """Independent Normal per pixel with one fixed standard deviation `scale` for all pixels.

    With a fixed scale, -log p(x|z) is a scaled squared error plus a constant.

    Args:
        event_shape: shape of one observation.
        scale: the fixed standard deviation.
    """

    def __init__(self, event_shape, scale=0.1, **kwargs):
        super().__init__(event_shape, **kwargs)
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}.")
        self.scale = float(scale)

    def make_distribution(self, params):
        return self._independent(tfd.Normal(loc=params, scale=tf.cast(self.scale, params.dtype)))

    def mean(self, params):
        return params

    def serving_outputs(self, params):
        return {"mean": params, "scale": tf.fill(tf.shape(params), tf.cast(self.scale, params.dtype))}

    def get_config(self):
        config = super().get_config()
        config.update(scale=self.scale)
        return config


def default_palette(num_colours=16):
    """A grey-level palette of `num_colours` evenly spaced levels in [0, 1], shape [K, 1]."""
    return np.linspace(0.0, 1.0, num_colours, dtype=np.float32)[:, None]


@LIKELIHOODS.register("categorical")
class CategoricalPaletteHead(LikelihoodHead):
    """Independent Categorical per pixel over a colour palette, for palette-quantized images.

    An observation is an integer image of palette indices with shape `event_shape` (e.g.
    `(28, 28)` or `(32, 32)`); the head outputs K logits per pixel. `mean` returns the expected
    colour, sum_k p_k * palette[k], with shape `event_shape + (channels,)`.

    Args:
        event_shape: shape of one index image.
        palette: K x C colours in [0, 1] (nested lists in the config); defaults to 16 grey levels.
    """

    modality = "palette_image"

    def __init__(self, event_shape, palette=None, **kwargs):
        super().__init__(event_shape, **kwargs)
        palette = default_palette() if palette is None else palette
        self.palette = np.asarray(palette, dtype=np.float32).reshape(len(palette), -1)
        if len(self.palette) < 2:
            raise ValueError("A palette needs at least 2 colours.")

    @property
    def num_colours(self):
        return len(self.palette)

    @property
    def param_shape(self):
        return (*self.event_shape, self.num_colours)

    def make_distribution(self, params):
        return self._independent(tfd.Categorical(logits=params, dtype=tf.int32))

    def mean(self, params):
        probs = tf.nn.softmax(params, axis=-1)
        return tf.tensordot(probs, tf.constant(self.palette, params.dtype), axes=[[-1], [0]])

    @property
    def feature_shape(self):
        return (*self.event_shape, self.palette.shape[1])

    def to_features(self, x):
        return tf.gather(tf.constant(self.palette), tf.cast(x, tf.int32))

    observation_dtype = "int32"

    def value_assertions(self, x):
        message = f"Palette indices must be in [0, {self.num_colours - 1}]."
        return [tf.debugging.assert_greater_equal(x, tf.zeros([], x.dtype), message=message),
                tf.debugging.assert_less(x, tf.cast(self.num_colours, x.dtype), message=message)]

    def serving_outputs(self, params):
        return {"mean": self.mean(params), "probabilities": tf.nn.softmax(params, axis=-1)}

    def draw(self, params, seed):
        """One stateless draw of a palette index per row of logits `params` [..., K]: int32
        [...], seeded by `seed` (int32 [2])."""
        params = tf.cast(params, tf.float32)
        flat = tf.reshape(params, [-1, self.num_colours])
        indices = tf.random.stateless_categorical(flat, 1, seed, dtype=tf.int32)[:, 0]
        return tf.reshape(indices, tf.shape(params)[:-1])

    def to_indices(self, images):
        """Maps colour images `[..., C]` in [0, 1] to the index of the nearest palette colour."""
        images = np.asarray(images, dtype=np.float32)
        if images.shape[-1] != self.palette.shape[1]:
            images = images[..., None]
        distances = np.sum((images[..., None, :] - self.palette) ** 2, axis=-1)
        return np.argmin(distances, axis=-1).astype(np.int32)

    def get_config(self):
        config = super().get_config()
        config.update(palette=self.palette.tolist())
        return config
