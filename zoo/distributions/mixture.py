"""An equal-weight mixture of many diagonal Gaussians, evaluated with matrix products.

The priors built from encoder posteriors (VampPrior: q(z|u_k) over K pseudo-inputs; the
Generative Auto Encoder: q(z|x_j) over all n training images) are mixtures with up to 50,000
components. `tfd.MixtureSameFamily` would broadcast z against every component ([rows, n, d]
in memory); here

    sum_d (z_d - m_jd)^2 / s_jd^2 = [z^2, z] . [1/s_j^2, -2 m_j/s_j^2] + sum_d m_jd^2/s_jd^2

turns the [rows, n] table of component log-densities into one matrix product, computed
`chunk_size` rows at a time, then a logsumexp over components.
"""

import math

import tensorflow as tf


class DiagonalGaussianMixture:
    """p(z) = (1/n) sum_j N(z; loc_j, diag(scale_j^2)), with the tfd methods the zoo uses.

    Args:
        loc: [n, d] component means.
        scale: [n, d] component standard deviations (positive).
        chunk_size: rows of z scored against all n components at once (memory: chunk_size * n
            floats).

    `log_prob(z, exclude=...)` leaves out one component per row: the Generative Auto Encoder
    scores training image i without its own posterior q(z|x_i) (leave-one-out).
    """

    def __init__(self, loc, scale, chunk_size=2048):
        self.loc = tf.convert_to_tensor(loc, tf.float32)
        self.scale = tf.convert_to_tensor(scale, tf.float32)
        self.chunk_size = int(chunk_size)
        precision = tf.math.reciprocal(tf.square(self.scale))  # [n, d]
        # Rows of the quadratic form: [z^2, z] @ weights + offsets.
        self._weights = tf.transpose(tf.concat([precision, -2.0 * self.loc * precision], -1))
        self._offsets = (tf.reduce_sum(tf.square(self.loc) * precision, -1)
                         + 2.0 * tf.reduce_sum(tf.math.log(self.scale), -1)
                         + self.event_size * math.log(2.0 * math.pi))  # [n]

    @property
    def event_size(self):
        return self.loc.shape[-1]

    @property
    def num_components(self):
        return tf.shape(self.loc)[0]

    def component_log_probs(self, z):
        """[rows, n] log N(z_r; loc_j, scale_j) for z of shape [rows, d]."""
        features = tf.concat([tf.square(z), z], -1)
        return -0.5 * (tf.matmul(features, self._weights) + self._offsets)

    def log_prob(self, z, exclude=None):
        """log p(z) for z of shape [..., d]; returns [...].

        Args:
            exclude: optional int tensor broadcastable to z's leading shape: the component to
                leave out of each row's mixture (-1 leaves none out). The mixture weights then
                become 1/(n-1).
        """
        z = tf.convert_to_tensor(z, tf.float32)
        leading = tf.shape(z)[:-1]
        rows = tf.reshape(z, [-1, self.event_size])
        if exclude is None:
            skip = -tf.ones(tf.shape(rows)[:1], tf.int32)
        else:
            skip = tf.reshape(tf.broadcast_to(tf.cast(exclude, tf.int32), leading), [-1])
        n = tf.cast(self.num_components, tf.float32)

        def score(chunk):
            values, left_out = chunk
            table = self.component_log_probs(values)
            table += tf.one_hot(left_out, self.num_components, on_value=-math.inf, off_value=0.0)
            return tf.reduce_logsumexp(table, -1) - tf.math.log(
                n - tf.cast(left_out >= 0, tf.float32))

        num_rows = tf.shape(rows)[0]
        chunk = tf.maximum(1, tf.minimum(self.chunk_size, num_rows))
        padded = (num_rows + chunk - 1) // chunk * chunk
        rows = tf.pad(rows, [[0, padded - num_rows], [0, 0]])
        skip = tf.pad(skip, [[0, padded - num_rows]], constant_values=-1)
        out = tf.map_fn(score, (tf.reshape(rows, [-1, chunk, self.event_size]),
                                tf.reshape(skip, [-1, chunk])),
                        fn_output_signature=tf.float32)
        return tf.reshape(tf.reshape(out, [-1])[:num_rows], leading)

    def sample(self, sample_shape=(), seed=None):
        """Picks components uniformly, then z = loc + scale * eps; stateless for a given seed."""
        seed = tf.random.experimental.stateless_split(
            tf.zeros([2], tf.int32) if seed is None else seed, 2)
        shape = tf.reshape(tf.cast(sample_shape, tf.int32), [-1])
        index = tf.random.stateless_uniform(shape, seed[0], minval=0,
                                            maxval=self.num_components, dtype=tf.int32)
        noise = tf.random.stateless_normal(tf.concat([shape, [self.event_size]], 0), seed[1])
        return tf.gather(self.loc, index) + tf.gather(self.scale, index) * noise

    def mean(self):
        return tf.reduce_mean(self.loc, 0)
