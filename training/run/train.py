"""The training recipe behind `python -m training train`: data, model, `fit`, evaluation, folder.

A run works in `<out>.partial/` (recipe, BackupAndRestore checkpoint, TensorBoard logs) and only
at the end writes the model folder `<out>/` through a temporary folder and a rename, so a run
killed midway leaves the previous `<out>/` intact; `--resume` continues from the checkpoint.

`--out` is checked before any work: a folder that is not a model folder (nor empty) is never
replaced, and a model folder only with `--overwrite` (or by `--resume`, which finishes the run
that was started there). The work folder holds a lock file (zoo.atomic.folder_lock), so a second
run into the same `--out` refuses at once.
"""

import contextlib
import json
import os
import platform
import shutil
import sys
import time

import keras
import numpy as np

import zoo
from training import data as data_lib
from training import pictures
from training.evaluation import protocols as evaluation
from training.evaluation.suite import format_results
from training.run import distribute
from training.evaluation.classifier import default_classifier_path
from training.run.callbacks import (
    ClassCoverageMonitor, EpochHistory, KeepBest, SampleGridToTensorBoard, StopOnNaN, TimeLimit,
    TrainingError, WallClock)
from training.run.options import model_arguments, reproducing_command, resolve_recipe
from zoo.atomic import LOCK_FILE, TMP_PREFIX, folder_lock, write_json
from zoo.saving import ModelFolderError, check_target

HISTORY = "history.json"  # every epoch's logged values (EpochHistory), kept in the model folder
MNIST_SHAPE = (28, 28, 1)  # the images the zoo's classifier reads (the mode-collapse monitor)


def build_model(recipe, event_shape, steps_per_epoch, num_training_images=None, palette=None):
    """The model and its compiled optimizer(s) described by `recipe`; the model's options in
    units of the run (warm-up epochs, one prior component per training image, the data set's
    palette) are converted with these facts of the run."""
    cls = zoo.get_model(recipe["model"])
    arguments = model_arguments(recipe, {"steps_per_epoch": steps_per_epoch,
                                         "num_training_images": num_training_images,
                                         "palette": palette})
    model = cls(event_shape=event_shape, seed=recipe["seed"], **arguments)
    learning_rate = recipe["learning_rate"]
    if recipe["lr_schedule"] == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=recipe["epochs"] * steps_per_epoch, alpha=0.1)
    # A model with several optimizer groups gets a copy of this optimizer for each group.
    model.compile(optimizer=keras.optimizers.Adam(learning_rate,
                                                  beta_1=recipe.get("adam_beta_1", 0.9),
                                                  clipnorm=recipe.get("clipnorm")),
                  jit_compile=recipe["jit_compile"],
                  steps_per_execution=int(recipe["steps_per_execution"]))
    return model


def train(args, verbose=1):
    """Runs a training recipe end to end; returns (model folder, metrics dict)."""
    args = dict(args)
    overwrite = bool(args.pop("overwrite", None))
    resume = bool(args.get("resume"))
    given = args.get("out")
    # Checked before any work, so that a refused --out costs nothing and touches nothing.
    out = check_target(given if given is not None else resolve_recipe(args)["out"],
                       overwrite=overwrite or resume)
    recipe = _resumed_recipe(args, out) if resume else resolve_recipe(args)
    kind = distribute.resolve_strategy(recipe["strategy"])
    distribute.check_options(kind, recipe["steps_per_execution"])
    strategy = distribute.make_strategy(kind)  # before other TF work, as multi-worker needs
    chief = distribute.is_chief(strategy)
    # Non-chief workers checkpoint into their own folder (TF requires distinct paths per worker).
    work = out + (".partial" if chief else f".worker{distribute.worker_index(strategy)}.partial")
    try:
        os.makedirs(work, exist_ok=True)
    except OSError as e:
        raise TrainingError(f"Cannot create the work folder {work}: {e.strerror}. Pick a "
                            "writable --out with free space.") from e
    with folder_lock(work):
        if not resume:
            _start_afresh(work, args.get("restart"))
        # A resumed run records what it now runs (e.g. a new --epochs), so that the next
        # --resume continues with it rather than with the first run's recipe.
        write_json(os.path.join(work, "recipe.json"), recipe)
        result = _run(recipe, out, work, kind, strategy, chief, overwrite or resume, verbose)
        _empty_work_folder(work)
    with contextlib.suppress(OSError):  # empty but for a lock another run may take meanwhile
        os.rmdir(work)
    return result


def _start_afresh(work, restart):
    """Readies the work folder of a new run: an unfinished run's checkpoint is discarded only
    with --restart, and a folder a run did not write (no recipe.json) is never emptied."""
    if os.path.exists(os.path.join(work, "checkpoint")) and not restart:
        raise TrainingError(
            f"An unfinished run with a checkpoint is in {work}. Pass --resume to continue "
            "it, or --restart to discard it and start again.")
    foreign = [n for n in os.listdir(work) if n != LOCK_FILE and not n.startswith(TMP_PREFIX)]
    if foreign and not os.path.exists(os.path.join(work, "recipe.json")):
        raise TrainingError(
            f"{work} holds files a training run did not write ({', '.join(sorted(foreign)[:3])}"
            f"{', ...' if len(foreign) > 3 else ''}); refusing to delete them. Move them away or "
            "choose another --out.")
    _empty_work_folder(work)  # at most a run that never reached a checkpoint, or --restart


def _empty_work_folder(work):
    """Deletes everything in a run's work folder but its lock file."""
    for name in os.listdir(work):
        if name != LOCK_FILE:
            path = os.path.join(work, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.remove(path)


def _run(recipe, out, work, kind, strategy, chief, overwrite, verbose):
    """Trains, evaluates and writes the model folder (the work of `train` under its lock)."""
    run = prepare_run(recipe, strategy)
    dataset, arrays, model = run["dataset"], run["arrays"], run["model"]
    steps_per_epoch, global_batch = run["steps_per_epoch"], run["global_batch"]
    data_note = run["data_note"]
    if verbose:
        print(f"{type(model).__name__}: {model.count_params():,} parameters; data: "
              f"{dataset.source}; {arrays['protocol']}{data_note}; strategy {kind} "
              f"({strategy.num_replicas_in_sync} replicas, global batch {global_batch}), "
              f"precision {recipe['precision']}.")
    # Monitors add values to each epoch's logs, so they run before the callbacks that record
    # the logs (TensorBoard, EpochHistory).
    monitors = []
    if model.capabilities.adversarial and model.event_shape == MNIST_SHAPE:
        monitors.append(ClassCoverageMonitor(default_classifier_path(), seed=recipe["seed"]))
    callbacks = [StopOnNaN(), WallClock(os.path.join(work, "wall_time.json")),
                 TimeLimit(recipe["time_limit"]),
                 EpochHistory(os.path.join(work, HISTORY), monitors),
                 SampleGridToTensorBoard(os.path.join(work, "logs", "samples"),
                                         seed=recipe["seed"]),
                 *model.training_callbacks(arrays)]
    keep_best = KeepBest(work) if recipe.get("keep_best") else None
    if keep_best:
        callbacks.append(keep_best)
    if kind == "multiworker":
        distribute.train_multiworker(
            model, strategy, recipe, work, steps_per_epoch, global_batch,
            lambda batch, shard: training_data(model.capabilities, {**recipe, "batch_size": batch,
                                                       "seed": recipe["seed"] + shard[0]},
                                               arrays, shard=shard)[0],
            monitors + callbacks, verbose)
    else:
        _fit(model, recipe, work, run["train_ds"], run["val_ds"], verbose, callbacks, monitors)
    train_seconds = callbacks[1].seconds
    if callbacks[2].stopped:
        raise TimeLimitReached(
            f"Stopped after {train_seconds / 60:.1f} minutes (--time-limit "
            f"{recipe['time_limit']:g}) at epoch {callbacks[2].stopped}; the checkpoint is in "
            f"{work}. Continue with: python -m training train --out {recipe['out']} --resume")
    if not chief:  # only the chief evaluates and writes the model folder
        return None, {"weights_sha256": distribute.weights_digest(model),
                      "train_seconds": round(train_seconds, 1)}

    metrics = evaluation.standard_metrics(model, arrays["x_test"], recipe["nll_samples"],
                                          arrays["protocol"], verbose=verbose,
                                          y_test=arrays["y_test"],
                                          targets=data_lib.method_targets(model.capabilities,
                                                                          arrays, "test"))
    metrics.update(dataset=recipe["dataset"], epochs=recipe["epochs"],
                   train_seconds=round(train_seconds, 1))
    if keep_best:
        metrics.update(best_epoch=keep_best.best_epoch, best_val_loss=keep_best.best)
        metrics["protocol"]["best_epoch"] = (
            "--keep-best: the weights of the epoch with the lowest validation loss")
    metadata = {
        "recipe": recipe, "command": reproducing_command(recipe), "seed": recipe["seed"],
        "data": {"dataset": recipe["dataset"], "source": dataset.source,
                 "protocol": arrays["protocol"] + data_note,
                 "split": dataset.info.get("split", f"{len(arrays['x_train'])} train / "
                                           f"{len(arrays['x_val'])} validation / "
                                           f"{len(arrays['x_test'])} test")},
        "hardware": {"machine": platform.machine(), "processor": platform.processor(),
                     "cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "distribution": {"strategy": kind, "replicas": strategy.num_replicas_in_sync,
                         "global_batch_size": global_batch, "precision": recipe["precision"]},
        "train_seconds": round(train_seconds, 1),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    def write_pictures(folder):
        pictures.write_run_pictures(model, folder, arrays["x_test"],
                                    pictures.picture_targets(model, arrays))
        shutil.copytree(os.path.join(work, "logs"), os.path.join(folder, "logs"))
        if os.path.exists(os.path.join(work, HISTORY)):
            shutil.copy(os.path.join(work, HISTORY), os.path.join(folder, HISTORY))

    try:
        zoo.save(model, out, metadata=metadata, metrics=metrics, write_extra=write_pictures,
                 overwrite=overwrite)
    except ModelFolderError as e:
        raise TrainingError(f"{e} The trained run is kept in {work}; once fixed, write its "
                            f"model folder with: python -m training train --out "
                            f"{recipe['out']} --resume") from e
    return out, metrics


class TimeLimitReached(TrainingError):
    """The run stopped at its --time-limit; its checkpoint is kept for --resume."""


def _resumed_recipe(args, out):
    """The recipe saved with the unfinished run in `<out>.partial`; only --epochs and the
    options of where and how fast it runs may change (a note says which given options are
    kept from the checkpoint instead)."""
    recipe_path = os.path.join(out + ".partial", "recipe.json")
    if not os.path.exists(recipe_path):
        raise TrainingError(f"Nothing to resume: {out}.partial holds no checkpoint. Start a new "
                            "run without --resume.")
    with open(recipe_path) as f:
        saved = json.load(f)
    changeable = ("epochs", "time_limit", "strategy", "steps_per_execution", "checkpoint_steps",
                  "jit_compile")
    recipe = {**saved, **{k: args[k] for k in changeable if args.get(k) is not None}}
    ignored = sorted(k for k, v in args.items() if v is not None and k not in changeable
                     and k not in ("out", "resume", "restart", "overwrite")
                     and saved.get(k) != v)
    if ignored:
        print("Note: resuming keeps the checkpoint's "
              + ", ".join("--" + k.replace("_", "-") + f" {saved.get(k)!r}" for k in ignored)
              + " (the optimizer state, schedule included, continues as saved); start a new run "
              "to change them.")
    recipe = resolve_recipe(recipe)  # re-checked, so an edited recipe.json cannot slip through
    print(f"Resuming {out}.partial (recipe from the checkpoint, {recipe['epochs']} epochs).")
    return recipe


def _fit(model, recipe, work, train_ds, val_ds, verbose, callbacks, monitors=()):
    """Keras `fit` with the run's callbacks and a checkpoint each epoch."""
    callbacks = [keras.callbacks.BackupAndRestore(os.path.join(work, "checkpoint"),
                                                  delete_checkpoint=False),
                 *monitors, keras.callbacks.TensorBoard(os.path.join(work, "logs")), *callbacks]
    model.fit(train_ds, epochs=recipe["epochs"], validation_data=val_ds, callbacks=callbacks,
              shuffle=False, verbose=verbose)  # the pipeline shuffles


def prepare_run(recipe, strategy):
    """Data, pipelines and the compiled model of a recipe under a strategy (what `train` and
    the benchmark share): a dict with dataset, arrays, train_ds, val_ds, steps_per_epoch,
    data_note, global_batch and model."""
    keras.utils.set_random_seed(recipe["seed"])
    dataset = data_lib.load_dataset(recipe["dataset"], recipe["data_path"])
    arrays = data_lib.prepare(dataset, recipe["binarization"])
    if recipe.get("exclude_classes"):
        arrays = data_lib.without_classes(arrays, recipe["exclude_classes"])
    # --batch-size is per replica; the pipeline of `fit` yields global batches.
    global_batch = recipe["batch_size"] * strategy.num_replicas_in_sync
    train_ds, val_ds, steps_per_epoch, data_note = training_data(
        zoo.get_model(recipe["model"]).capabilities, {**recipe, "batch_size": global_batch},
        arrays)
    with strategy.scope(), distribute.precision(recipe["precision"]):
        model = build_model(recipe, dataset.event_shape, steps_per_epoch,
                            num_training_images=len(arrays["x_train"]),
                            palette=dataset.info.get("palette"))
    if model.modality != dataset.modality:
        raise data_lib.DataError(
            f"{type(model).__name__} (as configured) reads {model.modality} data, but "
            f"{recipe['dataset']!r} holds {dataset.modality} data. Pick a data set of that "
            "modality or configure the model for this one (e.g. --likelihood categorical for "
            "palette images).")
    return {"dataset": dataset, "arrays": arrays, "train_ds": train_ds, "val_ds": val_ds,
            "steps_per_epoch": steps_per_epoch, "data_note": data_note,
            "global_batch": global_batch, "model": model}


def training_data(capabilities, recipe, arrays, shard=None):
    """(train dataset, validation dataset, steps per epoch, note on labels) for a model class
    with these capabilities.

    Batches carry what `capabilities.training_targets` asks for: nothing (x only),
    "labels" (all of them, or `labels_per_class` per class with -1 elsewhere for
    semi-supervised models), "index" (each image's position in the training set) or "mask"
    (the step masks of sequences; see `data.batch_targets`). `shard` =
    (index, count) keeps one worker's share of the training images (multi-worker training).
    """
    x, y = arrays["x_train"], arrays["y_train"]
    batch = recipe["batch_size"]
    if capabilities.semi_supervised and recipe.get("labels_per_class"):
        labelled = data_lib.labelled_subset(y, int(recipe["labels_per_class"]), recipe["seed"])
        train_ds = data_lib.semi_supervised_pipeline(
            x, y, labelled, batch, int(recipe["labelled_batch_size"]), arrays["dynamic"],
            seed=recipe["seed"], shard=shard)
        note = (f"; {len(labelled)} labelled training images ({recipe['labels_per_class']} per "
                f"class, chosen with seed {recipe['seed']}), the other {len(x) - len(labelled)} "
                f"unlabelled; each batch: {batch} unlabelled + {recipe['labelled_batch_size']} "
                "labelled")
        steps = max(1, (len(x) - len(labelled)) // batch)
    else:
        train_ds = data_lib.train_pipeline(x, batch, arrays["dynamic"], seed=recipe["seed"],
                                           y=data_lib.batch_targets(capabilities, arrays,
                                                                    "train"), shard=shard)
        note, steps = "", max(1, len(x) // batch)
    val_y = data_lib.batch_targets(capabilities, arrays, "val")
    return train_ds, data_lib.eval_pipeline(arrays["x_val"], 500, val_y), steps, note


def summary(out, metrics):
    """The lines printed at the end of a run."""
    if out is None:  # a non-chief worker of a multi-worker run
        return (f"Worker done in {metrics['train_seconds']:.0f} s; weights sha256 "
                f"{metrics['weights_sha256']} (the chief writes the model folder)")
    lines = [f"Model folder: {out}", format_results(metrics)]
    lines.append(f"Trained {metrics['epochs']} epochs in {metrics['train_seconds']:.0f} s")
    lines += [f"Pictures: {os.path.join(out, name)}" for name in sorted(os.listdir(out))
              if name.endswith(".png")]
    return "\n".join(lines)
