"""Piano rolls: polyphonic music as binary [N, T, 88] sequences (MIDI pitches 21..108, the 88
piano keys), padded to the longest sequence, with each sequence's length (modality "piano_roll").

"jsb_chorales" is the standard split of Boulanger-Lewandowski et al. (2012), 229 / 76 / 77 Bach
chorales, as JSON `{"train": [...], "valid": [...], "test": [...]}` where a chorale is a list of
time steps and a time step the list of MIDI pitches sounding then (empty for a rest). The
original pickle (the same dict, steps as tuples) is read too, without running any code.

Loader order: an explicit path (a .json or .pickle file, or a folder holding
`jsb-chorales-quarter.json`) -> `$ZOO_JSB_DIR` (a folder) -> the Keras cache
`~/.keras/datasets/jsb-chorales-quarter.json` -> download of the original pickle.
"""

import json
import os
import pickle

import numpy as np

from training.data.registry import DataError, Dataset, Split, register_dataset

LOWEST_PITCH, HIGHEST_PITCH = 21, 108  # A0 and C8, the piano's range
NUM_KEYS = HIGHEST_PITCH - LOWEST_PITCH + 1
SPLITS = ("train", "valid", "test")
JSB_FILE = "jsb-chorales-quarter.json"
JSB_PICKLE = "JSB Chorales.pickle"
JSB_URL = "http://www-etud.iro.umontreal.ca/~boulanni/JSB%20Chorales.pickle"
JSB_ENV = "ZOO_JSB_DIR"
JSON_NOTE = ("the JSON chorales were re-derived from MIDI on the Boulanger-Lewandowski split; "
             "small differences from the original pickle are possible")


def rolls_from_sequences(sequences, name="sequence"):
    """(rolls float32 [N, T_max, 88], lengths int32 [N]) of sequences of steps of MIDI pitches."""
    for i, sequence in enumerate(sequences):
        if not isinstance(sequence, (list, tuple)):
            raise DataError(f"{name} {i} is a {type(sequence).__name__}, expected a list of "
                            "time steps.")
        if not sequence:
            raise DataError(f"{name} {i} is empty (no time steps); remove it.")
    lengths = np.array([len(s) for s in sequences], np.int32)
    rolls = np.zeros((len(sequences), int(lengths.max(initial=0)), NUM_KEYS), np.float32)
    for i, sequence in enumerate(sequences):
        for t, step in enumerate(sequence):
            if not isinstance(step, (list, tuple)):
                raise DataError(f"{name} {i}, step {t}: expected a list of MIDI pitches, got "
                                f"{step!r}.")
            for pitch in step:
                if (isinstance(pitch, bool) or not isinstance(pitch, (int, np.integer))
                        or not LOWEST_PITCH <= pitch <= HIGHEST_PITCH):
                    raise DataError(f"{name} {i}, step {t}: pitch {pitch!r} is not a MIDI pitch "
                                    f"in {LOWEST_PITCH}..{HIGHEST_PITCH} (the 88 piano keys).")
                rolls[i, t, pitch - LOWEST_PITCH] = 1.0
    return rolls, lengths


def sequences_from_roll(roll, length=None):
    """The steps (sorted lists of MIDI pitches) of one roll [T, 88], up to `length` steps."""
    roll = np.asarray(roll)
    if roll.ndim != 2 or roll.shape[1] != NUM_KEYS:
        raise DataError(f"Expected one piano roll [T, {NUM_KEYS}], got shape {roll.shape}.")
    length = len(roll) if length is None else int(length)
    if not 0 <= length <= len(roll):
        raise DataError(f"length {length} is outside the roll's {len(roll)} steps.")
    return [[int(k) + LOWEST_PITCH for k in np.flatnonzero(step > 0.5)] for step in roll[:length]]


class _ListUnpickler(pickle.Unpickler):
    """Unpickles lists, tuples, dicts, numbers and strings only (the pickle is data, not code)."""

    ALLOWED = {(module, name) for module in ("builtins", "__builtin__")
               for name in ("list", "tuple", "dict")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def read_chorales(path):
    """{"train", "valid", "test": [sequence, ...]} from a JSON file or the original pickle."""
    if not os.path.isfile(path):
        raise DataError(f"{path} does not exist; pass a {JSB_FILE}-style .json file, the original "
                        f"{JSB_PICKLE}, or a folder holding one of them.")
    try:
        if path.lower().endswith((".pickle", ".pkl")):
            with open(path, "rb") as f:
                data = _ListUnpickler(f, encoding="latin1").load()
        else:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
    except pickle.UnpicklingError as e:
        raise DataError(f"{path}: {e}; a chorale pickle may hold only lists, tuples, dicts and "
                        "numbers.") from None
    except (OSError, ValueError, EOFError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise DataError(f"{path} is corrupt or unreadable ({e}).") from None
    if not isinstance(data, dict):
        raise DataError(f"{path} holds a {type(data).__name__}; expected a dict with keys "
                        f"{', '.join(SPLITS)}.")
    missing = [key for key in SPLITS if key not in data]
    if missing:
        raise DataError(f"{path} lacks the split(s) {', '.join(missing)}; expected a dict with "
                        f"keys {', '.join(SPLITS)} (the Boulanger-Lewandowski split).")
    for key in SPLITS:
        if not isinstance(data[key], (list, tuple)) or not data[key]:
            raise DataError(f"{path}: split {key!r} must be a non-empty list of sequences.")
    return data


def _resolve(path):
    """A folder means the JSON file in it (or, failing that, the original pickle)."""
    if not os.path.isdir(path):
        return path
    for name in (JSB_FILE, JSB_PICKLE):
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    raise DataError(f"The folder {path} holds neither {JSB_FILE} nor {JSB_PICKLE}.")


def load_chorale_file(path, name="jsb_chorales"):
    """A piano_roll Dataset from a chorale .json/.pickle file or a folder holding one."""
    path = _resolve(path)
    data = read_chorales(path)
    parts = [rolls_from_sequences(data[key], name=f"{key} chorale") for key in SPLITS]
    num_steps = max(rolls.shape[1] for rolls, _ in parts)
    splits = [Split(np.pad(rolls, ((0, 0), (0, num_steps - rolls.shape[1]), (0, 0))),
                    np.full(len(rolls), -1, np.int64), lengths) for rolls, lengths in parts]
    sizes = " / ".join(str(len(s.x)) for s in splits)
    info = {"split": f"Boulanger-Lewandowski et al. (2012): {sizes} train / validation / test "
                     "chorales", "lowest_pitch": LOWEST_PITCH, "max_length": num_steps,
            "file": os.path.basename(path)}
    if not path.lower().endswith((".pickle", ".pkl")):
        info["note"] = JSON_NOTE
    return Dataset(name, *splits, source=path, info=info, modality="piano_roll")


def keras_cache_dir():
    """The Keras data set cache (`~/.keras/datasets`)."""
    return os.path.join(os.path.expanduser("~"), ".keras", "datasets")


@register_dataset("jsb_chorales", "piano_roll",
                  "Bach chorales (JSB), quarter notes, 229/76/77, 88-key piano rolls",
                  accepts_path=True)
def load_jsb_chorales(path=None, allow_download=True):
    """The JSB chorales through the loader chain; see the module docstring."""
    if path:
        return load_chorale_file(path)
    if os.environ.get(JSB_ENV):
        if not os.path.isdir(os.environ[JSB_ENV]):
            raise DataError(f"${JSB_ENV} is {os.environ[JSB_ENV]!r}, which is not a folder; "
                            f"point it at the folder holding {JSB_FILE}, or unset it.")
        return load_chorale_file(os.environ[JSB_ENV])
    cached = os.path.join(keras_cache_dir(), JSB_FILE)
    if os.path.isfile(cached):
        return load_chorale_file(cached)
    where = (f"put {JSB_FILE} (or the original {JSB_PICKLE} from {JSB_URL}) in a folder and pass "
             f"its path as the data path, set ${JSB_ENV} to that folder, or copy it to {cached}")
    if not allow_download:
        raise DataError(f"No JSB chorales found: {where}.")
    import keras

    try:
        # get_file falls back to /tmp/.keras when ~/.keras is missing; the cache must be here.
        os.makedirs(keras_cache_dir(), exist_ok=True)
        downloaded = keras.utils.get_file(
            JSB_PICKLE, origin=JSB_URL, cache_subdir="datasets",
            cache_dir=os.path.join(os.path.expanduser("~"), ".keras"))
    except Exception as e:  # network errors come in many types
        raise DataError(f"Downloading the JSB chorales failed ({e}); {where}.") from None
    return load_chorale_file(downloaded)
