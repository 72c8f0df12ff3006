"""`python -m training sample MODEL --out DIR`: a model's samples as files people can open.

Sequence models (piano rolls) write one MIDI file per sample (`sample_01.mid`, ...) and their
piano-roll picture; with `--interpolate A,B` a model with one latent also writes
`interpolation.mid`, the rolls decoded along the line from test sequence A's posterior mean to
B's, played one after another with a bar of rest between, and its picture. Image models write
`samples.png` and the raw draws `samples.npy`.
"""

import os

import numpy as np

from zoo.atomic import atomic_path

REST_STEPS = 4  # steps of silence between the pieces of an interpolation's MIDI file


def write_samples(model, out, num_samples=4, num_steps=None, seed=0):
    """Writes the samples of `model` into the folder `out`; returns the paths written."""
    from training import pictures

    os.makedirs(out, exist_ok=True)
    if model.modality != "piano_roll":
        if num_steps is not None:
            raise ValueError(f"--num-steps applies to sequence models; {type(model).__name__} "
                             "draws images.")
        samples = np.asarray(model.sample(num_samples, seed=seed))
        npy = os.path.join(out, "samples.npy")
        with atomic_path(npy) as tmp, open(tmp, "wb") as f:
            np.save(f, samples)
        png = pictures.save_png(os.path.join(out, "samples.png"),
                                pictures.image_grid(pictures.as_images(model, samples)),
                                title=f"{type(model).__name__}: {num_samples} samples, seed "
                                      f"{seed}")
        return [png, npy]
    from training.data.music import piano_roll_figure, write_midi

    rolls = np.asarray(model.sample(num_samples, seed=seed, num_steps=num_steps))
    paths = [write_midi(roll, os.path.join(out, f"sample_{i + 1:02d}.mid"))
             for i, roll in enumerate(rolls)]
    paths.append(piano_roll_figure(
        os.path.join(out, "samples.png"), list(rolls),
        titles=[f"sample_{i + 1:02d}.mid ({len(roll)} steps, seed {seed})"
                for i, roll in enumerate(rolls)]))
    return paths


def write_interpolation(model, out, x, mask, between=(0, 1), steps=5, seed=0):
    """Writes interpolation.mid and interpolation.png: `steps` rolls decoded along the line
    between the posterior means of sequences x[a] and x[b] (their masks `mask`)."""
    from training.data.music import piano_roll_figure, write_midi

    if model.capabilities.latent != "single" or model.modality != "piano_roll":
        raise ValueError(f"--interpolate needs a sequence model with one latent (a VRAE); "
                         f"{type(model).__name__} has latent {model.capabilities.latent!r} and "
                         f"reads {model.modality} data.")
    a, b = between
    for index in (a, b):
        if not 0 <= index < len(x):
            raise ValueError(f"--interpolate: sequence {index} is not among the {len(x)} test "
                             "sequences.")
    os.makedirs(out, exist_ok=True)
    rolls = np.asarray(model.interpolate(x[a], x[b], steps=steps, mask_a=mask[a],
                                         mask_b=mask[b], seed=seed))
    rest = np.zeros((REST_STEPS, rolls.shape[2]), rolls.dtype)
    joined = np.concatenate([part for roll in rolls for part in (roll, rest)])
    titles = [f"{int(round(100 * t))}% of the way from test sequence {a} to {b}"
              for t in np.linspace(0, 1, steps)]
    return [write_midi(joined, os.path.join(out, "interpolation.mid")),
            piano_roll_figure(os.path.join(out, "interpolation.png"), list(rolls),
                              titles=titles)]


def roll_statistics(rolls, masks=None):
    """What a set of piano rolls looks like in numbers: mean notes per step, share of silent
    steps, mean length of a held note in steps, mean pitch span per piece (semitones), and the
    share of steps whose notes all fit one octave's pitch classes of a major or minor scale
    (a rough 'in a key' measure). rolls [N, T, 88], masks [N, T] (None: every step)."""
    rolls = np.asarray(rolls) > 0.5
    masks = np.ones(rolls.shape[:2], bool) if masks is None else np.asarray(masks) > 0.5
    steps = rolls[masks]  # [S, 88] the kept steps of every piece
    counts = steps.sum(1)
    held = []  # lengths of runs of a pitch sounding at consecutive kept steps
    spans = []
    for roll, mask in zip(rolls, masks):
        roll = roll[mask]
        padded = np.pad(roll, ((1, 1), (0, 0))).astype(np.int8)
        changes = np.diff(padded, axis=0)
        for key in range(roll.shape[1]):
            starts, ends = np.flatnonzero(changes[:, key] == 1), np.flatnonzero(
                changes[:, key] == -1)
            held.extend(ends - starts)
        keys = np.flatnonzero(roll.any(0))
        if len(keys):
            spans.append(keys[-1] - keys[0])
    scales = [{(root + step) % 12 for step in pattern} for root in range(12)
              for pattern in ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10))]
    in_key = [any({(k + 21) % 12 for k in np.flatnonzero(step)} <= scale for scale in scales)
              for step in steps if step.any()]
    return {"notes_per_step": float(counts.mean()) if len(counts) else 0.0,
            "silent_steps": float(np.mean(counts == 0)) if len(counts) else 0.0,
            "held_note_steps": float(np.mean(held)) if held else 0.0,
            "pitch_span": float(np.mean(spans)) if spans else 0.0,
            "steps_in_a_scale": float(np.mean(in_key)) if in_key else 0.0}
