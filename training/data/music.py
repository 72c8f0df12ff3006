"""Scores and MIDI files as piano rolls (through music21), two data sets read that way, and a
piano-roll picture.

Rolls and scores: `roll_from_score` / `sequence_from_score` quantize a music21 score (all parts
together, repeats not expanded) onto a grid of `steps_per_quarter` steps per quarter note;
`roll_from_file` reads a MIDI file note event by note event (music21's MIDI-to-score conversion
can misplace notes held across a bar) and a MusicXML file through its score. `score_from_roll`
and `write_midi` go back, merging the steps of a held pitch into one note. A roll whose last
step sounds survives roll -> MIDI -> roll unchanged; trailing silence does not (a roll ends
with its last sounding step).

"bach_chorales": the four-part Bach chorales of music21's corpus (its Riemenschneider list,
duplicates removed), on a quarter-note grid, split 60/20/20 with a fixed seed (the JSB
proportions). Loader order: an explicit path (a JSON made before, or a folder holding
`music21-chorales-quarter.json`) -> the Keras cache `~/.keras/datasets/` + that file name ->
parsing the corpus once into that cache. Measured here (music21 10.5.1, 2 busy cores): parsing
the 350 listed files takes 43 s and keeps 331 chorales (19 skipped: five to fifteen parts with
the instruments), split 199 / 66 / 66, 24..193 steps (mean 53); a cached load takes 0.05 s.

"midi": every .mid / .midi / .musicxml / .mxl / .xml file of a folder (not its subfolders),
sorted by name, split 80/10/10 with a fixed seed; the path is required.
"""

import os
import sys
import time
import warnings

import numpy as np

from training.data.piano_roll import (
    LOWEST_PITCH, HIGHEST_PITCH, NUM_KEYS, keras_cache_dir, load_chorale_file, read_chorales,
    rolls_from_sequences, sequences_from_roll)
from training.data.registry import DataError, Dataset, Split, register_dataset
from zoo.atomic import atomic_path, write_json

STEPS_PER_QUARTER = 1  # the grid of both data sets: one step per quarter note
TEMPO_BPM = 80  # of the MIDI files written
BACH_FILE = "music21-chorales-quarter.json"
BACH_SEED, BACH_FRACTIONS = 0, (0.6, 0.2, 0.2)
MIDI_SEED, MIDI_FRACTIONS = 0, (0.8, 0.1, 0.1)
MUSIC_SUFFIXES = (".mid", ".midi", ".musicxml", ".mxl", ".xml")


def _music21():
    try:
        import music21
    except ImportError:
        raise DataError("music21 is not installed; run pip install -r requirements.txt "
                        "(or pip install music21).") from None
    return music21


def _grid(quarters, steps_per_quarter):
    """The grid step nearest to an offset in quarter notes (halves round up)."""
    return int(np.floor(float(quarters) * steps_per_quarter + 0.5))


def _quantization(steps_per_quarter):
    return (f"{steps_per_quarter} step(s) per quarter note; onsets and ends rounded to the "
            "grid, a shorter note sounds at its onset step")


def _sequence(spans, steps_per_quarter, name):
    """Steps (sorted pitch lists) of (MIDI pitch, onset, end) spans in quarter notes: a note
    sounds from its rounded onset to its rounded end, at least at its onset step; pitches
    outside 21..108 are dropped with a warning naming `name`."""
    steps, dropped = [], 0
    for pitch, onset, end in spans:
        if not LOWEST_PITCH <= pitch <= HIGHEST_PITCH:
            dropped += 1
            continue
        start = _grid(onset, steps_per_quarter)
        stop = max(start + 1, _grid(end, steps_per_quarter))
        steps.extend(set() for _ in range(stop - len(steps)))
        for t in range(start, stop):
            steps[t].add(pitch)
    if dropped:
        warnings.warn(f"{name}: dropped {dropped} note(s) outside MIDI {LOWEST_PITCH}.."
                      f"{HIGHEST_PITCH} (the 88 piano keys).", stacklevel=3)
    return [sorted(step) for step in steps]


def _roll(sequence, name):
    if not sequence:
        return np.zeros((0, NUM_KEYS), np.float32)
    return rolls_from_sequences([sequence], name=name)[0][0]


def sequence_from_score(score, steps_per_quarter=STEPS_PER_QUARTER, name="score"):
    """The steps (sorted lists of MIDI pitches) of a music21 score, all parts together.

    A note sounds at every step from its onset to its end, both rounded to the grid (halves
    up), and at least at its onset step; chords give all their pitches, rests empty steps,
    grace notes nothing. The sequence ends with its last sounding step. Pitches outside 21..108
    are dropped with a warning naming `name`.
    """
    spans = [(pitch.midi, element.offset, element.offset + element.quarterLength)
             for element in score.flatten().notes if not element.duration.isGrace
             for pitch in getattr(element, "pitches", ())]  # unpitched percussion has none
    return _sequence(spans, steps_per_quarter, name)


def roll_from_score(score, steps_per_quarter=STEPS_PER_QUARTER, name="score"):
    """float32 [T, 88] piano roll of a music21 score; see `sequence_from_score`."""
    return _roll(sequence_from_score(score, steps_per_quarter, name), name)


def _midi_spans(path):
    """(pitch, onset, end) in quarter notes of every note of a MIDI file but the drums
    (channel 10), read event by event: music21's MIDI-to-score conversion can misplace notes
    held across a bar when one track holds notes that start together but end apart."""
    m21 = _music21()
    midi_file = m21.midi.MidiFile()
    midi_file.open(path)
    try:
        midi_file.read()
    finally:
        midi_file.close()
    ticks = midi_file.ticksPerQuarterNote
    translate = m21.midi.translate
    return [(n.event.pitch, n.onTime / ticks, n.offTime / ticks)
            for track in midi_file.tracks
            for n in translate.getNotesFromEvents(translate.getTimeForEvents(track))
            if n.event.channel != 10]


def sequence_from_file(path, steps_per_quarter=STEPS_PER_QUARTER):
    """The steps of a MIDI (.mid, .midi) or MusicXML (.musicxml, .mxl, .xml) file, quantized as
    in `sequence_from_score`; DataError naming the file if it fails to parse."""
    try:
        if path.lower().endswith((".mid", ".midi")):
            return _sequence(_midi_spans(path), steps_per_quarter, path)
        return sequence_from_score(_music21().converter.parse(path), steps_per_quarter, path)
    except DataError:
        raise
    except Exception as e:  # music21 raises many types for a bad file
        raise DataError(f"{path} failed to parse as music ({type(e).__name__}: {e}); fix or "
                        "remove the file.") from None


def roll_from_file(path, steps_per_quarter=STEPS_PER_QUARTER):
    """float32 [T, 88] piano roll of a MIDI or MusicXML file; see `sequence_from_file`."""
    return _roll(sequence_from_file(path, steps_per_quarter), path)


def score_from_roll(roll, steps_per_quarter=STEPS_PER_QUARTER, length=None, tempo_bpm=TEMPO_BPM):
    """A music21 Score (one part) of a roll [T, 88] up to `length` steps: the steps of a held
    pitch become one note, and pitches starting and ending together one chord."""
    m21 = _music21()
    held, spans = {}, {}  # pitch -> onset step; (onset, end) -> pitches
    for t, step in enumerate(sequences_from_roll(roll, length) + [[]]):
        for pitch in [p for p in held if p not in step]:
            spans.setdefault((held.pop(pitch), t), []).append(pitch)
        for pitch in step:
            held.setdefault(pitch, t)
    part = m21.stream.Part()
    part.insert(0, m21.tempo.MetronomeMark(number=tempo_bpm))
    for (start, end), pitches in sorted(spans.items()):
        sound = (m21.note.Note(pitches[0]) if len(pitches) == 1
                 else m21.chord.Chord(sorted(pitches)))
        sound.quarterLength = (end - start) / steps_per_quarter
        part.insert(start / steps_per_quarter, sound)
    return m21.stream.Score([part])


def write_midi(roll, path, steps_per_quarter=STEPS_PER_QUARTER, length=None,
               tempo_bpm=TEMPO_BPM):
    """Writes a roll [T, 88] (up to `length` steps) to the MIDI file `path` atomically."""
    score = score_from_roll(roll, steps_per_quarter, length, tempo_bpm)
    with atomic_path(path) as tmp:
        score.write("midi", fp=tmp)
    return path


def _split_indices(n, fractions, seed):
    """Three index arrays of a seeded permutation of n items; validation and test get
    round(fraction * n) items, at least one each, and train the rest."""
    order = np.random.default_rng(seed).permutation(n)
    n_valid, n_test = (max(1, round(f * n)) for f in fractions[1:])
    return order[:n - n_valid - n_test], order[n - n_valid - n_test:n - n_test], order[n - n_test:]


def _percent(fractions):
    return "/".join(str(round(100 * f)) for f in fractions)


def bach_chorale_names():
    """The corpus names ("bach/bwv269", ...) of music21's chorale list, duplicates removed."""
    names = _music21().corpus.chorales.Iterator(returnType="filename")
    return list(dict.fromkeys(names))


def build_bach_chorales(path, names=None, steps_per_quarter=STEPS_PER_QUARTER, seed=BACH_SEED):
    """Parses the four-part chorales `names` (default: all of `bach_chorale_names`) into the
    chorale JSON format, split 60/20/20 with `seed`, and writes it to `path` atomically;
    returns the JSON dict. Files that fail to parse or have other than four parts are skipped."""
    m21 = _music21()
    names = bach_chorale_names() if names is None else list(names)
    chorales, skipped, started = {}, {}, time.time()
    for i, name in enumerate(names, 1):
        try:
            score = m21.corpus.parse(name)
        except Exception as e:  # music21 raises many types for a bad or missing file
            skipped[name] = f"failed to parse ({type(e).__name__}: {e})"
        else:
            sequence = sequence_from_score(score, steps_per_quarter, name)
            if len(score.parts) != 4:
                skipped[name] = f"{len(score.parts)} parts, not four"
            elif not sequence:
                skipped[name] = "no notes"
            else:
                chorales[name] = sequence
        if i % 25 == 0 or i == len(names):
            print(f"Parsing music21's Bach chorales: {i}/{len(names)} "
                  f"({time.time() - started:.0f} s)", file=sys.stderr, flush=True)
    if len(chorales) < 3:
        raise DataError(f"Only {len(chorales)} of {len(names)} corpus chorales parsed as four-part "
                        f"chorales (skipped: {skipped}); at least 3 are needed for a split.")
    kept = list(chorales)
    splits = [[kept[i] for i in part] for part in _split_indices(len(kept), BACH_FRACTIONS, seed)]
    data = {key: [chorales[n] for n in part] for key, part in zip(("train", "valid", "test"),
                                                                   splits)}
    data.update(files=dict(zip(("train", "valid", "test"), splits)), seed=seed,
                fractions=list(BACH_FRACTIONS), steps_per_quarter=steps_per_quarter,
                music21_version=m21.__version__, num_chorales=len(kept), skipped=len(skipped),
                skipped_files=skipped, parse_seconds=round(time.time() - started, 1))
    write_json(path, data)
    return data


def bach_cache_path():
    """Where the parsed corpus chorales are cached (`~/.keras/datasets/...`)."""
    return os.path.join(keras_cache_dir(), BACH_FILE)


@register_dataset("bach_chorales", "piano_roll",
                  "Bach chorales of the music21 corpus, quarter notes, seeded 60/20/20, "
                  "88-key piano rolls", accepts_path=True)
def load_bach_chorales(path=None, names=None):
    """The music21 corpus chorales through the loader chain; see the module docstring. `names`
    limits the corpus files parsed when the cache is built (tests)."""
    if path and os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, BACH_FILE)):
            raise DataError(f"The folder {path} holds no {BACH_FILE}; pass that file (made by "
                            "an earlier load) or the folder holding it.")
        path = os.path.join(path, BACH_FILE)
    if not path:
        path = bach_cache_path()
        if not os.path.isfile(path):
            build_bach_chorales(path, names)
    meta = read_chorales(path) if path.lower().endswith(".json") else {}
    dataset = load_chorale_file(path, name="bach_chorales")
    seed, fractions = meta.get("seed", BACH_SEED), meta.get("fractions", BACH_FRACTIONS)
    sizes = " / ".join(str(len(s.x)) for s in (dataset.train, dataset.validation, dataset.test))
    dataset.info.pop("note", None)  # about the JSB files
    dataset.info.update(
        split=f"music21 corpus Bach chorales, seeded {_percent(fractions)} split (seed {seed}): "
              f"{sizes} train / validation / test chorales",
        quantization=_quantization(meta.get("steps_per_quarter", STEPS_PER_QUARTER)),
        **{key: meta[key] for key in ("music21_version", "skipped") if key in meta})
    return dataset


@register_dataset("midi", "piano_roll",
                  "your folder of MIDI / MusicXML files, quarter notes, seeded 80/10/10, "
                  "88-key piano rolls", accepts_path=True)
def load_midi_folder(path=None):
    """Every music file of the folder `path` as piano rolls; see the module docstring."""
    if not path:
        raise DataError("The 'midi' data set reads your own files: pass a folder of "
                        f"{' / '.join(MUSIC_SUFFIXES)} files as the data path.")
    if not os.path.isdir(path):
        raise DataError(f"{path} is not a folder; the 'midi' data set takes a folder of "
                        f"{' / '.join(MUSIC_SUFFIXES)} files.")
    files = sorted(f for f in os.listdir(path) if f.lower().endswith(MUSIC_SUFFIXES)
                   and os.path.isfile(os.path.join(path, f)))
    if len(files) < 3:
        raise DataError(f"{path} holds {len(files)} music file(s) ({' / '.join(MUSIC_SUFFIXES)}); "
                        "the 'midi' data set needs at least 3 (one per split).")
    sequences = []
    for f in files:
        full = os.path.join(path, f)
        sequences.append(sequence_from_file(full))
        if not sequences[-1]:
            raise DataError(f"{full} holds no notes in the piano's range; remove it.")
    rolls, lengths = rolls_from_sequences(sequences, name="music file")
    parts = _split_indices(len(files), MIDI_FRACTIONS, MIDI_SEED)
    splits = [Split(rolls[i], np.full(len(i), -1, np.int64), lengths[i]) for i in parts]
    info = {"split": f"seeded {_percent(MIDI_FRACTIONS)} split (seed {MIDI_SEED}) of the "
                     f"folder's files: {' / '.join(str(len(i)) for i in parts)} train / "
                     "validation / test",
            "quantization": _quantization(STEPS_PER_QUARTER), "lowest_pitch": LOWEST_PITCH,
            "max_length": rolls.shape[1],
            "files": {key: [files[k] for k in i] for key, i in zip(("train", "valid", "test"),
                                                                   parts)}}
    return Dataset("midi", *splits, source=path, info=info, modality="piano_roll")


def _pitch_name(pitch):
    return f"C{pitch // 12 - 1}"  # MIDI 60 is C4


def piano_roll_figure(path, rolls, lengths=None, titles=None):
    """Draws piano rolls (one row each: time step on x, MIDI pitch on y, the octave Cs
    labelled, only the occupied pitch range) and writes the PNG to `path` atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rolls = [np.asarray(r)[:None if lengths is None else int(lengths[i])]
             for i, r in enumerate(rolls)]
    keys = np.flatnonzero(sum(r.sum(0) for r in rolls) > 0) if rolls else []
    lo, hi = ((keys[0] - 2, keys[-1] + 2) if len(keys) else (39, 51))  # silence: the C4 octave
    lo, hi = max(lo, 0), min(hi, NUM_KEYS - 1)
    num_steps = max((len(r) for r in rolls), default=1) or 1
    fig, axes = plt.subplots(len(rolls), 1, squeeze=False, dpi=100,
                             figsize=(min(16, 2 + num_steps / 8), 0.4 + 0.06 * (hi - lo + 1) *
                                      len(rolls) + 0.35 * len(rolls)))
    for i, (ax, roll) in enumerate(zip(axes[:, 0], rolls)):
        ax.imshow(roll[:, lo:hi + 1].T, origin="lower", aspect="auto", cmap="Greys", vmin=0,
                  vmax=1, interpolation="nearest",
                  extent=(-0.5, len(roll) - 0.5, lo + LOWEST_PITCH - 0.5, hi + LOWEST_PITCH + 0.5))
        ax.set_xlim(-0.5, num_steps - 0.5)
        cs = [p for p in range(lo + LOWEST_PITCH, hi + LOWEST_PITCH + 1) if p % 12 == 0]
        ax.set_yticks(cs, [_pitch_name(p) for p in cs], fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="y", color="tab:blue", alpha=0.2)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    axes[-1, 0].set_xlabel("time step", fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path
