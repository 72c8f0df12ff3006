"""`python -m training benchmark`: training throughput against a measured matmul ceiling and PyTorch.

Train mode (`--mode train`, the default) times the training that `python -m training train`
runs: the model built and compiled by `train.build_model` (same strategy, precision, XLA and
steps-per-execution options) is trained by Keras `fit` on the recipe's tf.data pipeline
(shuffling and dynamic binarization included), with the run's NaN guard, after warm-up. Each
timed window is one `fit` epoch of `--steps` steps; the result is the median over `--windows`.

FLOPs per image come from the layer sizes. A dense layer with an m x n kernel costs 2mn FLOPs
forward (a multiply and an add per weight); backward costs twice that (the kernel gradient
x^T dy and the input gradient dy W^T), except that the first layer needs no input gradient.
Elementwise work (activations, the loss, Adam) is not counted: it is the overhead that keeps a
step below the ceiling.

The ceiling is measured in the same run: the same sequence of forward and backward matrix
products with the same shapes and dtype, chained as in the step, inside one `tf.function`
(with and without XLA; the faster counts), timed the same way. The PyTorch comparison (when
`torch` is installed) trains the same architecture and loss (Bernoulli decoder, diagonal
Gaussian posterior, analytic KL, Adam) on the same batches, timed the same way.

Serving mode (`--mode serving EXPORT_DIR`) measures the exported signatures through the
TF Serving session loader (training/serving/benchmark.py).
"""

import json
import os
import platform
import time

import numpy as np

TORCH_HINT = "PyTorch not installed: pip install torch==2.13.0 for the comparison"


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (or the platform's processor string)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def dense_shapes(model):
    """Kernel shapes (m, n) of the model's Dense layers in the order a training step runs them:
    encoder, posterior head, decoder, likelihood head. Raises ValueError for non-MLP models."""
    import keras

    from zoo.models.encoder_decoder import EncoderDecoderModel

    if not isinstance(model, EncoderDecoderModel) or model.network != "mlp":
        raise ValueError("The FLOP count covers encoder-decoder models with MLP networks only "
                         "(--network mlp).")
    parts = [model.encoder_network, model.encoder_head, model.decoder_network,
             model.likelihood_head]
    shapes = []
    for part in parts:
        layers = [part] + list(part._flatten_layers(include_self=False, recursive=True))
        shapes += [tuple(layer.kernel.shape) for layer in layers
                   if isinstance(layer, keras.layers.Dense)]
    return shapes


def flops_per_image(shapes):
    """(forward, backward) FLOPs per image of Dense layers of kernel shapes `shapes`."""
    forward = sum(2 * m * n for m, n in shapes)
    m0, n0 = shapes[0]
    return forward, 2 * forward - 2 * m0 * n0


def _median_rate(run_window, windows, items):
    """Items per second: median over `windows` timed calls of `run_window`."""
    seconds = []
    for _ in range(windows):
        start = time.perf_counter()
        run_window()
        seconds.append(time.perf_counter() - start)
    return items / float(np.median(seconds)), seconds


def matmul_ceiling(shapes, batch, latent_dim, dtype, steps, windows, jit_compile):
    """Images per second of the step's matrix products alone (see the module docstring)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    kernels = [tf.constant(rng.normal(0, 1 / np.sqrt(m), (m, n)), dtype) for m, n in shapes]
    x = tf.constant(rng.random((batch, shapes[0][0])), dtype)
    grad_out = tf.constant(rng.normal(0, 1, (batch, shapes[-1][1])), dtype)
    # Where z is drawn: the posterior head outputs 2 * latent_dim numbers, the decoder takes d.
    head = next(i for i, (m, n) in enumerate(shapes) if shapes[i + 1][0] == latent_dim)

    def one_step(x, grad_out):
        inputs, a = [], x
        for i, w in enumerate(kernels):
            inputs.append(a)
            a = tf.matmul(a, w)
            if i == head:
                a = a[:, :latent_dim]
        g, grads = grad_out, []
        for i in reversed(range(len(kernels))):
            grads.append(tf.matmul(inputs[i], g, transpose_a=True))
            if i > 0:
                g = tf.matmul(g, kernels[i], transpose_b=True)
                if i == head + 1:
                    g = tf.pad(g, [[0, 0], [0, shapes[head][1] - latent_dim]])
        return a, grads

    @tf.function(jit_compile=jit_compile)
    def run(x, grad_out):
        def body(i, x, grad_out):
            a, grads = one_step(x, grad_out)
            # Every product feeds the next step (so none is pruned as unused or hoisted out
            # of the loop); the tiny factor keeps the values unchanged.
            tiny = tf.cast(1e-30, dtype)
            used = tf.add_n([g[0, 0] for g in grads])
            return (i + 1, x + tiny * used, grad_out + tiny * a[0, 0])
        _, x, grad_out = tf.while_loop(lambda i, *_: i < steps, body, (0, x, grad_out))
        return x[0, 0] + grad_out[0, 0]

    run(x, grad_out).numpy()
    rate, _ = _median_rate(lambda: run(x, grad_out).numpy(), windows, steps * batch)
    return rate


def _window_timer():
    """A Keras callback recording the wall time of each epoch (one timed window)."""
    import keras

    class WindowTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds, self.start = [], None

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)

    return WindowTimer()


def machine_facts():
    """The CPU, its logical CPUs, TF's CPU devices and the library versions of a result."""
    import keras
    import tensorflow as tf

    return {"cpu": cpu_model(), "logical_cpus": os.cpu_count(),
            "cpu_devices": len(tf.config.list_logical_devices("CPU")),
            "tensorflow": tf.__version__, "keras": keras.__version__}


def zoo_default_model():
    import zoo

    return zoo.DEFAULT_MODEL


def benchmark_train(options, verbose=1):
    """Runs the train-mode benchmark; returns a dict of results (see `format_train`)."""
    from training.run import distribute
    from training.run.callbacks import StopOnNaN
    from training.run.options import resolve_recipe
    from training.run.train import prepare_run

    from training.run.options import model_options

    ignore = ("mode", "export_dir", "repeats", "steps", "windows", "warmup", "cpu_devices",
              "torch", "json", "naive_batch")
    args = {k: v for k, v in options.items() if k not in ignore and v is not None}
    declared = model_options(args.get("model") or zoo_default_model())
    for name, value in (("activation", "softplus"), ("hidden_units", [500, 500])):
        if name in declared:  # the MLP benchmark's reference sizes
            args.setdefault(name, value)
    args["out"] = "unused"
    recipe = resolve_recipe(args)
    kind = distribute.resolve_strategy(recipe["strategy"])
    if kind == "multiworker":
        raise ValueError("The benchmark measures one machine: use --strategy none or mirrored.")
    distribute.check_options(kind, recipe["steps_per_execution"])
    strategy = distribute.make_strategy(kind)
    steps, windows, warmup = options["steps"], options["windows"], options["warmup"]

    run = prepare_run(recipe, strategy)
    model, train_ds, global_batch = run["model"], run["train_ds"], run["global_batch"]
    try:
        shapes = dense_shapes(model)
    except ValueError:
        shapes = None  # no matmul ceiling: the model's own FLOP count, if it gives one
    # Each window is one `fit` epoch of `steps` steps on the repeated pipeline.
    spe = int(recipe["steps_per_execution"])
    steps = max(spe, steps // spe * spe)
    timer = _window_timer()
    model.fit(train_ds.repeat(), epochs=warmup + windows, steps_per_epoch=steps,
              callbacks=[StopOnNaN(), timer], shuffle=False, verbose=0)
    seconds = timer.seconds[warmup:]
    rate = steps * global_batch / float(np.median(seconds))
    result = {
        "model": recipe["model"], "batch_size": recipe["batch_size"],
        "global_batch_size": global_batch, "strategy": kind,
        "replicas": strategy.num_replicas_in_sync, "precision": recipe["precision"],
        "jit_compile": bool(recipe["jit_compile"]), "steps_per_execution": spe,
        "steps_per_window": steps, "windows": windows, "warmup_windows": warmup,
        "images_per_second": rate, "step_ms": 1000 * global_batch / rate,
        "window_seconds": seconds, "machine": machine_facts()}
    if len(model.capabilities.optimizers) > 1:
        result["group_step_ms"] = group_step_costs(model, next(iter(train_ds)))
    if shapes is None:
        result["parameters"] = int(model.count_params())
        result["unit"] = "sequences" if model.modality == "piano_roll" else "images"
        forward = model.forward_flops_per_image()
        if forward:
            result["flops_per_image"] = {"forward": forward, "backward": 2 * forward,
                                         "total": 3 * forward}
            result["gflops_per_second"] = rate * 3 * forward / 1e9
        return result
    compute_dtype = model.encoder_network.compute_dtype

    forward, backward = flops_per_image(shapes)
    flops = forward + backward
    ceilings = {}
    for jit in (False, True):
        ceilings["xla" if jit else "tf"] = matmul_ceiling(
            shapes, recipe["batch_size"], model.latent_dim, compute_dtype, steps, windows, jit)
    result.update({
        "layers": [list(s) for s in shapes], "activation": recipe["activation"],
        "flops_per_image": {"forward": forward, "backward": backward, "total": flops},
        "gflops_per_second": rate * flops / 1e9,
        "ceiling_images_per_second": ceilings,
        "ceiling_gflops_per_second": max(ceilings.values()) * flops / 1e9,
        "fraction_of_ceiling": rate / max(ceilings.values()),
    })
    if options.get("torch", True):
        result["pytorch"] = torch_benchmark(
            shapes, recipe, run["arrays"]["x_train"], steps, windows, warmup,
            twin=model.capabilities.objective == "elbo" and model.prior_name == "normal")
        if "images_per_second" in result["pytorch"]:
            result["ratio_to_pytorch"] = rate / result["pytorch"]["images_per_second"]
    return result


def group_step_costs(model, batch, steps=10, repeats=3):
    """{group: median ms} of one optimizer group's update alone (its loss, gradient and
    optimizer step, compiled) on one batch: what each side of a GAN's step costs."""
    import time

    import tensorflow as tf

    x, y = model.unpack(batch)
    y = model.default_targets(x, y)
    def compiled(group, variables):  # a closure: tf.function would turn defaults into inputs
        return tf.function(lambda x, y: model.update_group(group, variables, x, y))

    costs = {}
    for group, variables in model.parameter_groups().items():
        update = compiled(group, variables)
        update(x, y)  # traced and warmed up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(steps):
                update(x, y)
            times.append((time.perf_counter() - start) / steps)
        costs[group] = 1000 * float(np.median(times))
    return costs


def torch_benchmark(shapes, recipe, x_train, steps, windows, warmup, twin=True):
    """The same ELBO model in PyTorch on CPU, timed the same way; {"skipped": reason} without torch.

    `twin`: the model trains the plain ELBO with an N(0, I) prior (its capabilities' objective),
    which is what the PyTorch twin implements."""
    try:
        import torch
    except ImportError:
        return {"skipped": TORCH_HINT}
    if recipe["precision"] == "mixed_float16" or not twin or (
            recipe.get("likelihood") != "bernoulli" or recipe.get("posterior") != "diagonal"):
        return {"skipped": "the PyTorch twin covers the ELBO with a Bernoulli likelihood, a "
                           "diagonal posterior and an N(0, I) prior, in float32 or bfloat16 "
                           "autocast"}
    torch.manual_seed(recipe["seed"])
    nn = torch.nn
    activation = {"softplus": nn.Softplus, "tanh": nn.Tanh, "relu": nn.ReLU}[recipe["activation"]]
    latent = recipe["latent_dim"]

    def mlp(layer_shapes):
        layers = []
        for i, (m, n) in enumerate(layer_shapes):
            layers.append(nn.Linear(m, n))
            if i < len(layer_shapes) - 1:
                layers.append(activation())
        return nn.Sequential(*layers)

    head = next(i for i, (m, n) in enumerate(shapes) if n == 2 * latent)
    encoder, decoder = mlp(shapes[:head + 1]), mlp(shapes[head + 1:])
    params = list(encoder.parameters()) + list(decoder.parameters())
    optimizer = torch.optim.Adam(params, lr=recipe["learning_rate"])
    images = torch.from_numpy(np.asarray(x_train, np.float32).reshape(len(x_train), -1))
    batch = recipe["batch_size"]
    autocast = recipe["precision"] == "mixed_bfloat16"

    def step(x):
        x = (torch.rand_like(x) < x).float()  # dynamic binarization, as our pipeline does
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            loc, raw = encoder(x).float().chunk(2, dim=-1)
            scale = nn.functional.softplus(raw) + 1e-4
            z = loc + scale * torch.randn_like(loc)
            logits = decoder(z).float()
        distortion = nn.functional.binary_cross_entropy_with_logits(
            logits, x, reduction="none").sum(-1)
        rate = 0.5 * (loc ** 2 + scale ** 2 - 1).sum(-1) - torch.log(scale).sum(-1)
        loss = (distortion + rate).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    order = torch.randperm(len(images))
    position = [0]

    def window():
        for _ in range(steps):
            if position[0] + batch > len(images):
                position[0] = 0
            idx = order[position[0]:position[0] + batch]
            position[0] += batch
            loss = step(images[idx])
        if not torch.isfinite(loss):
            raise RuntimeError("PyTorch loss is not finite")

    for _ in range(warmup):
        window()
    rate, seconds = _median_rate(window, windows, steps * batch)
    return {"images_per_second": rate, "window_seconds": seconds,
            "version": torch.__version__, "threads": torch.get_num_threads(),
            "precision": "bfloat16 autocast" if autocast else "float32"}


def format_generic_train(r):
    """A readable table of a train-mode result of a model without a matmul ceiling."""
    unit = r.get("unit", "images")
    lines = [
        f"Training benchmark: {r['model']} ({r['parameters']:,} parameters), batch "
        f"{r['batch_size']} per replica (global {r['global_batch_size']}), {r['precision']}, "
        f"strategy {r['strategy']} ({r['replicas']} replicas), jit_compile {r['jit_compile']}",
        _machine_line(r["machine"]),
        f"Protocol: Keras fit on the recipe's tf.data pipeline, {r['warmup_windows']} warm-up "
        f"windows, median of {r['windows']} windows of {r['steps_per_window']} steps",
        f"Training: {r['images_per_second']:,.1f} {unit}/s ({r['step_ms']:.1f} ms/step)"]
    if "group_step_ms" in r:
        lines.append("Step cost per optimizer group (its loss, gradient and update alone on one "
                     "batch, median of 3 x 10 steps): " + ", ".join(
                         f"{g} {ms:.1f} ms" for g, ms in r["group_step_ms"].items()))
    if "flops_per_image" in r:
        flops = r["flops_per_image"]
        lines.append(f"FLOPs per {unit[:-1]}: {flops['forward'] / 1e6:,.1f} M forward (counted "
                     f"from the layer sizes, 2 per weight use) + twice that backward = "
                     f"{flops['total'] / 1e6:,.1f} M; achieved {r['gflops_per_second']:.1f} "
                     "GFLOP/s (no ceiling is measured for convolutional or recurrent layers)")
        if unit == "sequences":
            lines.append("Sequences are counted at the padded length (the data set's longest "
                         "piece); a batch is trimmed to its own longest piece, so the work "
                         "done, and the true GFLOP/s, are lower.")
    return "\n".join(lines)


def _machine_line(machine):
    return (f"Machine: {machine['cpu']}, {machine['logical_cpus']} logical CPUs, "
            f"{machine['cpu_devices']} TF CPU devices, TensorFlow {machine['tensorflow']}, "
            f"Keras {machine['keras']}")


def benchmark_sampling(options, verbose=1):
    """Sampling time per image of a model with a fast sampler (`sample`) against the reference
    full re-evaluation (`sample(naive=True)`), each inside one tf.function, after a warm-up
    call; the model is built from the recipe's options (random weights: the cost does not
    depend on them)."""
    import tensorflow as tf

    from training.run.options import resolve_recipe
    from training.run.train import prepare_run

    ignore = ("mode", "export_dir", "repeats", "steps", "windows", "warmup", "cpu_devices",
              "torch", "json", "naive_batch")
    args = {k: v for k, v in options.items() if k not in ignore and v is not None}
    args["out"], args["strategy"] = "unused", "none"
    recipe = resolve_recipe(args)
    model = prepare_run(recipe, tf.distribute.get_strategy())["model"]
    if not model.capabilities.completion:
        raise ValueError(f"--mode sampling compares the fast and the naive samplers of "
                         f"autoregressive models; {type(model).__name__} has no completion.")
    batch, naive_batch = recipe["batch_size"], min(options.get("naive_batch") or 4,
                                                   recipe["batch_size"])
    rows = {}
    for name, naive, n in (("fast", False, batch), ("naive", True, naive_batch)):
        function = tf.function(lambda k, seed, naive=naive: model.sample(k, seed=seed,
                                                                         naive=naive))
        function(tf.constant(n), tf.constant([0, 0])).numpy()  # trace and warm up
        rate, seconds = _median_rate(
            lambda: function(tf.constant(n), tf.constant([1, 0])).numpy(),
            options["windows"] if name == "fast" else 1, n)
        rows[name] = {"images": n, "ms_per_image": 1000 / rate, "seconds": seconds}
    fast = model.sample(naive_batch, seed=3)
    return {"model": recipe["model"], "parameters": int(model.count_params()),
            "event_shape": list(model.event_shape), "sampling": rows,
            "speed_up": rows["naive"]["ms_per_image"] / rows["fast"]["ms_per_image"],
            "same_draws": bool(np.array_equal(fast, model.sample(naive_batch, seed=3,
                                                                 naive=True))),
            "machine": machine_facts()}


def format_sampling(r):
    fast, naive = r["sampling"]["fast"], r["sampling"]["naive"]
    return "\n".join([
        f"Sampling benchmark: {r['model']} ({r['parameters']:,} parameters), images "
        f"{'x'.join(map(str, r['event_shape']))}",
        _machine_line(r["machine"]),
        "Protocol: model.sample inside one tf.function, after a warm-up call; fast: median "
        "of the timed calls, naive: one call (it re-evaluates the whole model per pixel)",
        f"fast sampler:  {fast['ms_per_image']:10.2f} ms per image (batch {fast['images']})",
        f"naive sampler: {naive['ms_per_image']:10.2f} ms per image (batch {naive['images']})",
        f"speed-up {r['speed_up']:.1f}x; the same draws for the same seed: {r['same_draws']}"])


def format_train(r):
    """A readable table of a train-mode result."""
    if "layers" not in r:
        return format_generic_train(r)
    flops = r["flops_per_image"]
    layers = " ".join(f"{m}x{n}" for m, n in r["layers"])
    lines = [
        f"Training benchmark: {r['model']} MLP ({layers}), {r['activation']}, batch "
        f"{r['batch_size']} per replica (global {r['global_batch_size']}), {r['precision']}, "
        f"strategy {r['strategy']} ({r['replicas']} replicas), jit_compile {r['jit_compile']}, "
        f"steps_per_execution {r['steps_per_execution']}",
        _machine_line(r["machine"]),
        f"Protocol: Keras fit on the recipe's tf.data pipeline, {r['warmup_windows']} warm-up "
        f"windows, median of {r['windows']} windows of {r['steps_per_window']} steps",
        f"FLOPs per image: {flops['forward'] / 1e6:.3f} M forward + {flops['backward'] / 1e6:.3f}"
        f" M backward = {flops['total'] / 1e6:.3f} M (2mn per m x n layer forward, twice that "
        "backward, no input gradient for the first layer)",
        "",
        f"{'what':<42} {'images/s':>10} {'GFLOP/s':>9} {'ms/step':>8}",
    ]

    def row(what, rate, batch=r["global_batch_size"]):
        lines.append(f"{what:<42} {rate:>10,.0f} {rate * flops['total'] / 1e9:>9.1f} "
                     f"{1000 * batch / rate:>8.2f}")

    row("training step (fit)", r["images_per_second"])
    for name, rate in r["ceiling_images_per_second"].items():
        row(f"matmul ceiling ({'XLA' if name == 'xla' else 'TF ops'}, one device)", rate,
            r["batch_size"])
    torch_result = r.get("pytorch", {})
    if "images_per_second" in torch_result:
        row(f"PyTorch {torch_result['version']} ({torch_result['precision']}, "
            f"{torch_result['threads']} threads)", torch_result["images_per_second"])
    lines.append("")
    lines.append(f"Fraction of the matmul ceiling: {r['fraction_of_ceiling']:.0%}")
    if "ratio_to_pytorch" in r:
        lines.append(f"Ours / PyTorch: {r['ratio_to_pytorch']:.2f}x")
    elif "skipped" in torch_result:
        lines.append(torch_result["skipped"])
    return "\n".join(lines)


def run(options, verbose=1):
    """The `benchmark` sub-command: prints the table, writes --json; returns the result."""
    if options["mode"] == "serving":
        from training.serving.benchmark import benchmark_serving, report

        if not options.get("export_dir"):
            raise ValueError("--mode serving needs an export folder: python -m training "
                             "benchmark --mode serving exports/NAME/1")
        rows = benchmark_serving(options["export_dir"], options["repeats"])
        print(report(options["export_dir"], options["repeats"], rows=rows))
        result = {"mode": "serving", "export_dir": options["export_dir"], "rows": [
            {"what": w, "median_ms": m, "p90_ms": p, "items_per_second": r}
            for w, m, p, r in rows]}
    else:
        if options.get("export_dir"):
            raise ValueError("An export folder is for --mode serving; --mode train and "
                             "--mode sampling take --model and recipe options.")
        if options["mode"] == "sampling":
            result = benchmark_sampling(options, verbose)
            print(format_sampling(result))
        else:
            result = benchmark_train(options, verbose)
            print(format_train(result))
    if options.get("json"):
        with open(options["json"], "w") as f:
            json.dump(result, f, indent=2)
    return result
