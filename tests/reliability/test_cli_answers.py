"""The command line answers what it is asked, in one line when the input is bad."""

from training.commands import main
from training.run import train as train_lib

TINY = ["--dataset", "digits", "--epochs", "1", "--batch-size", "100", "--latent-dim", "4",
        "--hidden-units", "16", "--nll-samples", "5", "--verbose", "0"]


def test_evaluate_with_zero_samples_is_one_line_and_exit_2(capsys):
    assert main(["evaluate", "vae_mnist", "--metrics", "nll", "--num-samples", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --num-samples must be an integer in [1,") and \
        err.count("\n") == 1


def test_evaluate_by_default_measures_what_the_model_has(capsys):
    # The semi-supervised preset has no density: its headline metric is the test error.
    assert main(["evaluate", "m1m2_mnist_100", "--max-images", "200"]) == 0
    out = capsys.readouterr().out
    assert "Test error of the classifier:" in out and "NLL" not in out


def test_resume_says_which_new_options_it_keeps_from_the_checkpoint(tmp_path, capsys,
                                                                     monkeypatch):
    out = tmp_path / "vae"

    def killed(self, epoch, logs=None):
        original(self, epoch, logs)
        raise KeyboardInterrupt

    original = train_lib.WallClock.on_epoch_end
    monkeypatch.setattr(train_lib.WallClock, "on_epoch_end", killed)
    try:
        main(["train", *TINY, "--epochs", "2", "--out", str(out)])
    except KeyboardInterrupt:
        pass
    monkeypatch.setattr(train_lib.WallClock, "on_epoch_end", original)
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume", "--learning-rate", "0.5",
                 "--verbose", "0"]) == 0
    printed = capsys.readouterr().out
    assert "resuming keeps the checkpoint's --learning-rate 0.001" in printed


def test_semi_supervised_training_prints_its_test_error(tmp_path, capsys):
    assert main(["train", *TINY, "--model", "m2", "--labels-per-class", "5",
                 "--labelled-batch-size", "20", "--out", str(tmp_path / "m2")]) == 0
    assert "Test error of the classifier:" in capsys.readouterr().out
