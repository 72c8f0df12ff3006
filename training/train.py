"""The training recipe behind `python -m training train`: data, model, `fit`, evaluation, folder.

A run works in `<out>.partial/` (recipe, BackupAndRestore checkpoint, TensorBoard logs) and only
at the end writes the model folder `<out>/` through a temporary folder and a rename, so a run
killed midway leaves the previous `<out>/` intact; `--resume` continues from the checkpoint.
"""

import inspect
import json
import os
import platform
import shlex
import shutil
import sys
import time

import keras
import numpy as np

import zoo
from training import data as data_lib
from training import distribute, evaluation, plotting
from training.callbacks import SampleGridToTensorBoard, StopOnNaN, TrainingError, WallClock
from zoo.saving import write_json

DEFAULTS = {
    "model": "vae", "dataset": "mnist", "data_path": None, "epochs": 20, "batch_size": 100,
    "latent_dim": 50, "hidden_units": [200, 200], "network": "mlp", "activation": "tanh",
    "conv_filters": [32, 64], "likelihood": "bernoulli", "posterior": "diagonal",
    "prior": "normal", "beta": 1.0, "kl_warmup_epochs": 0, "num_importance_samples": 50,
    "num_pseudo_inputs": 500, "num_components": None, "lambda1": None, "lambda2": None,
    "learning_rate": 1e-3, "lr_schedule": "constant", "binarization": None, "seed": 0,
    "nll_samples": 5000, "out": None, "jit_compile": False,
    "labels_per_class": None, "labelled_batch_size": 100, "alpha": None, "m1": None,
    "strategy": "auto", "precision": "float32", "steps_per_execution": 1, "checkpoint_steps": 0,
}


def accepted_arguments(cls):
    """Constructor argument names of `cls` and of the zoo classes it passes **kwargs to."""
    names = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("zoo") and "__init__" in vars(klass):
            names |= set(inspect.signature(klass.__init__).parameters) - {"self", "kwargs"}
    return names


def build_model(recipe, event_shape, steps_per_epoch, num_training_images=None):
    """The model and its compiled optimizer described by `recipe` (`num_training_images` is
    the default of models with one prior component per training image, the GAE)."""
    cls = zoo.get_model(recipe["model"])
    candidates = {
        "event_shape": event_shape, "latent_dim": recipe["latent_dim"],
        "network": recipe["network"], "hidden_units": recipe["hidden_units"],
        "activation": recipe["activation"], "conv_filters": recipe["conv_filters"],
        "likelihood": recipe["likelihood"], "posterior": recipe["posterior"],
        "prior": recipe["prior"], "beta": recipe["beta"],
        "kl_warmup_steps": recipe["kl_warmup_epochs"] * steps_per_epoch,
        "num_importance_samples": recipe["num_importance_samples"],
        "num_pseudo_inputs": recipe["num_pseudo_inputs"], "seed": recipe["seed"],
        "num_components": recipe.get("num_components") or num_training_images,
        "lambda1": recipe.get("lambda1"), "lambda2": recipe.get("lambda2"),
        "alpha": recipe.get("alpha"), "m1": recipe.get("m1"),
    }
    accepted = accepted_arguments(cls)
    model = cls(**{k: v for k, v in candidates.items() if k in accepted and v is not None})
    learning_rate = recipe["learning_rate"]
    if recipe["lr_schedule"] == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=recipe["epochs"] * steps_per_epoch, alpha=0.1)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  jit_compile=recipe["jit_compile"],
                  steps_per_execution=int(recipe["steps_per_execution"]))
    return model


def resolve_recipe(args):
    """Fills defaults and checks names early, before any data is read."""
    recipe = dict(DEFAULTS)
    recipe.update({k: v for k, v in args.items() if v is not None})
    zoo.get_model(recipe["model"])  # raises with the list of models
    if recipe["dataset"] not in data_lib.DATASETS:
        raise data_lib.DataError(f"Unknown dataset {recipe['dataset']!r}; choose one of: "
                                 f"{', '.join(sorted(data_lib.DATASETS))}.")
    if recipe["binarization"] is None:
        recipe["binarization"] = "dynamic" if recipe["likelihood"] == "bernoulli" else "none"
    if recipe["out"] is None:
        recipe["out"] = os.path.join("runs", f"{recipe['model']}_{recipe['dataset']}")
    for key in ("epochs", "batch_size", "latent_dim", "nll_samples", "steps_per_execution"):
        if int(recipe[key]) < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be at least 1, got {recipe[key]}.")
    distribute.resolve_strategy(recipe["strategy"])  # unknown names, multiworker without TF_CONFIG
    if recipe["precision"] not in distribute.PRECISIONS:
        raise ValueError(f"Unknown precision {recipe['precision']!r}; choose one of: "
                         f"{', '.join(distribute.PRECISIONS)}.")
    return recipe


def train(args, verbose=1):
    """Runs a training recipe end to end; returns (model folder, metrics dict)."""
    recipe = resolve_recipe(args)
    out = os.path.abspath(recipe["out"])
    kind = distribute.resolve_strategy(recipe["strategy"])
    distribute.check_options(kind, recipe["steps_per_execution"])
    strategy = distribute.make_strategy(kind)  # before other TF work, as multi-worker needs
    chief = distribute.is_chief(strategy)
    # Non-chief workers checkpoint into their own folder (TF requires distinct paths per worker).
    work = out + (".partial" if chief else f".worker{distribute.worker_index(strategy)}.partial")
    recipe_path = os.path.join(work, "recipe.json")
    if args.get("resume"):
        if not os.path.exists(recipe_path):
            raise TrainingError(f"Nothing to resume: {work} holds no checkpoint. Start a new run "
                                "without --resume.")
        with open(recipe_path) as f:
            saved = json.load(f)
        # The architecture comes from the checkpoint; only --epochs may change on resume.
        recipe = {**saved, "epochs": args.get("epochs") or saved["epochs"], "resume": True}
        recipe.pop("restart", None)
        print(f"Resuming {work} (recipe from the checkpoint, {recipe['epochs']} epochs).")
    else:
        if os.path.exists(os.path.join(work, "checkpoint")) and not args.get("restart"):
            raise TrainingError(
                f"An unfinished run with a checkpoint is in {work}. Pass --resume to continue "
                "it, or --restart to discard it and start again.")
        shutil.rmtree(work, ignore_errors=True)  # at most a run that never reached a checkpoint
        os.makedirs(work)
        write_json(recipe_path, {k: v for k, v in recipe.items() if k not in ("resume", "restart")})

    run = prepare_run(recipe, strategy)
    dataset, arrays, model = run["dataset"], run["arrays"], run["model"]
    train_ds, val_ds, steps_per_epoch = run["train_ds"], run["val_ds"], run["steps_per_epoch"]
    global_batch, data_note = run["global_batch"], run["data_note"]
    if verbose:
        print(f"{type(model).__name__}: {model.count_params():,} parameters; data: "
              f"{dataset.source}; {arrays['protocol']}{data_note}; strategy {kind} "
              f"({strategy.num_replicas_in_sync} replicas, global batch {global_batch}), "
              f"precision {recipe['precision']}.")
    if kind == "multiworker":
        if model.training_callbacks(arrays):
            raise TrainingError(f"{type(model).__name__} needs Keras callbacks during training "
                                "(e.g. the GAE's E-step), which the multi-worker loop does not "
                                "run; use --strategy none or mirrored.")
        train_seconds = distribute.train_multiworker(
            model, strategy, recipe, work, steps_per_epoch, global_batch,
            lambda batch, shard: training_data(type(model), {**recipe, "batch_size": batch,
                                                             "seed": recipe["seed"] + shard[0]},
                                               arrays, shard=shard)[0], verbose)
        if not chief:  # only the chief evaluates and writes the model folder
            shutil.rmtree(work, ignore_errors=True)
            return None, {"weights_sha256": distribute.weights_digest(model),
                          "train_seconds": round(train_seconds, 1)}
    else:
        train_seconds = _fit(model, recipe, work, train_ds, val_ds, verbose,
                             model.training_callbacks(arrays))

    metrics = evaluation.standard_metrics(model, arrays["x_test"], recipe["nll_samples"],
                                          arrays["protocol"], verbose=verbose,
                                          y_test=arrays["y_test"])
    if hasattr(model, "classify"):
        evaluation.add_classification_error(metrics, model, arrays["x_test"], arrays["y_test"])
    metrics.update(dataset=recipe["dataset"], epochs=recipe["epochs"],
                   train_seconds=round(train_seconds, 1))
    command = reproducing_command(recipe, type(model))
    metadata = {
        "recipe": {k: v for k, v in recipe.items() if k not in ("resume", "restart")},
        "command": command, "seed": recipe["seed"],
        "data": {"dataset": recipe["dataset"], "source": dataset.source,
                 "protocol": arrays["protocol"] + data_note,
                 "split": "50k train / 10k validation / 10k test"
                 if recipe["dataset"] == "mnist" else "1197 / 300 / 300"},
        "hardware": {"machine": platform.machine(), "processor": platform.processor(),
                     "cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "distribution": {"strategy": kind, "replicas": strategy.num_replicas_in_sync,
                         "global_batch_size": global_batch, "precision": recipe["precision"]},
        "train_seconds": round(train_seconds, 1),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    def write_pictures(folder):
        plotting.save_png(os.path.join(folder, "samples.png"), plotting.sample_grid(model),
                          title=f"{type(model).__name__}: samples (mean of p(x|z), z ~ p(z))")
        plotting.save_png(os.path.join(folder, "reconstructions.png"),
                          plotting.reconstruction_grid(model, arrays["x_test"][:50],
                                                       y=arrays["y_test"][:50]),
                          title="test inputs (odd rows) and reconstructions (even rows)")
        shutil.copytree(os.path.join(work, "logs"), os.path.join(folder, "logs"))

    zoo.save(model, out, metadata=metadata, metrics=metrics, write_extra=write_pictures)
    shutil.rmtree(work, ignore_errors=True)
    return out, metrics


def _fit(model, recipe, work, train_ds, val_ds, verbose, model_callbacks=()):
    """Keras `fit` with the run's callbacks (checkpoint each epoch) and those the model asks
    for (`model.training_callbacks`, e.g. the GAE's E-step); returns the wall time."""
    clock = WallClock(os.path.join(work, "wall_time.json"))
    callbacks = [
        StopOnNaN(),
        keras.callbacks.BackupAndRestore(os.path.join(work, "checkpoint"),
                                         delete_checkpoint=False),
        keras.callbacks.TensorBoard(os.path.join(work, "logs")),
        SampleGridToTensorBoard(os.path.join(work, "logs", "samples"), seed=recipe["seed"]),
        clock, *model_callbacks,
    ]
    model.fit(train_ds, epochs=recipe["epochs"], validation_data=val_ds, callbacks=callbacks,
              shuffle=False, verbose=verbose)  # the pipeline shuffles
    return clock.seconds


def prepare_run(recipe, strategy):
    """Data, pipelines and the compiled model of a recipe under a strategy (what `train` and
    the benchmark share): a dict with dataset, arrays, train_ds, val_ds, steps_per_epoch,
    data_note, global_batch and model."""
    keras.utils.set_random_seed(recipe["seed"])
    dataset = data_lib.load_dataset(recipe["dataset"], recipe["data_path"])
    arrays = data_lib.prepare(dataset, recipe["binarization"])
    # --batch-size is per replica; the pipeline of `fit` yields global batches.
    global_batch = recipe["batch_size"] * strategy.num_replicas_in_sync
    train_ds, val_ds, steps_per_epoch, data_note = training_data(
        zoo.get_model(recipe["model"]), {**recipe, "batch_size": global_batch}, arrays)
    with strategy.scope(), distribute.precision(recipe["precision"]):
        model = build_model(recipe, dataset.event_shape, steps_per_epoch,
                            num_training_images=len(arrays["x_train"]))
    return {"dataset": dataset, "arrays": arrays, "train_ds": train_ds, "val_ds": val_ds,
            "steps_per_epoch": steps_per_epoch, "data_note": data_note,
            "global_batch": global_batch, "model": model}


def training_data(model_class, recipe, arrays, shard=None):
    """(train dataset, validation dataset, steps per epoch, note on labels) for a model class.

    Batches carry what `model_class.training_targets` asks for: nothing (x only), "labels"
    (all of them, or `labels_per_class` per class with -1 elsewhere: semi-supervised), or
    "index" (each image's position in the training set). `shard` = (index, count) keeps one
    worker's share of the training images (multi-worker training).
    """
    x, y = arrays["x_train"], arrays["y_train"]
    targets, batch = model_class.training_targets, recipe["batch_size"]
    if targets not in TARGETS:
        raise ValueError(f"{model_class.__name__}.training_targets is {targets!r}; expected one "
                         f"of {sorted(TARGETS, key=str)}.")
    known = TARGETS[targets]
    if targets == "labels" and recipe.get("labels_per_class"):
        if shard is not None:
            raise ValueError("Semi-supervised training (--labels-per-class) does not support "
                             "--strategy multiworker yet; use none or mirrored.")
        labelled = data_lib.labelled_subset(y, int(recipe["labels_per_class"]), recipe["seed"])
        train_ds = data_lib.semi_supervised_pipeline(
            x, y, labelled, batch, int(recipe["labelled_batch_size"]), arrays["dynamic"],
            seed=recipe["seed"])
        note = (f"; {len(labelled)} labelled training images ({recipe['labels_per_class']} per "
                f"class, chosen with seed {recipe['seed']}), the other {len(x) - len(labelled)} "
                f"unlabelled; each batch: {batch} unlabelled + {recipe['labelled_batch_size']} "
                "labelled")
        steps = max(1, (len(x) - len(labelled)) // batch)
    else:
        train_ds = data_lib.train_pipeline(x, batch, arrays["dynamic"], seed=recipe["seed"],
                                           y=known[0](y, len(x)), shard=shard)
        note, steps = "", max(1, len(x) // batch)
    val_y = known[1](arrays["y_val"], len(arrays["x_val"]))
    return train_ds, data_lib.eval_pipeline(arrays["x_val"], 500, val_y), steps, note


TARGETS = {  # training_targets -> (y of the training pipeline, y of validation); None: x only
    None: (lambda y, n: None, lambda y, n: None),
    "labels": (lambda y, n: y.astype(np.int32), lambda y, n: y.astype(np.int32)),
    # validation images are not training points: index -1, no component is left out
    "index": (lambda y, n: np.arange(n, dtype=np.int32),
              lambda y, n: np.full(n, -1, np.int32)),
}


MODEL_ONLY_OPTIONS = {  # recipe keys that only some model classes or networks use
    "posterior": "posterior", "beta": "beta", "kl_warmup_epochs": "kl_warmup_steps",
    "num_importance_samples": "num_importance_samples",
    "num_pseudo_inputs": "num_pseudo_inputs", "alpha": "alpha", "m1": "m1",
    "num_components": "num_components", "lambda1": "lambda1", "lambda2": "lambda2",
}


def reproducing_command(recipe, model_class):
    """The `python -m training train ...` line of a recipe, without options the model ignores."""
    accepted = accepted_arguments(model_class)
    skip = {"resume", "restart", "out", "data_path", "jit_compile", "strategy",
            "steps_per_execution", "checkpoint_steps"}
    if not recipe.get("labels_per_class"):
        skip |= {"labels_per_class", "labelled_batch_size"}
    skip |= {k for k, arg in MODEL_ONLY_OPTIONS.items() if arg not in accepted}
    if recipe.get("network") != "conv":
        skip.add("conv_filters")
    return "python -m training train " + " ".join(
        f"--{k.replace('_', '-')} {shlex.quote(_cli_value(v))}" for k, v in sorted(recipe.items())
        if k not in skip and v is not None)


def _cli_value(value):
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def summary(out, metrics):
    """The lines printed at the end of a run."""
    if out is None:  # a non-chief worker of a multi-worker run
        return (f"Worker done in {metrics['train_seconds']:.0f} s; weights sha256 "
                f"{metrics['weights_sha256']} (the chief writes the model folder)")
    lines = [f"Model folder: {out}"]
    if "test_nll" in metrics:
        lines.append(f"Test NLL: {metrics['test_nll']:.2f} ± {metrics['test_nll_stderr']:.2f} nats "
                     f"(k={metrics['nll_num_samples']} importance samples, "
                     f"{metrics['test_images']} test images)")
    if "test_elbo" in metrics:
        lines.append(f"Test ELBO: {metrics['test_elbo']:.2f} nats")
    if "test_reconstruction" in metrics:
        lines.append(f"Test reconstruction -log p(x|z): {metrics['test_reconstruction']:.2f} nats")
    lines.append(f"Trained {metrics['epochs']} epochs in {metrics['train_seconds']:.0f} s")
    lines += [f"Samples: {os.path.join(out, 'samples.png')}",
              f"Reconstructions: {os.path.join(out, 'reconstructions.png')}"]
    return "\n".join(lines)
