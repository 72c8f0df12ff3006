"""`python -m training compare MODEL --baseline OTHER`: a model against a baseline trained with
the same recipe (only the model and its own options differ), both measured with one protocol.

1. Test NLL per image on the first `num_images` test images (k = `num_samples` importance
   samples for a bound, the exact log p(x) for an exact density) and the paired difference over
   the same images, when both models have a density; Parzen window and FD of 10,000 samples.
2. Samples of both side by side.
3. Optionally, for models with one 2-D latent (`--latent2d`): a kernel density estimate of 1000
   samples from p(z) and the test posterior means coloured by label.

Results and pictures go into MODEL's folder (comparison.json, samples_comparison.png,
latent_kde_2d.png, latent_scatter_2d.png; sha256 records kept valid), and a preset's model card
is regenerated with the section of `card_section`. Labels come from the models' class names.
"""

import json
import os
import tempfile

import numpy as np

from training.experiments import Experiment, register_experiment

RESULTS_FILE = "comparison.json"
SAMPLES_FILE = "samples_comparison.png"
KDE_FILE = "latent_kde_2d.png"
SCATTER_FILE = "latent_scatter_2d.png"
# The training arguments both runs must share (the model's own options may differ).
SHARED_RECIPE_KEYS = ("latent_dim", "hidden_units", "activation", "epochs", "batch_size",
                      "learning_rate", "lr_schedule", "binarization", "seed", "dataset")
NUM_QUALITY_SAMPLES = 10_000  # samples for the Parzen window and the FD
DEFAULTS = {"num_samples": 500, "num_images": 1000, "seed": 0}


def _where(folder):
    """A folder's path relative to the project root (the presets folder's parent)."""
    from zoo.presets import presets_dir

    return os.path.relpath(os.path.abspath(folder), os.path.dirname(presets_dir()))


def _metadata(folder):
    from zoo.saving import read_json

    return read_json(os.path.join(folder, "metadata.json"))


def _png_bytes(draw):
    """Bytes of the PNG that `draw(path)` writes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "picture.png")
        draw(path)
        with open(path, "rb") as f:
            return f.read()


def _labels(model, labels, n):
    """Keyword arguments giving a conditional model n labels (`labels` cycled, or every class
    in turn when None); {} for other models."""
    if not model.capabilities.conditional:
        return {}
    labels = np.arange(n) % model.num_classes if labels is None else np.resize(labels, n)
    return model.conditioning(np.asarray(labels, np.int32))


def shared_recipe(model_folder, baseline_folder):
    """The training arguments both folders share; ValueError listing the differences."""
    recipes = []
    for folder in (model_folder, baseline_folder):
        recipe = _metadata(folder).get("recipe")
        if not recipe:
            raise ValueError(f"{folder} records no training recipe in its metadata.json, so it "
                             "cannot be checked against the other model's recipe.")
        recipes.append(recipe)
    different = [f"{k}: {recipes[0].get(k)!r} (model) vs {recipes[1].get(k)!r} (baseline)"
                 for k in SHARED_RECIPE_KEYS if recipes[0].get(k) != recipes[1].get(k)]
    if different:
        raise ValueError(f"The baseline {baseline_folder} was not trained with the recipe of "
                         f"{model_folder}; these training arguments differ: "
                         f"{'; '.join(different)}.")
    return {k: recipes[0].get(k) for k in SHARED_RECIPE_KEYS}


def nll_refusal(*models):
    """Why the models' test NLLs cannot be compared, or None when they can."""
    for model in models:
        if not model.capabilities.has_density:
            return (f"{type(model).__name__} has no density ({model.capabilities.describe()}), "
                    "so no test NLL was measured")
    if len({model.capabilities.conditional for model in models}) > 1:
        return ("one model is conditioned on the label and the other is not: log p(x|y) and "
                "log p(x) are not comparable, so no test NLL was measured")
    return None


def nll_per_image(model, x, y, num_samples, seed=0, verbose=1):
    """-log p(x) of each image of x (labels y for conditional models): exact for an exact
    density, else the importance-weighted estimate with `num_samples` samples; batch i of 100
    images is seeded [seed, i]."""
    from training.evaluation import protocols

    name = type(model).__name__
    if model.capabilities.density == "exact":
        fn = lambda b, labels, s: model.log_prob(b, **model.conditioning(labels))  # noqa: E731
        label = f"NLL of {name} (exact, {len(x)} images)"
    else:
        fn = lambda b, labels, s: model.log_prob(  # noqa: E731
            b, num_samples=num_samples, seed=s, chunk_size=500, **model.conditioning(labels))
        label = f"NLL of {name} (k={num_samples}, {len(x)} images)"
    y = y if model.capabilities.conditional else None
    return -protocols.per_example(fn, x, 100, seed, label, verbose, y=y)


def sample_quality(model, dataset, labels, classifier, seed=0, verbose=1):
    """Parzen window and FD (in the features of the model `classifier`) of 10,000 samples
    (batch i of 1000 seeded [seed, i]); `labels` (cycled) condition a conditional model."""
    from training.evaluation import protocols
    from training.evaluation.classifier import classifier_features

    samples = np.concatenate([np.asarray(model.sample(1000, seed=[seed, i],
                                                      **_labels(model, labels, 1000)))
                              for i in range(NUM_QUALITY_SAMPLES // 1000)])
    flat = samples.reshape(len(samples), -1)
    parzen, parzen_se, sigma = protocols.parzen_log_likelihood(
        flat, dataset.validation.x.reshape(len(dataset.validation.x), -1),
        dataset.test.x.reshape(len(dataset.test.x), -1), verbose=verbose)
    fd = protocols.frechet_distance(classifier_features(classifier, samples),
                                    classifier_features(classifier, dataset.test.x[:len(samples)]))
    return {"parzen_log_likelihood": parzen, "parzen_stderr": parzen_se, "parzen_sigma": sigma,
            "fd": fd}


def _protocol(models, num_samples, num_images, seed, refusal):
    """The protocol texts of comparison.json."""
    from training.evaluation.classifier import default_classifier_path

    def estimate(model):
        if model.capabilities.density == "exact":
            return f"the exact log p(x) of {type(model).__name__}"
        return (f"the importance-weighted estimate of log p(x) of {type(model).__name__} with "
                f"k={num_samples} samples from q(z|x)")

    nll = refusal or (
        f"-mean log p(x) over the first {num_images} test images of the data protocol, "
        f"{' and '.join(estimate(m) for m in models)}; batch i of 100 images seeded "
        f"[{seed}, i] for both models; the difference is paired over the same images")
    classifier = os.path.basename(os.path.normpath(default_classifier_path()))
    return {
        "nll": nll,
        "parzen": f"Gaussian Parzen window on {NUM_QUALITY_SAMPLES:,} samples of each model "
                  "(batch i of 1000 seeded [seed, i]), sigma chosen over logspace(-1, 0, 10) on "
                  "the validation images, mean log-likelihood of the test images (both before "
                  "binarization)",
        "fd": f"Frechet distance in the {classifier} feature space, {NUM_QUALITY_SAMPLES:,} "
              f"samples vs {NUM_QUALITY_SAMPLES:,} test images (before binarization)",
    }


def _run_record(folder, model):
    """What comparison.json says about one model: class, folder and training command."""
    meta = _metadata(folder)
    return {"class": type(model).__name__, "folder": _where(folder),
            "command": meta.get("train_command") or meta.get("command"),
            "train_seconds": meta.get("train_seconds"),
            "epochs": meta.get("recipe", {}).get("epochs")}


def compare(model_name, baseline_name, num_samples=500, num_images=1000, seed=0, verbose=1):
    """MODEL vs BASELINE measured with one protocol; returns the results of comparison.json."""
    import zoo
    from training.evaluation import protocols
    from training.evaluation.classifier import default_classifier_path
    from training.evaluation.suite import folder_data
    from zoo.presets import resolve

    folders = resolve(model_name), resolve(baseline_name)
    recipe = shared_recipe(*folders)
    models = [zoo.load(folder, compile=False) for folder in folders]
    classifier = zoo.load(default_classifier_path(), compile=False)
    refusal = nll_refusal(*models)
    dataset, arrays = folder_data(folders[0])
    x, y = arrays["x_test"][:num_images], arrays["y_test"][:num_images]
    results, per_image = {}, []
    for role, folder, model in zip(("model", "baseline"), folders, models):
        results[role] = _run_record(folder, model)
        if refusal is None:
            nll = nll_per_image(model, x, y, num_samples, seed, verbose)
            mean, se = protocols.mean_and_stderr(nll)
            results[role].update(test_nll=mean, test_nll_stderr=se)
            per_image.append(nll)
        results[role].update(sample_quality(model, dataset, arrays["y_test"], classifier, seed,
                                           verbose))
    if refusal is None:
        mean, se = protocols.mean_and_stderr(per_image[0] - per_image[1])
        results["nll_difference"] = {"mean": mean, "stderr": se}
    else:
        results["nll_skipped"] = refusal
    results["shared_recipe"] = recipe
    results["protocol"] = _protocol(models, num_samples, num_images, seed, refusal)
    results["settings"] = {"num_samples": int(num_samples), "num_images": int(num_images),
                           "seed": int(seed)}
    return results


def save_samples_side_by_side(path, model, baseline, seed=0, labels=None):
    """One picture: 64 samples of `model` (left) next to 64 of `baseline` (right); `labels`
    (cycled) for conditional models."""
    from training import pictures

    grids = []
    for m in (model, baseline):
        condition = _labels(m, labels, 64)
        grids.append(pictures.image_grid(np.asarray(m.sample(64, seed=seed, **condition))))
    left, right = grids
    gap = np.ones((left.shape[0], 8, left.shape[2]), np.float32)
    return pictures.save_png(
        path, np.concatenate([left, gap, right], 1), scale=3,
        title=f"samples: {type(model).__name__} (left) and {type(baseline).__name__} trained "
              "with the same recipe (right)")


def check_latent2d(model, where):
    """ValueError unless `model` has one latent z with two dimensions."""
    name = type(model).__name__
    if model.capabilities.latent != "single":
        raise ValueError(f"{where}: {name} has no single latent z (latent "
                         f"{model.capabilities.latent!r}); --latent2d needs models with one 2-D "
                         "latent.")
    # The shape of one z ~ p(z): every single-latent prior samples, not all have event_shape.
    shape = list(np.shape(model.prior().sample(1, seed=model.next_seed(0)))[1:])
    if shape != [2]:
        raise ValueError(f"{where}: {name} has a latent of shape {shape}; --latent2d needs "
                         "models with a 2-D latent (trained with --latent-dim 2).")


def save_latent_pictures(kde_path, scatter_path, models, titles, x_test, y_test, seed=0):
    """A KDE of 1000 samples of each model's p(z), and each model's test posterior means
    coloured by label; one panel per model. `x_test`, `y_test`: one array per model or one
    shared by all."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import gaussian_kde

    from zoo.atomic import atomic_path

    for where, model in zip(titles, models):
        check_latent2d(model, where)
    xs = x_test if isinstance(x_test, (list, tuple)) else [x_test] * len(models)
    ys = y_test if isinstance(y_test, (list, tuple)) else [y_test] * len(models)

    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.6), dpi=80)
    for ax, model, title in zip(np.atleast_1d(axes), models, titles):
        z = np.asarray(model.prior().sample(1000, seed=model.next_seed(seed)))
        lo, hi = np.percentile(z, 0.5, 0), np.percentile(z, 99.5, 0)
        pad = 0.1 * (hi - lo)
        gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], 150),
                             np.linspace(lo[1] - pad[1], hi[1] + pad[1], 150))
        density = gaussian_kde(z.T)(np.stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
        ax.contourf(gx, gy, density, levels=20, cmap="viridis")
        ax.set_title(f"{title}: KDE of 1000 z ~ p(z)", fontsize=9)
        ax.set_xlabel("z1")
        ax.set_ylabel("z2")
    fig.tight_layout()
    with atomic_path(kde_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)

    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.6), dpi=80)
    for ax, model, title, x, y in zip(np.atleast_1d(axes), models, titles, xs, ys):
        z = np.concatenate([np.asarray(model.encode(x[i:i + 1000], **_labels(
            model, y[i:i + 1000], len(x[i:i + 1000])))) for i in range(0, len(x), 1000)])
        points = ax.scatter(z[:, 0], z[:, 1], c=y, cmap="tab10", s=1, vmin=-0.5, vmax=9.5)
        ax.set_title(f"{title}: test posterior means", fontsize=9)
        ax.set_xlabel("z1")
        ax.set_ylabel("z2")
    fig.colorbar(points, ax=axes, ticks=range(10), label="label")
    with atomic_path(scatter_path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def latent2d(folders, seed=0):
    """(records for comparison.json, {file name: PNG bytes}) of the 2-D latent pictures of
    the model folders `folders`; ValueError for a model without one 2-D latent."""
    import zoo
    from training.evaluation import protocols
    from training.evaluation.suite import folder_data
    from zoo.presets import resolve

    folders = [resolve(f) for f in folders]
    models = [zoo.load(f, compile=False) for f in folders]
    for folder, model in zip(folders, models):
        check_latent2d(model, folder)
    records, titles, xs, ys, data = [], [], [], [], {}
    for folder, model in zip(folders, models):
        recipe = _metadata(folder).get("recipe", {})
        key = (recipe.get("dataset"), recipe.get("binarization"))
        if key not in data:
            data[key] = folder_data(folder)[1]
        arrays = data[key]
        record = _run_record(folder, model)
        hidden = recipe.get("hidden_units")
        record["hidden_units"] = hidden
        if model.capabilities.density == "bound":
            record["test_elbo"] = protocols.test_elbo(
                model, arrays["x_test"], seed=seed, verbose=0,
                y=arrays["y_test"] if model.capabilities.conditional else None)[0]
        records.append(record)
        titles.append(_latent2d_title(record))
        xs.append(arrays["x_test"])
        ys.append(arrays["y_test"])
    with tempfile.TemporaryDirectory() as tmp:
        kde, scatter = os.path.join(tmp, "kde.png"), os.path.join(tmp, "scatter.png")
        save_latent_pictures(kde, scatter, models, titles, xs, ys, seed)
        files = {}
        for name, path in ((KDE_FILE, kde), (SCATTER_FILE, scatter)):
            with open(path, "rb") as f:
                files[name] = f.read()
    return records, files


def _latent2d_title(record):
    hidden = record.get("hidden_units")
    if hidden:
        return f"{record['class']} {len(hidden)}-layer ({','.join(map(str, hidden))})"
    return f"{record['class']} ({os.path.basename(record['folder'])})"


def run_comparison(model_name, baseline_name, latent2d_folders=(), num_samples=500,
                   num_images=1000, seed=0, verbose=1):
    """The whole experiment: results and pictures written into MODEL's folder, a preset's
    model card regenerated. Returns the results."""
    import zoo
    from training.evaluation.suite import folder_data
    from zoo.preset_recipes import PRESETS
    from zoo.presets import presets_dir, resolve
    from zoo.saving import update_folder_files

    folder, baseline_folder = resolve(model_name), resolve(baseline_name)
    shared_recipe(folder, baseline_folder)  # refuse a mismatch before any long computation
    latent_records, files = latent2d(latent2d_folders, seed) if latent2d_folders else ([], {})
    results = compare(folder, baseline_folder, num_samples, num_images, seed, verbose)
    if latent_records:
        results["latent2d"] = latent_records
    _, arrays = folder_data(folder)
    files[SAMPLES_FILE] = _png_bytes(lambda p: save_samples_side_by_side(
        p, zoo.load(folder, compile=False), zoo.load(baseline_folder, compile=False), seed,
        arrays["y_test"]))
    files[RESULTS_FILE] = (json.dumps(results, indent=2) + "\n").encode()
    update_folder_files(folder, files=files)
    name = os.path.basename(os.path.normpath(folder))
    preset = os.path.join(presets_dir(), name)
    if name in PRESETS and os.path.isdir(preset) and os.path.samefile(folder, preset):
        from training.presets.builder import model_card

        update_folder_files(folder, files={"README.md": model_card(name, folder).encode()})
    return results


def add_arguments(parser):
    """The `compare` sub-command's arguments."""
    parser.add_argument("model", help="preset name or model folder (results are written here)")
    parser.add_argument("--baseline", required=True,
                        help="model folder trained with MODEL's recipe except the model and "
                             "its own options")
    parser.add_argument("--latent2d", default="",
                        help="comma-separated folders of models with a 2-D latent, for the KDE "
                             "of p(z) and the posterior-means scatter (one panel each)")
    parser.add_argument("--num-samples", type=int, default=DEFAULTS["num_samples"],
                        help=f"k for the importance-sampled NLL "
                             f"(default {DEFAULTS['num_samples']})")
    parser.add_argument("--num-images", type=int, default=DEFAULTS["num_images"],
                        help=f"test images for the NLL (default {DEFAULTS['num_images']})")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                        help=f"(default {DEFAULTS['seed']})")


def run(args, verbose=1):
    """Runs the experiment from parsed arguments (a dict) and prints a summary."""
    results = run_comparison(args["model"], args["baseline"],
                             [f for f in (args.get("latent2d") or "").split(",") if f],
                             num_samples=args.get("num_samples", DEFAULTS["num_samples"]),
                             num_images=args.get("num_images", DEFAULTS["num_images"]),
                             seed=args.get("seed", DEFAULTS["seed"]),
                             verbose=verbose)
    for line in summary(results):
        print(line)


def summary(results):
    """Lines of text summarising comparison.json's results."""
    lines = []
    for role in ("model", "baseline"):
        r = results[role]
        nll = (f"NLL {r['test_nll']:.2f} ± {r['test_nll_stderr']:.2f}, " if "test_nll" in r
               else "")
        lines.append(f"{r['class']} ({r['folder']}): {nll}Parzen "
                     f"{r['parzen_log_likelihood']:.1f} ± {r['parzen_stderr']:.1f}, "
                     f"FD {r['fd']:.2f}")
    a, b = results["model"]["class"], results["baseline"]["class"]
    if "nll_difference" in results:
        diff = results["nll_difference"]
        lines.append(f"NLL difference {a} - {b} (paired): {diff['mean']:+.2f} ± "
                     f"{diff['stderr']:.2f} nats")
    else:
        lines.append(f"NLL not compared: {results['nll_skipped']}.")
    lines.append(f"Results: {results['model']['folder']}/{RESULTS_FILE}")
    return lines


def verdict(results):
    """The sentence saying whether the model beats the baseline on NLL and Parzen."""
    a, b = results["model"]["class"], results["baseline"]["class"]
    parzen_better = (results["model"]["parzen_log_likelihood"]
                     > results["baseline"]["parzen_log_likelihood"])
    if "nll_difference" not in results:
        return (f"The test NLL was not compared ({results.get('nll_skipped', 'not measured')}); "
                f"on the Parzen window {a} {'beats' if parzen_better else 'does not beat'} {b}.")
    diff = results["nll_difference"]
    nll_better = diff["mean"] + 2 * diff["stderr"] < 0
    outcome = {(True, True): "holds here on both measures",
               (True, False): "holds here for the NLL but not for the Parzen window",
               (False, True): "holds here for the Parzen window but not for the NLL",
               (False, False): "does not hold here on either measure"}[(nll_better, parzen_better)]
    return (f"The claim that {a} beats {b} on both NLL and Parzen {outcome} (NLL counted as "
            "better only when the paired difference is below zero by more than two standard "
            "errors).")


def card_section(folder):
    """The comparison section of a preset's model card ("" before `compare` ran on it)."""
    path = os.path.join(folder, RESULTS_FILE)
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        r = json.load(f)
    model, baseline, recipe = r["model"], r["baseline"], r["shared_recipe"]
    a, b = model["class"], baseline["class"]
    shared = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in recipe.items() if v is not None)
    lines = [f"## {a} vs {b}", "",
             f"{a} against {b} trained with the same recipe ({shared}); only the model and its "
             "own options differ. Both are measured with one protocol.", "",
             "| model | test NLL (nats, lower is better) | Parzen (nats, higher is better) | FD "
             "| training time |", "| --- | --- | --- | --- | --- |"]
    for m in (model, baseline):
        nll = (f"{m['test_nll']:.2f} ± {m['test_nll_stderr']:.2f}" if "test_nll" in m
               else "not measured")
        lines.append(f"| {m['class']} | {nll} | "
                     f"{m['parzen_log_likelihood']:.1f} ± {m['parzen_stderr']:.1f} "
                     f"(sigma {m['parzen_sigma']:.3f}) | {m['fd']:.2f} | "
                     f"{(m.get('train_seconds') or 0) / 60:.0f} min |")
    lines.append("")
    if "nll_difference" in r:
        diff = r["nll_difference"]
        lines += [f"Paired NLL difference {a} - {b} over the same images: {diff['mean']:+.2f} ± "
                  f"{diff['stderr']:.2f} nats.", ""]
    lines += ["Protocols: NLL: " + r["protocol"]["nll"] + ". Parzen: " + r["protocol"]["parzen"]
              + ". FD: " + r["protocol"]["fd"] + ".", "", verdict(r), "",
              f"![{a} and {b} samples]({SAMPLES_FILE})", ""]
    extra = r.get("latent2d", [])
    runs = [(baseline.get("command"), baseline.get("folder"))] + [
        (e.get("command"), e.get("folder")) for e in extra]
    if all(command for command, _ in runs):
        from zoo.presets import presets_dir

        target = model.get("folder") or folder
        preset = os.path.dirname(target) == os.path.basename(os.path.normpath(presets_dir()))
        name = os.path.basename(target) if preset else target
        settings = r.get("settings", {})
        options = "".join(f" --{k.replace('_', '-')} {settings[k]}"
                          for k in ("num_samples", "num_images", "seed")
                          if k in settings and settings[k] != DEFAULTS[k])
        lines += [f"Reproduce (after `make-preset {name}`):" if preset else "Reproduce:", "",
                  "```"]
        lines += [f"{command} --out {where}" for command, where in runs]
        lines += [f"python -m training compare {name} --baseline {runs[0][1]}"
                  + (f" --latent2d {','.join(w for _, w in runs[1:])}" if runs[1:] else "")
                  + options, "```", ""]
    if extra:
        described = "; ".join(
            f"{_latent2d_title(e)}: {e.get('epochs')} epochs"
            + (f", test ELBO {e['test_elbo']:.1f}" if e.get("test_elbo") is not None else "")
            for e in extra)
        lines += ["### 2-D latents", "",
                  f"Models with a 2-D latent, one panel each from left to right ({described}). "
                  "First picture: a kernel density estimate of 1000 samples of p(z); second: the "
                  "test posterior means coloured by label.", "",
                  f"![KDE of p(z)]({KDE_FILE})", "",
                  f"![test posterior means]({SCATTER_FILE})", ""]
    return "\n".join(lines)


EXPERIMENT = register_experiment(Experiment(
    name="compare",
    help="a model against a baseline trained with the same recipe (NLL, Parzen, FD, samples, "
         "optional 2-D latent pictures), written into the model's folder and card",
    add_arguments=add_arguments, run=run, card_section=card_section))
