"""Dispatch of the command line's sub-commands, with expected errors turned into messages."""

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
        raise ValueError(f"Unknown command {command!r}.")
    except EXPECTED_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
