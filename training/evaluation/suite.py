"""`python -m training evaluate PRESET_OR_DIR --metrics nll,parzen,fd`: the protocols of
DESIGN.md run on a saved model; the results are printed (or written to a JSON file), and merged
into the folder's metrics.json only when asked (`write=True`, `--write`). A shipped preset's
metrics are only ever replaced by a measurement under the full protocol."""

import os

import numpy as np

import zoo
from zoo.checks import check_count
from training import data as data_lib
from training.evaluation import protocols as evaluation
from training.evaluation import sample_quality as quality
from training.evaluation.baselines import PROTOCOL as BASELINES_PROTOCOL, measure_baselines
from training.evaluation.classifier import classifier_features, default_classifier_path
from zoo.presets import is_preset_folder, resolve
from zoo.saving import read_json, update_folder_files

# metric -> (what the model must be able to do, description)
METRICS = {
    "elbo": (lambda m: m.capabilities.density == "bound",
             "test ELBO (models with a density bound)"),
    "nll": (lambda m: m.capabilities.has_density, "test NLL: importance-sampled for a bound, "
            "exact for an exact density"),
    "error": (lambda m: m.capabilities.classifier,
              "test error of the classifier (semi-supervised models)"),
    "parzen": (lambda m: m.modality == "image",
               "Parzen-window log-likelihood of 10,000 samples (images)"),
    "fd": (lambda m: m.modality == "image",
           "Frechet distance in the mnist_classifier's features (images)"),
    "coverage": (lambda m: m.modality == "image", "class histogram of 10,000 samples through "
                 "the mnist_classifier: its entropy and the classes drawn (mode collapse)"),
    "precision_recall": (lambda m: m.modality == "image", "precision and recall of 10,000 "
                         "samples against 10,000 test images in the mnist_classifier's features "
                         "(Kynkäänniemi et al. 2019, k=3)"),
    "baselines": (lambda m: m.modality in ("image", "palette_image"), "test NLL of two data-only "
                  "baselines (value frequencies; a categorical per pixel position)"),
}


def parse_metrics(text):
    """The metric names of a comma-separated list ("auto": what the model has, see
    `default_metrics`)."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    unknown = sorted(set(names) - set(METRICS) - {"auto"})
    if unknown or not names:
        raise ValueError(f"Unknown metrics {unknown or text!r}; choose from "
                         f"{', '.join(METRICS)} (or auto).")
    return names


def default_metrics(model):
    """The cheap headline metric a model has: its NLL, else its test error, else FD."""
    capabilities = model.capabilities
    return ["nll"] if capabilities.has_density else (
        ["error"] if capabilities.classifier else ["fd"])


def check_metrics(model, metrics):
    """Raises ValueError naming the metrics the model cannot be measured with."""
    refused = [m for m in metrics if not METRICS[m][0](model)]
    if refused:
        can = [m for m, (applies, _) in METRICS.items() if applies(model)]
        raise ValueError(f"{type(model).__name__} cannot be measured with "
                         f"{', '.join(refused)} ({model.capabilities.describe()}, "
                         f"{model.modality} data); it can with: {', '.join(can)}.")


FULL_PROTOCOL_SAMPLES = 5000  # k of the importance-sampled NLL that presets report


def check_full_protocol(folder, model, metrics, num_samples, max_images):
    """Refuses to write a shipped preset's metrics from a reduced protocol (a subset of the test
    images, or k other than 5000 for an importance-sampled NLL)."""
    if not is_preset_folder(folder) or os.path.basename(folder).startswith("."):
        return  # a folder of the user's own, or a preset being built aside by make-preset
    reduced = []
    if max_images is not None:
        reduced.append(f"--max-images {max_images}")
    if ("nll" in metrics and model.capabilities.density == "bound"
            and int(num_samples) != FULL_PROTOCOL_SAMPLES):
        reduced.append(f"--num-samples {num_samples} (the protocol: {FULL_PROTOCOL_SAMPLES})")
    if reduced:
        raise ValueError(
            f"Refusing to write the preset {os.path.basename(os.path.normpath(folder))}'s "
            f"metrics from a reduced protocol ({', '.join(reduced)}); drop --write to print the "
            "results, or measure with the full protocol.")


def folder_data(folder, dataset=None, data_path=None, binarization=None):
    """(dataset, arrays) of the data protocol a model folder was trained under (its recipe), or
    of another data set of the same kind (`dataset`, read from `data_path` when given), or under
    another binarization (e.g. the binarized test set for a model trained on grey levels)."""
    recipe = read_json(f"{folder}/metadata.json").get("recipe", {})
    binarization = binarization or recipe.get("binarization", "dynamic")
    if dataset is not None:
        loaded = data_lib.load_dataset(dataset, data_path)
        return loaded, data_lib.prepare(loaded, binarization)
    path = recipe.get("data_path")
    # The files the model was trained on when they are still there; else the loader's chain.
    loaded = data_lib.load_dataset(recipe.get("dataset", "mnist"),
                                   path if path and os.path.exists(path) else None)
    return loaded, data_lib.prepare(loaded, binarization)


def evaluate(name_or_path, metrics=("nll",), num_samples=5000, max_images=None, seed=0,
             classifier=None, write=False, verbose=1, dataset=None, data_path=None,
             binarization=None):
    """Measures `metrics` on the model's test set; returns the results (with their protocols).

    With `dataset` (and `data_path`), on the test split of another data set of the model's
    modality instead (e.g. a JSB model on the music21 chorales); every result key is then
    prefixed with the data set's name ("bach_chorales_test_nll", ...) so that writing them
    never replaces the figures of the model's own test set.

    Args:
        name_or_path: preset name or model folder.
        metrics: any of "elbo", "nll", "parzen", "fd".
        num_samples: k for the importance-sampled NLL.
        max_images: evaluate on the first N test images only (cheap checks); None = all.
        seed: seed of every random draw (z samples, model samples).
        classifier: folder of the FD classifier (default: the mnist_classifier preset).
        write: merge the results into the folder's metrics.json (re-recording sha256s); for a
            shipped preset only under the full protocol (see `check_full_protocol`).
        binarization: the test images' protocol ("dynamic" or "static": binarized once with
            the fixed seed; "none": grey levels); default the one the model was trained under.
    """
    folder = resolve(name_or_path)
    if "nll" in metrics or "auto" in metrics:
        check_count(num_samples, "--num-samples")  # before any work, one line if it is bad
    model = zoo.load(folder, compile=False)
    if not isinstance(model, zoo.GenerativeModel):
        raise ValueError(f"{name_or_path} holds a {type(model).__name__}, which is not a "
                         "generative model; evaluate measures generative models (see "
                         "zoo.presets.describe_presets()).")
    if "auto" in metrics:
        metrics = [m for m in metrics if m != "auto"] + default_metrics(model)
    check_metrics(model, metrics)
    if write:
        check_full_protocol(folder, model, metrics, num_samples, max_images)
    other = dataset
    dataset, arrays = folder_data(folder, dataset, data_path, binarization)
    if dataset.modality != model.modality:
        raise ValueError(f"{type(model).__name__} reads {model.modality} data; {dataset.name!r} "
                         f"holds {dataset.modality} data.")
    x_test = arrays["x_test"][:max_images]
    y_test = data_lib.method_targets(model.capabilities, arrays, "test")
    y_test = None if y_test is None else y_test[:max_images]
    given = " given its label" if model.capabilities.conditional else ""
    noun = evaluation.examples_noun(model)
    n = len(x_test)
    results = {"protocol": {"data": arrays["protocol"]}}
    if "elbo" in metrics:
        mean, se = evaluation.test_elbo(model, x_test, seed=seed, verbose=verbose, y=y_test)
        results.update(test_elbo=mean, test_elbo_stderr=se)
        results["protocol"]["elbo"] = f"mean one-sample ELBO over {n} test {noun}{given}, nats"
        evaluation.add_test_kl(results, model, x_test, y_test, verbose)
    if "nll" in metrics and model.capabilities.density == "exact":
        mean, se = evaluation.exact_nll(model, x_test, verbose=verbose, y=y_test)
        results.update(test_nll=mean, test_nll_stderr=se, nll_test_images=n)
        results["protocol"]["nll"] = (f"-mean over {n} test {noun} of the exact log p(x)"
                                      f"{given}, nats")
    elif "nll" in metrics:
        mean, se = evaluation.importance_sampled_nll(model, x_test, num_samples=num_samples,
                                                     seed=seed, verbose=verbose, y=y_test)
        results.update(test_nll=mean, test_nll_stderr=se, nll_num_samples=int(num_samples),
                       nll_test_images=n)
        results["protocol"]["nll"] = (
            f"-mean over {n} test {noun} of the importance-weighted estimate of log p(x){given} "
            f"with "
            f"k={num_samples} samples from q(z|x) (the importance-weighted bound), nats")
    evaluation.add_density_units(results, model, n, y_test)
    if "baselines" in metrics:
        for name, values in measure_baselines({**arrays, "x_test": x_test}).items():
            results.update({f"baseline_{name}_{k}": v for k, v in values.items()})
        results["protocol"]["baselines"] = BASELINES_PROTOCOL
    if "error" in metrics:
        evaluation.add_classification_error(results, model, x_test, arrays["y_test"][:n])
    sample_metrics = ("parzen", "fd", "coverage", "precision_recall")
    if any(m in metrics for m in sample_metrics):
        samples_are = ("mean images of p(x|z), z ~ p(z)" if model.capabilities.latent == "single"
                       else "draws of the model")
        samples = quality.model_samples(model, 10000, seed)
    if any(m in metrics for m in sample_metrics[1:]):
        classifier_model = zoo.load(classifier or default_classifier_path(), compile=False)
    if "parzen" in metrics:
        grey_test = dataset.test.x[:max_images]
        mean, se, sigma = evaluation.parzen_log_likelihood(
            samples.reshape(len(samples), -1), dataset.validation.x.reshape(-1, samples[0].size),
            grey_test.reshape(len(grey_test), -1), verbose=verbose)
        results.update(parzen_log_likelihood=mean, parzen_stderr=se, parzen_sigma=sigma)
        results["protocol"]["parzen"] = (
            "Parzen window (Goodfellow et al. 2014): Gaussian kernels on 10,000 model samples "
            f"({samples_are}); sigma chosen over logspace(-1, 0, 10) on the 10k "
            f"grey validation images; mean log-likelihood of {len(grey_test)} grey test images, nats")
    if "fd" in metrics:
        real = dataset.test.x[:len(samples)]
        fd = evaluation.frechet_distance(classifier_features(classifier_model, samples),
                                         classifier_features(classifier_model, real))
        results.update(fd=fd)
        results["protocol"]["fd"] = (
            f"Frechet distance between the mnist_classifier feature-layer activations of "
            f"{len(samples)} model samples ({samples_are}) and {len(real)} grey test images")
    if "coverage" in metrics:
        requested = quality.requested_labels(model, len(samples))
        results.update(quality.measure_coverage(classifier_model, samples, requested))
        results["protocol"]["coverage"] = (
            f"the mnist_classifier's labels for {len(samples)} model samples ({samples_are}): "
            "the share of each digit, its entropy in nats (uniform: log 10 = 2.303) and the "
            f"digits drawn at least {100 * quality.COVERAGE_SHARE:g}% of the time" + (
                "; label accuracy: the share of samples called the digit they were drawn as "
                f"(0, 1, 2, ... in turn)" if requested is not None else ""))
    if "precision_recall" in metrics:
        real = dataset.test.x[:len(samples)]
        precision, recall = quality.measure_precision_recall(classifier_model, samples, real)
        results.update(precision=precision, recall=recall)
        results["protocol"]["precision_recall"] = (
            f"improved precision and recall (Kynkäänniemi et al. 2019, k=3) of {len(samples)} "
            f"model samples ({samples_are}) against {len(real)} grey test images in the "
            "mnist_classifier's feature-layer activations")
    if binarization is not None:  # test images under another protocol than the model's own
        data = results["protocol"].pop("data")
        results["protocol"] = {k: f"{v}; test images: {data}"
                               for k, v in results["protocol"].items()}
    if other is not None:
        results = {f"{other}_{k}": v for k, v in results.items() if k != "protocol"} | {
            "protocol": {f"{other}_{k}": v for k, v in results["protocol"].items()}}
    if write:
        merged = read_json(f"{folder}/metrics.json")
        merged.update({k: v for k, v in results.items() if k != "protocol"})
        merged.setdefault("protocol", {}).update(results["protocol"])
        update_folder_files(folder, metrics=merged)
    return results


def format_results(results):
    """The printed lines of measured metrics (of `evaluate`, or of a finished training run)."""
    lines = []
    images = results.get("nll_test_images", results.get("test_images"))
    if "test_nll" in results:
        how = (f"k={results['nll_num_samples']} importance samples"
               if "nll_num_samples" in results else "exact density")
        lines.append(f"Test NLL: {results['test_nll']:.2f} ± {results['test_nll_stderr']:.2f} "
                     f"nats ({how}, {images} test examples)")
    if "test_bits_per_pixel" in results:
        lines.append(f"Test bits per pixel: {results['test_bits_per_pixel']:.4f}")
    if "test_nll_per_step" in results:
        lines.append(f"Test NLL per time step: {results['test_nll_per_step']:.3f} nats "
                     f"({results['test_steps']} steps)")
    for name in ("frequency", "position"):
        if f"baseline_{name}_nll" in results:
            lines.append(f"Baseline '{name}': {results[f'baseline_{name}_nll']:.2f} ± "
                         f"{results[f'baseline_{name}_stderr']:.2f} nats "
                         f"({results[f'baseline_{name}_bits_per_pixel']:.4f} bits per pixel)")
    if "test_elbo" in results:
        lines.append(f"Test ELBO: {results['test_elbo']:.2f} nats")
    if "test_kl" in results:
        lines.append(f"Test KL(q || p): {results['test_kl']:.2f} nats per example")
    if "test_reconstruction" in results:
        lines.append(f"Test reconstruction -log p(x|z): {results['test_reconstruction']:.2f} "
                     "nats")
    if "parzen_log_likelihood" in results:
        lines.append(f"Parzen: {results['parzen_log_likelihood']:.1f} ± "
                     f"{results['parzen_stderr']:.1f} nats (sigma {results['parzen_sigma']:.3f})")
    if "test_error" in results:
        lines.append(f"Test error of the classifier: {100 * results['test_error']:.2f}%")
    if "fd" in results:
        lines.append(f"FD: {results['fd']:.2f}")
    if "class_entropy" in results:
        lines.append(f"Class coverage: entropy {results['class_entropy']:.3f} nats (uniform "
                     f"2.303), {results['classes_covered']} of 10 digits drawn")
    if "label_accuracy" in results:
        lines.append(f"Label accuracy of the conditional samples: "
                     f"{100 * results['label_accuracy']:.2f}%")
    if "precision" in results:
        lines.append(f"Precision {results['precision']:.3f}, recall {results['recall']:.3f}")
    return "\n".join(lines)
