"""`python -m training gae-compare`: the Generative Auto Encoder slides' experiments.

1. Test NLL and Parzen window of the GAE against a VAE of the same architecture trained with
   the same recipe and epochs, both measured with the same (reduced) protocol; FD besides.
2. Samples of both side by side.
3. For two GAEs with 2-D latents (1- and 2-layer networks): a kernel density estimate of 1000
   samples from p(z) (slide 17) and the test posterior means coloured by label (slide 18).

Results and pictures go into the GAE preset folder (sha256 records kept valid), and its model
card is regenerated with a "GAE vs VAE" section (`card_section`).
"""

import json
import os
import tempfile

import numpy as np

import zoo
from training import evaluation, plotting
from training.evaluate import folder_data
from zoo.presets import presets_dir, resolve
from zoo.saving import read_json, update_folder_files

RESULTS_FILE = "gae_vs_vae.json"


def _where(folder):
    """A folder's path relative to the project root (the presets folder's parent)."""
    return os.path.relpath(os.path.abspath(folder), os.path.dirname(presets_dir()))


def _png_bytes(draw):
    """Bytes of the PNG that `draw(path)` writes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "picture.png")
        draw(path)
        with open(path, "rb") as f:
            return f.read()


def measure(model, arrays, dataset, num_samples, num_images, seed=0, verbose=1):
    """Per-image test NLL on the first `num_images` (k = `num_samples`), Parzen window and FD."""
    from training.classifier import classifier_features, default_classifier_path

    x = arrays["x_test"][:num_images]
    log_px = evaluation.per_example(
        lambda b, _, s: model.log_prob(b, num_samples=num_samples, seed=s, chunk_size=500),
        x, 100, seed, f"NLL of {type(model).__name__} (k={num_samples}, {len(x)} images)",
        verbose)
    samples = np.concatenate([np.asarray(model.sample(1000, seed=[seed, i])) for i in range(10)])
    flat = samples.reshape(len(samples), -1)
    parzen, parzen_se, sigma = evaluation.parzen_log_likelihood(
        flat, dataset.validation.x.reshape(len(dataset.validation.x), -1),
        dataset.test.x.reshape(len(dataset.test.x), -1), verbose=verbose)
    classifier = zoo.load(default_classifier_path(), compile=False)
    fd = evaluation.frechet_distance(classifier_features(classifier, samples),
                                     classifier_features(classifier, dataset.test.x[:len(samples)]))
    nll, nll_se = evaluation.mean_and_stderr(-log_px)
    return {"test_nll": nll, "test_nll_stderr": nll_se, "parzen_log_likelihood": parzen,
            "parzen_stderr": parzen_se, "parzen_sigma": sigma, "fd": fd}, -log_px


def compare(gae_name, vae_folder, num_samples=500, num_images=1000, seed=0, verbose=1):
    """GAE vs VAE with one protocol; returns the results dict (also written as JSON)."""
    gae_folder, vae_folder = resolve(gae_name), resolve(vae_folder)
    dataset, arrays = folder_data(gae_folder)
    gae_meta = read_json(os.path.join(gae_folder, "metadata.json"))
    vae_meta = read_json(os.path.join(vae_folder, "metadata.json"))
    same = {k: (gae_meta["recipe"].get(k), vae_meta["recipe"].get(k))
            for k in ("latent_dim", "hidden_units", "activation", "epochs", "batch_size",
                      "learning_rate", "lr_schedule", "binarization", "seed")}
    different = {k: v for k, v in same.items() if v[0] != v[1]}
    if different:
        raise ValueError(f"The VAE was not trained like the GAE: {different}.")
    results, per_image = {}, {}
    for label, folder in (("gae", gae_folder), ("vae", vae_folder)):
        model = zoo.load(folder, compile=False)
        results[label], per_image[label] = measure(model, arrays, dataset, num_samples,
                                                   num_images, seed, verbose)
        results[label].update(folder=_where(folder), command=read_json(
                              os.path.join(folder, "metadata.json")).get("train_command")
                              or read_json(os.path.join(folder, "metadata.json")).get("command"),
                              train_seconds=read_json(os.path.join(folder, "metadata.json"))
                              .get("train_seconds"),
                              epochs=read_json(os.path.join(folder, "metadata.json"))
                              ["recipe"]["epochs"])
    difference = per_image["gae"] - per_image["vae"]
    mean, se = evaluation.mean_and_stderr(difference)
    results["nll_difference_gae_minus_vae"] = {"mean": mean, "stderr": se}
    results["shared_recipe"] = {k: v[0] for k, v in same.items()}
    results["protocol"] = {
        "nll": f"-mean log p(x) over the first {num_images} binarized test images (seed 0 "
               f"binarization), importance-weighted estimate with k={num_samples} samples "
               f"from q(z|x), batch i of 100 images seeded [{seed}, i] for both models; the "
               "difference is paired over the same images",
        "parzen": "Gaussian Parzen window on 10,000 samples (mean images of p(x|z), z ~ p(z)), "
                  "sigma chosen over logspace(-1, 0, 10) on the 10k grey validation images, "
                  "mean log-likelihood of the 10k grey test images",
        "fd": "Frechet distance in the mnist_classifier feature space, 10,000 samples vs "
              "10,000 grey test images",
    }
    return results


def save_samples_side_by_side(path, gae, vae, seed=0):
    """One picture: 64 GAE samples (left) next to 64 VAE samples (right)."""
    left, right = plotting.sample_grid(gae, seed=seed), plotting.sample_grid(vae, seed=seed)
    gap = np.ones((left.shape[0], 8, left.shape[2]), np.float32)
    return plotting.save_png(path, np.concatenate([left, gap, right], 1), scale=3,
                             title="samples: GAE (left) and VAE of the same architecture (right)")


def save_latent_pictures(kde_path, scatter_path, models, titles, x_test, y_test, seed=0):
    """Slide 17: KDE of 1000 samples of p(z); slide 18: test posterior means by label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.stats import gaussian_kde

    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.6), dpi=80)
    for ax, model, title in zip(np.atleast_1d(axes), models, titles):
        z = np.asarray(model.prior().sample(1000, seed=model.next_seed(seed)))
        lo, hi = np.percentile(z, 0.5, 0), np.percentile(z, 99.5, 0)
        pad = 0.1 * (hi - lo)
        gx, gy = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], 150),
                             np.linspace(lo[1] - pad[1], hi[1] + pad[1], 150))
        density = gaussian_kde(z.T)(np.stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
        ax.contourf(gx, gy, density, levels=20, cmap="viridis")
        ax.set_title(f"{title}: KDE of 1000 z ~ p(z)", fontsize=9)
        ax.set_xlabel("z1")
        ax.set_ylabel("z2")
    fig.tight_layout()
    fig.savefig(kde_path)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 3.6), dpi=80)
    for ax, model, title in zip(np.atleast_1d(axes), models, titles):
        z = np.concatenate([np.asarray(model.encode(x_test[i:i + 1000]))
                            for i in range(0, len(x_test), 1000)])
        points = ax.scatter(z[:, 0], z[:, 1], c=y_test, cmap="tab10", s=1, vmin=-0.5, vmax=9.5)
        ax.set_title(f"{title}: test posterior means", fontsize=9)
        ax.set_xlabel("z1")
        ax.set_ylabel("z2")
    fig.colorbar(points, ax=axes, ticks=range(10), label="digit")
    fig.savefig(scatter_path)
    plt.close(fig)


def run(gae_name, vae_folder, latent2d_folders=(), num_samples=500, num_images=1000, seed=0,
        verbose=1):
    """All experiments; writes results and pictures into the GAE preset folder and regenerates
    its model card. Returns the results."""
    from training.preset_builder import model_card

    folder = resolve(gae_name)
    results = compare(gae_name, vae_folder, num_samples, num_images, seed, verbose)
    files = {"samples_gae_vs_vae.png": _png_bytes(lambda p: save_samples_side_by_side(
        p, zoo.load(folder, compile=False), zoo.load(resolve(vae_folder), compile=False), seed))}
    if latent2d_folders:
        _, arrays = folder_data(resolve(latent2d_folders[0]))
        models = [zoo.load(resolve(f), compile=False) for f in latent2d_folders]
        titles = [f"{len(m.hidden_units)}-layer ({','.join(map(str, m.hidden_units))})"
                  for m in models]
        results["latent2d"] = [
            {"folder": _where(resolve(f)), "hidden_units": list(m.hidden_units),
             "command": read_json(os.path.join(resolve(f), "metadata.json")).get("command"),
             "epochs": read_json(os.path.join(resolve(f), "metadata.json"))["recipe"]["epochs"],
             "test_elbo": evaluation.test_elbo(m, arrays["x_test"], seed=seed, verbose=0)[0]}
            for f, m in zip(latent2d_folders, models)]
        with tempfile.TemporaryDirectory() as tmp:
            kde, scatter = os.path.join(tmp, "kde.png"), os.path.join(tmp, "scatter.png")
            save_latent_pictures(kde, scatter, models, titles, arrays["x_test"],
                                 arrays["y_test"], seed)
            for name, path in (("latent_kde_2d.png", kde), ("latent_scatter_2d.png", scatter)):
                with open(path, "rb") as f:
                    files[name] = f.read()
    files[RESULTS_FILE] = (json.dumps(results, indent=2) + "\n").encode()
    update_folder_files(folder, files=files)
    name = os.path.basename(os.path.normpath(folder))
    update_folder_files(folder, files={"README.md": model_card(name, folder).encode()})
    return results


def card_section(folder):
    """The "GAE vs VAE" part of the GAE model card (empty before `gae-compare` ran)."""
    lines = ["## How it is trained (EM, as in the slides)", "",
             "The prior is p(z) = (1/n) sum_j q(z|x_j) over the n = 50,000 training images, with "
             "the training index y and z as latents. E-step: before every epoch (and once after "
             "the last) all training images are encoded and their posterior means and stddevs "
             "stored in a non-trainable cache, which is the mixture over y and is saved with "
             "the weights. The encoder sees binary images, so the cache encodes one fixed "
             "binarization (seed 0) of the grey training images rather than the grey means, "
             "which the encoder never saw. M-step: an epoch of Adam steps on the bound "
             "E_q[log p(x_i|z)] - E_q[log q(z|x_i) - log p_-i(z)] minus the slides' regulariser "
             "lambda1 sum mu^2 - lambda2 sum (1 + log s^2 - s^2) (lambda1 = lambda2 = 0.05, a "
             "tenth of the weight these terms have in the VAE's KL to N(0, I); the bound alone "
             "does not fix the scale of z), the cache held constant. p_-i leaves x_i's own "
             "component out (leave-one-out, as in Norouzi et al. 2020, Exemplar VAE): with it, "
             "q(z|x_i) could match its own cached copy and the prior would memorise the "
             "training set. Test log-likelihoods and samples use the full mixture.", ""]
    path = os.path.join(folder, RESULTS_FILE)
    if not os.path.exists(path):
        return "\n".join(lines)
    with open(path) as f:
        r = json.load(f)
    gae, vae, diff = r["gae"], r["vae"], r["nll_difference_gae_minus_vae"]
    recipe = r["shared_recipe"]
    lines += ["## GAE vs VAE (the slides' comparison)", "",
             f"Both models: the same architecture (MLPs {recipe['hidden_units']}, "
             f"{recipe['activation']}, z = {recipe['latent_dim']}, Bernoulli) and recipe "
             f"({recipe['epochs']} epochs, batch {recipe['batch_size']}, Adam "
             f"{recipe['learning_rate']} with {recipe['lr_schedule']} decay, "
             f"{recipe['binarization']} binarization, seed {recipe['seed']}); only the prior "
             "and the regulariser differ. `python -m training gae-compare` reproduces this.", "",
             "| model | test NLL (nats, lower is better) | Parzen (nats, higher is better) | FD "
             "| training time |", "| --- | --- | --- | --- | --- |"]
    for label, m in (("GAE", gae), ("VAE", vae)):
        lines.append(f"| {label} | {m['test_nll']:.2f} ± {m['test_nll_stderr']:.2f} | "
                     f"{m['parzen_log_likelihood']:.1f} ± {m['parzen_stderr']:.1f} "
                     f"(sigma {m['parzen_sigma']:.3f}) | {m['fd']:.2f} | "
                     f"{(m.get('train_seconds') or 0) / 60:.0f} min |")
    lines += ["", f"Paired NLL difference GAE - VAE over the same images: {diff['mean']:+.2f} ± "
              f"{diff['stderr']:.2f} nats.", "", "Protocols: NLL: " + r["protocol"]["nll"] +
              ". Parzen: " + r["protocol"]["parzen"] + ". FD: " + r["protocol"]["fd"] + ".", ""]
    nll_better = diff["mean"] + 2 * diff["stderr"] < 0
    parzen_better = gae["parzen_log_likelihood"] > vae["parzen_log_likelihood"]
    verdict = {(True, True): "holds here on both measures",
               (True, False): "holds here for the NLL but not for the Parzen window",
               (False, True): "holds here for the Parzen window but not for the NLL",
               (False, False): "does not hold here on either measure"}[(nll_better, parzen_better)]
    lines += [f"The slides' claim that the GAE beats the VAE on both NLL and Parzen {verdict} "
              "(NLL counted as better only when the paired difference is below zero by more "
              "than two standard errors).", "",
              "![GAE and VAE samples](samples_gae_vs_vae.png)", ""]
    runs = [(vae.get("command"), vae.get("folder"))] + [
        (e.get("command"), e.get("folder")) for e in r.get("latent2d", [])]
    if all(command for command, _ in runs):
        lines += ["Reproduce (after `make-preset gae_mnist`):", "", "```"]
        lines += [f"{command} --out {where}" for command, where in runs]
        lines += [f"python -m training gae-compare --gae gae_mnist --vae {runs[0][1]}"
                  + (f" --latent2d {','.join(w for _, w in runs[1:])}" if runs[1:] else ""),
                  "```", ""]
    if "latent2d" in r:
        runs = "; ".join(f"{', '.join(map(str, e['hidden_units']))} hidden units, "
                         f"{e['epochs']} epochs, test ELBO {e['test_elbo']:.1f}"
                         for e in r["latent2d"])
        lines += ["### 2-D latents (slides 17 and 18)", "",
                  f"Two GAEs with z = 2, otherwise this recipe ({runs}). Left: 1-layer, right: "
                  "2-layer encoder and decoder.", "",
                  "![KDE of p(z)](latent_kde_2d.png)", "",
                  "![test posterior means](latent_scatter_2d.png)", ""]
    return "\n".join(lines)
