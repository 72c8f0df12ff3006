"""`python -m training benchmark`: FLOP counting, the tiny train-mode run, PyTorch optional."""

import json
import sys

import pytest

import zoo
from training.run import benchmark
from training.__main__ import main

# The MLP VAE: 784-500-500-z50 and back.
VAE_LAYERS = [(784, 500), (500, 500), (500, 100), (50, 500), (500, 500), (500, 784)]


def test_dense_shapes_follow_the_training_step():
    model = zoo.VAE(event_shape=(28, 28, 1), latent_dim=50, hidden_units=(500, 500),
                    activation="softplus")
    assert benchmark.dense_shapes(model) == VAE_LAYERS
    conv = zoo.VAE(event_shape=(8, 8, 1), latent_dim=4, network="conv", conv_filters=(4, 8),
                   hidden_units=(16,))
    with pytest.raises(ValueError, match="MLP networks only"):
        benchmark.dense_shapes(conv)


def test_flops_per_image_of_the_mlp_vae():
    forward, backward = benchmark.flops_per_image(VAE_LAYERS)
    macs = 784 * 500 + 500 * 500 + 500 * 100 + 50 * 500 + 500 * 500 + 500 * 784
    assert forward == 2 * macs == 2_718_000
    assert backward == 2 * forward - 2 * 784 * 500 == 4_652_000  # no input gradient for layer 1


def test_train_mode_runs_in_a_tiny_configuration(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["benchmark", "--dataset", "digits", "--hidden-units", "16", "--latent-dim", "4",
                 "--batch-size", "50", "--steps", "4", "--windows", "2", "--warmup", "1",
                 "--steps-per-execution", "2", "--no-torch", "--json", str(path)]) == 0
    printed = capsys.readouterr().out
    for text in ("training step (fit)", "matmul ceiling (TF ops, one device)", "matmul ceiling (XLA, one device)",
                 "Fraction of the matmul ceiling", "FLOPs per image"):
        assert text in printed, text
    result = json.loads(path.read_text())
    assert result["layers"] == [[64, 16], [16, 8], [4, 16], [16, 64]]
    forward, backward = benchmark.flops_per_image([tuple(s) for s in result["layers"]])
    assert result["flops_per_image"] == {"forward": forward, "backward": backward,
                                         "total": forward + backward}
    assert result["images_per_second"] > 0 and len(result["window_seconds"]) == 2
    assert result["steps_per_window"] == 4 and result["steps_per_execution"] == 2
    assert result["gflops_per_second"] == pytest.approx(
        result["images_per_second"] * (forward + backward) / 1e9)
    best = max(result["ceiling_images_per_second"].values())
    assert result["fraction_of_ceiling"] == pytest.approx(result["images_per_second"] / best)
    assert result["machine"]["logical_cpus"] >= 1 and result["machine"]["tensorflow"]
    assert "pytorch" not in result


def test_pytorch_comparison_is_optional(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    recipe = {"precision": "float32", "model": "vae", "likelihood": "bernoulli",
              "posterior": "diagonal"}
    result = benchmark.torch_benchmark(VAE_LAYERS, recipe, None, 1, 1, 0)
    assert result == {"skipped": "PyTorch not installed: pip install torch==2.13.0 for the "
                                 "comparison"}


def test_default_run_without_pytorch_skips_the_comparison(monkeypatch, capsys):
    # Without --no-torch the comparison is attempted; it once crashed (NameError `arrays`)
    # before reaching the import of torch.
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    assert main(["benchmark", "--dataset", "digits", "--hidden-units", "16", "--latent-dim", "4",
                 "--batch-size", "50", "--steps", "2", "--windows", "1", "--warmup", "0"]) == 0
    captured = capsys.readouterr()
    assert benchmark.TORCH_HINT in captured.out
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("argv, message", [
    (["--mode", "serving"], "--mode serving needs an export folder"),
    (["--strategy", "multiworker"], "needs TF_CONFIG"),
    (["--precision", "int8"], "--precision must be one of: float32"),
])
def test_bad_benchmark_input_exits_2(capsys, monkeypatch, argv, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(["benchmark", "--dataset", "digits", *argv]) == 2
    assert message in capsys.readouterr().err


def test_adversarial_models_report_each_groups_step_cost(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert main(["benchmark", "--model", "dcgan", "--dataset", "digits", "--filters", "4,8",
                 "--latent-dim", "4", "--batch-size", "50", "--steps", "3", "--windows", "1",
                 "--warmup", "1", "--json", str(path)]) == 0
    assert "Step cost per optimizer group" in capsys.readouterr().out
    costs = json.loads(path.read_text())["group_step_ms"]
    assert set(costs) == {"discriminator", "generator"} and min(costs.values()) > 0
