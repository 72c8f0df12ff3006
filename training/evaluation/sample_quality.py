"""Sample-quality measures for models with or without a density, in the feature space of the
zoo's MNIST classifier (`mnist_classifier`, the FD's feature space):

- class coverage: the histogram of the classifier's labels for the samples, its entropy (log 10
  = 2.303 nats when every digit is drawn equally often) and the number of classes drawn at least
  1% of the time. Mode collapse shows as a falling entropy.
- precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for
  Assessing Generative Models"): each set's manifold is the union of balls around its points,
  each ball reaching the point's k-th nearest neighbour in the same set; precision is the share
  of samples inside the real images' manifold (are the samples realistic?), recall the share of
  real images inside the samples' manifold (do the samples cover the data?).
"""

import numpy as np

from training.evaluation.classifier import classifier_features

COVERAGE_SHARE = 0.01  # a class counts as drawn when at least 1% of the samples fall in it


def requested_labels(model, num_samples):
    """The classes a conditional model is asked for in `model_samples`: 0, 1, 2, ... in turn
    (None for other models)."""
    if not model.capabilities.conditional:
        return None
    return (np.arange(num_samples) % model.num_classes).astype(np.int32)


def model_samples(model, num_samples=10000, seed=0, chunk=1000):
    """num_samples images from the model, drawn `chunk` at a time with seeds [seed, i] (the
    draws the FD and Parzen protocols use); a conditional model draws `requested_labels`."""
    labels = requested_labels(model, num_samples)
    given = lambda i, size: {} if labels is None else {"labels": labels[i:i + size]}
    return np.concatenate([
        np.asarray(model.sample(min(chunk, num_samples - i), seed=[seed, j],
                                **given(i, min(chunk, num_samples - i))))
        for j, i in enumerate(range(0, num_samples, chunk))])


def class_probabilities(classifier, images, batch_size=500):
    """The classifier's class probabilities [N, 10] for grey images [N, 28, 28, 1]."""
    images = np.asarray(images, np.float32)
    logits = np.concatenate([np.asarray(classifier(images[i:i + batch_size]))
                             for i in range(0, len(images), batch_size)])
    logits = logits - logits.max(1, keepdims=True)
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True)


def class_coverage(probabilities, num_classes=10):
    """{"class_histogram": shares per class (sum 1), "class_entropy": its entropy in nats,
    "classes_covered": classes with at least COVERAGE_SHARE of the samples} from the
    classifier's probabilities [N, num_classes] (each sample counted at its arg max)."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2 or len(probabilities) == 0:
        raise ValueError(f"class_coverage needs probabilities [N > 0, classes], got shape "
                         f"{probabilities.shape}.")
    counts = np.bincount(probabilities.argmax(1), minlength=num_classes).astype(np.float64)
    shares = counts / counts.sum()
    nonzero = shares[shares > 0]
    return {"class_histogram": shares.round(6).tolist(),
            "class_entropy": float(-(nonzero * np.log(nonzero)).sum()),
            "classes_covered": int((shares >= COVERAGE_SHARE).sum())}


def _pairwise_sq_distances(a, b):
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def kth_neighbour_radii(features, k=3, batch_size=1000):
    """Squared distance from each point to its k-th nearest other point of the same set."""
    features = np.asarray(features, np.float64)
    if len(features) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} points per set, got "
                         f"{len(features)}.")
    radii = np.empty(len(features))
    for i in range(0, len(features), batch_size):
        d = _pairwise_sq_distances(features[i:i + batch_size], features)
        radii[i:i + batch_size] = np.partition(d, k, axis=1)[:, k]  # [:, 0] is the point itself
    return radii


def manifold_share(points, support, support_radii, batch_size=1000):
    """Share of `points` inside the union of balls around `support` (squared radii)."""
    points, support = np.asarray(points, np.float64), np.asarray(support, np.float64)
    inside = 0
    for i in range(0, len(points), batch_size):
        d = _pairwise_sq_distances(points[i:i + batch_size], support)
        inside += int((d <= support_radii[None, :]).any(1).sum())
    return inside / len(points)


def precision_recall(real_features, fake_features, k=3):
    """(precision, recall) of Kynkäänniemi et al. 2019 with k nearest neighbours."""
    real_radii = kth_neighbour_radii(real_features, k)
    fake_radii = kth_neighbour_radii(fake_features, k)
    return (manifold_share(fake_features, real_features, real_radii),
            manifold_share(real_features, fake_features, fake_radii))


def measure_coverage(classifier, samples, labels=None):
    """`class_coverage` of samples through the classifier; with the `labels` a conditional
    model was asked for, also `label_accuracy`: the share of samples the classifier calls the
    requested class."""
    probabilities = class_probabilities(classifier, samples)
    results = class_coverage(probabilities)
    if labels is not None:
        results["label_accuracy"] = float((probabilities.argmax(1) == np.asarray(labels)).mean())
    return results


def measure_precision_recall(classifier, samples, real, k=3):
    """(precision, recall) of samples against real images in the classifier's features."""
    return precision_recall(classifier_features(classifier, real),
                            classifier_features(classifier, samples), k)
