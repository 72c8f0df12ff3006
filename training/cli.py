"""Dispatch of the command line's sub-commands, with expected errors turned into messages.

Each sub-command is one small function of the parsed arguments; imports stay inside them so
that `--help` and bad arguments answer without loading TensorFlow.
"""

import os
import sys

from training.callbacks import TrainingError
from training.data import DataError
from zoo.saving import ModelFolderError

EXPECTED_ERRORS = (DataError, TrainingError, ModelFolderError, ValueError)


def _train(args, verbose):
    from training.train import summary, train

    print(summary(*train(args, verbose=verbose)))


def _evaluate(args, verbose):
    from training.evaluate import evaluate, format_results, parse_metrics

    print(format_results(evaluate(
        args["model"], parse_metrics(args["metrics"]), num_samples=args["num_samples"],
        max_images=args["max_images"], seed=args["seed"], write=not args["no_write"],
        verbose=verbose)))


def _plot(args, verbose):
    import zoo
    from training.evaluate import folder_data
    from training.plotting import plot
    from zoo.presets import resolve

    folder = resolve(args["model"])
    _, arrays = folder_data(folder)
    path = plot(zoo.load(folder, compile=False), args["kind"],
                args["out"] or f"{args['kind']}.png", arrays["x_test"], arrays["y_test"],
                seed=args["seed"])
    print(f"Picture: {path}")


def _make_preset(args, verbose):
    from training.evaluate import format_results
    from training.preset_builder import make_preset

    folder, results = make_preset(args["name"], from_run=args["from_run"],
                                  num_samples=args["num_samples"], verbose=verbose)
    print(f"Preset: {folder}\n{format_results(results)}")


def _leaderboard(args, verbose):
    from training.leaderboard import write_leaderboard

    print(f"Leaderboard: {write_leaderboard()}")


def _train_classifier(args, verbose):
    from training.classifier import default_classifier_path, train_classifier

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
    from training.benchmark import run as run_benchmark

    run_benchmark(args, verbose)


def _gae_compare(args, verbose):
    from training.gae_experiments import run as run_experiments

    results = run_experiments(args["gae"], args["vae"],
                              [f for f in args["latent2d"].split(",") if f],
                              num_samples=args["num_samples"], num_images=args["num_images"],
                              seed=args["seed"], verbose=verbose)
    for label in ("gae", "vae"):
        r = results[label]
        print(f"{label.upper()}: NLL {r['test_nll']:.2f} ± {r['test_nll_stderr']:.2f}, Parzen "
              f"{r['parzen_log_likelihood']:.1f} ± {r['parzen_stderr']:.1f}, FD {r['fd']:.2f}")
    diff = results["nll_difference_gae_minus_vae"]
    print(f"NLL difference GAE - VAE (paired): {diff['mean']:+.2f} ± {diff['stderr']:.2f} nats")


COMMANDS = {
    "train": _train, "evaluate": _evaluate, "plot": _plot, "make-preset": _make_preset,
    "leaderboard": _leaderboard, "train-classifier": _train_classifier, "export": _export,
    "benchmark": _benchmark, "gae-compare": _gae_compare,
}


def run(command, args, verbose=1):
    """Runs `command`; returns the process exit status (2 with a message for bad input)."""
    try:
        if command not in COMMANDS:
            raise ValueError(f"Unknown command {command!r}; choose one of {', '.join(COMMANDS)}.")
        COMMANDS[command](args, verbose)
        return 0
    except EXPECTED_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
