"""Bad JSON types in a model folder's config.json or metadata.json give one clear error."""

import json
import os

import pytest

import zoo
from tests.conftest import make_model
from zoo.saving import METADATA_FILE, ModelFolderError, list_files, sha256


def _folder(tmp_path):
    model = make_model("vae", {})
    model.compile(optimizer="adam")
    return zoo.save(model, str(tmp_path / "m"))


def _rewrite(folder, name, change):
    """Changes a JSON file of the folder and re-records the manifest (as a careless edit by
    hand would), so only the content, not the sha256 check, can stop the load."""
    path = os.path.join(folder, name)
    with open(path) as f:
        data = json.load(f)
    data = change(data)
    with open(path, "w") as f:
        json.dump(data, f)
    meta_path = os.path.join(folder, METADATA_FILE)
    with open(meta_path) as f:
        meta = json.load(f)
    meta["sha256"] = {n: sha256(os.path.join(folder, n)) for n in list_files(folder)
                      if n != METADATA_FILE}
    with open(meta_path, "w") as f:
        json.dump(meta, f)


@pytest.mark.parametrize("name, change, message", [
    ("config.json", lambda c: [c], "expected a JSON object, got list"),
    ("config.json", lambda c: {**c, "config": {**c["config"], "latent_dim": "fifty"}},
     "does not describe a model this zoo can build"),
    ("config.json", lambda c: {**c, "class_name": "NoSuchModel",
                               "registered_name": "zoo>NoSuchModel"},
     "does not describe a model this zoo can build"),
    ("metadata.json", lambda m: {**m, "versions": ["keras", "3"]},
     "'versions' must be a JSON object, got list"),
    ("metadata.json", lambda m: {**m, "optimizer": "adam"},
     "'optimizer' must be a JSON object, got str"),
])
def test_bad_json_types_give_one_clear_error(tmp_path, name, change, message):
    folder = _folder(tmp_path)
    _rewrite(folder, name, change)
    with pytest.raises(ModelFolderError, match=message):
        zoo.load(folder)
