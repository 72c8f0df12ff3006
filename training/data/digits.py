"""scikit-learn's bundled 8x8 digits, registered as "digits" (modality "image"): a tiny data
set for fast tests, read from the sklearn package (no download)."""

import numpy as np

from training.data.registry import Dataset, Split, register_dataset


@register_dataset("digits", "image", "scikit-learn's 8x8 digits, 1197/300/300 (tiny, for tests)")
def load_digits():
    """scikit-learn's bundled 8x8 digits (1797 images, 0..16 scaled to [0, 1]) as a tiny data set.

    Split 1197 train / 300 validation / 300 test after a fixed shuffle.
    """
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.images / 16.0).astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return Dataset("digits", Split(x[:1197], y[:1197]), Split(x[1197:1497], y[1197:1497]),
                   Split(x[1497:], y[1497:]), source="sklearn.datasets.load_digits")
