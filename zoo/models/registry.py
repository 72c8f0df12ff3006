"""Model classes by name (`--model vae` on the command line, `zoo.get_model("vae")`)."""

from zoo.naming import Registry

MODELS = Registry("model")
