"""`AutoregressiveModel`: exact-density generators that emit an image one pixel at a time.

    log p(x) = sum_t log p(x_t | x_<t)          (pixels t in raster order)

The pixel LSTM (`zoo.models.pixel_lstm`) and the gated PixelCNN (`zoo.models.pixelcnn`) build on
it. A subclass gives `params(x)`, the parameters of every p(x_t | x_<t) at once (teacher forcing),
and may give a fast `complete_grid`; this class derives the exact `log_prob`, the training loss,
`sample` and `complete` from them.

Pixels follow a likelihood head of `zoo.distributions` (one set of maths for every model):
- "bernoulli": binary images [H, W, 1] (float32 0/1; grey levels only as dynamic-binarization
  input to training);
- "categorical": palette images [H, W] of int32 indices into `palette` (K x 3 RGB in [0, 1]).

Internally a batch is a "grid" [B, H, W] of pixel values (the channel of binary images dropped);
pixel t is grid[:, t // W, t % W]. Sampling draws pixel t with the stateless seed
fold_in(seed, t), so every sampler of a model (the generic full re-evaluation below and a
subclass's cached one) gives the same images for the same seed.
"""

import math

import numpy as np
import tensorflow as tf

from zoo.base import GenerativeModel
from zoo.capabilities import Capabilities, Option, picture
from zoo.checks import _integers, checked, is_symbolic
from zoo.distributions import get_likelihood

PIXEL_LIKELIHOODS = ("bernoulli", "categorical")


def _palette_argument(value, run):
    """The `likelihood` option: a palette data set brings its colours to the categorical head."""
    if value == "categorical" and run.get("palette") is not None:
        return {"likelihood": value, "palette": np.asarray(run["palette"]).tolist()}
    return {"likelihood": value}


class AutoregressiveModel(GenerativeModel):
    """Base of the zoo's autoregressive (pixel-by-pixel) models; see the module docstring.

    Args:
        event_shape: (H, W, 1) binary images ("bernoulli") or (H, W) palette images
            ("categorical").
        likelihood: "bernoulli" or "categorical".
        palette: the K x 3 (or K x 1) colours of a categorical model, nested lists in [0, 1].
        seed: seed of the model's random stream.
    """

    capabilities = Capabilities(density="exact", latent="none", completion=True,
                                objective="exact nll")
    options = (
        Option("likelihood", str, "bernoulli",
               "p(x_t | x_<t): bernoulli (binary images) or categorical (palette images)",
               choices=PIXEL_LIKELIHOODS, argument=_palette_argument),
    )
    metric_names = ("loss", "bits_per_pixel")

    def __init__(self, event_shape=(28, 28, 1), likelihood="bernoulli", palette=None, seed=None,
                 **kwargs):
        if likelihood not in PIXEL_LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {PIXEL_LIKELIHOODS} for an "
                             f"autoregressive model, got {likelihood!r}.")
        event_shape = tuple(int(d) for d in event_shape)
        if likelihood == "bernoulli" and (len(event_shape) != 3 or event_shape[-1] != 1):
            raise ValueError(f"A Bernoulli autoregressive model reads binary images of shape "
                             f"(H, W, 1), got event_shape {event_shape}; palette images (H, W) "
                             "use likelihood='categorical'.")
        if likelihood == "categorical" and len(event_shape) != 2:
            raise ValueError(f"A categorical (palette) autoregressive model reads index images "
                             f"of shape (H, W), got event_shape {event_shape}.")
        if min(event_shape[:2]) < 1:
            raise ValueError(f"event_shape must be positive, got {event_shape}.")
        super().__init__(event_shape=event_shape, seed=seed, **kwargs)
        self.likelihood_name = likelihood
        self.head = get_likelihood(likelihood, event_shape,
                                   **({"palette": palette} if likelihood == "categorical" else {}),
                                   name="pixel_head")

    # --- what the data look like -------------------------------------------------------------
    @property
    def height(self):
        return self.event_shape[0]

    @property
    def width(self):
        return self.event_shape[1]

    @property
    def num_pixels(self):
        return self.height * self.width

    @property
    def num_values(self):
        """How many values one pixel takes (2 for binary pixels, K for a palette)."""
        return self.head.num_colours if self.likelihood_name == "categorical" else 2

    @property
    def palette(self):
        return self.head.palette if self.likelihood_name == "categorical" else None

    @property
    def modality(self):
        return self.head.modality

    @property
    def observation_dtype(self):
        return self.head.observation_dtype

    def value_assertions(self, x):
        return self.head.value_assertions(x)

    def check_values(self, x):
        self.head.check_values(np.asarray(x))

    def to_images(self, x):
        x = np.asarray(x)
        if self.likelihood_name == "categorical":
            return self.head.palette[x]
        return x.astype(np.float32)

    def to_grid(self, x):
        """Observations [B, *event_shape] as a grid of pixel values [B, H, W]."""
        return x[..., 0] if self.likelihood_name == "bernoulli" else x

    def from_grid(self, grid):
        return grid[..., None] if self.likelihood_name == "bernoulli" else grid

    def tokens(self, grid):
        """int32 pixel values (0/1 or palette indices), e.g. for an embedding."""
        return tf.cast(grid, tf.int32)

    # --- what a subclass gives ---------------------------------------------------------------
    def params(self, x, training=False, **condition):
        """Parameters of every p(x_t | x_<t), [B, *head.param_shape] ([B, H, W, 1] logits for
        binary images, [B, H, W, K] for palettes), computed at once from x."""
        raise NotImplementedError

    def complete_grid(self, grid, num_known, seed, **condition):
        """grid [B, H, W] with pixels t >= num_known drawn in raster order, pixel t with
        fold_in(seed, t). Subclasses override it with a faster sampler that gives the same
        draws; this one re-evaluates the whole model for every pixel."""
        return self.complete_grid_naive(grid, num_known, seed, **condition)

    def complete_grid_naive(self, grid, num_known, seed, **condition):
        """The reference sampler: `params` of the whole grid, once per drawn pixel."""
        width = self.width

        def body(t, grid):
            params = self.params(self.from_grid(grid), **condition)
            row, column = t // width, t % width
            drawn = self.draw_pixel(params[:, row, column], seed, t)
            return t + 1, self.set_pixel(grid, t, drawn)

        _, grid = tf.while_loop(lambda t, _: t < self.num_pixels, body,
                                (tf.cast(num_known, tf.int32), grid))
        return grid

    # --- shared maths ------------------------------------------------------------------------
    def draw_pixel(self, params, seed, t):
        """Pixel t of every example from its parameters [B, P] (P = 1 logit or K logits)."""
        seed_t = tf.random.experimental.stateless_fold_in(seed, tf.cast(t, tf.int32))
        drawn = self.head.draw(params, seed_t)
        return drawn[:, 0] if self.likelihood_name == "bernoulli" else drawn

    def set_pixel(self, grid, t, values):
        """grid with pixel t of every example set to values [B]."""
        mask = tf.reshape(tf.equal(tf.range(self.num_pixels), tf.cast(t, tf.int32)),
                          [1, self.height, self.width])
        return tf.where(mask, tf.cast(values, grid.dtype)[:, None, None], grid)

    def log_prob(self, x, num_samples=None, seed=None, chunk_size=None, **condition):
        """Exact log p(x) [B] in nats. `num_samples`, `seed` and `chunk_size` are accepted, for
        the interface shared with models whose log_prob is an estimate, and ignored."""
        x = self.check_input(x)
        params = self.params(x, **condition)
        return self.head.make_distribution(params).log_prob(x)

    def per_example_losses(self, x, y=None, training=False):
        condition = self.conditioning(y)
        x = self.check_input(x)
        nll = -self.head.make_distribution(self.params(x, training=training, **condition)
                                           ).log_prob(x)
        return {"loss": nll, "bits_per_pixel": nll / (self.num_pixels * math.log(2.0))}

    # --- sampling and completion -------------------------------------------------------------
    def check_num_known(self, num_known):
        """num_known in [0, number of pixels]: an int (eager) or an int32 tensor behind graph
        assertions (symbolic)."""
        n = self.num_pixels
        message = f"num_known must be between 0 and {n} (the number of pixels)"
        if is_symbolic(num_known):
            if not num_known.dtype.is_integer:
                raise ValueError(f"num_known must be an integer tensor, got {num_known.dtype}.")
            k = tf.cast(num_known, tf.int32)
            return checked(k, [tf.debugging.assert_rank(k, 0, message="num_known must be a "
                                                                    "scalar"),
                               tf.debugging.assert_greater_equal(k, 0, message=message),
                               tf.debugging.assert_less_equal(k, n, message=message)])
        values = _integers(num_known, "num_known")
        if values.ndim:
            raise ValueError(f"num_known must be one integer, got shape {values.shape}.")
        if not 0 <= int(values) <= n:
            raise ValueError(f"{message}, got {int(values)}.")
        return int(values)

    def complete(self, x, num_known, num_samples=1, seed=None, naive=False, **condition):
        """Keeps the first `num_known` pixels (raster order) of each image and draws the rest.

        Args:
            x: images [B, *event_shape]; pixels from num_known on are ignored.
            num_known: how many pixels are given, in [0, H * W].
            num_samples: completions per image.
            seed: int or int32 [2]; the same seed gives the same completions.
            naive: use the reference sampler (full re-evaluation per pixel) instead of the
                model's fast one; both give the same draws.

        Returns:
            [B, num_samples, *event_shape] completions.
        """
        x = self.check_input(x)
        num_known = self.check_num_known(num_known)
        num_samples = self.check_count(num_samples)
        seed = self.next_seed(seed)
        batch = tf.shape(x)[0]
        repeated = tf.repeat(x, num_samples, axis=0)
        condition = {k: tf.repeat(self.check_labels(v), num_samples, axis=0)
                     for k, v in condition.items()}
        grid = self.run_sampler(naive, self.to_grid(repeated), num_known, seed, condition)
        return tf.reshape(self.from_grid(grid), [batch, num_samples, *self.event_shape])

    def sample(self, num_samples, seed=None, naive=False, **condition):
        num_samples = self.check_count(num_samples)
        seed = self.next_seed(seed)
        condition = {k: self.check_labels(v) for k, v in condition.items()}
        grid = tf.zeros([num_samples, self.height, self.width], self.observation_dtype)
        return self.from_grid(self.run_sampler(naive, grid, 0, seed, condition))

    def run_sampler(self, naive, grid, num_known, seed, condition):
        """`complete_grid` (or the naive one) on grid; called eagerly it runs as a tf.function
        (traced once per model and input signature), since an eager tf.while_loop would be a
        Python loop of one step per pixel."""
        sampler = self.complete_grid_naive if naive else self.complete_grid
        if not tf.executing_eagerly():
            return sampler(grid, num_known, seed, **condition)
        names = tuple(sorted(condition))
        compiled = self.__dict__.setdefault("_compiled_samplers", {})
        if (naive, names) not in compiled:
            specs = [tf.TensorSpec([None, self.height, self.width], grid.dtype),
                     tf.TensorSpec([], tf.int32), tf.TensorSpec([2], tf.int32),
                     *[tf.TensorSpec([None], tf.int32) for _ in names]]
            compiled[naive, names] = tf.function(
                lambda grid, known, seed, *values: sampler(grid, known, seed,
                                                           **dict(zip(names, values))),
                input_signature=specs)
        return compiled[naive, names](grid, tf.constant(num_known, tf.int32), seed,
                                      *[condition[n] for n in names])

    def completion_outputs(self, x, num_known, seed, **condition):
        """Named outputs of the exported `complete` signature: one completion per image."""
        return {"x": self.complete(x, num_known, 1, seed, **condition)[:, 0]}

    @picture("completion", "each row: the given top half, 6 completions, the original")
    def completion_rows(self, x, y, seed, rows=8, completions=6):
        """Picture rows: the top half of a test image (the rest grey), `completions` draws of
        the bottom half, the original (the lecture's completion figure)."""
        chosen = np.random.default_rng(seed).choice(len(x), min(rows, len(x)), replace=False)
        x = np.asarray(x)[chosen]
        condition = self.conditioning(None if y is None else np.asarray(y)[chosen]) \
            if self.capabilities.conditional else {}
        known = (self.height // 2) * self.width
        drawn = np.asarray(self.complete(x, known, completions, seed=seed, **condition))
        originals = self.to_images(x)
        given = originals.copy()
        given[:, self.height // 2:] = 0.5
        completed = self.to_images(drawn.reshape(-1, *self.event_shape)).reshape(
            len(x), completions, *originals.shape[1:])
        return np.concatenate([given[:, None], completed, originals[:, None]], 1)

    def get_config(self):
        config = super().get_config()
        config.update(likelihood=self.likelihood_name)
        if self.likelihood_name == "categorical":
            config["palette"] = self.head.palette.tolist()
        return config

