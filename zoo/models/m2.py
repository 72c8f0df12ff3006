"""The semi-supervised VAE "M2" of Kingma, Rezende, Mohamed & Welling (2014)."""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from zoo import objectives
from zoo.checks import check_chunk_size
from zoo.capabilities import Option, merge_options, picture
from zoo.models.cvae import CVAE
from zoo.models.registry import MODELS
from zoo.networks import make_networks


# Options of semi-supervised models that configure the training pipeline, not the model.
SEMI_SUPERVISED_OPTIONS = (
    Option("labels_per_class", int, None, "labelled images per class, the rest unlabelled "
           "(default: all labelled)", minimum=1, argument=None),
    Option("labelled_batch_size", int, 100, "labelled images added to each batch of unlabelled "
           "ones", minimum=1, argument=None),
)


@MODELS.register("m2")
@keras.saving.register_keras_serializable(package="zoo")
class M2(CVAE):
    """Semi-supervised generative model p(x|y,z) p(y) p(z) with inference q(z|x,y) q(y|x).

    For a labelled pair (x, y) and an unlabelled x (Kingma et al. 2014, equations 6-9):

        L(x, y) = E_q(z|x,y)[log p(x|y,z) + log p(y)] - KL(q(z|x,y) || p(z))  <= log p(x, y)
        U(x)    = sum_y q(y|x) L(x, y) + H(q(y|x))                             <= log p(x)
        loss    = -L(x, y) + alpha * (-log q(y|x))   (labelled)
                  -U(x)                               (unlabelled)

    The sum over y in U is exact: every image is scored under all `num_classes` labels at once
    (enumeration, not sampling). p(y) is uniform. The classification term trains q(y|x) on the
    few labels; `alpha` is its weight relative to one bound (the paper used alpha = 0.1 N with
    sums over the data set; with per-example means over batches of equal labelled and unlabelled
    halves the equivalent weight is 0.1 * N_unlabelled / N_labelled-ish, tens for MNIST-100).

    Batches are (x, labels) with label -1 marking an unlabelled image (`fit(x, y)`; the
    `python -m training train --model m2 --labels-per-class 10` pipeline builds them).

    API beyond the VAE's: `classify(x)` -> (class probabilities, predicted label);
    `analogies(x)` -> [B, num_classes, *event]: each input's style z (inferred with its
    predicted label) decoded as every class. `encode`, `posterior` and `reconstruct` use the
    predicted label when none is given; `decode(z)`/`likelihood(z)` without labels marginalise
    y under p(y); `log_prob(x, k)` estimates log p(x) = log sum_y p(y) p(x|y) with k importance
    samples of z per class.

    Args:
        alpha: weight of the classification loss -log q(y|x) on labelled examples.
        classifier_units: hidden sizes of the q(y|x) network (default: `hidden_units`).
        num_classes: number of classes.
        **kwargs: the arguments of `VAE` (architecture, likelihood, ...).

    Reference:
        Kingma, Rezende, Mohamed & Welling, "Semi-Supervised Learning with Deep Generative
        Models", NeurIPS 2014.
    """

    # log_prob, elbo and encode need no label (y is a latent variable): not conditional
    capabilities = CVAE.capabilities.replace(
        conditional=False, classifier=True, semi_supervised=True,
        objective="semi-supervised elbo + classification")
    options = merge_options(CVAE.options, SEMI_SUPERVISED_OPTIONS, (
        Option("alpha", float, 50.0, "weight of the classification loss on labelled images",
               minimum=0),))
    labelled_endpoints = ("decode", "sample")
    metric_names = ("loss", "elbo", "kl", "reconstruction", "classification")

    def __init__(self, alpha=50.0, classifier_units=None, **kwargs):
        self.alpha = float(alpha)
        if self.alpha < 0:
            raise ValueError(f"alpha must be non-negative, got {alpha}.")
        self._classifier_units = None if classifier_units is None else tuple(
            int(u) for u in classifier_units)
        super().__init__(**kwargs)

    @property
    def classifier_units(self):
        return self._classifier_units or self.hidden_units

    def build(self, input_shape=None):
        # The classifier q(y|x): a network like the encoder (its decoder twin is discarded).
        self.classifier_network, _ = make_networks(
            self.network, self.likelihood_head.feature_shape, self.classifier_units,
            self.activation, self.conv_filters)
        self.classifier_logits = keras.layers.Dense(self.num_classes, dtype="float32",
                                                    name="classifier_logits")
        feature_shape = (None, *self.likelihood_head.feature_shape)
        self.classifier_network.build(feature_shape)
        self.classifier_logits.build(self.classifier_network.compute_output_shape(feature_shape))
        super().build(input_shape)

    # --- the classifier q(y|x) -----------------------------------------------------------------
    def class_logits(self, x):
        """Logits of q(y|x), float32 [B, num_classes]."""
        features = self.likelihood_head.to_features(self.check_input(x))
        return self.classifier_logits(self.classifier_network(features))

    def classify(self, x):
        """(probabilities [B, num_classes], most probable label [B] int32) under q(y|x)."""
        logits = self.class_logits(x)
        return tf.nn.softmax(logits), tf.argmax(logits, -1, output_type=tf.int32)

    def _labels_or_predicted(self, x, labels):
        return self.classify(x)[1] if labels is None else labels

    # --- the API, with y inferred or marginalised when not given ------------------------------
    def head_features(self, x, labels=None):
        return super().head_features(x, labels=self._labels_or_predicted(x, labels))

    def reconstruct(self, x, labels=None):
        labels = self._labels_or_predicted(x, labels)
        return self.decode(self.encode(x, labels=labels), labels=labels)

    def likelihood(self, z, labels=None):
        if labels is not None:
            return super().likelihood(z, labels=labels)
        return self._marginal_likelihood(z)

    def decode(self, z, labels=None):
        if labels is not None:
            return super().decode(z, labels=labels)
        return self._marginal_likelihood(z).mean()

    def _marginal_likelihood(self, z):
        """p(x|z) = sum_y p(y) p(x|y, z) with uniform p(y): a mixture over the classes."""
        z = tf.convert_to_tensor(z)
        z_all = tf.repeat(z[..., None, :], self.num_classes, axis=-2)  # [..., B, C, d]
        params = self.likelihood_params(z_all, labels=tf.range(self.num_classes))
        logits = tf.zeros(tf.concat([tf.shape(z)[:-1], [self.num_classes]], 0))
        return tfp.distributions.MixtureSameFamily(
            tfp.distributions.Categorical(logits=logits),
            self.likelihood_head.make_distribution(params))

    def sample(self, num_samples, seed=None, labels=None):
        """Mean images of p(x|y, z), z ~ N(0, I); labels default to 0, 1, 2, ... in turn
        (a stratified draw from the uniform p(y))."""
        return super().sample(num_samples, seed=seed, labels=labels)

    def analogies(self, x):
        """[B, num_classes, *event]: each input's style z = E[z|x, predicted y] decoded as every
        class (Kingma et al. 2014, figure 1)."""
        x = self.check_input(x)
        z = self.encode(x)  # with the predicted label
        z_all = tf.repeat(z[:, None, :], self.num_classes, axis=1)
        return super().decode(z_all, labels=tf.range(self.num_classes))

    @picture("analogies", "left: test input; right: digits 0-9 in its inferred style")
    def analogy_rows(self, x, y, seed, rows=10):
        """Picture rows: a test input, then `analogies` of it (every class in its style)."""
        chosen = np.asarray(x)[np.random.default_rng(seed).choice(len(x), rows, replace=False)]
        return np.concatenate([self.to_images(chosen)[:, None],
                               np.asarray(self.analogies(chosen))], 1)

    # --- bounds ---------------------------------------------------------------------------------
    def labelled_bound(self, x, labels, seed):
        """L(x, y) per example and its parts (KL, -E log p(x|y,z))."""
        terms = objectives.elbo(x, self.posterior(x, labels=labels), self.prior(),
                                lambda z: super(M2, self).likelihood(z, labels=labels),
                                seed=seed, analytic_kl=self.analytic_kl)
        log_py = -math.log(self.num_classes)
        return terms["elbo"] + log_py, terms["rate"], terms["distortion"]

    def unlabelled_bound(self, x, seed):
        """U(x) per example (exact sum over classes) and the q(y|x)-weighted KL and distortion."""
        batch, classes = tf.shape(x)[0], self.num_classes
        x_all = tf.repeat(x, classes, axis=0)  # example-major: [B * C, ...]
        y_all = tf.tile(tf.range(classes), [batch])
        bound, kl, distortion = (tf.reshape(t, [batch, classes])
                                 for t in self.labelled_bound(x_all, y_all, seed))
        q_y = tf.nn.softmax(self.class_logits(x))
        entropy = -tf.reduce_sum(q_y * tf.math.log(q_y + 1e-8), -1)
        weighted = lambda t: tf.reduce_sum(q_y * t, -1)  # noqa: E731
        return weighted(bound) + entropy, weighted(kl), weighted(distortion)

    def elbo(self, x, seed=None):
        """U(x): the bound on log p(x) with y summed out exactly."""
        return self.unlabelled_bound(self.check_input(x), self.next_seed(seed))[0]

    def log_prob(self, x, num_samples=500, seed=None, chunk_size=500):
        """log p(x) = log sum_y p(y) p(x|y), each p(x|y) importance-sampled with `num_samples`
        draws from q(z|x, y) (so num_classes * num_samples decoder evaluations per image)."""
        num_samples = self.check_count(num_samples)
        chunk_size = check_chunk_size(chunk_size)
        x, seed = self.check_input(x), self.next_seed(seed)
        if x.shape[0] == 0:
            return tf.zeros([0])
        per_class = []
        for label in range(self.num_classes):  # a handful of classes: unrolled in the graph
            labels = tf.fill(tf.shape(x)[:1], label)
            per_class.append(super().log_prob(
                x, num_samples=num_samples, chunk_size=chunk_size,
                seed=tf.random.experimental.stateless_fold_in(seed, label), labels=labels))
        return tf.reduce_logsumexp(tf.stack(per_class), 0) - math.log(self.num_classes)

    def per_example_losses(self, x, y=None, training=False):
        x = self.check_input(x)
        if y is None:
            y = -tf.ones(tf.shape(x)[:1], tf.int32)
        y = self.check_labels(tf.reshape(y, [-1]), allow_unlabelled=True)
        seed = self.next_seed()
        seeds = tf.random.experimental.stateless_split(seed, 2)
        labelled = tf.where(y >= 0)[:, 0]
        unlabelled = tf.where(y < 0)[:, 0]
        batch = tf.shape(x)[0]

        def labelled_terms():
            x_l, y_l = tf.gather(x, labelled), tf.gather(y, labelled)
            cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=y_l, logits=self.class_logits(x_l))
            return (*self.labelled_bound(x_l, y_l, seeds[0]), cross_entropy)

        def unlabelled_terms():
            return self.unlabelled_bound(tf.gather(x, unlabelled), seeds[1])

        # A batch may hold only one kind (e.g. fully labelled validation data); TFP cannot
        # sample an empty batch, so each part runs only when it has examples.
        bound_l, kl_l, dist_l, cross_entropy = _if_any(labelled, labelled_terms, 4)
        bound_u, kl_u, dist_u = _if_any(unlabelled, unlabelled_terms, 3)

        def scatter(labelled_values, unlabelled_values):
            return (tf.scatter_nd(labelled[:, None], labelled_values, [batch])
                    + tf.scatter_nd(unlabelled[:, None], unlabelled_values, [batch]))

        # Reported as a batch mean, the classification term is the mean over labelled examples.
        share = tf.cast(batch, tf.float32) / tf.maximum(1.0, tf.cast(tf.size(labelled), tf.float32))
        return {
            "loss": scatter(-bound_l + self.alpha * cross_entropy, -bound_u),
            "elbo": scatter(bound_l, bound_u),
            "kl": scatter(kl_l, kl_u),
            "reconstruction": scatter(dist_l, dist_u),
            "classification": scatter(cross_entropy * share, tf.zeros_like(bound_u)),
        }

    def predict_step(self, data):
        return self.reconstruct(keras.utils.unpack_x_y_sample_weight(data)[0])

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, classifier_units=None if self._classifier_units is None
                      else list(self._classifier_units))
        return config


def _if_any(indices, compute, count):
    """`compute()` (a tuple of `count` [N] tensors) when `indices` is non-empty, else empties."""
    def empty():
        return tuple(tf.zeros([0]) for _ in range(count))
    return tf.cond(tf.size(indices) > 0, compute, empty)
