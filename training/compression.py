"""`python -m training compress MODEL --out DIR`: conceptual compression (Gregor et al. 2016)
against JPEG, on the first N test images of the model's data protocol (for binarized MNIST the
test split binarized once with its fixed seed, as `evaluate` reads it).

The model (one that declares `capabilities.progressive`), for t = 1..T:
- bits_t = sum_{s <= t} KL(q(z_s | x, z_<s) || p(z_s)) / ln 2: the expected length of the code of
  z_1..t, drawn from the posterior, under bits-back (relative-entropy) coding; an expectation
  over q, not the output of a real entropy coder (which adds a few bits per message and needs
  the bits-back auxiliary stream);
- the reconstruction the receiver decodes: z_1..t one posterior trajectory (seeded), z_t+1..T at
  the prior mean 0 (`compression_steps`), with its distortion -log p(x | z) in nats and the mean
  squared error of its mean image sigmoid(c_T) against x.
JPEG, for quality 1..95: each image as an 8-bit image (round(255 x); grey for one channel),
encoded by Pillow with `optimize=True` (Huffman tables fitted to the image; baseline, one scan).
"file" bits are 8 x the bytes Pillow writes; "payload" bits are 8 x the bytes of the
entropy-coded scan, found by walking the markers to the SOS segment and measuring from the end
of its header to the EOI marker: what the pixels cost without the headers and tables that a
codec fixed in advance would not send. Its distortion is the mean squared error of the decoded
image (/ 255) against x. Each step t is matched with the quality whose mean payload is closest
to the model's mean bits_t.

Writes DIR/compression.json (protocol, per-step and per-quality tables), DIR/compression.csv
(the same rows) and DIR/compression.png (original; reconstruction after a few t with their
bits; JPEG at the matching quality).
"""

import csv
import io
import math
import os

import numpy as np

from zoo.atomic import atomic_path, write_json

QUALITIES = tuple(range(1, 96))
SOI, EOI, SOS = b"\xff\xd8", b"\xff\xd9", 0xDA
STANDALONE_MARKERS = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: no length field
ROWS_PER_CALL = 2000  # trajectories (images x T) of one compression_steps call


def check_progressive(model):
    """Refuses models that cannot send their latents step by step, or images JPEG cannot hold."""
    if not model.capabilities.progressive:
        raise ValueError(f"{type(model).__name__} does not send its latents step by step "
                         f"({model.capabilities.describe()}); compress needs a model with "
                         "the progressive capability (see `python -m training models`).")
    if model.modality != "image" or model.event_shape[-1] not in (1, 3):
        raise ValueError(f"compress compares with JPEG, which holds grey or RGB images; "
                         f"{type(model).__name__} reads {model.modality} data of shape "
                         f"{model.event_shape}.")


# --- JPEG -------------------------------------------------------------------------------------
def to_8bit(images):
    """Images [..., H, W, C] in [0, 1] -> uint8 round(255 x)."""
    return np.round(np.clip(np.asarray(images, np.float64), 0, 1) * 255).astype(np.uint8)


def jpeg_encode(image, quality):
    """The bytes Pillow writes for one uint8 image [H, W, 1 or 3] at `quality` (optimize=True)."""
    from PIL import Image

    pixels = image[..., 0] if image.shape[-1] == 1 else image
    buffer = io.BytesIO()
    Image.fromarray(pixels, "L" if pixels.ndim == 2 else "RGB").save(
        buffer, format="JPEG", quality=int(quality), optimize=True)
    return buffer.getvalue()


def jpeg_decode(data, channels=1):
    """uint8 [H, W, channels] of a JPEG's bytes."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    return pixels[..., None] if channels == 1 else pixels


def jpeg_payload_size(data):
    """Bytes of the entropy-coded data of a one-scan JPEG: from the end of the SOS segment's
    header to the EOI marker, found by walking the marker segments from SOI."""
    if data[:2] != SOI or data[-2:] != EOI:
        raise ValueError("not a complete JPEG (no SOI at the start or EOI at the end)")
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            raise ValueError(f"JPEG marker expected at byte {position}")
        marker = data[position + 1]
        if marker == 0xFF:  # a fill byte before a marker
            position += 1
            continue
        if marker in STANDALONE_MARKERS:
            position += 2
            continue
        length = int.from_bytes(data[position + 2:position + 4], "big")  # includes itself
        if marker == SOS:
            start = position + 2 + length
            if data.find(bytes([0xFF, SOS]), start) != -1:
                raise ValueError("JPEG with several scans (progressive): one scan expected")
            return len(data) - 2 - start
        position += 2 + length
    raise ValueError("JPEG without a scan (no SOS marker)")


def jpeg_table(images, qualities=QUALITIES):
    """JPEG at each quality over images [N, H, W, C] in [0, 1]: a list of rows {"quality",
    "file_bits", "payload_bits", "mse"} (means over the images), and the decoded images
    {quality: [N, H, W, C] in [0, 1]}."""
    pixels = to_8bit(images)
    x = np.asarray(images, np.float64)
    rows, decoded = [], {}
    for quality in qualities:
        files = [jpeg_encode(image, quality) for image in pixels]
        back = np.stack([jpeg_decode(f, pixels.shape[-1]) for f in files]) / 255.0
        decoded[quality] = back.astype(np.float32)
        rows.append({"quality": int(quality),
                     "file_bits": float(np.mean([8 * len(f) for f in files])),
                     "payload_bits": float(np.mean([8 * jpeg_payload_size(f) for f in files])),
                     "mse": float(np.mean((back - x) ** 2))})
    return rows, decoded


# --- the model ----------------------------------------------------------------------------------
def model_steps(model, x, seed=0):
    """compression_steps over images x [N, ...] in batches (batch i seeded with (seed, i)):
    {"kl": [N, T], "log_likelihood": [N, T], "reconstruction": [N, T, H, W, C]} as numpy."""
    import tensorflow as tf

    step = tf.function(lambda images, s: model.compression_steps(images, seed=s),
                       reduce_retracing=True)
    batch = max(1, ROWS_PER_CALL // model.num_steps)
    parts = []
    for i, start in enumerate(range(0, len(x), batch)):
        images = tf.constant(np.asarray(x[start:start + batch], np.float32))
        parts.append({k: v.numpy() for k, v in
                      step(images, tf.constant([seed, i], tf.int32)).items()})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def model_table(model, x, seed=0):
    """Per-step rows {"step", "bits", "nll", "mse"} (means over the images) and the per-image
    arrays of `model_steps` (with "bits" [N, T])."""
    model.check_input(np.asarray(x[:1], np.float32))
    steps = model_steps(model, x, seed)
    steps["bits"] = np.cumsum(steps["kl"], axis=1) / math.log(2.0)
    errors = (steps["reconstruction"] - np.asarray(x, np.float32)[:, None]) ** 2
    mse = errors.reshape(*errors.shape[:2], -1).mean(-1)  # [N, T]
    rows = [{"step": t + 1, "bits": float(steps["bits"][:, t].mean()),
             "kl_nats": float(steps["kl"][:, t].mean()),
             "nll": float(-steps["log_likelihood"][:, t].mean()),
             "mse": float(mse[:, t].mean())} for t in range(model.num_steps)]
    return rows, steps


def match_quality(bits, jpeg_rows):
    """The JPEG row whose mean payload bits are closest to `bits` (the lower quality on ties)."""
    return min(jpeg_rows, key=lambda row: (abs(row["payload_bits"] - bits), row["quality"]))


def compress(model, x, seed=0, qualities=QUALITIES):
    """The comparison on images x [N, H, W, C]: {"model": per-step rows (each with its matched
    JPEG quality), "jpeg": per-quality rows} and the arrays the picture needs."""
    check_progressive(model)
    model_rows, steps = model_table(model, x, seed)
    jpeg_rows, decoded = jpeg_table(x, qualities)
    for row in model_rows:
        match = match_quality(row["bits"], jpeg_rows)
        row.update(jpeg_quality=match["quality"], jpeg_payload_bits=match["payload_bits"],
                   jpeg_file_bits=match["file_bits"], jpeg_mse=match["mse"])
    return {"model": model_rows, "jpeg": jpeg_rows}, {"steps": steps, "jpeg": decoded}


def shown_steps(num_steps, count=4):
    """Up to `count` steps t in 1..T, spaced geometrically, ending with T."""
    return sorted({int(round(t)) for t in np.geomspace(1, num_steps, count)})


def save_picture(path, x, tables, arrays, name, columns=8):
    """Rows: the originals; then for each shown t the reconstruction after t steps and JPEG at
    the matching quality, labelled with their mean bits. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from training.pictures import image_grid

    x = np.asarray(x[:columns], np.float32)
    rows, labels = [x], ["original"]
    for t in shown_steps(len(tables["model"])):
        row = tables["model"][t - 1]
        rows.append(arrays["steps"]["reconstruction"][:columns, t - 1])
        labels.append(f"{name}, t={t}: {row['bits']:.0f} bits")
        rows.append(arrays["jpeg"][row["jpeg_quality"]][:columns])
        labels.append(f"JPEG q={row['jpeg_quality']}: {row['jpeg_payload_bits']:.0f} bits "
                      f"({row['jpeg_file_bits']:.0f} file)")
    grid = image_grid(np.concatenate(rows), columns=len(x))
    height = x.shape[1]
    fig, ax = plt.subplots(figsize=(0.5 * len(x), 0.5 * len(rows)), dpi=120)
    ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([1 + i * (height + 1) + height / 2 - 0.5 for i in range(len(rows))])
    ax.set_yticklabels(labels, fontsize=7)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title("mean bits over the test images\n(model: KL sum, the expected bits-back code "
                 "length; JPEG: entropy-coded payload, file in brackets)", fontsize=6)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return path


CSV_FIELDS = ("method", "step", "quality", "bits", "kl_nats", "nll", "mse", "file_bits",
              "payload_bits", "jpeg_quality", "jpeg_payload_bits", "jpeg_file_bits", "jpeg_mse")


def write_compression(model, x, out, seed=0, protocol="", qualities=QUALITIES):
    """Runs `compress` on images x and writes compression.json, .csv and .png into `out`;
    returns (paths, tables)."""
    tables, arrays = compress(model, x, seed, qualities)
    name = type(model).__name__
    os.makedirs(out, exist_ok=True)
    results = {
        "model": name, "num_images": int(len(x)), "seed": int(seed), "data": protocol,
        "protocol": {
            "model": "bits_t = sum of the first t steps' KL(q || p) / ln 2: the expected length "
                     "of the bits-back (relative-entropy) code of z_1..t drawn from the "
                     "posterior (not a real coder's output); reconstruction from z_1..t of one "
                     "seeded posterior trajectory and z_t+1..T at the prior mean 0; nll = "
                     "-log p(x | z) in nats; mse of the mean image sigmoid(c_T) against x",
            "jpeg": "Pillow, 8-bit images round(255 x), optimize=True (baseline, one scan); "
                    "file_bits = 8 x bytes written; payload_bits = 8 x bytes of the "
                    "entropy-coded scan (SOS header end to EOI, parsed from the markers); mse "
                    "of the decoded image / 255 against x",
            "matching": "each step's JPEG quality is the one whose mean payload_bits is "
                        "closest to the step's mean bits",
            "averages": "every figure is a mean over the images"},
        "steps": tables["model"], "jpeg": tables["jpeg"]}
    json_path = write_json(os.path.join(out, "compression.json"), results)
    csv_path = os.path.join(out, "compression.csv")
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in tables["model"]:
            writer.writerow({"method": name, **row})
        for row in tables["jpeg"]:
            writer.writerow({"method": "jpeg", "bits": row["payload_bits"], **row})
    png_path = save_picture(os.path.join(out, "compression.png"), x, tables, arrays, name)
    return [json_path, csv_path, png_path], tables


def format_table(tables, name):
    """A few readable lines: bits, distortion and the matching JPEG at some steps."""
    lines = [f"{'step':>5} {name + ' bits':>14} {'nll':>8} {'mse':>7} | {'JPEG q':>6} "
             f"{'payload':>8} {'file':>7} {'mse':>7}"]
    for t in shown_steps(len(tables["model"]), 6):
        row = tables["model"][t - 1]
        lines.append(f"{t:>5} {row['bits']:>14.1f} {row['nll']:>8.2f} {row['mse']:>7.4f} | "
                     f"{row['jpeg_quality']:>6} {row['jpeg_payload_bits']:>8.0f} "
                     f"{row['jpeg_file_bits']:>7.0f} {row['jpeg_mse']:>7.4f}")
    return "\n".join(lines)
