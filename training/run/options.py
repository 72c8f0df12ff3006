"""The options of a training run: the run's own (data, optimisation, speed) and those each model
declares (`Model.options`), checked in one place before any data is read.

A recipe is a dict {option name: value}: the command line builds it from its flags, the preset
recipes write it by hand, and the model folder records it in full (defaults filled in) so that
`reproducing_command` gives back the run.
"""

import shlex

import zoo
from training import data as data_lib
from training.run import distribute
from zoo.capabilities import Option

# What every run takes, whatever the model; models add theirs (`zoo.get_model(name).options`).
RUN_OPTIONS = (
    Option("model", str, zoo.DEFAULT_MODEL, "the model to train (see `python -m training models`)",
           argument=None),
    Option("dataset", str, "mnist", "the data set (see `python -m training datasets`)",
           argument=None),
    Option("data_path", str, None, "where the data set's files are (MNIST: a .npz or a folder "
           "of IDX files; jsb_chorales: the JSON or pickle; midi: a folder of MIDI/MusicXML "
           "files); default: the data set's own loader chain", argument=None),
    Option("binarization", str, None, "dynamic, static or none; default: dynamic for "
           "Bernoulli likelihoods, none otherwise",
           choices=data_lib.BINARIZATIONS, argument=None),
    Option("epochs", int, 20, "epochs to train", minimum=1, argument=None),
    Option("batch_size", int, 100, "images per step (per replica)", minimum=1, argument=None),
    Option("learning_rate", float, 1e-3, "Adam learning rate (every optimizer group)",
           minimum=0, exclusive_minimum=True, argument=None),
    Option("adam_beta_1", float, 0.9, "Adam's beta_1, the decay of its first moment (every "
           "optimizer group; GANs train with 0.5)", minimum=0, maximum=0.999, argument=None),
    Option("clipnorm", float, None, "clip each gradient to this norm (default: no clipping; "
           "recurrent models such as DRAW train more stably with 10)", minimum=0,
           exclusive_minimum=True, argument=None),
    Option("lr_schedule", str, "constant", "constant, or cosine decay to 10% over the run",
           choices=("constant", "cosine"), argument=None),
    Option("seed", int, 0, "random seed", minimum=0, maximum=2**31 - 1, argument=None),
    Option("nll_samples", int, 5000, "k of the importance-sampled test NLL", minimum=1,
           maximum=10**6, argument=None),
    Option("jit_compile", bool, False, "XLA-compile the training step", argument=None),
    Option("strategy", str, "auto", "auto (multiworker if TF_CONFIG is set, mirrored with "
           "several GPUs, else none), none, mirrored or multiworker",
           choices=distribute.STRATEGIES, argument=None),
    Option("precision", str, "float32", "float32, mixed_float16 or mixed_bfloat16",
           choices=distribute.PRECISIONS, argument=None),
    Option("steps_per_execution", int, 1, "training steps per call of the compiled function",
           minimum=1, argument=None),
    Option("checkpoint_steps", int, 0, "multiworker: also checkpoint every N steps (0: at the "
           "end of each epoch only)", minimum=0, argument=None),
    Option("time_limit", float, None, "stop after the first epoch that ends past this many "
           "minutes, keeping the checkpoint (continue with --resume)", minimum=0,
           exclusive_minimum=True, argument=None),
    Option("keep_best", bool, False, "at the end, keep the weights of the epoch with the lowest "
           "validation loss (kept across --resume)", argument=None),
    Option("exclude_classes", list, None, "train and validate without the examples of these "
           "classes; the test set keeps them (the anomaly detection protocol)", minimum=0,
           argument=None),
    Option("out", str, None, "model folder (default runs/<model>_<dataset>)", argument=None),
)
RUN_OPTION_NAMES = {o.name for o in RUN_OPTIONS}
# Options that say where or how fast a run goes, not what it learns: left out of the
# reproducing command and of the comparison of a run with its preset recipe.
PLACEMENT_OPTIONS = ("out", "data_path", "jit_compile", "strategy", "steps_per_execution",
                     "checkpoint_steps", "time_limit")


def model_options(model_name):
    """{name: Option} of the model called `model_name`."""
    return {o.name: o for o in zoo.get_model(model_name).options}


def all_model_options():
    """{option name: [(model name, Option)]} over every registered model, for the CLI."""
    found = {}
    for name in zoo.list_models():
        for option in zoo.get_model(name).options:
            if option.name not in RUN_OPTION_NAMES:
                found.setdefault(option.name, []).append((name, option))
    return found


def resolve_recipe(args):
    """The full recipe of a run from the options given (None = not given): every value checked
    against its declaration, defaults filled in, options the model does not take refused."""
    given = {k: v for k, v in args.items() if v is not None and k not in ("resume", "restart")}
    run = {o.name: o for o in RUN_OPTIONS}
    recipe = {}
    for name, option in run.items():
        recipe[name] = option.check(given.get(name, option.default))
    declared = model_options(recipe["model"])  # an unknown model raises with the choices
    unknown = sorted(set(given) - set(run) - set(declared))
    if unknown:
        elsewhere = all_model_options()
        details = []
        for name in unknown:
            models = [m for m, _ in elsewhere.get(name, [])]
            flag = "--" + name.replace("_", "-")
            details.append(f"{flag} (an option of: {', '.join(models)})" if models else flag)
        raise ValueError(f"Model {recipe['model']!r} does not take {'; '.join(details)}.")
    for name, option in declared.items():
        recipe[name] = option.check(given.get(name, option.default))
    if recipe["dataset"] not in data_lib.DATASETS:
        data_lib.load_dataset(recipe["dataset"])  # raises with the list of data sets
    if recipe["binarization"] is None:
        recipe["binarization"] = ("dynamic" if recipe.get("likelihood", "bernoulli") == "bernoulli"
                                  and data_lib.DATASETS[recipe["dataset"]].modality == "image"
                                  else "none")
    if recipe["out"] is None:
        recipe["out"] = f"runs/{recipe['model']}_{recipe['dataset']}"
    distribute.resolve_strategy(recipe["strategy"])  # multiworker without TF_CONFIG, ...
    return recipe


def model_arguments(recipe, run_facts):
    """Constructor arguments of the recipe's model: each declared option's value, converted
    where the option is expressed in units of the run (`run_facts`: steps_per_epoch,
    num_training_images)."""
    arguments = {}
    for name, option in model_options(recipe["model"]).items():
        arguments.update(option.arguments(recipe.get(name), run_facts))
    return arguments


def reproducing_command(recipe):
    """The `python -m training train ...` line of a recipe (without where and how fast it ran)."""
    parts = ["python -m training train"]
    declared = model_options(recipe["model"])
    for name, value in sorted(recipe.items()):
        if name in PLACEMENT_OPTIONS or value is None or value is False:
            continue
        if name in declared and declared[name].when and not declared[name].when(recipe):
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            parts.append(flag)
        else:
            text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
            parts.append(f"{flag} {shlex.quote(text)}")
    return " ".join(parts)
