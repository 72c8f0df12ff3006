"""Training recipes, data pipelines, evaluation protocols and the command line of the zoo."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
