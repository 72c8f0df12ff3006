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
