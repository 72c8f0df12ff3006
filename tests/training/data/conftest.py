"""Paths of the shared data (../shared/data next to the repo), skipped with a reason if absent."""

import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))
SHARED = os.path.join(ROOT, "..", "shared", "data")


@pytest.fixture
def pokemon_dir():
    path = os.path.join(SHARED, "pokemon")
    if not os.path.isdir(path):
        pytest.skip(f"the Pokémon sprites are not at {path} (see ../shared/data/README.md)")
    return path


@pytest.fixture
def jsb_file():
    path = os.path.join(SHARED, "jsb_chorales", "jsb-chorales-quarter.json")
    if not os.path.isfile(path):
        pytest.skip(f"the JSB chorales are not at {path} (see ../shared/data/README.md)")
    return path


@pytest.fixture
def no_home_data(tmp_path, monkeypatch):
    """An empty home (no Keras cache) and no data environment variables."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ZOO_POKEMON_DIR", raising=False)
    monkeypatch.delenv("ZOO_JSB_DIR", raising=False)
    return tmp_path / "home"
