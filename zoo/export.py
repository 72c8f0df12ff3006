"""SavedModel export for TF Serving, through `keras.export.ExportArchive`.

`export_model(model, "exports/vae_mnist")` writes `exports/vae_mnist/<version>/` (TF Serving's
layout) with one SignatureDef per endpoint (DESIGN.md), plus `models.config` for
`--model_config_file`:

| signature | inputs | outputs |
| --- | --- | --- |
| serving_default | x | reconstruction |
| encode | x | mean, stddev (full covariance: also scale_tril) |
| decode | z | mean (Bernoulli: also logits; Gaussian: also scale; palette: also probabilities) |
| sample | num_samples (int32 scalar), seed (int32 [2]) | x (mean images), z |
| log_prob | x, num_samples (int32 scalar), seed (int32 [2]) | log_prob |
| complete | x, num_known (int32 scalar), seed (int32 [2]) | x (pixels >= num_known drawn) |
| generate | z | x (adversarial models: G(z)) |
| discriminate | x | probability (D(x), that x is real), logits (adversarial models) |
| score | x, num_samples (int32 scalar), seed (int32 [2]) | score (anomaly score, higher = more unusual: -log p(x), -logit D(x) for GANs, the reconstruction error for the autoencoder) |

Models with an exact density (the autoregressive ones) compute `log_prob` exactly and ignore
`num_samples` and `seed`, which they accept so that every density has one signature; they add
`complete` (capability `completion`): the first `num_known` pixels of each x in raster order are
kept and the rest drawn, one completion per image (repeat x for several).

Sequence models (piano rolls, `zoo.sequence`) take rolls of any length, x [None, None, 88], with
a `mask` [None, None] (1 = the step counts) in `log_prob`, `serving_default` and `encode`, and
`num_steps` (int32 scalar) in `sample` and `decode` (see `sequence_endpoints`).

Conditional models add `labels` (int32 [None], one class per example or per sample) to the
signatures named by `model.labelled_endpoints` (the CVAE: all six; M2: decode and sample), and
the semi-supervised model adds `classify` (x -> probabilities, label).

Inputs have batch dimension None and the model's event shape. Randomness comes only from
stateless ops seeded by the `seed` input, so a request is reproducible. Inputs are validated in
the graph with `tf.debugging` asserts, which TF Serving returns as INVALID_ARGUMENT with the
message. No XLA inside the signatures. The SavedModel needs neither this project nor TFP.
"""

import errno
import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf

from zoo.atomic import folder_lock, write_text

MAX_SAMPLES = 10000  # the largest num_samples accepted by `sample` and `log_prob`
LOG_PROB_CHUNK = 500


def _shape_assertion(x, event_shape, name):
    """An assert that x is [batch, *event_shape], with a message a client can act on."""
    expected = tf.constant(event_shape, tf.int32)
    shape = tf.shape(x, out_type=tf.int32)
    rank_ok = tf.equal(tf.size(shape), len(event_shape) + 1)
    ok = tf.cond(rank_ok, lambda: tf.reduce_all(tf.equal(shape[1:], expected)),
                 lambda: tf.constant(False))
    message = (f"{name} must have shape [batch, {', '.join(map(str, event_shape))}]; got shape")
    return tf.debugging.Assert(ok, [message, shape])


def _checked(x, assertions):
    with tf.control_dependencies(assertions):
        return tf.identity(x)


def _count_assertions(num_samples):
    message = f"num_samples must be between 1 and {MAX_SAMPLES}"
    return [tf.debugging.assert_greater_equal(num_samples, 1, message=message),
            tf.debugging.assert_less_equal(num_samples, MAX_SAMPLES, message=message)]


def standard_endpoints(model):
    """{signature name: (fn, input specs)} for the signatures of the table above that the
    model's capabilities give: `sample` always; `serving_default`, `encode` and `decode` with a
    single latent; `log_prob` with a density; `complete` with completion; `generate` and
    `discriminate` for adversarial models."""
    capabilities = model.capabilities
    event = tuple(model.event_shape)
    x_spec = tf.TensorSpec([None, *event], model.observation_dtype, name="x")
    n_spec = tf.TensorSpec([], tf.int32, name="num_samples")
    seed_spec = tf.TensorSpec([2], tf.int32, name="seed")
    labels_spec = tf.TensorSpec([None], tf.int32, name="labels")

    def checked_x(x):
        return _checked(x, [_shape_assertion(x, event, "x"), *model.value_assertions(x)])

    def given(labels, batch):
        """The model's keyword arguments for `labels` (checked against the batch size)."""
        if labels is None:
            return {}
        message = "labels must hold one class index per example"
        labels = _checked(labels, [*model.label_assertions(labels),
                                   tf.debugging.assert_equal(tf.size(labels), batch,
                                                             message=message)])
        return {"labels": labels}

    def serving_default(x, labels=None):
        x = checked_x(x)
        return {"reconstruction": model.reconstruct(x, **given(labels, tf.shape(x)[0]))}

    def encode(x, labels=None):
        x = checked_x(x)
        return model.encode_outputs(x, **given(labels, tf.shape(x)[0]))

    def decode(z, labels=None):
        z = _checked(z, [_shape_assertion(z, model.latent_shape, "z"),
                         tf.debugging.assert_all_finite(z, "z must be finite (no NaN or inf)")])
        return model.decode_outputs(z, **given(labels, tf.shape(z)[0]))

    def sample(num_samples, seed, labels=None):
        num_samples = _checked(num_samples, _count_assertions(num_samples))
        return model.sample_outputs(num_samples, seed, **given(labels, num_samples))

    def per_example(method, output):
        """A signature (x, num_samples, seed[, labels]) -> {output: method(...)} [batch]."""
        def endpoint(x, num_samples, seed, labels=None):
            num_samples = _checked(num_samples, _count_assertions(num_samples))
            x = checked_x(x)
            return {output: method(x, num_samples=num_samples, seed=seed,
                                   chunk_size=LOG_PROB_CHUNK, **given(labels, tf.shape(x)[0]))}

        return endpoint, [x_spec, n_spec, seed_spec]

    endpoints = {"sample": (sample, [n_spec, seed_spec])}
    if model.anomaly_score_kind is not None:
        endpoints["score"] = per_example(model.anomaly_score, "score")
    if capabilities.latent == "single":
        z_spec = tf.TensorSpec([None, *model.latent_shape], tf.float32, name="z")
        endpoints.update({"serving_default": (serving_default, [x_spec]),
                          "encode": (encode, [x_spec]), "decode": (decode, [z_spec])})
    if capabilities.classifier:
        def classify(x):
            probabilities, label = model.classify(checked_x(x))
            return {"probabilities": probabilities, "label": label}

        endpoints["classify"] = (classify, [x_spec])
    if capabilities.has_density:
        endpoints["log_prob"] = per_example(model.log_prob, "log_prob")
    if capabilities.completion:
        def complete(x, num_known, seed, labels=None):
            x = checked_x(x)
            return model.completion_outputs(x, model.check_num_known(num_known), seed,
                                            **given(labels, tf.shape(x)[0]))

        known_spec = tf.TensorSpec([], tf.int32, name="num_known")
        endpoints["complete"] = (complete, [x_spec, known_spec, seed_spec])
    if capabilities.adversarial:
        latent_spec = tf.TensorSpec([None, *model.latent_shape], tf.float32, name="z")

        def generate(z, labels=None):
            z = _checked(z, [_shape_assertion(z, model.latent_shape, "z"),
                             tf.debugging.assert_all_finite(z, "z must be finite (no NaN or inf)")])
            return {"x": model.generate(z, **given(labels, tf.shape(z)[0]))}

        def discriminate(x, labels=None):
            x = checked_x(x)
            logits = model.discriminate(x, **given(labels, tf.shape(x)[0]))
            return {"probability": tf.sigmoid(logits), "logits": logits}

        endpoints.update({"generate": (generate, [latent_spec]),
                          "discriminate": (discriminate, [x_spec])})
    for name in model.labelled_endpoints:
        if name in endpoints:
            fn, specs = endpoints[name]
            endpoints[name] = (fn, [*specs, labels_spec])
    return endpoints


def sequence_endpoints(model):
    """The signatures of sequence models (`zoo.sequence`), which replace the standard ones of
    the same name: rolls x [None, None, K] of any length with a `mask` [None, None] (float32,
    1 = the step counts), and `num_steps` (int32 scalar) for what they generate.

    `sample`: num_samples, seed, num_steps -> x (drawn notes) [, z];  `log_prob`: x, mask,
    num_samples, seed -> log_prob; with one latent also `serving_default` (x, mask ->
    reconstruction: each step's note probabilities given the previous steps at the posterior
    mean), `encode` (x, mask -> mean, stddev) and `decode` (z, num_steps -> mean: the greedy
    decoding's note probabilities, notes: its notes)."""
    capabilities = model.capabilities
    x_spec = tf.TensorSpec([None, None, model.num_keys], tf.float32, name="x")
    mask_spec = tf.TensorSpec([None, None], tf.float32, name="mask")
    n_spec = tf.TensorSpec([], tf.int32, name="num_samples")
    steps_spec = tf.TensorSpec([], tf.int32, name="num_steps")
    seed_spec = tf.TensorSpec([2], tf.int32, name="seed")

    def checked_x(x):
        message = f"x must have shape [batch, steps, {model.num_keys}]"
        keys = tf.debugging.assert_equal(tf.shape(x)[2], model.num_keys, message=message)
        return _checked(x, [keys, *model.value_assertions(x)])

    def given(x, mask):
        x = checked_x(x)
        return x, model.step_mask(x, mask)

    def sample(num_samples, seed, num_steps):
        num_samples = _checked(num_samples, _count_assertions(num_samples))
        return model.sample_outputs(num_samples, seed, num_steps=num_steps)

    def per_example(method, output):
        """A signature (x, mask, num_samples, seed) -> {output: method(...)} [batch]."""
        def endpoint(x, mask, num_samples, seed):
            num_samples = _checked(num_samples, _count_assertions(num_samples))
            x, mask = given(x, mask)
            return {output: method(x, num_samples=num_samples, seed=seed,
                                   chunk_size=LOG_PROB_CHUNK, mask=mask)}

        return endpoint, [x_spec, mask_spec, n_spec, seed_spec]

    endpoints = {"sample": (sample, [n_spec, seed_spec, steps_spec])}
    if capabilities.has_density:
        endpoints["log_prob"] = per_example(model.log_prob, "log_prob")
        endpoints["score"] = per_example(model.anomaly_score, "score")
    if capabilities.latent == "single":
        def serving_default(x, mask):
            x, mask = given(x, mask)
            return {"reconstruction": model.reconstruct(x, mask=mask)}

        def encode(x, mask):
            x, mask = given(x, mask)
            return model.encode_outputs(x, mask=mask)

        def decode(z, num_steps):
            z = _checked(z, [_shape_assertion(z, model.latent_shape, "z"),
                             tf.debugging.assert_all_finite(z, "z must be finite (no NaN or inf)")])
            return model.decode_outputs(z, num_steps=model.check_num_steps(num_steps))

        z_spec = tf.TensorSpec([None, *model.latent_shape], tf.float32, name="z")
        endpoints.update({"serving_default": (serving_default, [x_spec, mask_spec]),
                          "encode": (encode, [x_spec, mask_spec]),
                          "decode": (decode, [z_spec, steps_spec])})
    return endpoints


def next_version(directory):
    """1 + the largest numeric version folder in `directory` (1 when there is none)."""
    versions = [int(d) for d in os.listdir(directory) if re.fullmatch(r"\d+", d)] \
        if os.path.isdir(directory) else []
    return max(versions, default=0) + 1


def models_config(name, base_path):
    """A TF Serving model config file (text protobuf) serving `name` from `base_path`."""
    return ("model_config_list {\n  config {\n"
            f"    name: \"{name}\"\n    base_path: \"{base_path}\"\n"
            "    model_platform: \"tensorflow\"\n  }\n}\n")


def docker_command(directory, name):
    """The `docker run` line that serves `directory` with the official TF Serving image."""
    return (f"docker run --rm -p 8500:8500 -p 8501:8501 "
            f"-v \"{os.path.abspath(directory)}:/models/{name}\" tensorflow/serving "
            f"--model_config_file=/models/{name}/models.config")


def export_model(model, directory, version=None, name=None, verbose=False):
    """Writes the SavedModel of `model` to `directory/<version>/` and `directory/models.config`.

    Args:
        model: a zoo GenerativeModel.
        directory: the model's base path (TF Serving scans it for numeric versions).
        version: version number; default the next free one. An existing version is never
            overwritten.
        name: the model name TF Serving serves it under; default the folder's name.

    Returns:
        The path of the version folder.
    """
    if directory is None or not str(directory).strip():
        raise ValueError("The export folder's name is empty; name one, e.g. exports/vae_mnist.")
    directory = os.path.abspath(directory)
    name = name or os.path.basename(directory.rstrip(os.sep))
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"Model name {name!r} may only hold letters, digits, '_', '.' and '-'.")
    if version is not None and int(version) < 1:
        raise ValueError(f"--version must be a positive integer, got {version}.")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise _write_error(directory, e) from e
    # The lock (zoo.lock in the base folder) makes a second export into it refuse at once.
    with folder_lock(directory):
        version = next_version(directory) if version is None else int(version)
        target = os.path.join(directory, str(version))
        if os.path.exists(target):
            raise ValueError(f"{target} already exists; TF Serving versions are immutable. "
                             f"Pick another --version (next free: {next_version(directory)}).")

        archive = keras.export.ExportArchive()
        archive.track(model)
        endpoints = {**standard_endpoints(model), **model.serving_endpoints()}
        # TF Serving answers requests that name no signature with `serving_default`: a model
        # that reconstructs nothing serves its samples there.
        endpoints.setdefault("serving_default", endpoints["sample"])
        for endpoint, (fn, specs) in endpoints.items():
            # Wrapped in tf.function(autograph=False) without XLA: plain TF ops TF Serving runs.
            archive.add_endpoint(endpoint, fn, input_signature=specs)

        tmp = None
        try:
            tmp = tempfile.mkdtemp(dir=directory, prefix=f".{version}.tmp-")
            archive.write_out(tmp, verbose=verbose)
            os.replace(tmp, target)
            write_text(os.path.join(directory, "models.config"),
                       models_config(name, f"/models/{name}"))
        except OSError as e:
            raise _write_error(directory, e) from e
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def _write_error(directory, error):
    """A clear error for an export that the file system refused (full disk, permissions)."""
    reason = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied",
              errno.EPERM: "permission denied", errno.EROFS: "the file system is read-only"
              }.get(error.errno, error.strerror or str(error))
    return ValueError(f"Cannot export to {directory}: {reason}"
                      + (f" ({error.filename})" if error.filename else "")
                      + "; the versions already there are unchanged. Free some space or pick a "
                        "writable --out.")
