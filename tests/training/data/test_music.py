"""Scores and MIDI files as piano rolls: quantization, the MIDI round trip, the picture, the
"midi" folder loader and the "bach_chorales" corpus parse (on a few real chorales)."""

import json
import os

import numpy as np
import pytest

pytest.importorskip("music21", reason="music21 is not installed (pip install -r requirements.txt)")
from music21 import chord, corpus, note, stream  # noqa: E402

from training import data as data_lib  # noqa: E402
from training.data import DataError, music  # noqa: E402


def sparse_roll(seed, num_steps=12, density=0.06):
    """A random roll whose last step sounds (trailing silence does not survive MIDI)."""
    roll = (np.random.default_rng(seed).random((num_steps, 88)) < density).astype(np.float32)
    roll[-1, 39] = 1.0  # C4
    return roll


def test_roll_from_score_quantizes_durations_chords_rests_and_drops_out_of_range():
    upper, lower = stream.Part(), stream.Part()
    upper.insert(0, note.Rest(quarterLength=1))
    upper.insert(1, note.Note(60, quarterLength=2))                # steps 1, 2
    upper.insert(3, chord.Chord([55, 59, 62], quarterLength=1))    # step 3
    upper.insert(4, note.Rest(quarterLength=1))                    # step 4 empty
    upper.insert(5, note.Note(64, quarterLength=0.25))             # shorter than a step: step 5
    upper.insert(5, note.Note(120, quarterLength=1))               # above C8: dropped
    upper.insert(5.5, note.Note(67, quarterLength=1.5))            # onset 5.5 -> 6, end 7
    lower.insert(0, note.Note(36, quarterLength=1))                # the other part counts too
    score = stream.Score([upper, lower])
    with pytest.warns(UserWarning, match=r"mine: dropped 1 note\(s\) outside MIDI 21\.\.108"):
        sequence = music.sequence_from_score(score, name="mine")
    assert sequence == [[36], [60], [60], [55, 59, 62], [], [64], [67]]
    with pytest.warns(UserWarning):
        roll = music.roll_from_score(score)
    assert roll.shape == (7, 88) and roll.dtype == np.float32
    assert data_lib.sequences_from_roll(roll) == sequence
    with pytest.warns(UserWarning):
        fine = music.sequence_from_score(score, steps_per_quarter=4)
    assert [t for t, step in enumerate(fine) if 60 in step] == list(range(4, 12))
    assert [t for t, step in enumerate(fine) if 64 in step] == [20]  # a 16th: one step
    assert [t for t, step in enumerate(fine) if 67 in step] == list(range(22, 28))
    assert music.roll_from_score(stream.Score()).shape == (0, 88)


def test_score_from_roll_holds_notes_instead_of_restriking():
    roll = np.zeros((4, 88), np.float32)
    roll[0:3, 60 - 21] = 1  # C4 held three steps
    roll[1, [64 - 21, 67 - 21]] = 1  # E4 and G4 together for one step
    roll[3, 62 - 21] = 1
    notes = [(float(n.offset), float(n.quarterLength), [p.midi for p in n.pitches])
             for n in music.score_from_roll(roll, steps_per_quarter=2).flatten().notes]
    assert notes == [(0.0, 1.5, [60]), (0.5, 0.5, [64, 67]), (1.5, 0.5, [62])]
    assert len(music.score_from_roll(roll, length=2).flatten().notes) == 2
    with pytest.raises(DataError, match="Expected one piano roll"):
        music.score_from_roll(np.zeros((4, 12)))


@pytest.mark.parametrize("steps_per_quarter", [1, 4])
def test_roll_midi_roll_round_trip(tmp_path, steps_per_quarter):
    roll = sparse_roll(steps_per_quarter)
    roll[2:7, 48 - 21] = 1  # a held note across notes that start and end apart
    path = str(tmp_path / "roll.mid")
    assert music.write_midi(roll, path, steps_per_quarter) == path
    np.testing.assert_array_equal(music.roll_from_file(path, steps_per_quarter), roll)
    assert os.listdir(tmp_path) == ["roll.mid"]  # no temporary file left
    padded = np.concatenate([roll, np.zeros((5, 88), np.float32)])
    music.write_midi(padded, path, steps_per_quarter, length=len(roll) + 2)
    np.testing.assert_array_equal(music.roll_from_file(path, steps_per_quarter), roll)


def test_piano_roll_figure(tmp_path):
    rolls = np.stack([sparse_roll(0), sparse_roll(1)])
    path = str(tmp_path / "rolls.png")
    assert music.piano_roll_figure(path, rolls, lengths=[12, 6], titles=["a", "b"]) == path
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    music.piano_roll_figure(str(tmp_path / "silent.png"), np.zeros((1, 4, 88), np.float32))
    assert sorted(os.listdir(tmp_path)) == ["rolls.png", "silent.png"]


def test_midi_folder(tmp_path):
    folder = tmp_path / "music"
    rolls = [sparse_roll(seed, num_steps=4 + seed) for seed in range(9)]
    for i, roll in enumerate(rolls):
        music.write_midi(roll, str(folder / f"piece{i}.mid"))
    melody = np.zeros((3, 88), np.float32)
    melody[[0, 1, 2], [39, 41, 43]] = 1
    music.score_from_roll(melody).write("musicxml", fp=str(folder / "melody.musicxml"))
    (folder / "notes.txt").write_text("not music")
    ds = data_lib.load_dataset("midi", str(folder))
    assert ds.modality == "piano_roll" and ds.source == str(folder)
    assert (len(ds.train.x), len(ds.validation.x), len(ds.test.x)) == (8, 1, 1)
    assert ds.event_shape == (12, 88) and "80/10/10 split (seed 0)" in ds.info["split"]
    by_name = dict(zip([f"piece{i}.mid" for i in range(9)], rolls), **{"melody.musicxml": melody})
    for split, key in ((ds.train, "train"), (ds.validation, "valid"), (ds.test, "test")):
        for x, length, name in zip(split.x, split.lengths, ds.info["files"][key]):
            np.testing.assert_array_equal(x[:length], by_name[name])
            assert not x[length:].any()
    assert ds.info["files"] == data_lib.load_dataset("midi", str(folder)).info["files"]


def test_midi_folder_errors(tmp_path):
    with pytest.raises(DataError, match="pass a folder of .mid"):
        data_lib.load_dataset("midi")
    with pytest.raises(DataError, match="is not a folder"):
        data_lib.load_dataset("midi", str(tmp_path / "nowhere"))
    (tmp_path / "few").mkdir()
    with pytest.raises(DataError, match="holds 0 music file.*needs at least 3"):
        data_lib.load_dataset("midi", str(tmp_path / "few"))
    for i in range(3):
        music.write_midi(sparse_roll(i, num_steps=3), str(tmp_path / "few" / f"{i}.mid"))
    (tmp_path / "few" / "broken.mid").write_bytes(b"MThd garbage")
    with pytest.raises(DataError, match=r"broken\.mid failed to parse as music"):
        data_lib.load_dataset("midi", str(tmp_path / "few"))


def test_bach_chorales_from_a_few_corpus_files(monkeypatch, no_home_data):
    names = music.bach_chorale_names()
    if not names or not corpus.getComposer("bach"):
        pytest.skip("this music21 corpus holds no Bach chorales")
    ds = music.load_bach_chorales(names=names[:3] + ["bach/no-such-chorale"])
    cache = no_home_data / ".keras" / "datasets" / music.BACH_FILE
    assert ds.source == str(cache) and ds.name == "bach_chorales" and ds.modality == "piano_roll"
    assert (len(ds.train.x), len(ds.validation.x), len(ds.test.x)) == (1, 1, 1)
    assert ds.info["split"] == ("music21 corpus Bach chorales, seeded 60/20/20 split (seed 0): "
                                "1 / 1 / 1 train / validation / test chorales")
    assert "1 step(s) per quarter note" in ds.info["quantization"] and ds.info["skipped"] == 1
    saved = json.loads(cache.read_text())
    assert (saved["seed"], saved["num_chorales"], saved["skipped"]) == (0, 3, 1)
    assert saved["music21_version"] and list(saved["skipped_files"]) == ["bach/no-such-chorale"]
    assert sorted(sum(saved["files"].values(), [])) == sorted(names[:3])
    first = saved["files"]["test"][0]
    expected = music.roll_from_score(corpus.parse(first))
    np.testing.assert_array_equal(ds.test.x[0, :ds.test.lengths[0]], expected)

    def no_parsing(*args, **kwargs):
        raise AssertionError("the cache should have been read")

    monkeypatch.setattr(music, "build_bach_chorales", no_parsing)
    assert music.load_bach_chorales().source == str(cache)
    for path in (str(cache), str(cache.parent)):
        assert data_lib.load_dataset("bach_chorales", path).info["split"] == ds.info["split"]
    with pytest.raises(DataError, match="holds no music21-chorales-quarter.json"):
        data_lib.load_dataset("bach_chorales", str(no_home_data))
