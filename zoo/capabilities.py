"""What a model can do, declared once on its class and read by evaluation, export, pictures, the
command line and the test harness (never probed with `hasattr`, never asked by model name).

    class VAE(LatentVariableModel):
        capabilities = Capabilities(density="bound", latent="single", objective="elbo")

    class CVAE(VAE):
        capabilities = VAE.capabilities.replace(conditional=True, training_targets="labels")

Model options (constructor arguments the command line can set) are declared the same way, as
`Option`s in the class's `options` tuple; subclasses extend their parent's tuple.
"""

import dataclasses
import math

DENSITIES = ("exact", "bound", "none")
LATENTS = ("none", "single", "sequence")
TRAINING_TARGETS = (None, "labels", "index", "mask")


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """The declaration of what a model class can do.

    Args:
        density: "exact" (log_prob is log p(x)), "bound" (log_prob is an importance-sampled
            bound, elbo exists) or "none" (no log_prob).
        latent: "none", "single" (one z: encode/decode/posterior/prior) or "sequence" (z_1..T).
        conditional: every method that reads x or z takes class `labels` (the CVAE).
        classifier: `classify(x)` -> (probabilities, label) exists (semi-supervised models).
        semi_supervised: training labels may be -1 (unlabelled).
        completion: `complete(x, num_known, num_samples, seed)` fills in partial inputs.
        training_targets: what a training batch carries as the `y` of `fit(x, y)`: None,
            "labels", "index" (the position of each image in the training set) or "mask"
            (sequence models: [B, T], 1 for the steps each sequence has).
        optimizers: names of the parameter groups, each trained by its own optimizer on its own
            loss, in update order (one group, "model", for most models).
        adversarial: a generator x = G(z), z ~ N(0, I), trained against a discriminator D(x)
            (`zoo.adversarial`): `generate(z)`, `discriminate(x)` and their exports.
        objective: short name of the training objective ("elbo", "iwae", ...), for listings and
            for tools that compare against a reference implementation of that objective.
        progressive: the latents z_1..T can be sent one step at a time (conceptual compression,
            Gregor et al. 2016): `compression_steps(x, seed)` gives each step's KL (its code
            length) and the reconstruction from the first t steps.
    """

    density: str = "none"
    latent: str = "none"
    conditional: bool = False
    classifier: bool = False
    semi_supervised: bool = False
    completion: bool = False
    training_targets: object = None
    optimizers: tuple = ("model",)
    adversarial: bool = False
    objective: str = ""
    progressive: bool = False

    def __post_init__(self):
        if self.density not in DENSITIES:
            raise ValueError(f"density must be one of {DENSITIES}, got {self.density!r}.")
        if self.latent not in LATENTS:
            raise ValueError(f"latent must be one of {LATENTS}, got {self.latent!r}.")
        if self.training_targets not in TRAINING_TARGETS:
            raise ValueError(f"training_targets must be one of {TRAINING_TARGETS}, got "
                             f"{self.training_targets!r}.")
        if not self.optimizers or len(set(self.optimizers)) != len(self.optimizers):
            raise ValueError(f"optimizers must be distinct group names, got {self.optimizers!r}.")

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    @property
    def has_density(self):
        return self.density != "none"

    @property
    def has_latent(self):
        return self.latent != "none"

    def describe(self):
        """One line for listings: "density bound, latent single, conditional, ..."."""
        parts = [f"density {self.density}", f"latent {self.latent}"]
        parts += [name for name in ("conditional", "classifier", "semi_supervised", "completion",
                                    "adversarial", "progressive") if getattr(self, name)]
        if len(self.optimizers) > 1:
            parts.append("optimizers " + "/".join(self.optimizers))
        return ", ".join(parts)


_TYPES = {int: "integer", float: "number", str: "text", bool: "flag", list: "integers"}


@dataclasses.dataclass(frozen=True)
class Option:
    """A training option a model declares: name, type, default, help and valid range.

    The command line builds `--name` from it, recipes record it, and `check` refuses a value
    outside its range before any data is read, with a message naming the flag.

    Args:
        name: the option's name (snake case; `--kebab-case` on the command line).
        type: int, float, str, bool or list (a list of ints, "200,200" on the command line).
        default: the value used when the option is not given (None: the model decides).
        help: one line for `--help`.
        minimum, maximum: inclusive bounds for numbers (for lists: of each element).
        exclusive_minimum: True when the value must be strictly above `minimum`.
        choices: the allowed values of a text option.
        argument: the constructor argument it sets (default: `name`); None for options that
            configure training rather than the model (read by the pipeline or the recipe).
        when: `when(recipe) -> bool`, whether the option matters for a recipe (e.g. conv
            filters only for conv networks); the reproducing command leaves it out otherwise.
    """

    name: str
    type: type = int
    default: object = None
    help: str = ""
    minimum: float = None
    maximum: float = None
    exclusive_minimum: bool = False
    choices: tuple = None
    argument: object = dataclasses.field(default="")
    when: object = None

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    def arguments(self, value, run):
        """The constructor arguments that `value` sets: {} for a training-only option or an
        unset value; `run` holds facts of the training run (steps_per_epoch,
        num_training_images) for options expressed in its units."""
        if callable(self.argument):
            return self.argument(value, run)
        if self.argument is None or value is None:
            return {}
        return {self.argument or self.name: value}

    def check(self, value):
        """`value` converted to the option's type; ValueError naming the flag if it is invalid."""
        if value is None:
            return None
        try:
            if self.type is list:
                if isinstance(value, str):
                    value = [v for v in value.split(",") if v]
                value = [int(v) for v in value]
                elements = value
            elif self.type is bool:
                if not isinstance(value, (bool, int)):
                    raise TypeError
                value, elements = bool(value), []
            elif self.type is int:
                if isinstance(value, float) and not value.is_integer():
                    raise TypeError
                if isinstance(value, bool):
                    raise TypeError
                value = int(value)
                elements = [value]
            elif self.type is float:
                if isinstance(value, bool):
                    raise TypeError
                value = float(value)
                elements = [value]
            else:
                if not isinstance(value, str):
                    raise TypeError
                elements = []
        except (TypeError, ValueError):
            raise ValueError(f"{self.flag} expects {_TYPES.get(self.type, self.type.__name__)}, "
                             f"got {value!r}.") from None
        if self.type is float and not math.isfinite(value):
            raise ValueError(f"{self.flag} must be a finite number, got {value}.")
        for v in elements:
            if self.minimum is not None and (v < self.minimum or
                                             (self.exclusive_minimum and v == self.minimum)):
                relation = "above" if self.exclusive_minimum else "at least"
                raise ValueError(f"{self.flag} must be {relation} {_number(self.minimum)}, got "
                                 f"{_number(v)}.")
            if self.maximum is not None and v > self.maximum:
                raise ValueError(f"{self.flag} must be at most {_number(self.maximum)}, got "
                                 f"{_number(v)}.")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{self.flag} must be one of: {', '.join(map(str, self.choices))}; "
                             f"got {value!r}.")
        return value


def _number(value):
    return str(value) if isinstance(value, int) else f"{value:g}"


def merge_options(*groups):
    """Options of several tuples, later ones replacing earlier ones of the same name."""
    merged = {}
    for group in groups:
        for option in group:
            merged[option.name] = option
    return tuple(merged.values())


def without(options, *names):
    """`options` less those called `names` (a subclass that fixes them)."""
    return tuple(o for o in options if o.name not in names)


def picture(kind, title, when=None, scale=4):
    """Marks a model method as the source of the picture `kind` (models bring their own).

    The method takes (x, y, seed) (test images, their labels, a seed) and returns image rows:
    an array [rows, columns, *image] that the plotting code tiles and saves under `title`.
    `when(model) -> bool` says whether a model of the class can draw it (default: always);
    `scale` is the PNG's pixels per array pixel (1 for rows drawn at their own zoom).
    """
    def mark(method):
        method.picture = (kind, title)
        method.picture_when, method.picture_scale = when, scale
        return method

    return mark
