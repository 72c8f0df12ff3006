"""`SequenceModel`: generators of sequences of binary vectors (piano rolls, modality "piano_roll").

An observation is a roll x [T, K] (K = 88 piano keys, MIDI pitches 21..108; x[t, k] = 1 when key
k sounds at step t). Sequences differ in length, so a batch is padded to a common T and carries a
mask [B, T] (1 for the steps t < length of each sequence), which every method takes as `mask`
(None = every step counts). Training batches carry the mask as their `y` (`training_targets =
"mask"`), so `fit(rolls, masks)` and the data pipeline need nothing else. Inputs may have any
number of steps; `event_shape[0]` is only the default length of samples.

Shared maths: each step's K notes are independent Bernoullis given the model's state,

    log p(x) = sum_t mask_t sum_k log Bernoulli(x_t,k; sigmoid(logits_t,k)),

and the NLL per step of the literature (Boulanger-Lewandowski et al. 2012) is
sum_n -log p(x_n) / sum_n length_n over a test set.
"""

import numpy as np
import tensorflow as tf

from zoo.base import GenerativeModel
from zoo.capabilities import Capabilities
from zoo.checks import _CHECKED, checked, is_symbolic, run_checks

NUM_KEYS = 88
MAX_STEPS = 100000  # the longest sequence `sample` and `decode` generate in one call


def step_log_probs(logits, x):
    """log p(x_t | ...) of every step, [..., T]: K independent Bernoullis per step."""
    x = tf.cast(x, logits.dtype)
    return -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits),
                          axis=-1)


def masked_sum(values, mask):
    """sum_t mask_t values_t over the last axis ([..., T] -> [...])."""
    return tf.reduce_sum(values * tf.cast(mask, values.dtype), axis=-1)


class SequenceModel(GenerativeModel):
    """Base of the piano-roll models; see the module docstring.

    Subclasses define `per_example_losses`, `log_prob(x, ..., mask=None)` and
    `generate(num_samples, num_steps, seed)` -> {"x": notes [n, num_steps, K], ...}.

    Args:
        event_shape: (T, K): the default number of steps of samples, and the keys per step.
        seed: seed of the model's random stream.
    """

    capabilities = Capabilities(density="exact", training_targets="mask")

    def __init__(self, event_shape=(100, NUM_KEYS), seed=None, **kwargs):
        super().__init__(event_shape=event_shape, seed=seed, **kwargs)
        if len(self.event_shape) != 2 or min(self.event_shape) < 1:
            raise ValueError(f"A sequence model's event_shape is (steps, keys), got "
                             f"{event_shape}.")

    @property
    def modality(self):
        return "piano_roll"

    @property
    def num_keys(self):
        return self.event_shape[1]

    # --- inputs: any number of steps, binary notes, a 0/1 mask ---------------------------------
    def _check_shape(self, shape, allow_unknown=False):
        shape = tf.TensorShape(shape)
        if shape.rank is None and allow_unknown:
            return
        if shape.rank == 3 and shape[2] == self.num_keys and (
                shape[1] is None and allow_unknown or shape[1] is not None and shape[1] >= 1):
            return
        raise ValueError(f"{type(self).__name__} expects a batch of shape [batch, steps, "
                         f"{self.num_keys}] (piano rolls of any number of steps), got "
                         f"{list(shape)}.")

    def value_assertions(self, x):
        message = "The notes must be 0 or 1 (a binary piano roll)."
        return [tf.debugging.assert_equal(tf.reduce_all((x == 0) | (x == 1)), True,
                                          message=message)]

    def mask_assertions(self, mask):
        message = "mask must hold 0 or 1 for every step (1 = the step counts)"
        return [tf.debugging.assert_equal(tf.reduce_all((mask == 0) | (mask == 1)), True,
                                          message=message)]

    target_assertions = mask_assertions

    def step_mask(self, x, mask=None):
        """The float32 mask [B, T] of x (all ones when None), checked against x's shape."""
        if mask is None:
            return tf.ones(tf.shape(x)[:2], tf.float32)
        mask = tf.cast(mask, tf.float32)
        message = "mask must have shape [batch, steps] of the rolls it goes with"
        if is_symbolic(mask):
            if _CHECKED.get((id(self), id(mask))) is mask:
                return mask
            same = tf.debugging.assert_equal(tf.shape(mask), tf.shape(x)[:2], message=message)
            mask = checked(mask, [same, *self.mask_assertions(mask)])
            _CHECKED[(id(self), id(mask))] = mask
            return mask
        if tuple(mask.shape) != tuple(x.shape[:2]):
            raise ValueError(f"{message}: rolls {list(x.shape)}, mask {list(mask.shape)}.")
        run_checks(self.mask_assertions, mask)
        return mask

    def trimmed(self, x, mask):
        """(x, mask) without the steps that no sequence of the batch keeps (after the last 1
        of every mask), so a batch of short sequences padded to a long one costs what its own
        longest sequence does. Causal models give the same results on the trimmed batch."""
        kept = tf.reduce_max(tf.where(mask > 0, tf.range(1, tf.shape(mask)[1] + 1)[None], 0))
        kept = tf.maximum(kept, 1)
        return x[:, :kept], mask[:, :kept]

    # --- training targets: the mask --------------------------------------------------------
    def conditioning(self, targets):
        """A batch's targets (its mask) as the keyword arguments of the model's methods."""
        return {} if targets is None else {"mask": targets}

    def check_targets(self, y, training=True):
        """A batch without a mask is a batch of full-length sequences."""

    def default_targets(self, x, y, training=True):
        return tf.ones(tf.shape(x)[:2], tf.float32) if y is None else y

    # --- sampling ---------------------------------------------------------------------------
    def check_num_steps(self, num_steps):
        """num_steps (default event_shape[0]) as an int, or a checked int32 tensor."""
        if num_steps is None:
            return self.event_shape[0]
        return self.check_count(num_steps, "num_steps", maximum=MAX_STEPS)

    def sample(self, num_samples, seed=None, num_steps=None):
        """num_samples rolls of num_steps steps (default event_shape[0]) drawn from the model."""
        return self.sample_outputs(num_samples, seed, num_steps)["x"]

    def sample_outputs(self, num_samples, seed=None, num_steps=None):
        """The exported `sample` signature's outputs: "x" (drawn notes) and, for latent models,
        "z"."""
        return self.generate(self.check_count(num_samples), self.check_num_steps(num_steps),
                             self.next_seed(seed))

    def generate(self, num_samples, num_steps, seed):
        raise NotImplementedError

    # --- pictures -----------------------------------------------------------------------------
    def to_images(self, x):
        """Rolls [N, T, K] as images [N, K, T, 1], the highest key on top."""
        x = np.asarray(x, np.float32)
        return np.transpose(x, (0, 2, 1))[:, ::-1, :, None]

    # --- serving ------------------------------------------------------------------------------
    def serving_endpoints(self):
        """Rolls of any length: `sample` takes num_steps; `log_prob` (and, with one latent,
        `serving_default` and `encode`) take the mask; `decode` takes num_steps."""
        from zoo.export import sequence_endpoints

        return sequence_endpoints(self)
