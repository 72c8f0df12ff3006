"""Piano rolls: the JSB chorales loader chain, the JSON and pickle formats and their errors, and
the conversions between pitch sequences and rolls."""

import fractions
import json
import os
import pickle

import numpy as np
import pytest

from training import data as data_lib
from training.data import DataError

TINY = {"train": [[[60, 64], [], [21, 108]], [[62]]], "valid": [[[60]]], "test": [[[67], [67]]]}


def write_json(path, data=TINY):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return str(path)


def test_jsb_chorales(jsb_file):
    ds = data_lib.load_dataset("jsb_chorales", jsb_file)
    assert ds.modality == "piano_roll"
    assert (len(ds.train.x), len(ds.validation.x), len(ds.test.x)) == (229, 76, 77)
    with open(jsb_file) as f:
        raw = json.load(f)
    longest = max(len(c) for key in ("train", "valid", "test") for c in raw[key])
    assert ds.event_shape == (longest, 88) and ds.train.x.dtype == np.float32
    for split, key in ((ds.train, "train"), (ds.validation, "valid"), (ds.test, "test")):
        np.testing.assert_array_equal(split.lengths, [len(c) for c in raw[key]])
        np.testing.assert_array_equal(split.mask.sum(1), split.lengths)
        assert np.all(split.x * (1 - split.mask[..., None]) == 0)  # nothing after the end
        assert np.all(split.y == -1)
    first = data_lib.sequences_from_roll(ds.test.x[0], ds.test.lengths[0])
    assert first == [sorted(set(step)) for step in raw["test"][0]]
    assert "re-derived" in ds.info["note"]


def test_jsb_loader_order(tmp_path, monkeypatch, no_home_data):
    cached = write_json(no_home_data / ".keras" / "datasets" / "jsb-chorales-quarter.json")
    assert data_lib.load_jsb_chorales().source == cached
    env = write_json(tmp_path / "env" / "jsb-chorales-quarter.json")
    monkeypatch.setenv("ZOO_JSB_DIR", str(tmp_path / "env"))
    assert data_lib.load_jsb_chorales().source == env
    explicit = write_json(tmp_path / "mine.json")
    assert data_lib.load_jsb_chorales(explicit).source == explicit
    monkeypatch.setenv("ZOO_JSB_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match=r"\$ZOO_JSB_DIR is .*nowhere'"):
        data_lib.load_jsb_chorales()


def test_jsb_offline_download_says_where_to_put_the_file(monkeypatch, no_home_data):
    import keras

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(DataError, match="Downloading the JSB chorales failed.*ZOO_JSB_DIR"):
        data_lib.load_dataset("jsb_chorales")
    with pytest.raises(DataError, match="No JSB chorales found"):
        data_lib.load_jsb_chorales(allow_download=False)


def test_rolls_and_sequences_round_trip():
    rolls, lengths = data_lib.rolls_from_sequences(TINY["train"])
    assert rolls.shape == (2, 3, 88) and rolls.dtype == np.float32
    np.testing.assert_array_equal(lengths, [3, 1])
    assert rolls[0, 2, 0] == 1 and rolls[0, 2, 87] == 1 and rolls[0, 1].sum() == 0
    for roll, length, sequence in zip(rolls, lengths, TINY["train"]):
        assert data_lib.sequences_from_roll(roll, length) == sequence
    with pytest.raises(DataError, match="outside the roll's 3 steps"):
        data_lib.sequences_from_roll(rolls[0], 4)
    with pytest.raises(DataError, match=r"one piano roll \[T, 88\]"):
        data_lib.sequences_from_roll(rolls)


def test_the_original_pickle_format(tmp_path):
    data = {key: [[tuple(step) for step in c] for c in chorales] for key, chorales in TINY.items()}
    path = tmp_path / "JSB Chorales.pickle"
    path.write_bytes(pickle.dumps(data, protocol=2))
    ds = data_lib.load_chorale_file(str(tmp_path))  # a folder holding only the pickle
    assert ds.event_shape == (3, 88) and ds.source == str(path) and "note" not in ds.info
    assert data_lib.sequences_from_roll(ds.train.x[0], ds.train.lengths[0]) == TINY["train"][0]


def bad(key, chorale):
    return {**TINY, key: [chorale]}


@pytest.mark.parametrize("data, message", [
    (bad("valid", [[60], [20]]), r"valid chorale 0, step 1: pitch 20 is not a MIDI pitch"),
    (bad("test", [[109]]), r"test chorale 0, step 0: pitch 109 is not a MIDI pitch in 21..108"),
    (bad("train", [[60.5]]), "pitch 60.5 is not a MIDI pitch"),
    (bad("train", []), "train chorale 0 is empty"),
    (bad("train", [60]), "step 0: expected a list of MIDI pitches"),
    ({"train": TINY["train"], "valid": TINY["valid"]}, r"lacks the split\(s\) test"),
    ({**TINY, "valid": []}, "split 'valid' must be a non-empty list"),
    ([1, 2], "holds a list; expected a dict"),
])
def test_bad_chorale_files(tmp_path, data, message):
    for suffix in (".json", ".pickle"):
        path = tmp_path / f"bad{suffix}"
        if suffix == ".json":
            path.write_text(json.dumps(data))
        else:
            path.write_bytes(pickle.dumps(data))
        with pytest.raises(DataError, match=message):
            data_lib.load_chorale_file(str(path))


def test_a_pickle_with_a_class_is_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(bad("train", [[fractions.Fraction(1, 2)]])))
    with pytest.raises(DataError, match="refusing to load fractions.Fraction"):
        data_lib.load_chorale_file(str(path))
    path.write_bytes(pickle.dumps(os.system))
    with pytest.raises(DataError, match="refusing"):
        data_lib.load_chorale_file(str(path))


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        data_lib.load_chorale_file(str(tmp_path / "nothing.json"))
    with pytest.raises(DataError, match="holds neither jsb-chorales-quarter.json"):
        data_lib.load_chorale_file(str(tmp_path))
    (tmp_path / "broken.json").write_text('{"train": [')
    with pytest.raises(DataError, match="corrupt"):
        data_lib.load_chorale_file(str(tmp_path / "broken.json"))
    (tmp_path / "broken.pickle").write_bytes(b"\x80\x02}q\x00")
    with pytest.raises(DataError, match="corrupt"):
        data_lib.load_chorale_file(str(tmp_path / "broken.pickle"))


def test_prepare_piano_rolls(tmp_path):
    ds = data_lib.load_chorale_file(write_json(tmp_path / "tiny.json"))
    arrays = data_lib.prepare(ds, "none")
    assert arrays["modality"] == "piano_roll" and not arrays["dynamic"]
    assert arrays["x_train"].shape == (2, 3, 88)
    np.testing.assert_array_equal(arrays["lengths_train"], [3, 1])
    np.testing.assert_array_equal(arrays["lengths_test"], [2])
    np.testing.assert_array_equal(arrays["y_val"], [-1])
    assert "t < length" in arrays["protocol"]
    with pytest.raises(DataError, match="'static' applies to images only.*'piano_roll'"):
        data_lib.prepare(ds, "static")
