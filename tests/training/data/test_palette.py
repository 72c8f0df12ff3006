"""Palette images: the Pokémon loader chain, the palette folder format and its errors, and the
converter of RGB folders."""

import os

import numpy as np
import pytest

from training import data as data_lib
from training.data import DataError

COLOURS = "255 255 255\n0 0 0\n255 0 0\n"


def write_folder(folder, pixels, colours=COLOURS):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "pixel_color.txt"), "w") as f:
        f.write(pixels)
    with open(os.path.join(folder, "colormap.txt"), "w") as f:
        f.write(colours)
    return str(folder)


def tiny_sprites(n=5, side=2, seed=0):
    rows = np.random.default_rng(seed).integers(0, 3, (n, side * side))
    return "\n".join(" ".join(map(str, r)) for r in rows)


def test_pokemon_sprites(pokemon_dir):
    ds = data_lib.load_dataset("pokemon", pokemon_dir)
    assert ds.modality == "palette_image" and ds.event_shape == (20, 20)
    assert (len(ds.train.x), len(ds.validation.x), len(ds.test.x)) == (642, 71, 79)
    assert ds.train.x.dtype == np.int32 and ds.train.x.min() >= 0 and ds.train.x.max() < 167
    colours = ds.info["palette"]
    assert colours.shape == (167, 3) and colours.dtype == np.float32
    assert colours.min() >= 0 and colours.max() <= 1
    np.testing.assert_array_equal(colours[0], [1, 1, 1])  # index 0 is white
    assert "79 test" in ds.info["split"] and "seed 0" in ds.info["split"]
    rows = np.concatenate(list(ds.info["rows"].values()))
    np.testing.assert_array_equal(np.sort(rows), np.arange(792))
    again = data_lib.load_dataset("pokemon", pokemon_dir)
    for name in ("train", "validation", "test"):
        np.testing.assert_array_equal(getattr(ds, name).x, getattr(again, name).x)
    assert np.all(ds.train.y == -1)


def test_pokemon_loader_order(tmp_path, monkeypatch, no_home_data):
    cache = write_folder(no_home_data / ".keras" / "datasets" / "pokemon", tiny_sprites(4))
    assert data_lib.load_pokemon().source == cache
    env = write_folder(tmp_path / "env", tiny_sprites(5))
    monkeypatch.setenv("ZOO_POKEMON_DIR", env)
    assert data_lib.load_pokemon().source == env
    explicit = write_folder(tmp_path / "explicit", tiny_sprites(6))
    assert data_lib.load_pokemon(explicit).source == explicit
    monkeypatch.setenv("ZOO_POKEMON_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"\$ZOO_POKEMON_DIR is .*nowhere'"):
        data_lib.load_pokemon()


def test_pokemon_offline_download_says_where_to_put_the_files(monkeypatch, no_home_data):
    import keras

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(DataError, match="Downloading the Pokémon sprites failed.*ZOO_POKEMON_DIR"):
        data_lib.load_dataset("pokemon")
    with pytest.raises(DataError, match=str(no_home_data / ".keras" / "datasets" / "pokemon")):
        data_lib.load_pokemon(allow_download=False)


@pytest.mark.parametrize("pixels, colours, message", [
    ("0 1 2 0\n0 1 x 0\n0 0 0 0", COLOURS, r"line 2: 'x' is not an integer"),
    ("0 1 2 0\n0 1 2\n0 0 0 0", COLOURS, "line 2 has 3 pixels but line 1 has 4"),
    ("0 1 2\n0 1 2\n0 0 0", COLOURS, "3 pixels, which is not a square number"),
    ("0 1 2 0\n0 1 2 0\n0 0 3 0", COLOURS, "line 3: palette index 3 is outside the 3 colours"),
    ("0 1 2 0\n0 1 2 0\n-1 0 0 0", COLOURS, "line 3: palette index -1 is outside"),
    ("0 1 2 0\n0 1 2 0\n0 0 0 0", "255 255 255\n0 0\n1 2 3\n", r"colormap.txt line 2: expected"),
    ("0 1 2 0\n0 1 2 0\n0 0 0 0", "255 255 256\n", r"line 1: expected `R G B`.*'255 255 256'"),
    ("0 1 2 0\n0 1 2 0\n0 0 0 0", "1 2 3\n0.5 0 0\n", "colormap.txt line 2: expected"),
    ("", COLOURS, "pixel_color.txt is empty"),
    ("0 1 2 0\n0 1 2 0\n0 0 0 0", "\n\n", "colormap.txt is empty"),
    ("0 1 2 0\n0 1 2 0", COLOURS, "at least 3 images"),
])
def test_bad_palette_folders(tmp_path, pixels, colours, message):
    folder = write_folder(tmp_path / "bad", pixels, colours)
    with pytest.raises(DataError, match=message):
        data_lib.load_palette_folder(folder)


def test_missing_file_and_not_a_folder(tmp_path):
    folder = write_folder(tmp_path / "one", tiny_sprites())
    os.remove(os.path.join(folder, "colormap.txt"))
    with pytest.raises(DataError, match="lacks colormap.txt"):
        data_lib.load_palette_folder(folder)
    with pytest.raises(DataError, match="is not a folder"):
        data_lib.load_palette_folder(os.path.join(folder, "pixel_color.txt"))


def test_prepare_palette_images(tmp_path):
    ds = data_lib.load_palette_folder(write_folder(tmp_path / "p", tiny_sprites(10)), "mine")
    arrays = data_lib.prepare(ds, "none")
    assert arrays["modality"] == "palette_image" and not arrays["dynamic"]
    assert arrays["x_train"].dtype == np.int32 and arrays["palette"].shape == (3, 3)
    assert np.all(arrays["y_test"] == -1) and len(arrays["y_test"]) == len(arrays["x_test"])
    with pytest.raises(DataError, match="'dynamic' applies to images only.*'palette_image'"):
        data_lib.prepare(ds, "dynamic")


def write_images(folder, seed=0):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    colours = np.array([[255, 255, 255], [200, 0, 0], [0, 0, 200]], np.uint8)
    for i in range(4):
        Image.fromarray(colours[rng.integers(0, 3, (8, 8))]).save(folder / f"sprite{i}.png")
    rgba = np.zeros((8, 8, 4), np.uint8)  # fully transparent: becomes white
    Image.fromarray(rgba, "RGBA").save(folder / "transparent.png")
    (folder / "notes.txt").write_text("not an image")
    return str(folder)


def test_rgb_folder_round_trip(tmp_path):
    folder = write_images(tmp_path / "images")
    small, few = data_lib.palette_images_from_folder(folder, num_colours=4, size=4)
    assert small.shape == (5, 4, 4) and few.shape == (4, 3)  # resizing mixed the colours
    # At full size the images hold 3 colours: fewer than asked, so they are kept exactly.
    indices, colours = data_lib.palette_images_from_folder(folder, num_colours=4, size=8)
    assert indices.shape == (5, 8, 8) and indices.dtype == np.int32
    np.testing.assert_allclose(colours, [[1, 1, 1], [0, 0, 200 / 255], [200 / 255, 0, 0]])
    assert colours.dtype == np.float32
    assert np.all(indices[-1] == 0)  # the transparent image (last by name) is all background
    out = str(tmp_path / "palette")
    data_lib.write_palette_dataset(indices, colours, out)
    assert sorted(os.listdir(out)) == ["colormap.txt", "pixel_color.txt"]  # no temporary left
    read_indices, read_colours = data_lib.read_palette_files(out)
    np.testing.assert_array_equal(read_indices, indices)
    np.testing.assert_allclose(read_colours, colours, atol=0.5 / 255 + 1e-6)
    ds = data_lib.load_palette_folder(out, name="mine")
    assert ds.name == "mine" and ds.modality == "palette_image" and ds.event_shape == (8, 8)
    assert len(ds.train.x) + len(ds.validation.x) + len(ds.test.x) == 5


def test_rgb_folder_k_means_is_seeded(tmp_path):
    folder = write_images(tmp_path / "images")
    first = data_lib.palette_images_from_folder(folder, num_colours=2, size=8, seed=3)
    again = data_lib.palette_images_from_folder(folder, num_colours=2, size=8, seed=3)
    assert first[1].shape == (2, 3) and set(np.unique(first[0])) == {0, 1}
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_converter_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="holds no images"):
        data_lib.palette_images_from_folder(str(empty))
    with pytest.raises(DataError, match="num_colours must be at least 2"):
        data_lib.palette_images_from_folder(str(empty), num_colours=1)
    with pytest.raises(DataError, match="size must be at least 2"):
        data_lib.palette_images_from_folder(str(empty), size=1)
    (empty / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png is not a readable image"):
        data_lib.palette_images_from_folder(str(empty))


def test_write_palette_dataset_checks_its_input(tmp_path):
    colours = np.array([[1, 1, 1], [0, 0, 0]], np.float32)
    with pytest.raises(DataError, match="outside the 2 colours"):
        data_lib.write_palette_dataset(np.full((1, 2, 2), 2), colours, str(tmp_path / "a"))
    with pytest.raises(DataError, match=r"integers \[N, side, side\]"):
        data_lib.write_palette_dataset(np.zeros((1, 2, 3), int), colours, str(tmp_path / "a"))
    with pytest.raises(DataError, match=r"\[K, 3\] RGB values in \[0, 1\]"):
        data_lib.write_palette_dataset(np.zeros((1, 2, 2), int), colours * 255, str(tmp_path / "a"))
    assert not os.path.exists(tmp_path / "a")
