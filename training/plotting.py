"""Pictures: sample grids and reconstructions next to their inputs, as PNG files or arrays."""

import os
import tempfile

import numpy as np


def to_display(images):
    """[N, H, W] or [N, H, W, C] in [0, 1] -> [N, H, W, C] with C in {1, 3}."""
    images = np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0)
    if images.ndim == 3:
        images = images[..., None]
    return images


def image_grid(images, columns=None, pad=1):
    """Tiles N images into one [rows*H', cols*W', C] array with `pad` pixels of padding."""
    images = to_display(images)
    n, h, w, c = images.shape
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    grid = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad, c), np.float32)
    for i, image in enumerate(images):
        r, k = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[top:top + h, left:left + w] = image
    return grid


def save_png(path, grid, title=None, scale=4):
    """Writes a grid (from `image_grid`) to `path` atomically; returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = grid.shape[:2]
    fig = plt.figure(figsize=(w * scale / 100, h * scale / 100 + (0.3 if title else 0)), dpi=100)
    ax = fig.add_axes([0, 0, 1, h / (h + (30 if title else 0))])
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".png")
    os.close(fd)
    fig.savefig(tmp, format="png")
    plt.close(fig)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return path


def sample_grid(model, num_samples=64, seed=0):
    """Mean images of p(x|z) for z ~ p(z), tiled into a grid."""
    return image_grid(np.asarray(model.sample(num_samples, seed=seed)))


def reconstruction_grid(model, x, columns=10):
    """Inputs and reconstructions in alternating rows (input row, then its reconstruction row)."""
    x = np.asarray(x)[:columns * (len(x) // columns)]
    recon = to_display(np.asarray(model.reconstruct(x)))
    x = to_display(x)
    rows = []
    for start in range(0, len(x), columns):
        rows += [x[start:start + columns], recon[start:start + columns]]
    return image_grid(np.concatenate(rows), columns=columns)
