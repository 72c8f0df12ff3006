"""The GAE experiment driver: pictures from tiny models, and the card's verdict."""

import json

import numpy as np
import pytest

from tests.conftest import inputs_for, make_model
from training import gae_experiments


def test_pictures_are_written(tmp_path):
    gae2d = make_model("gae", {"num_components": 20, "latent_dim": 2})
    gae2d.refresh_components(inputs_for(gae2d, n=20))
    deeper = make_model("gae", {"num_components": 20, "latent_dim": 2, "hidden_units": (16, 16)})
    deeper.refresh_components(inputs_for(deeper, n=20))
    vae = make_model("vae", {"latent_dim": 2})
    x, y = inputs_for(gae2d, n=50), np.arange(50) % 10
    gae_experiments.save_samples_side_by_side(str(tmp_path / "side.png"), gae2d, vae)
    gae_experiments.save_latent_pictures(str(tmp_path / "kde.png"), str(tmp_path / "sc.png"),
                                         [gae2d, deeper], ["1-layer", "2-layer"], x, y)
    for name in ("side.png", "kde.png", "sc.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 300_000


def results(gae_nll, vae_nll, stderr, gae_parzen, vae_parzen):
    row = {"test_nll_stderr": 0.5, "parzen_stderr": 1.0, "parzen_sigma": 0.2, "fd": 3.0,
           "train_seconds": 600}
    return {"gae": {**row, "test_nll": gae_nll, "parzen_log_likelihood": gae_parzen},
            "vae": {**row, "test_nll": vae_nll, "parzen_log_likelihood": vae_parzen},
            "nll_difference_gae_minus_vae": {"mean": gae_nll - vae_nll, "stderr": stderr},
            "shared_recipe": {"hidden_units": [200, 200], "activation": "tanh",
                              "latent_dim": 16, "epochs": 30, "batch_size": 100,
                              "learning_rate": 0.001, "lr_schedule": "cosine",
                              "binarization": "dynamic", "seed": 0},
            "protocol": {"nll": "n", "parzen": "p", "fd": "f"}}


@pytest.mark.parametrize("numbers, verdict", [
    ((90.0, 92.0, 0.3, 200.0, 150.0), "holds here on both measures"),
    ((90.0, 92.0, 0.3, 100.0, 150.0), "holds here for the NLL but not for the Parzen window"),
    ((91.8, 92.0, 0.3, 200.0, 150.0), "holds here for the Parzen window but not for the NLL"),
    ((95.0, 92.0, 0.3, 100.0, 150.0), "does not hold here on either measure"),
])
def test_card_section_states_the_verdict(tmp_path, numbers, verdict):
    assert "GAE vs VAE" not in gae_experiments.card_section(str(tmp_path))
    (tmp_path / gae_experiments.RESULTS_FILE).write_text(json.dumps(results(*numbers)))
    section = gae_experiments.card_section(str(tmp_path))
    assert f"beats the VAE on both NLL and Parzen {verdict}" in section
    assert "| GAE | " in section and "| VAE | " in section
