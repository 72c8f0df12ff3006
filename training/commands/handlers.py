"""Dispatch of the command line's sub-commands, with expected errors turned into messages.

Each sub-command is one small function of the parsed arguments; imports stay inside them so
that `--help` and bad arguments answer without loading TensorFlow.
"""

import os
import sys

from training.data import DataError
from training.run.callbacks import TrainingError
from zoo.atomic import FolderLockedError
from zoo.saving import ModelFolderError

EXPECTED_ERRORS = (DataError, TrainingError, ModelFolderError, FolderLockedError, ValueError)


def _train(args, verbose):
    from training.run.train import summary, train

    print(summary(*train(args, verbose=verbose)))


def _anomaly(args, verbose):
    from training.anomaly import format_table, run_protocol
    from training.run.options import resolve_recipe

    digits = [d for d in str(args.pop("digits")).split(",") if d.strip()]
    try:
        digits = [int(d) for d in digits]
    except ValueError:
        raise ValueError(f"--digits expects class indices such as 0,1,2, got {digits}.") from None
    num_samples, baselines = args.pop("score_samples"), not args.pop("no_baselines")
    if num_samples < 1:
        raise ValueError(f"--score-samples must be at least 1, got {num_samples}.")
    out = args.get("out") or f"runs/anomaly_{args.get('model') or 'vae'}"
    recipe = resolve_recipe({k: v for k, v in args.items() if k != "out"})
    recipe.pop("out")
    results = run_protocol(recipe, digits, out, num_samples=num_samples, baselines=baselines,
                           verbose=verbose)
    print(format_table(results))
    print(f"Results: {os.path.join(out, 'anomaly.json')} (table: anomaly.md, pictures: "
          "extremes.png)")


def _evaluate(args, verbose):
    from training.evaluation.suite import evaluate, format_results, parse_metrics
    from zoo.atomic import write_json

    out = args.get("out")
    if out is not None and (not out.strip() or os.path.isdir(out)):
        raise ValueError(f"--out {out!r} is a folder or empty; name the JSON file to write, e.g. "
                         "--out results.json.")
    results = evaluate(
        args["model"], parse_metrics(args["metrics"]), num_samples=args["num_samples"],
        max_images=args["max_images"], seed=args["seed"], write=args.get("write", False),
        verbose=verbose, dataset=args.get("dataset"), data_path=args.get("data_path"),
        binarization=args.get("binarization"))
    other = args.get("dataset")
    if other:  # the keys carry the data set's name; print them as the usual lines
        prefix = f"{other}_"
        print(f"On the test split of {other}:")
        print(format_results({k[len(prefix):]: v for k, v in results.items()
                              if k.startswith(prefix)}))
    else:
        print(format_results(results))
    if out is not None:
        print(f"Results: {write_json(out, results)}")
    if args.get("write"):
        print(f"Merged into the metrics.json of {args['model']}.")


def _plot(args, verbose):
    import tempfile

    import zoo
    from training.evaluation.suite import folder_data
    from training.pictures import picture_suffix, picture_targets, plot
    from zoo.presets import is_preset_folder, resolve
    from zoo.saving import is_model_folder, update_folder_files

    folder = resolve(args["model"])
    model = zoo.load(folder, compile=False)
    if not isinstance(model, zoo.GenerativeModel):
        raise ValueError(f"{args['model']} holds a {type(model).__name__}, which is not a "
                         "generative model; plot draws the pictures of generative models.")
    kind = args["kind"]
    suffix = picture_suffix(kind)
    if args.get("out"):
        path = args["out"]
    elif is_preset_folder(folder):  # a shipped preset is never written to
        path = os.path.join("pictures",
                            f"{os.path.basename(os.path.normpath(folder))}_{kind}{suffix}")
    else:
        path = os.path.join(folder, f"{kind}{suffix}")
    if os.path.isdir(path):
        raise ValueError(f"{path} is a folder; give --out the PNG file to write.")
    if os.path.lexists(path) and not args.get("overwrite"):
        raise ValueError(f"{path} already exists; pass --overwrite to replace it, or --out "
                         "another file.")
    into = os.path.dirname(os.path.abspath(path))
    _, arrays = folder_data(folder)
    if is_model_folder(into):
        if is_preset_folder(into):
            raise ValueError(f"{into} is a shipped preset, which plot never changes; give "
                             "--out a file elsewhere.")
        # A picture inside a model folder goes through its sha256 manifest, which would
        # otherwise no longer verify.
        with tempfile.TemporaryDirectory() as tmp:
            drawn = plot(model, kind, os.path.join(tmp, os.path.basename(path)),
                         arrays["x_test"], picture_targets(model, arrays), seed=args["seed"],
                         folder=folder)
            with open(drawn, "rb") as f:
                update_folder_files(into, files={os.path.basename(path): f.read()})
    else:
        path = plot(model, kind, path, arrays["x_test"], picture_targets(model, arrays),
                    seed=args["seed"], folder=folder)
    print(f"Picture: {path}")


def _sample(args, verbose):
    import zoo
    from training.evaluation.suite import folder_data
    from training.samples import write_interpolation, write_samples
    from zoo.checks import check_count

    between = None
    if args.get("interpolate"):
        try:
            between = tuple(int(i) for i in args["interpolate"].split(","))
        except ValueError:
            between = ()
        if len(between) != 2:
            raise ValueError(f"--interpolate takes two test sequence numbers A,B (e.g. 0,1), got "
                             f"{args['interpolate']!r}.")
    check_count(args["num_samples"], "--num-samples", maximum=1000)
    if args.get("num_steps") is not None:
        check_count(args["num_steps"], "--num-steps", maximum=100000)
    model = zoo.load(args["model"], compile=False)
    paths = write_samples(model, args["out"], args["num_samples"], args.get("num_steps"),
                          args["seed"])
    if between is not None:
        _, arrays = folder_data(zoo.presets.resolve(args["model"]))
        paths += write_interpolation(model, args["out"], arrays["x_test"], arrays["mask_test"],
                                     between, seed=args["seed"])
    print("\n".join(["Wrote:"] + [f"  {p}" for p in paths]))


def _compress(args, verbose):
    import zoo
    from training.compression import check_progressive, format_table, write_compression
    from training.evaluation.suite import folder_data
    from zoo.checks import check_count

    check_count(args["num_images"], "--num-images", maximum=10000)
    folder = zoo.presets.resolve(args["model"])
    model = zoo.load(folder, compile=False)
    check_progressive(model)  # before reading any data
    _, arrays = folder_data(folder)
    x = arrays["x_test"][:args["num_images"]]
    paths, tables = write_compression(model, x, args["out"], seed=args["seed"],
                                      protocol=f"the first {len(x)} test images; "
                                               f"{arrays['protocol']}")
    print(format_table(tables, type(model).__name__))
    print("\n".join(["Wrote:"] + [f"  {p}" for p in paths]))


def _make_preset(args, verbose):
    from training.evaluation.suite import format_results
    from training.presets.builder import make_preset

    folder, results = make_preset(args["name"], from_run=args["from_run"],
                                  num_samples=args["num_samples"], verbose=verbose)
    print(f"Preset: {folder}\n{format_results(results)}")


def _leaderboard(args, verbose):
    from training.evaluation.leaderboard import write_leaderboard

    print(f"Leaderboard: {write_leaderboard()}")


def _train_classifier(args, verbose):
    from training.evaluation.classifier import default_classifier_path, train_classifier

    out, metrics = train_classifier(args["out"] or default_classifier_path(),
                                    epochs=args["epochs"], verbose=verbose,
                                    overwrite=args["overwrite"])
    print(f"Classifier: {out}; test accuracy {metrics['test_accuracy']:.4f}")


def _export(args, verbose):
    import zoo
    from zoo.export import docker_command, export_model

    path = export_model(zoo.load(args["model"], compile=False), args["out"],
                        version=args.get("version"), name=args.get("name"))
    name = args.get("name") or os.path.basename(os.path.abspath(args["out"]))
    print(f"SavedModel: {path}\nTF Serving config: "
          f"{os.path.join(os.path.abspath(args['out']), 'models.config')}\n"
          f"Serve it with:\n  {docker_command(args['out'], name)}\n"
          f"REST: http://localhost:8501/v1/models/{name}:predict, gRPC: localhost:8500")


def _benchmark(args, verbose):
    if args.get("mode") is None:
        args["mode"] = "serving" if args.get("export_dir") else "train"
    if args.get("cpu_devices"):
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * int(args["cpu_devices"]))
    from training.run.benchmark import run as run_benchmark

    run_benchmark(args, verbose)


def _models(args, verbose):
    import zoo

    for name in zoo.list_models():
        cls = zoo.get_model(name)
        print(f"{name:21s} {cls.__name__:20s} {cls.capabilities.describe()}")


def _datasets(args, verbose):
    from training.data import list_datasets

    for name, modality, description in list_datasets():
        print(f"{name:14s} {modality:14s} {description}")


def _palette_dataset(args, verbose):
    from training.data import palette_images_from_folder, write_palette_dataset

    indices, palette = palette_images_from_folder(args["images"], args["colours"], args["size"],
                                                  seed=args["seed"])
    write_palette_dataset(indices, palette, args["out"])
    print(f"Palette data set: {args['out']} ({len(indices)} images of {args['size']}x"
          f"{args['size']} pixels, {len(palette)} colours). Train on it with:\n  python -m "
          f"training train --model pixel_lstm --dataset palette --data-path {args['out']}")


def _experiment(name):
    def run_experiment(args, verbose):
        from training.experiments import EXPERIMENTS

        EXPERIMENTS[name].run(args, verbose)

    return run_experiment


COMMANDS = {
    "train": _train, "anomaly": _anomaly, "evaluate": _evaluate, "plot": _plot,
    "make-preset": _make_preset,
    "leaderboard": _leaderboard, "train-classifier": _train_classifier, "export": _export,
    "benchmark": _benchmark, "models": _models, "datasets": _datasets,
    "palette-dataset": _palette_dataset, "sample": _sample, "compress": _compress,
}


def run(command, args, verbose=1):
    """Runs `command`; returns the process exit status (2 with a message for bad input)."""
    from training.experiments import EXPERIMENTS

    commands = {**COMMANDS, **{name: _experiment(name) for name in EXPERIMENTS}}
    try:
        if command not in commands:
            raise ValueError(f"Unknown command {command!r}; choose one of {', '.join(COMMANDS)}.")
        commands[command](args, verbose)
        return 0
    except EXPECTED_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
