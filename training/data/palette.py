"""Palette-indexed colour images: the generation lecture's Pokémon sprites ("pokemon", modality
"palette_image") and any folder of RGB images through a k-means palette.

A palette folder holds two text files, the lecture's format:
- `pixel_color.txt`: one image per line, side*side space-separated palette indices in raster order;
- `colormap.txt`: one `R G B` line (integers 0-255) per palette index.
`load_palette_folder` reads any such folder; `palette_images_from_folder` + `write_palette_dataset`
turn the user's own images into one.

Pokémon loader order: an explicit folder -> `$ZOO_POKEMON_DIR` -> the Keras cache
`~/.keras/datasets/pokemon/` -> download from the lecture's course page into that cache.
"""

import contextlib
import math
import os
import re
import tempfile

import numpy as np

from training.data.registry import DataError, Dataset, Split, register_dataset

PIXEL_FILE = "pixel_color.txt"
COLORMAP_FILE = "colormap.txt"
POKEMON_ENV = "ZOO_POKEMON_DIR"
POKEMON_URL = "http://speech.ee.ntu.edu.tw/~tlkagk/courses/ML_2016/Pokemon_creation/"
SPLIT_SEED = 0
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_FORMAT = (f"a palette folder holds {PIXEL_FILE} (one image per line: side*side palette indices) "
           f"and {COLORMAP_FILE} (one `R G B` line per colour, integers 0-255)")


def _lines(path):
    """The lines of a text file (trailing blank lines dropped); DataError if absent or empty."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"Cannot read {path} ({e}); {_FORMAT}.") from None
    lines = text.rstrip().splitlines()
    if not lines:
        raise DataError(f"{path} is empty; {_FORMAT}.")
    return lines


def _integers(line):
    """The integers of a line, or the first token that is not one."""
    tokens = line.split()
    for token in tokens:
        if not _INTEGER.fullmatch(token):
            return token
    return np.array([int(t) for t in tokens], np.int64)


def _read_colormap(path):
    rows = []
    for number, line in enumerate(_lines(path), 1):
        row = _integers(line)
        if isinstance(row, str) or len(row) != 3 or row.min() < 0 or row.max() > 255:
            raise DataError(f"{path} line {number}: expected `R G B`, three integers in 0..255, "
                            f"got {line.strip()!r}.")
        rows.append(row)
    return (np.stack(rows) / 255.0).astype(np.float32)


def read_palette_files(folder):
    """(indices int32 [N, side, side], palette float32 [K, 3] in [0, 1]) of a palette folder."""
    missing = [f for f in (PIXEL_FILE, COLORMAP_FILE)
               if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise DataError(f"{folder} lacks {' and '.join(missing)}; {_FORMAT}.")
    palette = _read_colormap(os.path.join(folder, COLORMAP_FILE))
    path = os.path.join(folder, PIXEL_FILE)
    rows = []
    for number, line in enumerate(_lines(path), 1):
        row = _integers(line)
        if isinstance(row, str):
            raise DataError(f"{path} line {number}: {row!r} is not an integer palette index.")
        if rows and len(row) != len(rows[0]):
            raise DataError(f"{path} line {number} has {len(row)} pixels but line 1 has "
                            f"{len(rows[0])}; every image must have the same size.")
        rows.append(row)
    size = len(rows[0])
    side = math.isqrt(size)
    if size == 0 or side * side != size:
        raise DataError(f"{path}: an image has {size} pixels, which is not a square number; "
                        "each line must hold side*side indices of a square image.")
    pixels = np.stack(rows)
    outside = np.argwhere((pixels < 0) | (pixels >= len(palette)))
    if len(outside):
        line, column = outside[0]
        raise DataError(f"{path} line {line + 1}: palette index {pixels[line, column]} is outside "
                        f"the {len(palette)} colours of {COLORMAP_FILE} (0..{len(palette) - 1}).")
    return pixels.reshape(-1, side, side).astype(np.int32), palette


def _split_rows(n, seed):
    """Row numbers of (train, validation, test): 10% test, then 10% of the rest validation."""
    if n < 3:
        raise DataError(f"A palette data set needs at least 3 images to split into train, "
                        f"validation and test; found {n}.")
    order = np.random.default_rng(seed).permutation(n)
    num_test = max(1, round(0.1 * n))
    num_val = max(1, round(0.1 * (n - num_test)))
    test, val = order[:num_test], order[num_test:num_test + num_val]
    return np.sort(order[num_test + num_val:]), np.sort(val), np.sort(test)


def load_palette_folder(path, name="palette"):
    """A palette_image Dataset from a folder in the lecture's format, split with SPLIT_SEED."""
    if not os.path.isdir(path):
        raise DataError(f"{path} is not a folder; pass the folder itself: {_FORMAT}.")
    indices, palette = read_palette_files(path)
    rows = _split_rows(len(indices), SPLIT_SEED)
    splits = [Split(indices[r], np.full(len(r), -1, np.int64)) for r in rows]
    text = (f"fixed split with seed {SPLIT_SEED}: {len(rows[2])} test images (10%), "
            f"{len(rows[1])} validation (10% of the rest), {len(rows[0])} training")
    info = {"palette": palette, "split": text, "split_seed": SPLIT_SEED,
            "rows": dict(zip(("train", "validation", "test"), rows))}
    return Dataset(name, *splits, source=path, info=info, modality="palette_image")


def pokemon_cache_dir():
    """The Keras cache folder of the Pokémon files (`~/.keras/datasets/pokemon`)."""
    return os.path.join(os.path.expanduser("~"), ".keras", "datasets", "pokemon")


@register_dataset("pokemon", "palette_image",
                  "the generation lecture's 792 Pokémon sprites, 20x20, 167-colour palette",
                  accepts_path=True)
def load_pokemon(path=None, allow_download=True):
    """The Pokémon sprites through the loader chain; see the module docstring."""
    if path:
        return load_palette_folder(path, "pokemon")
    if os.environ.get(POKEMON_ENV):
        if not os.path.isdir(os.environ[POKEMON_ENV]):
            raise DataError(f"${POKEMON_ENV} is {os.environ[POKEMON_ENV]!r}, which is not a "
                            f"folder; point it at the folder holding {PIXEL_FILE} and "
                            f"{COLORMAP_FILE}, or unset it.")
        return load_palette_folder(os.environ[POKEMON_ENV], "pokemon")
    cache = pokemon_cache_dir()
    if all(os.path.isfile(os.path.join(cache, f)) for f in (PIXEL_FILE, COLORMAP_FILE)):
        return load_palette_folder(cache, "pokemon")
    where = (f"put {PIXEL_FILE} and {COLORMAP_FILE} (from {POKEMON_URL}) in a folder and pass "
             f"it as the data path, set ${POKEMON_ENV} to that folder, or copy them to {cache}")
    if not allow_download:
        raise DataError(f"No Pokémon sprites found: {where}.")
    import keras

    try:
        # get_file falls back to /tmp/.keras when ~/.keras is missing; the cache must be here.
        os.makedirs(cache, exist_ok=True)
        for f in (PIXEL_FILE, COLORMAP_FILE):
            folder = os.path.dirname(keras.utils.get_file(
                f, origin=POKEMON_URL + f, cache_subdir=os.path.join("datasets", "pokemon"),
                cache_dir=os.path.join(os.path.expanduser("~"), ".keras")))
    except Exception as e:  # network errors come in many types
        raise DataError(f"Downloading the Pokémon sprites failed ({e}); {where}.") from None
    return load_palette_folder(folder, "pokemon")


@register_dataset("palette", "palette_image",
                  "a palette folder of your own (pixel_color.txt + colormap.txt, e.g. from "
                  "`python -m training palette-dataset`), given by --data-path",
                  accepts_path=True)
def load_palette(path=None):
    """Any palette folder; the path is required."""
    if not path:
        raise DataError(f"--dataset palette reads a folder of your own: pass it with "
                        f"--data-path; {_FORMAT}.")
    return load_palette_folder(path, "palette")


def _read_rgb(path, size):
    from PIL import Image

    try:
        with Image.open(path) as image:
            # Transparent pixels become white, the lecture's background colour (index 0).
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            rgb = Image.alpha_composite(white, rgba).convert("RGB")
            rgb = rgb.resize((size, size), Image.Resampling.BOX)
    except (OSError, ValueError) as e:
        raise DataError(f"{path} is not a readable image ({e}); remove or replace it.") from None
    return np.asarray(rgb, np.float32) / 255.0


def palette_images_from_folder(folder, num_colours=16, size=20, seed=0):
    """(indices int32 [N, size, size], palette float32 [K <= num_colours, 3]) of its images."""
    if int(num_colours) < 2:
        raise DataError(f"num_colours must be at least 2, got {num_colours}.")
    if int(size) < 2:
        raise DataError(f"size must be at least 2 pixels, got {size}.")
    if not os.path.isdir(folder):
        raise DataError(f"{folder} is not a folder of images.")
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise DataError(f"{folder} holds no images; expected files ending in "
                        f"{', '.join(IMAGE_EXTENSIONS)}.")
    images = np.stack([_read_rgb(os.path.join(folder, n), int(size)) for n in names])
    pixels = images.reshape(-1, 3)
    colours = np.unique(pixels, axis=0)
    if len(colours) <= num_colours:
        centres = colours  # already few enough colours: keep them exactly
    else:
        from sklearn.cluster import KMeans

        # k-means on a fixed sample keeps large folders fast; every pixel is assigned below.
        rng = np.random.default_rng(seed)
        sample = pixels[rng.choice(len(pixels), min(len(pixels), 50000), replace=False)]
        kmeans = KMeans(int(num_colours), n_init=4, random_state=seed).fit(sample)
        centres = kmeans.cluster_centers_
    # Brightest first, so that a white background is index 0 as in the lecture's palette.
    palette = np.clip(centres[np.argsort(-centres.sum(1), kind="stable")], 0, 1).astype(np.float32)
    indices = np.concatenate([
        np.argmin(((chunk[:, None, :] - palette[None]) ** 2).sum(-1), 1)
        for chunk in np.array_split(pixels, max(1, len(pixels) // 65536))])
    return indices.reshape(images.shape[:3]).astype(np.int32), palette


def _write_atomic(path, text):
    """Writes through a temporary file in the same folder, so a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp",
                                         prefix="." + os.path.basename(path))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def write_palette_dataset(indices, palette, folder):
    """Writes indices [N, side, side] and palette [K, 3] in [0, 1] as a palette folder."""
    indices, palette = np.asarray(indices), np.asarray(palette, np.float64)
    if (indices.ndim != 3 or indices.shape[1] != indices.shape[2] or not len(indices)
            or not np.issubdtype(indices.dtype, np.integer)):
        raise DataError(f"indices must be integers [N, side, side] with N > 0, got "
                        f"{indices.dtype} {indices.shape}.")
    if palette.ndim != 2 or palette.shape[1] != 3 or palette.min() < 0 or palette.max() > 1:
        raise DataError(f"palette must be [K, 3] RGB values in [0, 1], got shape {palette.shape}.")
    if indices.min() < 0 or indices.max() >= len(palette):
        raise DataError(f"indices span {indices.min()}..{indices.max()}, outside the "
                        f"{len(palette)} colours of the palette.")
    os.makedirs(folder, exist_ok=True)
    rgb = np.rint(palette * 255).astype(int)
    _write_atomic(os.path.join(folder, COLORMAP_FILE),
                  "".join(f"{r} {g} {b}\n" for r, g, b in rgb))
    rows = indices.reshape(len(indices), -1).tolist()
    _write_atomic(os.path.join(folder, PIXEL_FILE),
                  "".join(" ".join(map(str, r)) + "\n" for r in rows))
