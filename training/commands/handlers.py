"""Dispatch of the command line's sub-commands, with expected errors turned into messages.

Each sub-command is one small function of the parsed arguments; imports stay inside them so
that `--help` and bad arguments answer without loading TensorFlow.
"""

import os
import sys

from training.data import DataError
from training.run.callbacks import TrainingError
from zoo.saving import ModelFolderError

EXPECTED_ERRORS = (DataError, TrainingError, ModelFolderError, ValueError)


def _train(args, verbose):
    from training.run.train import summary, train

    print(summary(*train(args, verbose=verbose)))


def _evaluate(args, verbose):
    from training.evaluation.suite import evaluate, format_results, parse_metrics

    print(format_results(evaluate(
        args["model"], parse_metrics(args["metrics"]), num_samples=args["num_samples"],
        max_images=args["max_images"], seed=args["seed"], write=not args["no_write"],
        verbose=verbose)))


def _plot(args, verbose):
    import zoo
    from training.evaluation.suite import folder_data
    from training.pictures import plot
    from zoo.presets import resolve

    folder = resolve(args["model"])
    _, arrays = folder_data(folder)
    path = plot(zoo.load(folder, compile=False), args["kind"],
                args["out"] or f"{args['kind']}.png", arrays["x_test"], arrays["y_test"],
                seed=args["seed"])
    print(f"Picture: {path}")


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
                                    epochs=args["epochs"], verbose=verbose)
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
        print(f"{name:12s} {cls.__name__:12s} {cls.capabilities.describe()}")


def _datasets(args, verbose):
    from training.data import list_datasets

    for name, modality, description in list_datasets():
        print(f"{name:14s} {modality:14s} {description}")


def _experiment(name):
    def run_experiment(args, verbose):
        from training.experiments import EXPERIMENTS

        EXPERIMENTS[name].run(args, verbose)

    return run_experiment


COMMANDS = {
    "train": _train, "evaluate": _evaluate, "plot": _plot, "make-preset": _make_preset,
    "leaderboard": _leaderboard, "train-classifier": _train_classifier, "export": _export,
    "benchmark": _benchmark, "models": _models, "datasets": _datasets,
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
