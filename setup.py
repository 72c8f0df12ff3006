"""Build hook: a wheel carries the pretrained presets (saved_models/) as zoo/_presets.

Everything else about the package is in pyproject.toml. An editable install (`pip install -e .`)
reads the presets from the source tree and needs no copy.
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithPresets(build_py):
    def run(self):
        super().run()
        source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "saved_models")
        target = os.path.join(self.build_lib, "zoo", "_presets")
        if os.path.isdir(source):
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)


setup(cmdclass={"build_py": BuildWithPresets})
