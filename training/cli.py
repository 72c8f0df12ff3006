"""Dispatch of the command line's sub-commands, with expected errors turned into messages."""

import os
import sys

from training.callbacks import TrainingError
from training.data import DataError
from zoo.saving import ModelFolderError

EXPECTED_ERRORS = (DataError, TrainingError, ModelFolderError, ValueError)


def run(command, args, verbose=1):
    """Runs `command`; returns the process exit status (2 with a message for bad input)."""
    try:
        if command == "train":
            from training.train import summary, train

            out, metrics = train(args, verbose=verbose)
            print(summary(out, metrics))
            return 0
        if command == "evaluate":
            from training.evaluate import evaluate, format_results, parse_metrics

            results = evaluate(args["model"], parse_metrics(args["metrics"]),
                               num_samples=args["num_samples"], max_images=args["max_images"],
                               seed=args["seed"], write=not args["no_write"], verbose=verbose)
            print(format_results(results))
            return 0
        if command == "plot":
            import zoo
            from training import data as data_lib
            from training.plotting import plot
            from zoo.presets import resolve
            from zoo.saving import read_json

            folder = resolve(args["model"])
            model = zoo.load(folder, compile=False)
            recipe = read_json(os.path.join(folder, "metadata.json")).get("recipe", {})
            arrays = data_lib.prepare(data_lib.load_dataset(recipe.get("dataset", "mnist")),
                                      recipe.get("binarization", "dynamic"))
            path = plot(model, args["kind"], args["out"] or f"{args['kind']}.png",
                        arrays["x_test"], arrays["y_test"], seed=args["seed"])
            print(f"Picture: {path}")
            return 0
        if command == "make-preset":
            from training.evaluate import format_results
            from training.preset_builder import make_preset

            folder, results = make_preset(args["name"], from_run=args["from_run"],
                                          num_samples=args["num_samples"], verbose=verbose)
            print(f"Preset: {folder}\n{format_results(results)}")
            return 0
        if command == "leaderboard":
            from training.leaderboard import write_leaderboard

            print(f"Leaderboard: {write_leaderboard()}")
            return 0
        if command == "train-classifier":
            from training.classifier import default_classifier_path, train_classifier

            out, metrics = train_classifier(args["out"] or default_classifier_path(),
                                            epochs=args["epochs"], verbose=verbose)
            print(f"Classifier: {out}; test accuracy {metrics['test_accuracy']:.4f}")
            return 0
        if command == "export":
            import zoo
            from zoo.export import docker_command, export_model

            model = zoo.load(args["model"], compile=False)
            path = export_model(model, args["out"], version=args.get("version"),
                                name=args.get("name"))
            name = args.get("name") or os.path.basename(os.path.abspath(args["out"]))
            print(f"SavedModel: {path}\nTF Serving config: "
                  f"{os.path.join(os.path.abspath(args['out']), 'models.config')}\n"
                  f"Serve it with:\n  {docker_command(args['out'], name)}\n"
                  f"REST: http://localhost:8501/v1/models/{name}:predict, gRPC: localhost:8500")
            return 0
        if command == "benchmark":
            from training.serving_benchmark import report

            print(report(args["export_dir"], args["repeats"]))
            return 0
        raise ValueError(f"Unknown command {command!r}.")
    except EXPECTED_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
