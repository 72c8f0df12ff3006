"""The data set registry: listing, modalities, the loader interface and its errors."""

import numpy as np
import pytest

from training import data as data_lib
from training.data import DataError, registry


def test_every_data_set_is_listed_with_its_modality():
    listed = {name: (modality, text) for name, modality, text in data_lib.list_datasets()}
    assert {name: m for name, (m, _) in listed.items()} == {
        "bach_chorales": "piano_roll", "digits": "image", "jsb_chorales": "piano_roll",
        "midi": "piano_roll", "mnist": "image",
        "pokemon": "palette_image", "palette": "palette_image"}
    assert all(text for _, text in listed.values())
    assert [name for name, _, _ in data_lib.list_datasets()] == sorted(data_lib.DATASETS)
    assert "mnist" in data_lib.DATASETS and "cifar" not in data_lib.DATASETS
    assert set(data_lib.MODALITIES) == {"image", "palette_image", "piano_roll"}


def test_dataset_modality():
    assert data_lib.dataset_modality("pokemon") == "palette_image"
    assert data_lib.dataset_modality("jsb_chorales") == "piano_roll"
    with pytest.raises(DataError, match="Unknown dataset 'cifar'; choose one of: bach_chorales, digits, "):
        data_lib.dataset_modality("cifar")


def test_load_dataset_returns_the_registered_modality():
    digits = data_lib.load_dataset("digits")
    assert digits.modality == "image" and digits.event_shape == (8, 8, 1)


def test_a_path_for_a_data_set_that_reads_no_files():
    with pytest.raises(DataError, match="'digits' reads no files.*bach_chorales, jsb_chorales, midi, mnist, palette, pokemon"):
        data_lib.load_dataset("digits", "/some/path")


def _tiny(modality="image"):
    split = data_lib.Split(np.zeros((2, 2, 2, 1), np.float32), np.zeros(2, np.int64))
    return data_lib.Dataset("tiny", split, split, split, source="test", modality=modality)


def test_a_loader_returning_the_wrong_modality_is_caught(monkeypatch):
    monkeypatch.setattr(registry, "DATASETS", dict(registry.DATASETS))
    registry.register_dataset("tiny", "piano_roll", "a wrongly registered set")(_tiny)
    with pytest.raises(DataError, match="returned 'image' data but .* registered as 'piano_roll'"):
        data_lib.load_dataset("tiny")


def test_register_dataset_checks_modality_and_duplicates(monkeypatch):
    monkeypatch.setattr(registry, "DATASETS", dict(registry.DATASETS))
    with pytest.raises(ValueError, match="Unknown modality 'video'"):
        registry.register_dataset("tiny", "video", "no such modality")
    with pytest.raises(ValueError, match="'mnist' is already registered"):
        registry.register_dataset("mnist", "image", "a second mnist")(_tiny)
    registry.register_dataset("tiny", "image", "a tiny set")(_tiny)
    assert registry.DATASETS["tiny"].description == "a tiny set"
    assert data_lib.load_dataset("tiny").name == "tiny"


def test_split_mask_follows_the_lengths():
    split = data_lib.Split(np.zeros((2, 4, 88), np.float32), np.full(2, -1),
                           np.array([2, 4], np.int32))
    np.testing.assert_array_equal(split.mask, [[1, 1, 0, 0], [1, 1, 1, 1]])
    assert split.mask.dtype == np.float32
    assert data_lib.Split(np.zeros((2, 3)), np.zeros(2)).mask is None


def test_prepare_images_reports_modality_and_labels(digits):
    arrays = data_lib.prepare(digits, "dynamic")
    assert arrays["modality"] == "image"
    assert {"x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "dynamic",
            "protocol"} <= set(arrays)
    np.testing.assert_array_equal(arrays["y_test"], digits.test.y)


def test_prepare_rejects_an_unknown_modality():
    dataset = _tiny()
    dataset.modality = "video"
    with pytest.raises(DataError, match="unknown modality 'video'"):
        data_lib.prepare(dataset, "none")
