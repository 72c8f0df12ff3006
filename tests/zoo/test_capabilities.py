"""zoo/capabilities.py: the declarations (capabilities, options, pictures) models make."""

import pytest

import zoo
from zoo.capabilities import Capabilities, Option, merge_options, without


def test_capabilities_are_checked_and_described():
    with pytest.raises(ValueError, match="density must be one of"):
        Capabilities(density="approximate")
    with pytest.raises(ValueError, match="optimizers must be distinct group names"):
        Capabilities(optimizers=("g", "g"))
    caps = Capabilities(density="bound", latent="single").replace(classifier=True)
    assert caps.has_density and caps.has_latent
    assert caps.describe() == "density bound, latent single, classifier"
    assert "optimizers discriminator/generator" in zoo.get_model("toy_gan").capabilities.describe()


@pytest.mark.parametrize("option, value, expected", [
    (Option("n", int, minimum=1), "3", 3),
    (Option("x", float, minimum=0, exclusive_minimum=True), 0.5, 0.5),
    (Option("units", list, minimum=1), "200,100", [200, 100]),
    (Option("kind", str, choices=("a", "b")), "b", "b"),
    (Option("flag", bool), True, True),
    (Option("n", int), None, None),
])
def test_option_check_converts_valid_values(option, value, expected):
    assert option.check(value) == expected


@pytest.mark.parametrize("option, value, message", [
    (Option("num_samples", int, minimum=1), 0, "--num-samples must be at least 1, got 0"),
    (Option("rate", float, minimum=0, exclusive_minimum=True), 0.0, "--rate must be above 0"),
    (Option("rate", float), float("nan"), "--rate must be a finite number"),
    (Option("n", int), 2.5, "--n expects integer, got 2.5"),
    (Option("n", int, maximum=10), 11, "--n must be at most 10, got 11"),
    (Option("units", list, minimum=1), "200,0", "--units must be at least 1, got 0"),
    (Option("units", list), "2,x", "--units expects integers"),
    (Option("kind", str, choices=("a", "b")), "c", "--kind must be one of: a, b; got 'c'"),
])
def test_option_check_names_the_flag(option, value, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        option.check(value)


def test_option_arguments_and_merging():
    warmup = Option("warmup_epochs", int, argument=lambda v, run: {
        "warmup_steps": v * run["steps_per_epoch"]})
    assert warmup.arguments(3, {"steps_per_epoch": 10}) == {"warmup_steps": 30}
    assert Option("labels", int, argument=None).arguments(5, {}) == {}
    assert Option("beta", float).arguments(None, {}) == {}
    merged = merge_options((Option("a", default=1), Option("b")), (Option("a", default=2),))
    assert [(o.name, o.default) for o in merged] == [("a", 2), ("b", None)]
    assert [o.name for o in without(merged, "a")] == ["b"]


def test_models_bring_their_pictures_through_the_decorator():
    from tests.conftest import make_model

    assert sorted(make_model("m2", {}).pictures()) == ["analogies"]
    assert sorted(make_model("vamp", {"num_pseudo_inputs": 3}).pictures()) == ["pseudo_inputs"]
    assert make_model("vae", {}).pictures() == {}
