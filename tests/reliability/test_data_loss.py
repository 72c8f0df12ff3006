"""Nothing a user saved is ever lost (issue 12): model folders are written only where a model
folder belongs, replaced only on request and only when the new one is complete; metadata and
metrics change together; one writer per folder; a bare name means a preset; pictures never
overwrite a file silently."""

import errno
import hashlib
import json
import os
import re
import subprocess
import sys
import threading

import pytest

import zoo
from tests.conftest import install_tiny_preset_recipe, make_model
from training.__main__ import main
from training.presets import builder
from training.run import train as train_lib
from zoo import preset_recipes as recipes
from zoo.atomic import LOCK_FILE, FolderLockedError, folder_lock
from zoo.presets import presets_dir, resolve
from zoo.saving import (ModelFolderError, read_json, replace_folder, update_folder_files,
                        verify_folder)

TINY_RUN = ["--dataset", "digits", "--epochs", "1", "--batch-size", "100", "--latent-dim", "2",
            "--hidden-units", "32", "--nll-samples", "5", "--verbose", "0"]
DIGITS_RECIPE = {"dataset": "digits", "binarization": "dynamic"}


def _snapshot(folder):
    """{relative path: sha256} of every file under `folder` (what must stay unchanged)."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return found


def _model_folder(path, seed=1, **metrics):
    """A small verified model folder of the 8x8 digits."""
    model = make_model("vae", {"seed": seed})
    return zoo.save(model, str(path), metadata={"recipe": DIGITS_RECIPE},
                    metrics={"x": 1.0, **metrics}, overwrite=True)


def _user_folder(path):
    """A folder of the user's own (not a model folder) with a file worth keeping."""
    os.makedirs(path, exist_ok=True)
    (path / "thesis.tex").write_text("months of work")
    return path


def _dead_pid():
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def _err(capsys):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err


# --- 1. where a model folder may be written ---------------------------------------------------

def test_save_refuses_a_folder_that_is_not_a_model_folder(tmp_path):
    notes = _user_folder(tmp_path / "notes")
    for overwrite in (False, True):
        with pytest.raises(ModelFolderError, match="is not a model folder"):
            zoo.save(make_model("vae", {}), str(notes), overwrite=overwrite)
    assert (notes / "thesis.tex").read_text() == "months of work"
    assert sorted(os.listdir(tmp_path)) == ["notes"]  # no temporary folder left behind


@pytest.mark.parametrize("target", [".", "", "HOME"])
def test_save_refuses_the_current_folder_an_empty_name_and_home(tmp_path, monkeypatch, target):
    home = _user_folder(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(_user_folder(tmp_path / "work"))
    before = _snapshot(tmp_path)
    with pytest.raises(ModelFolderError, match="current folder|home folder|name is empty"):
        zoo.save(make_model("vae", {}), str(home) if target == "HOME" else target,
                 overwrite=True)
    assert _snapshot(tmp_path) == before


def test_replacing_a_model_folder_needs_overwrite_and_an_empty_folder_may_be_used(tmp_path):
    folder = _model_folder(tmp_path / "m")
    before = _snapshot(folder)
    with pytest.raises(ModelFolderError, match="already holds a model; replacing it needs"):
        zoo.save(make_model("vae", {"seed": 2}), folder)
    assert _snapshot(folder) == before
    zoo.save(make_model("vae", {"seed": 2}), folder, overwrite=True)
    assert zoo.load(folder).seed == 2
    (tmp_path / "empty").mkdir()
    zoo.load(zoo.save(make_model("vae", {}), str(tmp_path / "empty")))


def test_replace_folder_checks_its_target(tmp_path):
    notes = _user_folder(tmp_path / "notes")
    source = _model_folder(tmp_path / "new")
    with pytest.raises(ModelFolderError, match="is not a model folder"):
        replace_folder(source, str(notes))
    assert (notes / "thesis.tex").read_text() == "months of work"
    verify_folder(source)


def test_train_refuses_an_out_that_is_not_a_model_folder_before_training(tmp_path, capsys):
    notes = _user_folder(tmp_path / "notes")
    assert main(["train", *TINY_RUN, "--out", str(notes), "--overwrite"]) == 2
    assert "is not a model folder" in _err(capsys)
    assert sorted(os.listdir(tmp_path)) == ["notes"]  # not even a work folder
    assert (notes / "thesis.tex").read_text() == "months of work"


@pytest.mark.parametrize("out", [".", ""])
def test_train_refuses_the_current_folder_and_an_empty_out(tmp_path, monkeypatch, capsys, out):
    monkeypatch.chdir(_user_folder(tmp_path / "work"))
    assert main(["train", *TINY_RUN, "--out", out]) == 2
    err = _err(capsys)
    assert "current folder" in err or "name is empty" in err
    assert os.listdir(tmp_path / "work") == ["thesis.tex"]


def test_train_replaces_a_model_folder_only_with_overwrite(tmp_path, capsys):
    folder = _model_folder(tmp_path / "vae")
    before = _snapshot(folder)
    assert main(["train", *TINY_RUN, "--out", folder]) == 2
    assert "--overwrite" in _err(capsys)
    assert _snapshot(folder) == before and not os.path.exists(folder + ".partial")
    assert main(["train", *TINY_RUN, "--out", folder, "--overwrite"]) == 0
    assert read_json(os.path.join(folder, "metadata.json"))["recipe"]["latent_dim"] == 2


def test_train_never_empties_a_partial_folder_it_did_not_write(tmp_path, capsys):
    _user_folder(tmp_path / "vae.partial")
    assert main(["train", *TINY_RUN, "--out", str(tmp_path / "vae")]) == 2
    assert "did not write" in _err(capsys)
    assert (tmp_path / "vae.partial" / "thesis.tex").read_text() == "months of work"


# --- 2. make-preset builds aside --------------------------------------------------------------

@pytest.fixture()
def tiny_recipe(monkeypatch, tmp_path):
    return install_tiny_preset_recipe(monkeypatch, tmp_path)


def test_make_preset_failing_during_evaluation_keeps_the_old_preset(tiny_recipe, monkeypatch):
    old = _model_folder(tiny_recipe / "presets" / "vae_digits")
    update_folder_files(old, files={"README.md": b"the old card"})
    before = _snapshot(old)
    run, _ = train_lib.train({**recipes.PRESETS["vae_digits"]["train"], "out": "runs/vae_digits",
                              "nll_samples": 5}, verbose=0)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt()

    monkeypatch.setattr(builder, "evaluate", killed)
    with pytest.raises(KeyboardInterrupt):
        builder.make_preset("vae_digits", from_run=run, verbose=0)
    assert _snapshot(old) == before
    verify_folder(old)
    assert os.listdir(tiny_recipe / "presets") == ["vae_digits"]  # nothing half-built left


# --- 3. metrics.json and metadata.json change together ----------------------------------------

@pytest.mark.parametrize("fail_at", [2, 3, 4])
def test_an_update_killed_between_its_writes_leaves_a_verified_folder(tmp_path, monkeypatch,
                                                                       fail_at):
    folder = _model_folder(tmp_path / "m")
    old_metrics = read_json(os.path.join(folder, "metrics.json"))
    import zoo.saving as saving

    calls = []

    def counted(write):
        def write_or_die(path, data):
            calls.append(path)
            if len(calls) == fail_at:
                raise OSError(errno.EIO, "killed here")
            return write(path, data)
        return write_or_die

    monkeypatch.setattr(saving, "write_json", counted(saving.write_json))
    monkeypatch.setattr(saving, "write_bytes", counted(saving.write_bytes))
    with pytest.raises(OSError, match="killed here"):
        update_folder_files(folder, metrics={"x": 2.0}, files={"README.md": b"new card"})
    monkeypatch.undo()
    verify_folder(folder)  # the old files or the new ones, each with a hash it accepts
    zoo.load(folder)
    assert read_json(os.path.join(folder, "metrics.json"))["x"] in (old_metrics["x"], 2.0)
    update_folder_files(folder, metrics={"x": 3.0})  # the next update completes normally
    meta = verify_folder(folder)
    assert "sha256_pending" not in meta and set(meta["sha256"]) >= {"metrics.json"}


# --- 4. the manifest and what a folder may hold -----------------------------------------------

def test_the_manifest_records_exactly_the_regular_files_and_drops_leftovers(tmp_path):
    folder = _model_folder(tmp_path / "m")
    (tmp_path / "m" / ".tmp-abc123.json").write_text("half a file from a killed write")
    (tmp_path / "m" / "notes.txt").write_text("mine")
    update_folder_files(folder, metrics={"x": 2.0})
    meta = verify_folder(folder)
    assert sorted(meta["sha256"]) == ["config.json", "metrics.json", "model.weights.h5",
                                      "notes.txt"]
    assert not (tmp_path / "m" / ".tmp-abc123.json").exists()

    def leftover(tmp):
        with open(os.path.join(tmp, ".tmp-xyz.png"), "w") as f:
            f.write("partial")

    saved = zoo.save(make_model("vae", {}), str(tmp_path / "n"), write_extra=leftover)
    assert ".tmp-xyz.png" not in verify_folder(saved)["sha256"]
    assert not os.path.exists(os.path.join(saved, ".tmp-xyz.png"))


@pytest.mark.parametrize("entry", ["absolute", "dotdot", "empty"])
def test_a_manifest_pointing_outside_or_empty_is_refused(tmp_path, entry):
    folder = _model_folder(tmp_path / "m")
    outside = tmp_path / "outside.txt"
    outside.write_text("not the model's")
    path = os.path.join(folder, "metadata.json")
    meta = read_json(path)
    digest = hashlib.sha256(b"not the model's").hexdigest()
    if entry == "empty":
        meta["sha256"] = {}
    else:
        meta["sha256"][str(outside) if entry == "absolute" else "../outside.txt"] = digest
    with open(path, "w") as f:
        json.dump(meta, f)
    with pytest.raises(ModelFolderError, match="no absolute or '..' paths|no sha256 manifest"):
        verify_folder(folder)


def _refused_within(seconds, call):
    """Runs `call` in a thread; fails (instead of hanging) when it has not returned in time."""
    outcome = {}

    def target():
        try:
            call()
        except Exception as e:  # noqa: BLE001 (the test checks which)
            outcome["error"] = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    return thread.is_alive(), outcome.get("error")


@pytest.mark.parametrize("listed", [False, True])
def test_a_fifo_in_a_folder_is_refused_at_once(tmp_path, listed):
    folder = _model_folder(tmp_path / "m")
    fifo = os.path.join(folder, "metrics.json" if listed else "pipe")
    if listed:
        os.remove(fifo)
    os.mkfifo(fifo)
    hung, error = _refused_within(10, lambda: zoo.load(folder))
    if hung:  # release the blocked reader so the thread ends
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert not hung, "loading a folder holding a FIFO blocked"
    assert isinstance(error, ModelFolderError) and "not a regular file" in str(error)


def test_a_link_out_of_the_folder_is_refused(tmp_path):
    folder = _model_folder(tmp_path / "m")
    metrics = os.path.join(folder, "metrics.json")
    copy = tmp_path / "elsewhere.json"
    copy.write_bytes(open(metrics, "rb").read())
    os.remove(metrics)
    os.symlink(copy, metrics)  # same bytes, so the hash alone would pass
    with pytest.raises(ModelFolderError, match="outside the model folder"):
        verify_folder(folder)


# --- 5. evaluate prints; --write is explicit --------------------------------------------------

@pytest.fixture()
def tiny_preset(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_PRESETS_DIR", str(tmp_path / "presets"))
    monkeypatch.chdir(_user_folder(tmp_path / "work"))
    return _model_folder(tmp_path / "presets" / "tiny")


def test_evaluate_prints_and_writes_a_json_without_touching_the_preset(tiny_preset, capsys):
    before = _snapshot(tiny_preset)
    assert main(["evaluate", "tiny", "--metrics", "elbo", "--max-images", "20",
                 "--out", "results.json"]) == 0
    assert "Test ELBO" in capsys.readouterr().out
    assert "test_elbo" in json.load(open("results.json"))
    assert _snapshot(tiny_preset) == before


def test_evaluate_write_of_a_preset_needs_the_full_protocol(tiny_preset, capsys):
    before = _snapshot(tiny_preset)
    assert main(["evaluate", "tiny", "--metrics", "nll", "--num-samples", "5", "--write"]) == 2
    assert "reduced protocol" in _err(capsys)
    assert main(["evaluate", "tiny", "--metrics", "elbo", "--max-images", "20", "--write"]) == 2
    assert _snapshot(tiny_preset) == before
    with pytest.raises(SystemExit):  # the old flag is gone: not writing is the default
        main(["evaluate", "tiny", "--no-write"])


def test_evaluate_write_updates_a_folder_of_ones_own(tmp_path, capsys):
    folder = _model_folder(tmp_path / "m")
    assert main(["evaluate", folder, "--metrics", "elbo", "--max-images", "20", "--write"]) == 0
    assert "test_elbo" in read_json(os.path.join(folder, "metrics.json"))
    verify_folder(folder)


# --- 6. one writer per folder; full disks and read-only folders -------------------------------

def test_a_second_writer_of_a_folder_refuses_at_once(tmp_path, capsys):
    with folder_lock(str(tmp_path)):
        with pytest.raises(FolderLockedError, match=f"process {os.getpid()}.*{LOCK_FILE}"):
            with folder_lock(str(tmp_path)):
                pass
    assert not (tmp_path / LOCK_FILE).exists()
    # A training whose work folder is locked by a running process refuses before any work.
    partial = tmp_path / "vae.partial"
    partial.mkdir()
    (partial / LOCK_FILE).write_text(f"{os.getppid()}\n")
    assert main(["train", *TINY_RUN, "--out", str(tmp_path / "vae")]) == 2
    err = _err(capsys)
    assert LOCK_FILE in err and f"process {os.getppid()}" in err
    assert sorted(os.listdir(partial)) == [LOCK_FILE] and not (tmp_path / "vae").exists()


def test_a_stale_lock_is_taken_over_with_a_note(tmp_path, capsys):
    (tmp_path / LOCK_FILE).write_text(f"{_dead_pid()}\n")
    with folder_lock(str(tmp_path)):
        assert int((tmp_path / LOCK_FILE).read_text().split()[0]) == os.getpid()
    assert "taking over the stale lock" in capsys.readouterr().err


def test_an_export_into_a_locked_folder_refuses_at_once(tmp_path, capsys):
    folder = _model_folder(tmp_path / "m")
    base = tmp_path / "exports" / "vae"
    base.mkdir(parents=True)
    (base / LOCK_FILE).write_text(f"{os.getppid()}\n")
    assert main(["export", folder, "--out", str(base)]) == 2
    assert LOCK_FILE in _err(capsys)
    assert sorted(os.listdir(base)) == [LOCK_FILE]


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_gives_a_clear_error_and_keeps_the_previous_folder(tmp_path, monkeypatch):
    folder = _model_folder(tmp_path / "m")
    before = _snapshot(folder)
    import zoo.saving as saving

    monkeypatch.setattr(saving, "write_json", _no_space)
    with pytest.raises(ModelFolderError, match="the disk is full.*previous folder is unchanged"):
        zoo.save(make_model("vae", {"seed": 5}), folder, overwrite=True)
    monkeypatch.undo()
    assert _snapshot(folder) == before and sorted(os.listdir(tmp_path)) == ["m"]


def test_a_full_disk_at_the_end_of_training_keeps_the_run_for_resume(tmp_path, monkeypatch,
                                                                      capsys):
    folder = _model_folder(tmp_path / "vae")
    before = _snapshot(folder)
    import zoo.saving as saving

    monkeypatch.setattr(saving, "write_json", _no_space)
    assert main(["train", *TINY_RUN, "--out", folder, "--overwrite"]) == 2
    err = _err(capsys)
    assert "the disk is full" in err and "--resume" in err
    monkeypatch.undo()
    assert _snapshot(folder) == before
    assert (tmp_path / "vae.partial" / "checkpoint").exists()
    assert main(["train", "--out", folder, "--resume", "--verbose", "0"]) == 0
    assert read_json(os.path.join(folder, "metadata.json"))["recipe"]["latent_dim"] == 2


def test_an_unwritable_folder_gives_a_clear_error(tmp_path, monkeypatch):
    folder = _model_folder(tmp_path / "m")
    before = _snapshot(folder)
    import zoo.saving as saving

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path))

    monkeypatch.setattr(saving.tempfile, "mkdtemp", denied)
    with pytest.raises(ModelFolderError, match="permission denied"):
        zoo.save(make_model("vae", {}), folder, overwrite=True)
    monkeypatch.undo()
    assert _snapshot(folder) == before


def test_a_full_disk_during_an_export_keeps_the_versions_there(tmp_path, monkeypatch):
    from zoo import export

    base = tmp_path / "exports" / "vae"
    _user_folder(base / "1")
    monkeypatch.setattr(export.tempfile, "mkdtemp", _no_space)
    with pytest.raises(ValueError, match="Cannot export to .*the disk is full"):
        export.export_model(make_model("vae", {}), str(base))
    monkeypatch.undo()
    assert sorted(os.listdir(base)) == ["1"] and os.listdir(base / "1") == ["thesis.tex"]


def test_replacing_without_an_atomic_swap_still_keeps_one_whole_folder(tmp_path, monkeypatch):
    import zoo.saving as saving

    folder = _model_folder(tmp_path / "m")
    monkeypatch.setattr(saving, "exchange", lambda a, b: False)  # a system without renameat2
    zoo.save(make_model("vae", {"seed": 3}), folder, overwrite=True)
    assert zoo.load(folder).seed == 3 and sorted(os.listdir(tmp_path)) == ["m"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_parent_gives_a_clear_error(tmp_path):
    folder = _model_folder(tmp_path / "parent" / "m")
    before = _snapshot(folder)
    os.chmod(tmp_path / "parent", 0o555)
    try:
        with pytest.raises(ModelFolderError, match="permission denied"):
            zoo.save(make_model("vae", {}), folder, overwrite=True)
    finally:
        os.chmod(tmp_path / "parent", 0o755)
    assert _snapshot(folder) == before


# --- 7. a bare name is a preset ---------------------------------------------------------------

def test_a_bare_name_means_the_preset_not_a_folder_here(tmp_path, monkeypatch):
    if "vae_mnist" not in zoo.list_presets():
        pytest.skip("vae_mnist is not built")
    monkeypatch.chdir(tmp_path)
    decoy = _model_folder(tmp_path / "vae_mnist")
    assert os.path.realpath(resolve("vae_mnist")) == os.path.realpath(
        os.path.join(presets_dir(), "vae_mnist"))
    assert zoo.load("./vae_mnist").latent_dim == zoo.load(decoy).latent_dim == 4
    _model_folder(tmp_path / "mine")
    with pytest.raises(ModelFolderError, match=r"is not a preset name.*'\./mine'"):
        zoo.load("mine")


# --- 8. m2_mnist_100 is m1m2_mnist_100 --------------------------------------------------------

def test_the_m1m2_preset_has_its_name_and_the_old_one_still_loads(capsys):
    names = zoo.list_presets()
    assert "m1m2_mnist_100" in names and "m2_mnist_100" not in names
    assert resolve("m2_mnist_100") == resolve("m1m2_mnist_100")
    assert "m2_mnist_100 is now m1m2_mnist_100" in capsys.readouterr().err
    with pytest.raises(TypeError, match=r"zoo\.M1M2\.from_preset\('m1m2_mnist_100'\)"):
        zoo.M2.from_preset("m1m2_mnist_100")
    assert "m1m2_mnist_100" in recipes.PRESETS and "m2_mnist_100" not in recipes.PRESETS
    meta = read_json(os.path.join(resolve("m1m2_mnist_100"), "metadata.json"))
    assert not re.search(r"\bm2_mnist_100", json.dumps(meta))


def test_describe_presets_says_what_each_preset_is():
    described = {d["name"]: d for d in zoo.presets.describe_presets()}
    assert sorted(described) == zoo.list_presets()
    assert described["mnist_classifier"]["kind"] == "classifier"
    assert described["mnist_classifier"]["capabilities"] is None
    m1m2 = described["m1m2_mnist_100"]
    assert m1m2["kind"] == "generator" and m1m2["model_class"] == "M1M2"
    assert m1m2["capabilities"] == zoo.M1M2.capabilities.describe()


# --- 9. plot never overwrites silently --------------------------------------------------------

def test_plot_of_a_folder_writes_into_it_and_never_overwrites_silently(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(_user_folder(tmp_path / "work"))
    folder = _model_folder(tmp_path / "m")
    assert main(["plot", folder]) == 0
    picture = os.path.join(folder, "samples.png")
    assert "samples.png" in verify_folder(folder)["sha256"]  # the manifest knows it
    assert os.listdir(".") == ["thesis.tex"]
    drawn = open(picture, "rb").read()
    assert main(["plot", folder, "--seed", "3"]) == 2
    assert "--overwrite" in _err(capsys) and open(picture, "rb").read() == drawn
    assert main(["plot", folder, "--seed", "3", "--overwrite"]) == 0
    assert open(picture, "rb").read() != drawn
    verify_folder(folder)
    assert main(["plot", folder, "--out", "thesis.tex"]) == 2
    assert open("thesis.tex").read() == "months of work"


def test_plot_of_a_preset_writes_under_pictures_here(tiny_preset):
    before = _snapshot(tiny_preset)
    assert main(["plot", "tiny"]) == 0
    assert os.path.exists(os.path.join("pictures", "tiny_samples.png"))
    assert _snapshot(tiny_preset) == before


def test_plot_of_the_classifier_is_one_line_and_exit_2(capsys, tmp_path):
    assert main(["plot", "mnist_classifier", "--out", str(tmp_path / "p.png")]) == 2
    err = _err(capsys)
    assert err.startswith("error:") and "\n" not in err and "not a generative model" in err
    assert not (tmp_path / "p.png").exists()
