"""The training-curves figure of a run: per-epoch values from its history.json (written by
`training.run.callbacks.EpochHistory`), one panel per kind of value."""

import json
import os

import numpy as np

from zoo.atomic import atomic_path

# (panel title, logged names, y label); a panel is drawn when the history holds any of them.
PANELS = (
    ("losses", ("loss", "val_loss", "d_loss", "val_d_loss", "g_loss", "val_g_loss"), "nats"),
    ("discriminator outputs", ("d_real", "d_fake"), "D(x) and D(G(z)) (training batches)"),
    ("ELBO terms", ("kl", "reconstruction", "feature_distortion"), "nats"),
    ("mode-collapse monitor", ("class_entropy",), "class entropy of 10k samples (nats)"),
)
LABELS = {"d_real": "D(x), real images", "d_fake": "D(G(z)), samples",
          "class_entropy": "entropy of the classifier's labels"}


def read_history(folder):
    """The list of per-epoch entries of a run or model folder ([] when it has none)."""
    path = os.path.join(folder, "history.json")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return json.load(f)


def save_training_curves(path, history, title=None):
    """Writes the curves of `history` (list of {"epoch": n, name: value}) as a PNG; returns
    the path. Raises ValueError when the history is empty."""
    if not history:
        raise ValueError("The folder has no training history (history.json): it was trained "
                         "before the zoo recorded one, or not by `python -m training train`.")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.array([e["epoch"] for e in history])
    panels = [(t, [n for n in names if any(n in e for e in history)], y)
              for t, names, y in PANELS]
    panels = [p for p in panels if p[1]]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), dpi=100,
                             squeeze=False)
    for ax, (panel, names, ylabel) in zip(axes[0], panels):
        for name in names:
            values = np.array([e.get(name, np.nan) for e in history], float)
            ax.plot(epochs, values, marker="o", markersize=3, label=LABELS.get(name, name))
        if panel == "mode-collapse monitor":
            ax.axhline(np.log(10), color="grey", linestyle="--", linewidth=1,
                       label="uniform over 10 digits")
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
