"""Pictures: grids have the right size, files are written, and misuse is named."""

import numpy as np
import pytest

from tests.conftest import inputs_for, make_model
from training import pictures as plotting


def test_image_grid_layout():
    grid = plotting.image_grid(np.zeros((10, 8, 8, 1)), columns=5, pad=1)
    assert grid.shape == (2 * 9 + 1, 5 * 9 + 1, 1)


@pytest.mark.parametrize("kind", ["samples", "reconstructions", "scatter", "interpolation",
                                  "manifold"])
def test_every_plot_is_written(tmp_path, digits, kind):
    model = make_model("vae", {"latent_dim": 2})
    x = inputs_for(model, n=200)
    path = plotting.plot(model, kind, str(tmp_path / f"{kind}.png"), x, digits.train.y[:200])
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_manifold_needs_two_latent_dimensions():
    with pytest.raises(ValueError, match="needs a 2-D latent"):
        plotting.manifold_grid(make_model("vae", {"latent_dim": 4}))


def test_interpolation_rows_end_with_the_inputs():
    model = make_model("vae", {"latent_dim": 2})
    x = inputs_for(model, n=4)
    grid = plotting.interpolation_grid(model, x[:2], x[2:], steps=5)
    assert grid.shape[1] == 7 * 9 + 1  # 5 steps plus the two inputs, 8 px + 1 px padding
    np.testing.assert_array_equal(grid[1:9, 1:9], plotting.to_display(x[:1])[0])


def test_unknown_plot(tmp_path):
    with pytest.raises(ValueError, match="Unknown plot 'heatmap'"):
        plotting.plot(make_model("vae", {}), "heatmap", str(tmp_path / "x.png"), None, None)


def test_pseudo_input_picture_is_the_models_own(tmp_path):
    model = make_model("vamp", {"num_pseudo_inputs": 20})
    assert "pseudo_inputs" in plotting.available_plots(model)
    grid = plotting.rows_grid(model.pseudo_input_rows(None, None, 0, num=20, columns=10))
    assert grid.shape[0] == 4 * 9 + 1  # two rows of pseudo-inputs, two of their decodings
    np.testing.assert_allclose(grid[1:9, 1:9], plotting.to_display(model.pseudo_inputs()[:1])[0])
    path = plotting.plot(model, "pseudo_inputs", str(tmp_path / "p.png"), None, None)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="Unknown plot 'pseudo_inputs'; VAE can draw: samples"):
        plotting.plot(make_model("vae", {}), "pseudo_inputs", str(tmp_path / "q.png"), None, None)


def test_pictures_follow_capabilities(tmp_path):
    gan = make_model("toy_gan", {})
    assert plotting.available_plots(gan) == ["samples", "curves"]
    with pytest.raises(ValueError, match="ToyGAN cannot draw 'reconstructions'; ToyGAN can draw: "
                                         "samples"):
        plotting.plot(gan, "reconstructions", str(tmp_path / "r.png"), None, None)
    assert "analogies" in plotting.available_plots(make_model("m2", {}))
    assert "digits" in plotting.available_plots(make_model("cvae", {}))
