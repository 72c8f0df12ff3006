"""Loads a SavedModel the way TF Serving does and runs its signatures; imports only TensorFlow.

TF Serving's C++ SavedModelBundle loader is what `tf.compat.v1.saved_model.loader.load` wraps,
so an export that loads and runs here loads and runs there. This file must not import the zoo
or TensorFlow Probability: it runs as a plain script in a fresh process (the serving test and
the serving benchmark), proving the export is self-contained.

    python training/session_loader.py EXPORT_DIR INPUTS.npz OUTPUTS.npz

runs every signature on the `x` array of INPUTS.npz and writes the outputs (and the messages of
deliberately bad requests) to OUTPUTS.npz.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


class LoadedModel:
    """A SavedModel in a TF1 session: `run(signature, **inputs)` returns a dict of arrays."""

    def __init__(self, export_dir):
        tf.get_logger().setLevel("ERROR")  # the TF1 loader's deprecation notice
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], export_dir)
        self.signatures = {k: v for k, v in meta.signature_def.items() if not k.startswith("__")}

    def run(self, signature, **inputs):
        sig = self.signatures[signature]
        feeds = {sig.inputs[k].name: v for k, v in inputs.items()}
        names = sorted(sig.outputs)
        values = self.session.run([sig.outputs[k].name for k in names], feed_dict=feeds)
        return dict(zip(names, values))

    def callable(self, signature, input_names):
        """A fast callable for benchmarks: positional inputs in `input_names` order."""
        sig = self.signatures[signature]
        names = sorted(sig.outputs)
        with self.graph.as_default():
            feeds = [self.graph.get_tensor_by_name(sig.inputs[k].name) for k in input_names]
            fetches = [self.graph.get_tensor_by_name(sig.outputs[k].name) for k in names]
        return self.session.make_callable(fetches, feed_list=feeds)


def error_of(fn):
    """The error `fn()` raises (type and message, as a client would see it), or None."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - we report whatever the loader raises
        return f"{type(e).__name__}: {getattr(e, 'message', None) or e}"[:4000]
    return None


def check_export(export_dir, x, labels=None, mask=None):
    """Runs every signature on x and a few bad requests; returns a dict of arrays and texts.

    `labels` (one per x) feed the signatures that take a `labels` input (conditional models);
    `sample` gets them repeated to its num_samples. Sequence models' signatures get `mask`
    ([len(x), steps], default all ones) with x, and `num_steps` = the steps of x.
    """
    model = LoadedModel(export_dir)
    labels = np.zeros(len(x), np.int32) if labels is None else np.asarray(labels, np.int32)

    def run(signature, count=len(x), **inputs):
        wanted = model.signatures[signature].inputs
        if "labels" in wanted:
            inputs["labels"] = np.resize(labels, count)
        if "mask" in wanted and "mask" not in inputs:
            given = inputs["x"] is x and mask is not None
            inputs["mask"] = (np.asarray(mask, np.float32) if given
                              else np.ones(inputs["x"].shape[:2], np.float32))
        if "num_steps" in wanted and "num_steps" not in inputs:
            inputs["num_steps"] = np.int32(x.shape[1])
        return model.run(signature, **inputs)

    out = {"signatures": json.dumps(sorted(model.signatures))}
    has = model.signatures.__contains__
    if has("serving_default") and "x" in model.signatures["serving_default"].inputs:
        out["reconstruction"] = run("serving_default", x=x)["reconstruction"]
    if has("encode"):
        for k, v in run("encode", x=x).items():
            out[f"encode_{k}"] = v
    if has("decode"):
        for k, v in run("decode", z=out["encode_mean"]).items():
            out[f"decode_{k}"] = v
    seed_a, seed_b = np.array([1, 2], np.int32), np.array([3, 4], np.int32)
    n = np.int32(6)
    for tag, seed in (("a1", seed_a), ("a2", seed_a), ("b", seed_b)):
        for k, v in run("sample", count=int(n), num_samples=n, seed=seed).items():
            out[f"sample_{tag}_{k}"] = v
    if has("generate"):  # G(z) of the z that `sample` drew: the same images
        out["generate_x"] = run("generate", count=int(n), z=out["sample_a1_z"])["x"]
    if has("discriminate"):
        for k, v in run("discriminate", x=x).items():
            out[f"discriminate_{k}"] = v
    if has("score"):
        out["score"] = run("score", x=x, num_samples=np.int32(16), seed=seed_a)["score"]
    if "classify" in model.signatures:
        for k, v in run("classify", x=x).items():
            out[f"classify_{k}"] = v
    if has("decode") and "labels" in model.signatures["decode"].inputs:
        out["error_labels"] = error_of(lambda: model.run(
            "decode", z=out["encode_mean"], labels=np.full(len(x), 10**6, np.int32)))
    if "log_prob" in model.signatures:
        out["log_prob"] = run("log_prob", x=x, num_samples=np.int32(16), seed=seed_a)[
            "log_prob"]
        out["error_num_samples"] = error_of(
            lambda: run("log_prob", x=x, num_samples=np.int32(0), seed=seed_a))
    if "complete" in model.signatures:  # keep the first half of the pixels, draw the rest
        pixels = int(np.prod(x.shape[1:3]))
        for tag, seed in (("a1", seed_a), ("a2", seed_a)):
            out[f"complete_{tag}_x"] = run("complete", x=x, num_known=np.int32(pixels // 2),
                                           seed=seed)["x"]
        out["error_num_known"] = error_of(
            lambda: run("complete", x=x, num_known=np.int32(pixels + 1), seed=seed_a))
    wrong = np.zeros((2, *[d + 1 for d in x.shape[1:]]), x.dtype)
    bad_values = np.full_like(x, 2 if x.dtype.kind == "f" else 10**6)
    reads_x = [s for s in ("encode", "serving_default", "log_prob", "classify", "discriminate")
               if has(s) and "x" in model.signatures[s].inputs]
    if reads_x:  # a signature that reads x must refuse a wrong shape and bad values
        extra = ({"num_samples": np.int32(4), "seed": seed_a} if reads_x[0] == "log_prob"
                 else {})
        out["error_shape"] = error_of(lambda: run(reads_x[0], count=2, x=wrong, **extra))
        out["error_values"] = error_of(lambda: run(reads_x[0], x=bad_values, **extra))
    out["error_sample_count"] = error_of(
        lambda: run("sample", count=1, num_samples=np.int32(10**7), seed=seed_a))
    out["imported_project_or_tfp"] = json.dumps(
        sorted(m for m in sys.modules if m.split(".")[0] in ("zoo", "training",
                                                            "tensorflow_probability")))
    return out


def main(argv):
    export_dir, inputs_path, outputs_path = argv
    with np.load(inputs_path) as f:
        x = f["x"]
        labels = f["labels"] if "labels" in f.files else None
        mask = f["mask"] if "mask" in f.files else None
    result = check_export(export_dir, x, labels, mask)
    np.savez(outputs_path, **{k: np.asarray("" if v is None else v) for k, v in result.items()})


if __name__ == "__main__":
    main(sys.argv[1:])
