"""Two data-only baselines of the test NLL, measured the way the models' NLL is measured, so a
model's number has something to stand next to:

- "frequency": every pixel drawn independently from the value frequencies of all training
  pixels (the palette histogram; for binary images one Bernoulli for every pixel);
- "position": an independent categorical per pixel position (for binary images the per-pixel
  Bernoulli of the training mean).

Counts get add-alpha smoothing with alpha chosen on the validation set from ALPHAS. Training
images that are grey levels (dynamic binarization) count as their expected binary values.
"""

import math

import numpy as np

ALPHAS = (1e-3, 1e-2, 0.1, 0.5, 1.0, 2.0, 5.0)


def value_probabilities(x, modality, num_values):
    """[N, P, V] probabilities of each value at each pixel: one-hot palette indices, or
    (1 - x, x) for binary (or grey) images."""
    x = np.asarray(x)
    flat = x.reshape(len(x), -1)
    if modality == "palette_image":
        return np.eye(num_values, dtype=np.float64)[flat]
    flat = flat.astype(np.float64)
    return np.stack([1.0 - flat, flat], -1)


def _nll(log_probabilities, data):
    """Per-image NLL [N] of data [N, P, V] (one-hot or expected) under log p [P, V] or [V]."""
    return -(data * log_probabilities).sum(axis=(1, 2))


def _fit(counts, alpha):
    smoothed = counts + alpha
    return np.log(smoothed / smoothed.sum(-1, keepdims=True))


def measure_baselines(arrays):
    """{"frequency": {...}, "position": {...}} with the test NLL (nats per image), its standard
    error, bits per pixel and the alpha chosen, for the data set of `arrays` (`data.prepare`)."""
    modality = arrays["modality"]
    if modality not in ("image", "palette_image"):
        raise ValueError(f"The baselines are defined for images and palette images, not "
                         f"{modality} data.")
    num_values = len(arrays["palette"]) if modality == "palette_image" else 2
    train, val, test = (value_probabilities(arrays[k], modality, num_values)
                        for k in ("x_train", "x_val", "x_test"))
    pixels = train.shape[1]
    results = {}
    for name, counts in (("frequency", train.sum(axis=(0, 1))), ("position", train.sum(0))):
        alpha = min(ALPHAS, key=lambda a: _nll(_fit(counts, a), val).mean())
        values = _nll(_fit(counts, alpha), test)
        mean = float(values.mean())
        results[name] = {"nll": mean, "stderr": float(values.std(ddof=1) / np.sqrt(len(values))),
                         "bits_per_pixel": mean / (pixels * math.log(2)), "alpha": alpha}
    return results


PROTOCOL = ("two data-only baselines on the same test images: 'frequency' (every pixel "
            "independent, drawn from the value frequencies of all training pixels) and "
            "'position' (an independent categorical per pixel position); add-alpha smoothing "
            f"with alpha chosen on the validation images from {list(ALPHAS)}; nats per image")
