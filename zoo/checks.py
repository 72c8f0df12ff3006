"""Input checks shared by every model: counts, chunk sizes, seeds, and graph assertions.

Eager values (numpy, lists, eager tensors) are checked in Python with a one-line ValueError;
symbolic tensors (inside tf.function, in exported signatures) get graph assertions instead, so
the same check guards `fit`, Python calls and TF Serving requests.
"""

import weakref

import numpy as np
import tensorflow as tf

INT32_MAX = 2**31 - 1
# The most draws one call to `sample` or `log_prob` takes: far beyond any use, and refusing larger
# counts keeps them from overflowing int32 shapes or exhausting memory without a word.
MAX_SAMPLES_PER_CALL = 10**7


# Graph tensors that `check_input` returned, so that the encoder, the bound and the loss of one
# step assert the batch once, not once each (weak: traced graphs are not kept alive).
_CHECKED = weakref.WeakValueDictionary()


def is_symbolic(value):
    """Whether `value` is a graph tensor (inside tf.function), checked by graph assertions."""
    return tf.is_symbolic_tensor(value)


def checked(x, assertions):
    """x behind graph `assertions`: they run before anything that reads the result."""
    if not assertions:
        return x
    with tf.control_dependencies(assertions):
        return tf.identity(x)


def run_checks(assertions_fn, value):
    """Runs graph-safe assertions eagerly on `value`; a failure becomes a one-line ValueError."""
    try:
        assertions_fn(value)
    except tf.errors.InvalidArgumentError as e:
        raise ValueError(e.message.split("\n")[0]) from None


def _integers(value, what):
    """value as a numpy integer array; ValueError for non-integer input."""
    values = np.asarray(value)
    if values.dtype.kind == "f" and values.size and np.all(np.isfinite(values)) and np.all(
            values == np.round(values)):
        values = values.astype(np.int64)  # e.g. labels that went through a float array
    if values.dtype.kind not in "iu":
        raise ValueError(f"{what} must be integers, got {values.dtype} values.")
    return values


def check_count(num_samples, name="num_samples", maximum=MAX_SAMPLES_PER_CALL):
    """A sample count in [1, maximum]: an int for eager values (ValueError otherwise), an int32
    tensor behind graph assertions for symbolic ones."""
    if is_symbolic(num_samples):
        if not num_samples.dtype.is_integer:
            raise ValueError(f"{name} must be an integer tensor, got {num_samples.dtype}.")
        message = f"{name} must be between 1 and {maximum}"
        n = num_samples
        return tf.cast(checked(n, [
            tf.debugging.assert_greater_equal(n, tf.ones([], n.dtype), message=message),
            tf.debugging.assert_less_equal(n, tf.constant(maximum, n.dtype), message=message)]),
            tf.int32)
    values = np.asarray(num_samples)
    if values.ndim or values.dtype.kind not in "iu":
        raise ValueError(f"{name} must be an integer, got {num_samples!r}.")
    if not 1 <= int(values) <= maximum:
        raise ValueError(f"{name} must be an integer in [1, {maximum}], got {int(values)}.")
    return int(values)


def check_chunk_size(chunk_size):
    """`chunk_size` as a positive Python int (ValueError otherwise)."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) \
            or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    return int(chunk_size)


def as_stateless_seed(seed):
    """An int32 [2] stateless seed from an int, a pair, or a tensor of shape [2]."""
    if isinstance(seed, bool):
        raise ValueError(f"A seed is an int or a pair of ints, got {seed!r}.")
    if isinstance(seed, (int, np.integer)):
        if not 0 <= int(seed) <= INT32_MAX:
            raise ValueError(f"A seed must be an integer in [0, {INT32_MAX}], got {seed}.")
        return tf.constant([int(seed), 0], dtype=tf.int32)
    if is_symbolic(seed):
        if not seed.dtype.is_integer:
            raise ValueError(f"A seed tensor must hold integers, got {seed.dtype}.")
        if seed.dtype != tf.int32:  # a wider seed would be truncated by the cast below
            message = "Seed values must fit in int32"
            seed = checked(seed, [
                tf.debugging.assert_greater_equal(seed, tf.constant(-INT32_MAX - 1, seed.dtype),
                                                  message=message),
                tf.debugging.assert_less_equal(seed, tf.constant(INT32_MAX, seed.dtype),
                                               message=message)])
    else:  # lists, tuples, numpy arrays and eager tensors: checked now
        try:
            values = np.asarray(seed)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"A seed is an int or a pair of ints, got {seed!r}.") from None
        if values.dtype.kind not in "iu":
            raise ValueError(f"A seed is an int or a pair of ints, got {seed!r}.")
        if values.size and (values.min() < -INT32_MAX - 1 or values.max() > INT32_MAX):
            raise ValueError(f"Seed values must fit in int32, got {seed}.")
        seed = values
    seed = tf.convert_to_tensor(seed)
    if seed.shape.rank != 1 or (seed.shape[0] is not None and seed.shape[0] != 2):
        raise ValueError(f"A seed is an int or a pair of ints, got shape {seed.shape}.")
    return tf.cast(seed, tf.int32)
