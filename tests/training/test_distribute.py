"""training/distribute.py: strategy choice, MirroredStrategy = one device, multi-worker training
with identical weights on every worker, recovery of a killed multi-worker run, precisions."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from training.run import distribute
from training.__main__ import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_RUN = ["--dataset", "digits", "--latent-dim", "4", "--hidden-units", "16",
            "--nll-samples", "10", "--verbose", "2"]


def _env(**extra):
    env = {**os.environ, "PYTHONPATH": ROOT, "CUDA_VISIBLE_DEVICES": "", "KERAS_BACKEND":
           "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _tf_config(ports, index):
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def _start_workers(args, num_workers, log_dir, env=None):
    ports = _free_ports(num_workers)
    procs = []
    for i in range(num_workers):
        log = open(os.path.join(log_dir, f"worker{i}.log"), "w")
        procs.append((subprocess.Popen(
            [sys.executable, "-m", "training", "train", *args, "--strategy", "multiworker"],
            cwd=ROOT, env={**(env or _env()), "TF_CONFIG": _tf_config(ports, i)}, stdout=log,
            stderr=subprocess.STDOUT), log))
    return procs


def _wait(procs, timeout=240):
    for proc, log in procs:
        proc.wait(timeout=timeout)
        log.close()


def _train_on_two_workers(args, log_dir, env=None):
    """Runs `train` on 2 local workers; checks both succeeded with identical weights and
    returns (worker logs, [(final step, weights sha256)])."""
    procs = _start_workers(args, 2, log_dir, env=env)
    _wait(procs)
    logs = [(log_dir / f"worker{i}.log").read_text() for i in range(2)]
    for (proc, _), log in zip(procs, logs):
        assert proc.returncode == 0, log[-3000:]
    digests = [re.findall(r"Worker \d: step (\d+), weights sha256 (\w+)", log) for log in logs]
    assert digests[0] and digests[0] == digests[1]
    return logs, digests[0]


# --- strategy and precision choice ---------------------------------------------------------------
def test_auto_picks_multiworker_with_tf_config_and_none_on_one_cpu():
    config = {"TF_CONFIG": _tf_config([1234, 1235], 1)}
    assert distribute.resolve_strategy("auto", config) == "multiworker"
    assert distribute.resolve_strategy("auto", {}) == "none"  # this machine has no GPU
    assert distribute.resolve_strategy("mirrored", {}) == "mirrored"


@pytest.mark.parametrize("argv, env, message", [
    (["--strategy", "horovod"], None, "--strategy must be one of: auto, none, mirrored, multiworker; got 'horovod'"),
    (["--precision", "float8"], None, "--precision must be one of: float32, mixed_float16"),
    (["--strategy", "multiworker"], None, "--strategy multiworker needs TF_CONFIG"),
    (["--strategy", "multiworker"], "{not json", "TF_CONFIG is not valid"),
    (["--strategy", "auto"], json.dumps({"cluster": {"worker": ["a:1"]},
                                         "task": {"type": "worker", "index": 3}}),
     "task index 3 is outside the 1 workers"),
    (["--steps-per-execution", "0"], None, "--steps-per-execution must be at least 1"),
    (["--strategy", "mirrored", "--steps-per-execution", "4"], None,
     "--steps-per-execution above 1 fails under MirroredStrategy"),
])
def test_bad_strategy_precision_or_cluster_exits_2(tmp_path, capsys, monkeypatch, argv, env,
                                                   message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if env is not None:
        monkeypatch.setenv("TF_CONFIG", env)
    assert main(["train", *TINY_RUN, "--out", str(tmp_path / "x"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.partial").exists()


# --- MirroredStrategy over 2 logical CPU devices -------------------------------------------------
MIRRORED_SCRIPT = textwrap.dedent("""
    import json
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np, zoo
    from training import data as data_lib
    from training.run import distribute

    x = data_lib.binarize(data_lib.load_digits().train.x[:64], 0)

    def build(name):
        keras.utils.set_random_seed(0)
        model = zoo.get_model(name)(event_shape=(8, 8, 1), latent_dim=4, hidden_units=(16,),
                                    seed=1)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        return model

    def batches():  # the same global batches of 16 for both runs
        return tf.data.Dataset.from_tensor_slices(x).batch(16)

    strategy = distribute.make_strategy("mirrored")
    result = {"replicas": strategy.num_replicas_in_sync}
    for name in ("autoencoder", "vae"):
        single = build(name)
        single.fit(batches(), epochs=2, verbose=0)
        with strategy.scope():
            mirrored = build(name)
        history = mirrored.fit(batches(), epochs=2, verbose=0)
        result[name] = {
            "max_diff": max(float(np.max(np.abs(a - b)))
                            for a, b in zip(single.get_weights(), mirrored.get_weights())),
            "moved": max(float(np.max(np.abs(a - b)))
                         for a, b in zip(build(name).get_weights(), mirrored.get_weights())),
            "steps": int(mirrored.optimizer.iterations.numpy()),
            "loss": history.history["loss"][-1]}
    print("RESULT " + json.dumps(result))
""")


@pytest.mark.slow  # a subprocess with its own TensorFlow (logical devices): run with -m slow
def test_mirrored_over_two_cpu_devices_equals_one_device():
    # Logical devices must be set before TensorFlow initialises them: a fresh process.
    run = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT], cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.split("RESULT ")[-1])
    assert result["replicas"] == 2
    # The autoencoder is deterministic: 2 replicas x 8 images = 1 device x 16 images.
    auto = result["autoencoder"]
    assert auto["steps"] == 8 and auto["moved"] > 1e-2
    assert auto["max_diff"] < 1e-5, auto
    # The VAE draws z per replica (independent noise per replica): it trains, finite.
    assert result["vae"]["steps"] == 8 and np.isfinite(result["vae"]["loss"])


# --- MultiWorkerMirroredStrategy: 2 processes on 127.0.0.1 ---------------------------------------
def test_two_workers_train_to_identical_weights(tmp_path):
    out = tmp_path / "vae"
    logs, digests = _train_on_two_workers(
        [*TINY_RUN, "--epochs", "2", "--batch-size", "50", "--out", str(out)], tmp_path)
    # 1197 images, global batch 2 x 50: 11 steps per epoch.
    assert digests[0][0] == "22"
    assert "2 replicas, global batch 100" in logs[0]
    import zoo

    model = zoo.load(str(out))  # only the chief writes the model folder
    assert int(model.optimizer.iterations.numpy()) == 22
    assert distribute.weights_digest(model) == digests[0][1]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["distribution"] == {"strategy": "multiworker", "replicas": 2,
                                    "global_batch_size": 100, "precision": "float32"}
    assert not list(tmp_path.glob("vae.worker*"))  # the other worker cleaned its temp folder


def _latest_step(checkpoint_dir):
    state = checkpoint_dir / "checkpoint"
    if not state.exists():
        return 0
    match = re.search(r'^model_checkpoint_path: ".*-(\d+)"', state.read_text(), re.M)
    return int(match.group(1)) if match else 0


@pytest.mark.slow  # kills and restarts a worker process: run with -m slow
def test_killed_multiworker_run_resumes_from_its_checkpoint(tmp_path):
    out = tmp_path / "vae"
    args = [*TINY_RUN, "--batch-size", "100", "--out", str(out)]
    procs = _start_workers([*args, "--epochs", "1000", "--checkpoint-steps", "4"], 1, tmp_path)
    checkpoint_dir = tmp_path / "vae.partial" / "checkpoint"
    deadline = time.time() + 180
    while _latest_step(checkpoint_dir) < 15 and time.time() < deadline:
        assert procs[0][0].poll() is None, (tmp_path / "worker0.log").read_text()[-3000:]
        time.sleep(0.05)
    procs[0][0].send_signal(signal.SIGKILL)
    _wait(procs)
    killed_at = _latest_step(checkpoint_dir)
    assert killed_at >= 15 and not out.exists()

    # 11 steps per epoch; finish two epochs after the checkpoint's epoch.
    epochs = killed_at // 11 + 2
    resumed = _start_workers([*args, "--resume", "--epochs", str(epochs)], 1, tmp_path)
    _wait(resumed)
    log = (tmp_path / "worker0.log").read_text()
    assert resumed[0][0].returncode == 0, log[-3000:]
    assert f"resumed from the checkpoint at step {killed_at} (epoch {killed_at // 11})" in log
    first_epoch = int(re.search(r"Epoch (\d+)/", log).group(1))
    assert first_epoch == killed_at // 11 + 1  # no epoch before the checkpoint ran again
    import zoo

    assert int(zoo.load(str(out)).optimizer.iterations.numpy()) == epochs * 11


# --- precisions ------------------------------------------------------------------------------------
@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_step_is_finite_with_float32_heads(policy, digits):
    import keras
    import tensorflow as tf

    import zoo
    from training import data as data_lib

    with distribute.precision(policy):
        model = zoo.VAE(event_shape=(8, 8, 1), latent_dim=4, hidden_units=(32,), seed=1)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert model.encoder_network.dense_layers[0].compute_dtype == policy.split("_")[1]
    assert model.posterior_head.compute_dtype == "float32"
    assert model.likelihood_head.compute_dtype == "float32"
    assert all(w.dtype == "float32" for w in model.weights if w.dtype.startswith("float"))
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    x = data_lib.binarize(digits.train.x[:64], 0)
    q_z = model.posterior(x)
    p_x = model.likelihood(q_z.sample(seed=(1, 2)))
    assert q_z.dtype == tf.float32 and p_x.dtype == tf.float32
    assert model.log_prob(x[:4], num_samples=5, seed=0).dtype == tf.float32
    history = model.fit(data_lib.train_pipeline(x, 16, False), epochs=2, verbose=0)
    for name in ("loss", "elbo", "kl", "reconstruction"):
        assert np.isfinite(history.history[name]).all(), (name, history.history)
    assert int(model.optimizer.iterations.numpy()) == 8
    assert np.isfinite(model.log_prob(x[:4], num_samples=5, seed=0).numpy()).all()


def test_train_command_with_bfloat16_and_steps_per_execution(tmp_path):
    out = tmp_path / "vae"
    assert main(["train", *TINY_RUN, "--epochs", "2", "--precision", "mixed_bfloat16",
                 "--steps-per-execution", "4", "--out", str(out), "--verbose", "0"]) == 0
    import zoo

    model = zoo.load(str(out))
    assert int(model.optimizer.iterations.numpy()) == 22
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["distribution"]["precision"] == "mixed_bfloat16"
    assert "--precision mixed_bfloat16" in meta["command"]
    assert np.isfinite(json.loads((out / "metrics.json").read_text())["test_nll"])


# --- models that need callbacks or semi-supervised batches, on 2 workers ------------------------
@pytest.mark.slow
@pytest.mark.parametrize("model, extra", [
    ("gae", []),  # its E-step runs as a callback before every epoch and after the last
    ("m2", ["--labels-per-class", "5", "--labelled-batch-size", "20"]),  # semi-supervised
    # three optimizer groups and batch norm in the discriminator
    ("vaegan", ["--binarization", "none", "--conv-filters", "4,8",
                "--discriminator-filters", "4,8"]),
])
def test_models_with_callbacks_or_labels_train_on_two_workers(tmp_path, model, extra):
    out = tmp_path / model
    _train_on_two_workers([*TINY_RUN, "--model", model, *extra, "--epochs", "2",
                           "--batch-size", "50", "--out", str(out)], tmp_path)
    import zoo

    trained = zoo.load(str(out))
    metrics = json.loads((out / "metrics.json").read_text())
    if model == "gae":  # the cache holds the encoder's posteriors, not its N(0, I) start
        assert np.abs(np.asarray(trained.component_loc)).max() > 0
    elif model == "vaegan":
        steps = {g: int(o.iterations) for g, o in trained.optimizer.group_optimizers.items()}
        assert len(set(steps.values())) == 1 and min(steps.values()) > 0, steps
    else:
        assert 0 <= metrics["test_error"] < 0.9
