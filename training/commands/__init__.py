"""The command line `python -m training COMMAND ...` (also installed as `zoo-train`).

The flags of `train` and `benchmark` are built from the declarations: the run's own options
(`training.run.options.RUN_OPTIONS`) and every registered model's `options`, each flag listed
once with its default and the models that take it. Experiments add their own sub-commands
(`training.experiments.EXPERIMENTS`). The work is done in `training.commands.handlers`.
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TF's start-up noise (the cuInit error on machines without a GPU, oneDNN notices, ...) is
# hidden; --tf-log shows it.
TF_LOG = "--tf-log" in sys.argv
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if TF_LOG else "3")


def _import_tensorflow_quietly():
    """Imports TensorFlow and TFP with the C++ start-up messages (written to the stderr file
    descriptor before any Python logging exists) sent to /dev/null."""
    if TF_LOG or "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
        import tensorflow_probability  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


def _option_flag(parser, option, help_text, default_text):
    kwargs = {"dest": option.name, "default": None}
    if option.type is bool:  # --flag, and --no-flag for an option that is on by default
        kwargs["action"] = (argparse.BooleanOptionalAction if option.default else
                            "store_true")
    else:
        # Values are checked (and converted) by Option.check, with a message naming the flag.
        kwargs["metavar"] = {int: "N", float: "X", list: "N,N,..."}.get(option.type, "TEXT")
    parser.add_argument(option.flag, help=f"{help_text}{default_text}".replace("%", "%%"),
                        **kwargs)


def _default_text(default):
    if default is None or default is False:
        return ""
    if isinstance(default, (list, tuple)):
        default = ",".join(map(str, default))
    return f" (default {default})"


def add_option_flags(parser, skip=()):
    """One flag per run option and per model option (models that share a name share a flag)."""
    from training.run.options import RUN_OPTIONS, all_model_options

    run = parser.add_argument_group("run options")
    for option in RUN_OPTIONS:
        if option.name not in skip:
            _option_flag(run, option, option.help, _default_text(option.default))
    group = parser.add_argument_group("model options (each applies to the models named)")
    for name, declared in sorted(all_model_options().items()):
        by_default = {}
        for model, option in declared:
            by_default.setdefault(_default_text(option.default), []).append(model)
        # The default most models share, then the models that differ from it.
        common = max(by_default, key=lambda d: len(by_default[d]))
        others = "".join(f"; {', '.join(models)}:{d.replace(' (default', '').rstrip(')')}"
                         for d, models in by_default.items() if d != common and d)
        text = f" [{', '.join(m for m, _ in declared)}]{common[:-1] if others else common}"
        text += f"{others})" if others else ""
        _option_flag(group, declared[0][1], declared[0][1].help, text)


def parser():
    """The argparse parser of every sub-command."""
    _import_tensorflow_quietly()
    from training.experiments import EXPERIMENTS

    p = argparse.ArgumentParser(prog="python -m training",
                                description="Train, measure, picture and export the generative "
                                            "models of the zoo.")
    p.add_argument("--tf-log", action="store_true", help="show TensorFlow's own log messages")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model and write its model folder")
    add_option_flags(t)
    t.add_argument("--resume", action="store_true", help="continue the unfinished run in --out")
    t.add_argument("--restart", action="store_true",
                   help="discard an unfinished run in --out and start again")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the model folder already in --out (a folder that is not a "
                        "model folder is never replaced)")
    t.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                   help="0 silent, 1 progress bar, 2 one line per epoch (default 1)")

    a = sub.add_parser("anomaly", help="anomaly detection, the MNIST protocol: for each held-out "
                       "digit train on the other nine, score the full test set, AUROC and "
                       "AUPRC next to PCA and kNN baselines")
    add_option_flags(a, skip=("exclude_classes",))
    a.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9",
                   help="the held-out digits, one model each (default 0,...,9)")
    a.add_argument("--score-samples", type=int, default=100,
                   help="k of the importance-sampled -log p(x) of bound models (default 100)")
    a.add_argument("--no-baselines", action="store_true",
                   help="skip the PCA and kNN baselines")
    a.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                   help="0 silent, 1 progress bars, 2 one line per epoch (default 1)")

    sub.add_parser("models", help="list the models with what each can do")
    sub.add_parser("datasets", help="list the data sets with their modality")
    d = sub.add_parser("palette-dataset", help="turn a folder of your own RGB images into a "
                       "palette data set (the Pokémon format) with a k-means palette")
    d.add_argument("images", help="folder of .png/.jpg/.bmp/.gif images")
    d.add_argument("--out", required=True, help="folder to write pixel_color.txt and "
                   "colormap.txt into")
    d.add_argument("--colours", type=int, default=16, help="palette size K (default 16)")
    d.add_argument("--size", type=int, default=20, help="side of the square images in pixels "
                   "(default 20)")
    d.add_argument("--seed", type=int, default=0, help="seed of the k-means (default 0)")

    v = sub.add_parser("evaluate", help="measure a preset or model folder with the standard "
                       "protocols and print the results (--write merges them into its "
                       "metrics.json)")
    v.add_argument("model", help="preset name or model folder")
    v.add_argument("--metrics", default="auto",
                   help="comma-separated: elbo, nll, parzen, fd, coverage, precision_recall, "
                        "error, baselines, or auto (the model's headline metric: nll, else "
                        "error, else fd) (default auto)")
    v.add_argument("--num-samples", type=int, default=5000,
                   help="k for an importance-sampled NLL (default 5000)")
    v.add_argument("--max-images", type=int, help="only the first N test images (quick checks)")
    v.add_argument("--seed", type=int, default=0, help="seed of every draw (default 0)")
    v.add_argument("--dataset", help="measure on the test split of this data set of the same "
                   "kind instead of the model's own (results prefixed with its name)")
    v.add_argument("--data-path", help="where --dataset's files are (default: its loader's "
                   "chain)")
    v.add_argument("--binarization", choices=("dynamic", "static", "none"),
                   help="the test images' protocol (dynamic/static: binarized once with the "
                        "fixed seed; none: grey levels); default: the one the model was trained "
                        "under")
    v.add_argument("--out", help="also write the results to this JSON file")
    v.add_argument("--write", action="store_true",
                   help="merge the results into the folder's metrics.json; for a shipped preset "
                        "only with the full protocol (all test images, --num-samples 5000)")

    g = sub.add_parser("plot", help="draw pictures of a preset or model folder")
    g.add_argument("model", help="preset name or model folder")
    g.add_argument("--kind", default="samples",
                   help="samples, reconstructions, manifold (2-D latents), scatter, "
                        "interpolation, digits (label-conditioned decoders), painting (an "
                        "animated GIF of DRAW painting its samples), latent_walk and arithmetic "
                        "(adversarial models: lines in z; the DCGAN paper's vector arithmetic "
                        "with digits), curves (the per-epoch training history), or a picture "
                        "the model brings (analogies, pseudo_inputs, canvases, attention, "
                        "pyramid, ...); an unsupported kind lists what the model can draw "
                        "(default samples)")
    g.add_argument("--out", help="PNG (GIF for painting) path (default: <kind>.png inside a "
                                 "model folder given by path; pictures/<preset>_<kind>.png here "
                                 "for a preset)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing picture")
    g.add_argument("--seed", type=int, default=0, help="(default 0)")

    s = sub.add_parser("sample", help="write a model's samples as files: MIDI and a piano-roll "
                       "picture for sequence models, PNG and .npy for image models")
    s.add_argument("model", help="preset name or model folder")
    s.add_argument("--out", required=True, help="folder to write the files into")
    s.add_argument("--num-samples", type=int, default=4, help="(default 4)")
    s.add_argument("--num-steps", type=int,
                   help="sequence models: steps per sample (default: the model's)")
    s.add_argument("--interpolate", metavar="A,B",
                   help="sequence models with one latent: also write interpolation.mid between "
                        "test sequences A and B (e.g. 0,1)")
    s.add_argument("--seed", type=int, default=0, help="(default 0)")

    z = sub.add_parser("compress", help="conceptual compression against JPEG: bits (KL of the "
                       "first t steps) and reconstructions by step of a model that sends its "
                       "latents step by step, and JPEG at the matching size")
    z.add_argument("model", help="preset name or model folder")
    z.add_argument("--out", required=True, help="folder to write compression.json, .csv and "
                   ".png into")
    z.add_argument("--num-images", type=int, default=100,
                   help="the first N test images (default 100)")
    z.add_argument("--seed", type=int, default=0,
                   help="seed of the posterior draws z ~ q (default 0)")

    m = sub.add_parser("make-preset", help="train, evaluate and write a pretrained preset")
    m.add_argument("name", help="a preset recipe (zoo/preset_recipes.py)")
    m.add_argument("--from-run", help="adopt this finished run of the same recipe")
    m.add_argument("--num-samples", type=int, default=5000, help="k for the NLL (default 5000)")

    sub.add_parser("leaderboard", help="regenerate saved_models/README.md from the metrics files")

    for name, experiment in EXPERIMENTS.items():
        experiment.add_arguments(sub.add_parser(name, help=experiment.help))

    c = sub.add_parser("train-classifier", help="train the FD feature classifier preset")
    c.add_argument("--out", default=None, help="default: saved_models/mnist_classifier")
    c.add_argument("--epochs", type=int, default=3, help="(default 3)")
    c.add_argument("--overwrite", action="store_true",
                   help="replace the classifier folder if it exists")

    e = sub.add_parser("export", help="export a model folder as a SavedModel for TF Serving")
    e.add_argument("model", help="a preset name or model folder")
    e.add_argument("--out", required=True, help="the model's base path; writes OUT/<version>/")
    e.add_argument("--version", type=int, help="version number (default: the next free one)")
    e.add_argument("--name", help="served model name (default: the --out folder's name)")

    b = sub.add_parser("benchmark", help="measure speed: training throughput against a matmul "
                       "ceiling and PyTorch (train), fast against naive sampling of "
                       "autoregressive models (sampling), or an export's latency (serving)")
    b.add_argument("--mode", choices=["train", "sampling", "serving"],
                   help="train (default), sampling, or serving (default when EXPORT_DIR is "
                        "given)")
    b.add_argument("export_dir", nargs="?", help="serving: an export version folder")
    b.add_argument("--repeats", type=int, default=50,
                   help="serving: timed calls per signature (default 50)")
    add_option_flags(b, skip=("out", "epochs", "nll_samples", "time_limit", "checkpoint_steps"))
    b.add_argument("--steps", type=int, default=200, help="train: steps per timed window")
    b.add_argument("--windows", type=int, default=5, help="train: timed windows (median)")
    b.add_argument("--warmup", type=int, default=1, help="train: untimed windows first")
    b.add_argument("--cpu-devices", type=int,
                   help="train: split the CPU into N logical devices (for --strategy mirrored)")
    b.add_argument("--no-torch", dest="torch", action="store_false",
                   help="train: skip the PyTorch comparison")
    b.add_argument("--naive-batch", type=int, default=4,
                   help="sampling: images drawn by the naive sampler (default 4)")
    b.add_argument("--json", help="also write the results to this JSON file")
    return p


def main(argv=None):
    """Parses `argv` and runs the sub-command; returns the exit status."""
    args = vars(parser().parse_args(argv))
    args.pop("tf_log", None)  # read from sys.argv at import, before TensorFlow loads
    command, verbose = args.pop("command"), args.pop("verbose", 1)
    from training.commands.handlers import run

    return run(command, args, verbose)


def console_main():
    """The `zoo-train` console script."""
    sys.exit(main())


if __name__ == "__main__":
    console_main()
