"""Pictures: sample grids and reconstructions next to their inputs, as PNG files or arrays."""

import textwrap

import numpy as np

from zoo.atomic import atomic_path


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

    h, w = grid.shape[0] * scale, grid.shape[1] * scale
    if title:  # wrapped to the picture's width (about 7 pixels per character at 9 points)
        title = "\n".join(textwrap.wrap(title, max(20, int(w / 7))))
    title_px = 16 + 13 * title.count("\n") + 14 if title else 0
    fig = plt.figure(figsize=(w / 100, (h + title_px) / 100), dpi=100)
    ax = fig.add_axes([0, 0, 1, h / (h + title_px)])
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.axis("off")
    if title:
        fig.text(0.5, 1 - 0.5 * title_px / (h + title_px), title, ha="center", va="center",
                 fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def as_images(model, values):
    """A model's outputs (draws, mean images, note probabilities) as images in [0, 1]: palette
    indices become their colours, piano rolls [T, 88] images [88, T] (highest key on top)."""
    values = np.asarray(values)
    if values.dtype.kind in "iu" or model.modality == "piano_roll":
        return model.to_images(values)
    return values


def picture_targets(model, arrays):
    """The y that pictures take with the test inputs: what the model's methods take besides x
    (labels of conditional models, masks of sequences), else the labels."""
    from training.data import method_targets

    targets = method_targets(model.capabilities, arrays, "test")
    return arrays["y_test"] if targets is None else targets


def sample_images(model, num_samples=64, seed=0):
    """The model's samples as images in [0, 1]: mean images of p(x|z) for latent models, draws
    for the others (see `as_images`)."""
    return as_images(model, model.sample(num_samples, seed=seed))


def sample_grid(model, num_samples=64, seed=0):
    """`sample_images`, tiled into a grid."""
    return image_grid(sample_images(model, num_samples, seed))


def reconstruction_grid(model, x, columns=10, y=None):
    """Inputs and reconstructions in alternating rows (input row, then its reconstruction row);
    `y`: the labels, for conditional models."""
    keep = columns * (len(x) // columns)
    x = np.asarray(x)[:keep]
    y = None if y is None else np.asarray(y)[:keep]
    recon = to_display(as_images(model, model.reconstruct(x, **model.conditioning(y))))
    x = to_display(model.to_images(x))
    rows = []
    for start in range(0, len(x), columns):
        rows += [x[start:start + columns], recon[start:start + columns]]
    return image_grid(np.concatenate(rows), columns=columns)


def manifold_grid(model, size=20, bound=0.95):
    """For a 2-D latent: decoded images on a size x size grid of z = inverse Normal CDF of
    evenly spaced probabilities in [1 - bound, bound] (Kingma & Welling 2014, figure 4)."""
    from scipy.stats import norm

    if model.latent_dim != 2:
        raise ValueError(f"The manifold picture needs a 2-D latent; this model has "
                         f"latent_dim={model.latent_dim}. Use the scatter plot instead.")
    ticks = norm.ppf(np.linspace(1 - bound, bound, size))
    z = np.array([[zx, zy] for zy in ticks[::-1] for zx in ticks], np.float32)
    return image_grid(np.asarray(model.decode(z)), columns=size, pad=0)


def interpolation_grid(model, x_a, x_b, steps=10, y_a=None, y_b=None):
    """Decoded images along the straight line between the posterior means of x_a and x_b;
    the two inputs stand at the ends of each row. A conditional model decodes the row with
    x_a's label (`y_a`; x_b is encoded with `y_b`)."""
    x_a, x_b = np.asarray(x_a), np.asarray(x_b)
    z_a = np.asarray(model.encode(x_a, **model.conditioning(y_a)))
    z_b = np.asarray(model.encode(x_b, **model.conditioning(y_b)))
    t = np.linspace(0, 1, steps, dtype=np.float32)
    rows = []
    for i in range(len(x_a)):
        z = (1 - t)[:, None] * z_a[i] + t[:, None] * z_b[i]
        label = {} if y_a is None else model.conditioning(np.full(steps, y_a[i], np.int32))
        decoded = to_display(np.asarray(model.decode(z, **label)))
        rows.append(np.concatenate([to_display(model.to_images(x_a[i:i + 1])), decoded,
                                    to_display(model.to_images(x_b[i:i + 1]))]))
    return image_grid(np.concatenate(rows), columns=steps + 2)


def digit_grid(model, rows=10, seed=0):
    """For models that decode given a class: row i decodes one z ~ p(z) as every class 0..9."""
    if "decode" not in model.labelled_endpoints:
        raise ValueError(f"The digits picture needs a model that decodes given a label; "
                         f"{type(model).__name__} does not. Use --kind samples.")
    classes = model.num_classes
    z = np.repeat(np.asarray(model.prior().sample(rows, seed=model.next_seed(seed))), classes, 0)
    labels = np.tile(np.arange(classes, dtype=np.int32), rows)
    return image_grid(np.asarray(model.decode(z, labels=labels)), columns=classes)


def rows_grid(rows):
    """Image rows [R, C, *image] (as a model's picture method returns them) tiled into a grid."""
    rows = np.asarray(rows)
    return image_grid(rows.reshape(-1, *rows.shape[2:]), columns=rows.shape[1])


def save_latent_scatter(path, model, x, labels, title=None):
    """Posterior means of x coloured by label (first two principal components when the latent
    has more than two dimensions); written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    z = np.concatenate([np.asarray(model.encode(x[i:i + 1000],
                                                **model.conditioning(labels[i:i + 1000])))
                        for i in range(0, len(x), 1000)])
    axes_names = ("z1", "z2")
    if z.shape[1] > 2:
        centred = z - z.mean(0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        z = centred @ vt[:2].T
        axes_names = ("PC 1 of E[z|x]", "PC 2 of E[z|x]")
    fig, ax = plt.subplots(figsize=(6, 5), dpi=100)
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=2, vmin=-0.5, vmax=9.5)
    fig.colorbar(points, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel(axes_names[0])
    ax.set_ylabel(axes_names[1])
    ax.set_title(title or "Test set in latent space (posterior means)", fontsize=9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return path


def _interpolation(model, path, x_test, y_test, seed):
    if model.modality == "piano_roll":
        return save_interpolation(model, path, x_test[0], x_test[1], y_test[0], y_test[1],
                                  seed=seed)
    rng = np.random.default_rng(seed)
    a, b = rng.choice(len(x_test), 8, replace=False), rng.choice(len(x_test), 8, replace=False)
    return save_png(path, interpolation_grid(model, x_test[a], x_test[b], y_a=y_test[a],
                                             y_b=y_test[b]),
                    title="interpolation between posterior means (inputs at the ends)")


# --- adversarial models: walks and arithmetic in z (there is no encoder) ----------------------
def latent_walk_grid(model, rows=8, steps=10, seed=0):
    """Each row: G along the straight line between two z ~ N(0, I) (ends included); a
    conditional model draws row i as class i mod num_classes."""
    z = np.asarray(model.noise(2 * rows, seed=[seed, 11]))
    t = np.linspace(0, 1, steps, dtype=np.float32)[None, :, None]
    line = (1 - t) * z[:rows, None] + t * z[rows:, None]  # [rows, steps, d]
    # a conditional model walks each row with one class: 0, 1, 2, ...
    given = model.conditioning(np.repeat(np.arange(rows) % model.num_classes, steps).astype(
        np.int32)) if model.capabilities.conditional else {}
    images = np.asarray(model.generate(line.reshape(rows * steps, -1), **given))
    return image_grid(images, columns=steps)


def latent_arithmetic_grid(model, classifier, rows=8, num_samples=5000, confidence=0.9,
                           seed=0):
    """The DCGAN paper's vector arithmetic with digits: the mean z of the samples the zoo's
    classifier calls each digit (with at least `confidence`) is that digit's "class vector";
    a sample's "style" is its z minus its class's vector. Row i: a sample, then its style
    added to the class vector of every digit 0-9 (a digit no sample was confidently called
    stays blank). Returns (grid, digits found)."""
    from training.evaluation.sample_quality import class_probabilities

    z = np.asarray(model.noise(num_samples, seed=[seed, 13]))
    images = np.concatenate([np.asarray(model.generate(z[i:i + 1000]))
                             for i in range(0, num_samples, 1000)])
    probabilities = class_probabilities(classifier, images)
    labels, sure = probabilities.argmax(1), probabilities.max(1) >= confidence
    means = {c: z[sure & (labels == c)].mean(0) for c in range(10) if (sure & (labels == c)).any()}
    if not means:
        raise ValueError(f"None of {num_samples} samples is a digit the classifier recognises "
                         f"with confidence {confidence}; the arithmetic picture needs a model "
                         "that draws digits (train it longer).")
    sources = [int(np.flatnonzero(sure & (labels == c))[0]) for c in sorted(means)][:rows]
    blank = np.ones_like(images[:1])
    cells = []
    for i in sources:
        style = z[i] - means[int(labels[i])]
        moved = np.stack([means[c] + style for c in sorted(means)])
        drawn = dict(zip(sorted(means), np.asarray(model.generate(moved))))
        cells += [images[i:i + 1]] + [drawn[c][None] if c in drawn else blank for c in range(10)]
    return image_grid(np.concatenate(cells), columns=11), sorted(means)


def _arithmetic(model, path, x_test, y_test, seed):
    import zoo
    from training.evaluation.classifier import default_classifier_path

    grid, found = latent_arithmetic_grid(model, zoo.load(default_classifier_path(),
                                                         compile=False), seed=seed)
    return save_png(path, grid, title="left: a sample; right: its style (z minus its digit's "
                                      "mean z) plus the mean z of each digit 0-9")


def _latent_walk(model, path, x_test, y_test, seed):
    return save_png(path, latent_walk_grid(model, seed=seed),
                    title="G along straight lines between two z ~ N(0, I)")


# --- piano rolls: one row per sequence, time across, pitch up ---------------------------------
def _rolls_figure(path, rolls, titles):
    from training.data.music import piano_roll_figure

    return piano_roll_figure(path, [np.asarray(r) for r in rolls], titles=titles)


def _lengths(mask):
    return np.asarray(mask).sum(1).astype(int)


def save_samples(model, path, seed=0, title="samples", num_samples=100):
    """The samples picture: a grid of num_samples images, or 6 piano rolls for sequence
    models."""
    if model.modality == "piano_roll":
        rolls = np.asarray(model.sample(6, seed=seed))
        return _rolls_figure(path, rolls, [f"{type(model).__name__} sample {i + 1} (seed "
                                           f"{seed})" for i in range(len(rolls))])
    return save_png(path, sample_grid(model, num_samples, seed=seed), title=title)


def save_reconstructions(model, path, x, y):
    """Inputs above their reconstructions: an image grid, or for sequence models 3 test rolls,
    each above its reconstruction (each step's note probabilities given the previous steps;
    darker = more likely), trimmed to their lengths."""
    if model.modality == "piano_roll":
        x, y = np.asarray(x[:3]), np.asarray(y[:3])
        recon = np.asarray(model.reconstruct(x, **model.conditioning(y)))
        lengths = _lengths(y)
        rolls = [r for i in range(len(x)) for r in (x[i][:lengths[i]], recon[i][:lengths[i]])]
        titles = [t for i in range(len(x)) for t in (f"test sequence {i + 1}",
                                                     "its reconstruction (note probabilities)")]
        return _rolls_figure(path, rolls, titles)
    return save_png(path, reconstruction_grid(model, x[:50], y=y[:50]),
                    title="test inputs (odd rows) and reconstructions (even rows)")


def save_interpolation(model, path, x_a, x_b, y_a, y_b, steps=5, seed=0):
    """Sequence models: the rolls decoded along the line from one test sequence's posterior
    mean to another's (`model.interpolate`, the same noise for every row)."""
    rolls = np.asarray(model.interpolate(x_a, x_b, steps=steps, mask_a=y_a, mask_b=y_b,
                                         seed=seed))
    return _rolls_figure(path, rolls, [f"{int(round(100 * t))}% of the way from test sequence "
                                       "A to B" for t in np.linspace(0, 1, steps)])


def save_painting_gif(model, path, seed=0, num_samples=16, scale=4, frame_ms=80):
    """An animated GIF of `num_samples` samples being painted, one frame per step of a model
    that exports `canvases` (DRAW): frame t is the grid of the canvases sigmoid(c_t); the last
    frame is held for a second. Written atomically."""
    from PIL import Image

    canvases = np.asarray(model.canvases(num_samples=num_samples, seed=seed))  # [n, T, H, W, C]
    frames = []
    for t in range(canvases.shape[1]):
        grid = image_grid(canvases[:, t], pad=1)
        pixels = (np.clip(grid, 0, 1) * 255).astype(np.uint8)
        pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
        image = Image.fromarray(pixels)
        frames.append(image.resize((image.width * scale, image.height * scale), Image.NEAREST))
    durations = [frame_ms] * (len(frames) - 1) + [1000]
    with atomic_path(path) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=durations, loop=0)
    return path


# kind -> (what the model must be able to do, writer(model, path, x_test, y_test, seed)).
# Models bring their own pictures besides (`GenerativeModel.pictures`).
def _has_latent(model):
    return model.capabilities.latent == "single"


def _has_image_latent(model):
    return _has_latent(model) and model.modality != "piano_roll"


PLOT_WRITERS = {
    "samples": (lambda m: True, lambda m, path, x, y, seed: save_samples(m, path, seed)),
    "reconstructions": (_has_latent, lambda m, path, x, y, seed: save_reconstructions(
        m, path, x, y)),
    "manifold": (_has_image_latent, lambda m, path, x, y, seed: save_png(
        path, manifold_grid(m), title="learned 2-D manifold", scale=2)),
    "scatter": (_has_image_latent, lambda m, path, x, y, seed: save_latent_scatter(path, m, x, y)),
    "interpolation": (_has_latent, _interpolation),
    "latent_walk": (lambda m: m.capabilities.adversarial, _latent_walk),
    "arithmetic": (lambda m: m.capabilities.adversarial and not m.capabilities.conditional
                   and m.event_shape == (28, 28, 1),
                   _arithmetic),
    "painting": (lambda m: "canvases" in m.exported_endpoints(),
                 lambda m, path, x, y, seed: save_painting_gif(m, path, seed)),
    "digits": (lambda m: "decode" in m.labelled_endpoints, lambda m, path, x, y, seed: save_png(
        path, digit_grid(m, seed=seed), title="one z ~ p(z) per row, decoded as each digit 0-9")),
}
PLOTS = tuple(PLOT_WRITERS)


def picture_suffix(kind):
    """The file suffix of a picture kind: ".gif" for animations, ".png" for the others."""
    return ".gif" if kind == "painting" else ".png"


def available_plots(model):
    """The picture kinds `model` can draw: the generic ones its capabilities allow, then its own."""
    return [k for k, (applies, _) in PLOT_WRITERS.items() if applies(model)] + sorted(
        model.pictures()) + ["curves"]


def plot(model, kind, path, x_test, y_test, seed=0, folder=None):
    """Writes the picture `kind` for `model` to `path`; returns the path. "curves" reads the
    training history of the model `folder`."""
    if kind == "curves":
        from training.curves import read_history, save_training_curves

        return save_training_curves(path, read_history(folder) if folder else [],
                                    title=f"{type(model).__name__}: training curves")
    own = model.pictures()
    if kind in own:
        method, title = own[kind]
        return save_png(path, rows_grid(method(x_test, y_test, seed)), title=title,
                        scale=method.picture_scale)
    if kind not in PLOT_WRITERS or not PLOT_WRITERS[kind][0](model):
        what = f"{type(model).__name__} cannot draw" if kind in PLOT_WRITERS else "Unknown plot"
        raise ValueError(f"{what} {kind!r}; {type(model).__name__} can draw: "
                         f"{', '.join(available_plots(model))}.")
    return PLOT_WRITERS[kind][1](model, path, x_test, y_test, seed)


def write_run_pictures(model, folder, x_test, y_test):
    """The pictures a finished training run leaves in its model folder: samples,
    reconstructions for models that reconstruct, completions for models that complete."""
    save_samples(model, f"{folder}/samples.png", title=f"{type(model).__name__}: samples",
                 num_samples=64)
    if _has_latent(model):
        save_reconstructions(model, f"{folder}/reconstructions.png", x_test, y_test)
    if model.capabilities.completion:
        plot(model, "completion", f"{folder}/completion.png", x_test, y_test)
