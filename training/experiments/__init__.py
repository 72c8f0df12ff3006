"""Experiments: studies that run on finished model folders and write their results, pictures and
a model-card section into a preset folder. One registry, as for models and data sets.

An experiment is registered once, in the module that implements it; the command line adds one
sub-command per registered experiment (`add_arguments` fills its parser, `run` does the work) and
the preset builder asks every experiment a preset recipe lists (`"experiments": [...]`) for its
part of the model card (`card_section`).

    register_experiment(Experiment(
        name="compare", help="a model against a baseline trained with the same recipe",
        add_arguments=add_arguments, run=run, card_section=card_section))

    EXPERIMENTS["compare"].run({"model": "...", "baseline": "...", ...}, verbose=1)
"""

import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registered experiment.

    Args:
        name: the sub-command (`python -m training NAME ...`) and the name preset recipes list.
        help: one line for `--help`.
        add_arguments: `add_arguments(parser)` adds the experiment's arguments to its argparse
            sub-command parser.
        run: `run(args, verbose)` with `args` the parsed arguments as a dict; does the work and
            prints a short summary.
        card_section: `card_section(folder) -> str`, the markdown section of a preset's model
            card ("" when the experiment has not run on that folder).
    """

    name: str
    help: str
    add_arguments: Callable
    run: Callable
    card_section: Callable


EXPERIMENTS = {}


def register_experiment(experiment):
    """Adds `experiment` to `EXPERIMENTS` under its name; returns it."""
    if not isinstance(experiment, Experiment):
        raise TypeError(f"register_experiment expects an Experiment, got {type(experiment)}.")
    known = EXPERIMENTS.get(experiment.name)
    if known is not None and known != experiment:
        raise ValueError(f"An experiment called {experiment.name!r} is already registered.")
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def get_experiment(name):
    """The registered experiment `name`; a ValueError listing the others otherwise."""
    if name not in EXPERIMENTS:
        raise ValueError(f"Unknown experiment {name!r}; registered: "
                         f"{', '.join(sorted(EXPERIMENTS)) or 'none'}.")
    return EXPERIMENTS[name]


# The built-in experiments register themselves on import (after the registry exists).
from training.experiments import compare  # noqa: E402,F401
