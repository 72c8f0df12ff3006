"""Builds a pretrained preset from its recipe: train (or adopt a finished run), save without
optimizer state, evaluate, write golden values, the model card and the leaderboard.

The whole new preset is built aside, in a dot-folder next to it, and swapped in only when
complete: a kill or an error at any step leaves the previous preset as it was."""

import os
import shutil
import tempfile

import numpy as np

import zoo
from training import data as data_lib
from training import pictures as plotting
from training.evaluation.suite import evaluate
from training.evaluation.leaderboard import write_leaderboard
from zoo.preset_recipes import PRESETS
from training.run.options import PLACEMENT_OPTIONS, RUN_OPTIONS, resolve_recipe
from training.run.train import train
from zoo.atomic import write_json
from zoo.presets import is_preset_name, presets_dir
from zoo.saving import (PENDING_KEY, check_target, read_json, replace_folder,
                         update_folder_files)

RUN_ONLY_KEYS = (*PLACEMENT_OPTIONS, "nll_samples")


def golden_values(model, x, y):
    """A few fixed outputs for fixed inputs (test images x, and y: what the model's methods take
    besides x, see `pictures.picture_targets`) and seeds, re-checked by the preset tests."""
    given = model.conditioning(y[:3])
    capabilities = model.capabilities
    values = {"sample_sum": np.asarray(model.sample(2, seed=[0, 1])).reshape(2, -1)
              .sum(1).tolist()}
    if capabilities.latent == "single":
        values["encode_mean"] = np.asarray(model.encode(x[:3], **given))[:, :5].tolist()
    if capabilities.density == "bound":
        values["log_prob_k10"] = np.asarray(model.log_prob(x[:3], num_samples=10, seed=[0, 2],
                                                          **given)).tolist()
    elif capabilities.density == "exact":
        values["log_prob"] = np.asarray(model.log_prob(x[:3], **given)).tolist()
    if capabilities.classifier:
        values["classify_probabilities"] = np.asarray(model.classify(x[:3])[0]).tolist()
    return values


def check_run_matches(run_folder, wanted):
    """Refuses to adopt a run whose recipe differs from the preset's recipe."""
    recipe = read_json(os.path.join(run_folder, "metadata.json")).get("recipe", {})
    # A run from before an option existed ran with its default (e.g. adam_beta_1).
    recipe = {**{o.name: o.default for o in RUN_OPTIONS}, **recipe}
    wanted = resolve_recipe(dict(wanted))
    diffs = {k: (recipe.get(k), v) for k, v in wanted.items()
             if k not in RUN_ONLY_KEYS and recipe.get(k) != v}
    if diffs:
        raise ValueError(f"{run_folder} was not trained with this preset's recipe: "
                         + ", ".join(f"{k}={a!r} (recipe: {b!r})" for k, (a, b) in diffs.items()))


def make_preset(name, from_run=None, num_samples=5000, verbose=1):
    """Writes saved_models/NAME from its recipe; returns the preset folder."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset recipe {name!r}; choose one of: {', '.join(PRESETS)}.")
    spec = PRESETS[name]
    folder = check_target(os.path.join(presets_dir(), name), overwrite=True)
    if from_run is None:  # the recipe's own run folder: a model folder there is retrained
        from_run, _ = train({**spec["train"], "out": os.path.join("runs", name),
                             "nll_samples": 100, "overwrite": True}, verbose=verbose)
    if is_preset_name(from_run):  # --from-run names a folder, never a preset
        from_run = os.path.join(os.curdir, from_run)
    check_run_matches(from_run, spec["train"])
    model = zoo.load(from_run)
    run_meta = read_json(os.path.join(from_run, "metadata.json"))
    metadata = {k: v for k, v in run_meta.items()
                if k not in ("sha256", PENDING_KEY, "format_version", "model_class", "versions")}
    metadata["command"] = f"python -m training make-preset {name}"
    metadata["train_command"] = run_meta.get("command")
    run_metrics = read_json(os.path.join(from_run, "metrics.json"))
    arrays = data_lib.prepare(data_lib.load_dataset(spec["train"]["dataset"]),
                              resolve_recipe(dict(spec["train"]))["binarization"])

    def pictures(folder):
        pics = [k for k in ("samples", "reconstructions", "interpolation")
                if k in plotting.available_plots(model)] + spec.get("pictures", [])
        y_test = plotting.picture_targets(model, arrays)
        history = os.path.join(from_run, "history.json")
        if os.path.exists(history):  # the run's per-epoch values, for the curves picture
            shutil.copy(history, os.path.join(folder, "history.json"))
        for kind in dict.fromkeys(pics):
            plotting.plot(model, kind, os.path.join(folder, f"{kind}.png"), arrays["x_test"],
                          y_test, folder=folder)
        write_json(os.path.join(folder, "golden.json"),
                   golden_values(model, arrays["x_test"], y_test))

    # Built in a dot-folder beside the preset (list_presets skips it), on the same file
    # system, so that the finished preset replaces the old one in one rename.
    os.makedirs(presets_dir(), exist_ok=True)
    metrics = {"epochs": run_metrics.get("epochs"),
               "train_seconds": run_metrics.get("train_seconds"),
               **{k: run_metrics[k] for k in ("best_epoch", "best_val_loss") if k in run_metrics},
               "protocol": {}}
    if model.modality == "piano_roll":
        add_roll_statistics(metrics, model, arrays)
    aside = tempfile.mkdtemp(dir=presets_dir(), prefix=f".{name}.build-")
    try:
        model.save_to_preset(aside, metadata=metadata, metrics=metrics, write_extra=pictures)
        results = evaluate_preset(name, aside, num_samples, verbose)
        update_folder_files(aside, files={"README.md": model_card(name, aside).encode()})
        replace_folder(aside, folder)
    except BaseException:
        shutil.rmtree(aside, ignore_errors=True)
        raise
    write_leaderboard()
    return folder, results


SAMPLE_STEPS = 64  # length of the samples whose statistics a sequence preset's card shows


def add_roll_statistics(metrics, model, arrays, num_samples=100, seed=0):
    """What a sequence model's samples are like next to the test pieces, in numbers
    (`samples.roll_statistics`), for the card: nobody listens to them in the build."""
    from training.samples import roll_statistics

    samples = np.asarray(model.sample(num_samples, seed=seed, num_steps=SAMPLE_STEPS))
    metrics["sample_statistics"] = roll_statistics(samples)
    metrics["test_statistics"] = roll_statistics(arrays["x_test"], arrays["mask_test"])
    metrics["protocol"]["statistics"] = (
        f"{num_samples} samples of {SAMPLE_STEPS} steps (seed {seed}) against the test pieces: "
        "mean notes per step, share of silent steps, mean length of a held note (steps), mean "
        "pitch span of a piece (semitones), share of sounding steps whose pitch classes fit one "
        "major or natural minor scale")
    return metrics


def evaluate_preset(name, folder, num_samples=5000, verbose=1):
    """Measures the recipe's metrics on a preset folder (being built) and merges them into its
    metrics.json; returns the results."""
    spec = PRESETS[name]
    names = spec["metrics"].split(",")
    # a cheaper NLL protocol (costly priors, costly samples): fewer test images or a smaller k
    reduced_nll = "nll" in names and ("nll_images" in spec or "nll_samples" in spec)
    # A model trained on grey levels may have its bound measured on the binarized test set
    # (nll_binarization): the ELBO then goes with the NLL.
    apart = ("nll", "elbo") if spec.get("nll_binarization") else ("nll",)
    results = evaluate(folder, [m for m in names if not (reduced_nll and m in apart)],
                       num_samples=num_samples, write=True, verbose=verbose)
    if reduced_nll:
        nll = evaluate(folder, [m for m in apart if m in names],
                       num_samples=spec.get("nll_samples", num_samples),
                       max_images=spec.get("nll_images"), write=True, verbose=verbose,
                       binarization=spec.get("nll_binarization"))
        results = {**results, **nll, "protocol": {**results["protocol"], **nll["protocol"]}}
    for other in spec.get("also_on", ()):  # the test split of another data set, prefixed
        measured = evaluate(folder, ["nll"], num_samples=spec.get("nll_samples", num_samples),
                            dataset=other, write=True, verbose=verbose)
        results = {**results, **measured,
                   "protocol": {**results["protocol"], **measured["protocol"]}}
    if spec.get("repeat_seeds"):
        results = {**results, **repeat_over_seeds(name, folder, verbose)}
    return results


def repeat_over_seeds(name, folder, verbose=1):
    """The semi-supervised protocol: the test error of the recipe under its own seed (the
    preset) and under `repeat_seeds` (runs/NAME_seedS, adopted when finished with the same
    recipe, else trained), merged into the preset's metrics.json as mean and spread."""
    spec = PRESETS[name]
    metrics = read_json(os.path.join(folder, "metrics.json"))
    errors = {str(spec["train"]["seed"]): metrics["test_error"]}
    for seed in spec["repeat_seeds"]:
        recipe = {**spec["train"], "seed": seed}
        run = os.path.join("runs", f"{name}_seed{seed}")
        if not os.path.exists(os.path.join(run, "metrics.json")):
            run, _ = train({**recipe, "out": run, "nll_samples": 100, "overwrite": True},
                           verbose=verbose)
        check_run_matches(run, recipe)
        errors[str(seed)] = read_json(os.path.join(run, "metrics.json"))["test_error"]
    values = np.array(list(errors.values()))
    summary = {"test_error_seeds": errors, "test_error_mean": float(values.mean()),
               "test_error_std": float(values.std(ddof=1))}
    metrics.update(summary)
    metrics["protocol"]["error_seeds"] = (
        f"test error of the same recipe trained with seeds {', '.join(errors)} (each seed "
        "picks its own labelled images and initialisation); mean and sample standard deviation")
    update_folder_files(folder, metrics=metrics)
    return summary


def statistics_table(metrics):
    """The card's table of sample statistics next to the test pieces'."""
    labels = {"notes_per_step": "notes per step", "silent_steps": "silent steps",
              "held_note_steps": "held note (steps)", "pitch_span": "pitch span (semitones)",
              "steps_in_a_scale": "steps within one major/minor scale"}
    samples, test = metrics["sample_statistics"], metrics["test_statistics"]
    lines = ["What the samples are like, in numbers (measured; nobody listened to them for "
             f"this card): {metrics['protocol'].get('statistics', '')}.", "",
             "| | samples | test pieces |", "| --- | --- | --- |"]
    lines += [f"| {label} | {samples[key]:.2f} | {test[key]:.2f} |" for key, label in labels.items()]
    return lines + [""]


def samples_caption(name):
    """What the samples picture of a preset shows."""
    train = PRESETS[name]["train"]
    if data_lib.dataset_modality(train["dataset"]) == "piano_roll":
        return ("Samples (drawn step by step; hear them: `python -m training sample "
                f"{name} --out DIR` writes MIDI files):")
    if zoo.get_model(train["model"]).capabilities.latent == "single":
        return "Samples (mean images of p(x|z), z ~ p(z)):"
    return "Samples (draws of the model):"


def model_card(name, folder):
    """The README.md of a preset, generated from its recipe, metadata and metrics."""
    spec = PRESETS[name]
    meta = read_json(os.path.join(folder, "metadata.json"))
    metrics = read_json(os.path.join(folder, "metrics.json"))
    protocol = metrics.get("protocol", {})
    lines = [f"# `{name}`: {spec['title']}", "",
             f"Load it with `zoo.load(\"{name}\")`; fine-tune it with `fit`.", "",
             f"Paper: {spec['paper']}.", "", "## Metrics (measured by the evaluation command)", ""]
    rows = [("test NLL", "test_nll", "test_nll_stderr", "nll", "nats"),
            ("test ELBO", "test_elbo", "test_elbo_stderr", "elbo", "nats"),
            ("Parzen log-likelihood", "parzen_log_likelihood", "parzen_stderr", "parzen", "nats"),
            ("FD", "fd", None, "fd", ""),
            ("class entropy of samples", "class_entropy", None, "coverage", "nats (uniform: "
             "2.30)"),
            ("precision", "precision", None, "precision_recall", ""),
            ("recall", "recall", None, "precision_recall", "")]
    lines += ["| metric | value | protocol |", "| --- | --- | --- |"]
    for label, key, se_key, proto, unit in rows:
        if key in metrics:
            se = f" ± {metrics[se_key]:.2f}" if se_key and se_key in metrics else ""
            lines.append(f"| {label} | {metrics[key]:.2f}{se} {unit} | {protocol.get(proto, '')} |")
    if "classes_covered" in metrics:
        shares = ", ".join(f"{d}: {100 * v:.1f}%"
                           for d, v in enumerate(metrics["class_histogram"]))
        lines.append(f"| digits drawn (≥ 1% of samples) | {metrics['classes_covered']} of 10 "
                     f"({shares}) | {protocol.get('coverage', '')} |")
    if "test_bits_per_pixel" in metrics:
        lines.append(f"| test bits per pixel | {metrics['test_bits_per_pixel']:.4f} | "
                     f"{protocol.get('bits_per_pixel', '')} |")
    for label, key, unit in (("test NLL per time step", "test_nll_per_step", "nats"),
                             ("test ELBO per time step", "test_elbo_per_step", "nats")):
        if key in metrics:
            lines.append(f"| {label} | {metrics[key]:.3f} {unit} | "
                         f"{protocol.get('per_step', '')} |")
    for other in spec.get("also_on", ()):
        key = f"{other}_test_nll_per_step"
        if key in metrics:
            lines.append(f"| {other}: test NLL per time step | {metrics[key]:.3f} nats | "
                         f"{metrics['protocol'].get(f'{other}_per_step', '')}; "
                         f"{spec.get('also_on_note', '')} |")
    if "test_kl" in metrics:
        lines.append(f"| test KL(q ‖ p) per example | {metrics['test_kl']:.2f} ± "
                     f"{metrics['test_kl_stderr']:.2f} nats | {protocol.get('kl', '')}; near 0 "
                     "would mean the latents carry nothing (posterior collapse) |")
    for baseline in ("frequency", "position"):
        if f"baseline_{baseline}_nll" in metrics:
            lines.append(
                f"| baseline '{baseline}': test NLL | {metrics[f'baseline_{baseline}_nll']:.2f} ± "
                f"{metrics[f'baseline_{baseline}_stderr']:.2f} nats "
                f"({metrics[f'baseline_{baseline}_bits_per_pixel']:.4f} bits per pixel) | "
                f"{protocol.get('baselines', '')} |")
    if "best_epoch" in metrics:
        lines.append(f"| epoch kept (--keep-best) | {metrics['best_epoch']} of "
                     f"{metrics.get('epochs')} | the epoch with the lowest validation loss |")
    if "test_error" in metrics:
        lines.append(f"| test error (this model) | {100 * metrics['test_error']:.2f}% | "
                     f"{protocol.get('error', '')} |")
    if "test_error_seeds" in metrics:
        each = ", ".join(f"seed {s}: {100 * e:.2f}%" for s, e in metrics["test_error_seeds"].items())
        lines.append(f"| test error over {len(metrics['test_error_seeds'])} seeds | "
                     f"{100 * metrics['test_error_mean']:.2f}% ± "
                     f"{100 * metrics['test_error_std']:.2f}% ({each}) | "
                     f"{protocol.get('error_seeds', '')} |")
    lines += ["", f"Data: {protocol.get('data', '')}.", "", f"Published: {spec['anchor']}", "",
              "## Recipe", "", "```", meta.get("train_command") or meta.get("command", ""), "```",
              "", f"Seed {meta.get('seed')}; trained {metrics.get('epochs')} epochs in "
              f"{(metrics.get('train_seconds') or 0) / 60:.0f} min on "
              f"{meta.get('hardware', {}).get('cpus')} CPU cores "
              f"({meta.get('hardware', {}).get('machine')}); `python -m training make-preset "
              f"{name}` retrains, evaluates and rewrites this folder.", "",
              "## Pictures", "", samples_caption(name), "", "![samples](samples.png)", ""]
    if os.path.exists(os.path.join(folder, "reconstructions.png")):
        lines += ["Test inputs and reconstructions:", "", "![reconstructions](reconstructions.png)",
                  ""]
    if os.path.exists(os.path.join(folder, "completion.png")):
        lines += ["Completion (the lecture's figure): each row holds the top half of a test "
                  "image (the rest grey), six draws of the bottom half, and the original:", "",
                  "![completion](completion.png)", ""]
    for kind in ("manifold", "digits", "analogies", "scatter", "interpolation", "pseudo_inputs",
                 "latent_walk", "arithmetic", "pyramid"):
        if os.path.exists(os.path.join(folder, f"{kind}.png")):
            lines += [f"![{kind}]({kind}.png)", ""]
    if os.path.exists(os.path.join(folder, "curves.png")):
        lines += ["Training curves, per epoch (history.json): the losses, the discriminator's "
                  "mean outputs on real images and on samples, and the mode-collapse monitor "
                  "(the entropy of the classifier's labels for 10,000 samples):", "",
                  "![curves](curves.png)", ""]
    if "sample_statistics" in metrics:
        lines += statistics_table(metrics)
    if spec.get("card_text"):  # what the recipe adds about this model
        lines += [spec["card_text"], ""]
    for experiment in spec.get("experiments", ()):  # sections of experiments run on the preset
        from training.experiments import EXPERIMENTS

        lines += [EXPERIMENTS[experiment].card_section(folder)]
    lines += ["## Limits", "", spec["limits"], ""]
    target, nll = spec.get("target_nll"), metrics.get("test_nll")
    if target is not None and nll is not None:
        if nll <= target:
            lines += [f"The zoo's target for this preset, NLL at most {target:.1f} nats, is met.", ""]
        else:
            lines += [f"Gap: the zoo's target is an NLL of at most {target:.1f} nats; this preset "
                      f"measures {nll:.2f} ({nll - target:+.2f} nats) after "
                      f"{metrics.get('epochs')} epochs and "
                      f"{(metrics.get('train_seconds') or 0) / 60:.0f} min of CPU training. "
                      f"The recipe expected to close it is {spec['longer_recipe']}; it has not "
                      "been run here, so that outcome is unmeasured.", ""]
    return "\n".join(lines)
