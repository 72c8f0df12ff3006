"""Anomaly detection, the standard MNIST protocol: one digit held out as the anomaly class.

For each held-out digit d: train the model on the other classes (training and validation splits
without d, `--exclude-classes d`), score the whole test set with `model.anomaly_score` (higher =
more unusual), and measure how well the scores pick out the test images of d: AUROC and AUPRC
(average precision, the anomaly class positive). Two baselines are measured on the same splits:
the reconstruction error of a PCA fitted to the normal training images, and the distance to the
k-th nearest normal training image in pixel space.

Every held-out digit trains into its own model folder under `out/` and every finished digit is
written to `out/anomaly.json` at once, so a stopped run loses at most the digit in progress:
run the same command again and it continues (a digit whose folder is unfinished resumes).
"""

import os

import numpy as np

from training import data as data_lib
from zoo.atomic import write_json, write_text
from zoo.saving import read_json

PCA_COMPONENTS = 50
KNN_K = 5
SCORE_CHUNK = 500


def auroc(scores, positive):
    """Area under the ROC curve of `scores` for the boolean `positive` (ties count half)."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(positive, bool), np.asarray(scores, np.float64)))


def auprc(scores, positive):
    """Average precision (the area under the precision-recall curve), `positive` the class."""
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(np.asarray(positive, bool),
                                         np.asarray(scores, np.float64)))


def pca_scores(x_normal, x_test, components=PCA_COMPONENTS):
    """Squared reconstruction error of x_test through the top principal components of x_normal."""
    from sklearn.decomposition import PCA

    flat = lambda v: np.asarray(v, np.float32).reshape(len(v), -1)
    pca = PCA(n_components=min(components, *flat(x_normal).shape), random_state=0)
    pca.fit(flat(x_normal))
    rebuilt = pca.inverse_transform(pca.transform(flat(x_test)))
    return ((flat(x_test) - rebuilt) ** 2).sum(1)


def knn_scores(x_normal, x_test, k=KNN_K, chunk=500):
    """Euclidean distance from each test image to its k-th nearest normal training image."""
    normal = np.asarray(x_normal, np.float32).reshape(len(x_normal), -1)
    test = np.asarray(x_test, np.float32).reshape(len(x_test), -1)
    if len(normal) < k:
        raise ValueError(f"the kNN baseline needs at least k={k} normal images, got {len(normal)}.")
    norms = (normal ** 2).sum(1)
    out = np.empty(len(test))
    for i in range(0, len(test), chunk):
        part = test[i:i + chunk]
        d = np.maximum((part ** 2).sum(1)[:, None] + norms[None, :] - 2 * part @ normal.T, 0)
        out[i:i + chunk] = np.sqrt(np.partition(d, k - 1, axis=1)[:, k - 1])
    return out


def model_scores(model, x, num_samples=100, seed=0, verbose=1):
    """`model.anomaly_score` of x in chunks (seeds [seed, i]), with a progress bar."""
    import keras

    bar = keras.utils.Progbar(len(x), unit_name="image") if verbose else None
    scores = []
    for j, i in enumerate(range(0, len(x), SCORE_CHUNK)):
        scores.append(np.asarray(model.anomaly_score(x[i:i + SCORE_CHUNK],
                                                     num_samples=num_samples, seed=[seed, j])))
        if bar is not None:
            bar.update(min(i + SCORE_CHUNK, len(x)))
    return np.concatenate(scores)


def _digit_folder(out, digit):
    return os.path.join(out, f"without_{digit}")


def _trained_model(recipe, folder, verbose):
    """The model of `folder`, training it first (or resuming its unfinished run)."""
    import zoo
    from training.run.train import train

    if not os.path.exists(os.path.join(folder, "metadata.json")):
        resume = os.path.isdir(folder + ".partial") and os.path.exists(
            os.path.join(folder + ".partial", "recipe.json"))
        train({"out": folder, "resume": True} if resume else {**recipe, "out": folder},
              verbose=verbose)
    return zoo.load(folder, compile=False)


def run_protocol(recipe, digits, out, num_samples=100, baselines=True, seed=0, verbose=1):
    """The held-out-digit protocol for `recipe` (a training recipe, as `train` takes) over
    `digits`; returns the results dict also written to out/anomaly.json (with a Markdown table
    in out/anomaly.md and the most and least anomalous test images in out/extremes.png)."""
    digits = [int(d) for d in digits]
    if not digits or len(set(digits)) != len(digits):
        raise ValueError(f"--digits must name distinct classes, got {digits}.")
    if recipe.get("exclude_classes"):
        raise ValueError("anomaly sets --exclude-classes itself (the held-out digit); do not "
                         "pass it.")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "anomaly.json")
    results = read_json(path) if os.path.exists(path) else {}
    if results and results.get("recipe") != recipe:
        raise ValueError(f"{path} holds results of another recipe; pick another --out.")
    dataset = data_lib.load_dataset(recipe["dataset"], recipe.get("data_path"))
    arrays = data_lib.prepare(dataset, recipe["binarization"] or "dynamic")
    x_test, y_test = arrays["x_test"], np.asarray(arrays["y_test"])
    results.update(recipe=recipe, protocol=protocol_text(recipe["dataset"], len(x_test),
                                                         num_samples, arrays["protocol"]),
                   digits={**results.get("digits", {})})
    extremes = {}
    for digit in digits:
        if digit not in set(y_test.tolist()):
            raise ValueError(f"Class {digit} does not occur in the test set of "
                             f"{recipe['dataset']}.")
        folder = _digit_folder(out, digit)
        if verbose:
            print(f"Held-out digit {digit}: {folder}")
        model = _trained_model({**recipe, "exclude_classes": [digit]}, folder, verbose)
        scores = model_scores(model, x_test, num_samples, seed, verbose)
        positive = y_test == digit
        entry = {"model_auroc": auroc(scores, positive), "model_auprc": auprc(scores, positive),
                 "anomaly_share": float(positive.mean()),
                 "score_kind": model.anomaly_score_kind}
        if baselines:  # on the images the model sees: binarized as its test images are
            normal = data_lib.without_classes(arrays, [digit])["x_train"]
            if arrays["dynamic"]:
                normal = data_lib.binarize(normal, seed)
            for name, fn in (("pca", pca_scores), ("knn", knn_scores)):
                base = fn(normal, x_test)
                entry.update({f"{name}_auroc": auroc(base, positive),
                              f"{name}_auprc": auprc(base, positive)})
        results["digits"][str(digit)] = entry
        order = np.argsort(scores)
        extremes[digit] = (x_test[order[::-1][:8]], x_test[order[:8]])
        write_json(path, _with_means(results))
        if verbose:
            print(format_row(digit, entry))
    results = _with_means(results)
    write_json(path, results)
    write_text(os.path.join(out, "anomaly.md"), format_table(results) + "\n")
    if extremes:
        save_extremes(os.path.join(out, "extremes.png"), extremes, dataset)
    return results


def _with_means(results):
    rows = list(results["digits"].values())
    keys = sorted({k for row in rows for k in row if k.endswith(("_auroc", "_auprc"))})
    results["mean"] = {k: float(np.mean([row[k] for row in rows if k in row])) for k in keys}
    return results


def protocol_text(dataset, num_test, num_samples, data_protocol):
    return (f"anomaly detection on {dataset}, one class held out: the model and the baselines "
            "see the training and validation images of the other classes only; all "
            f"{num_test} test images are scored, the held-out class being the positive one. "
            "AUROC and AUPRC (average precision) of the model's anomaly_score (-log p(x), with "
            f"k={num_samples} importance samples for bound models; -logit D(x) for GANs; the "
            f"autoencoder's reconstruction error); baselines: PCA reconstruction error "
            f"({PCA_COMPONENTS} components fitted on the normal training images) and the "
            f"distance to the {KNN_K}th nearest normal training image in pixel space, both on "
            f"the images as the model sees them ({data_protocol}; dynamically binarized "
            "training images binarized once for the baselines)")


def format_row(digit, entry):
    parts = [f"digit {digit}: model AUROC {entry['model_auroc']:.3f} AUPRC "
             f"{entry['model_auprc']:.3f}"]
    for name in ("pca", "knn"):
        if f"{name}_auroc" in entry:
            parts.append(f"{name} {entry[f'{name}_auroc']:.3f} / {entry[f'{name}_auprc']:.3f}")
    return "; ".join(parts)


def format_table(results):
    """Markdown: one row per held-out digit and the mean, AUROC / AUPRC per scorer."""
    names = [n for n in ("model", "pca", "knn")
             if any(f"{n}_auroc" in row for row in results["digits"].values())]
    header = "| held-out digit | " + " | ".join(
        f"{n} AUROC / AUPRC" for n in names) + " |"
    lines = [header, "| --- |" + " --- |" * len(names)]
    rows = sorted(results["digits"].items(), key=lambda kv: int(kv[0]))
    cell = lambda row, n: (f"{row[f'{n}_auroc']:.3f} / {row[f'{n}_auprc']:.3f}"
                           if f"{n}_auroc" in row else "-")
    lines += [f"| {d} | " + " | ".join(cell(row, n) for n in names) + " |" for d, row in rows]
    lines.append("| mean | " + " | ".join(cell(results["mean"], n) for n in names) + " |")
    return "\n".join(lines) + f"\n\nProtocol: {results['protocol']}."


def save_extremes(path, extremes, dataset):
    """Rows per held-out digit: its model's 8 most anomalous test images, then the 8 least."""
    from training.pictures import image_grid, save_png

    cells = np.concatenate([np.concatenate([most, least]) for most, least in
                            (extremes[d] for d in sorted(extremes))])
    return save_png(path, image_grid(cells, columns=16),
                    title="each row: one held-out digit's model: its 8 most anomalous test "
                          "images (left), then its 8 least anomalous (right); rows: held-out "
                          f"digits {', '.join(map(str, sorted(extremes)))}")
