"""Every README code block runs as written, from a fresh shell in an empty directory.

The ```python blocks run in a fresh interpreter; of the ```bash blocks, each command of this
project (`python -m training ...` or `zoo-train ...`, also after `&&` or `\\` continuations) runs
as a fresh process. Both run with the current folder an empty temporary directory, PYTHONPATH
the repository root and ZOO_PRESETS_DIR unset. Other shell lines (venv, pip, docker, curl, the
TF_CONFIG lines of multi-worker training, which need several machines) are not run.

A block is tagged by an HTML comment on the line before its fence, `<!-- readme-test: WORDS -->`:
- `tiny`: a long run, run in a tiny form (see `tiny_command` and `tiny_python`: the digits data
  set, one epoch, a few samples, a few images), everything else as written;
- `slow`: run only with `-m slow`;
- `pending`: shows behaviour another change brings (evaluate prints unless --write; plot writes
  next to the model; the preset m1m2_mnist_100); these run last, so that the integrator can
  re-run them alone: `python -m pytest tests/reliability/test_readme.py -m "slow or not slow"
  -k pending`;
- `skip (why)`: needs what a test machine lacks (a TF Serving server); compiled, not run.
"""

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
MARKER = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->")
PROJECT = ("python -m training", "zoo-train")


@dataclass
class Case:
    line: int
    language: str
    code: str  # Python source, or one project command
    tags: set = field(default_factory=set)
    skip: str = ""

    @property
    def id(self):
        words = "skip" if self.skip else "-".join(sorted(self.tags)) or "plain"
        what = self.code.split()[3] if self.language == "bash" else "python"
        return f"L{self.line}-{what}-{words}"


def readme_blocks(path=README):
    """(first line number, language, text, marker text) of each fenced block."""
    lines = open(path, encoding="utf-8").read().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        marker = MARKER.search(lines[i - 1]) if i > 0 else None
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        blocks.append((i + 2, fence.group(1), "\n".join(lines[i + 1:end]),
                       marker.group(1) if marker else ""))
        i = end + 1
    return blocks


def project_commands(text):
    """The commands of this project in a bash block (continuations joined, split at `&&`)."""
    commands = []
    for line in text.replace("\\\n", " ").splitlines():
        for part in line.split("&&"):
            part = " ".join(part.split())
            if part.startswith(PROJECT):
                commands.append(part)
    return commands


def readme_cases():
    cases = []
    for line, language, text, marker in readme_blocks():
        skip = re.match(r"skip\s*\((.*)\)", marker)
        tags = set() if skip else set(marker.split())
        if language == "python":
            cases.append(Case(line, language, text, tags, skip.group(1) if skip else ""))
        elif language == "bash":
            cases += [Case(line, language, c, tags, skip.group(1) if skip else "")
                      for c in project_commands(text)]
    # The blocks of behaviour still landing run last.
    return sorted(cases, key=lambda c: "pending" in c.tags)


TINY_FLAGS = {
    "train": {"--dataset": "digits", "--epochs": "1", "--nll-samples": "2"},
    "benchmark": {"--dataset": "digits", "--steps": "2", "--windows": "1", "--warmup": "0",
                  "--steps-per-execution": "1", "--no-torch": None},
    "evaluate": {"--max-images": "20", "--num-samples": "10"},
    "anomaly": {"--dataset": "digits", "--epochs": "1", "--nll-samples": "2",
                "--score-samples": "2", "--digits": "0"},
}


def tiny_command(argv):
    """`argv` with the flags of TINY_FLAGS set to their tiny values (added when absent)."""
    command = argv[2] if argv[:2] == ["-m", "training"] else None
    tiny = TINY_FLAGS.get(command, {})
    out, i = [], 0
    while i < len(argv):
        if argv[i] in tiny:
            i += 1 if tiny[argv[i]] is None else 2
            continue
        out.append(argv[i])
        i += 1
    for flag, value in tiny.items():
        out += [flag] if value is None else [flag, value]
    return out


def tiny_python(code):
    """The Python block with one epoch per `fit` and few importance samples."""
    code = re.sub(r"\bepochs=\d+", "epochs=1", code)
    return re.sub(r"\bnum_samples=\d{3,}", "num_samples=10", code)


def argv_of(command):
    words = shlex.split(command, comments=True)
    if words[0] == "zoo-train":  # the installed script runs `python -m training`
        words = ["python", "-m", "training", *words[1:]]
    assert words[:3] == ["python", "-m", "training"], command
    return words[1:]


def env():
    values = {k: v for k, v in os.environ.items() if k not in ("ZOO_PRESETS_DIR", "ZOO_PLUGINS")}
    values["PYTHONPATH"] = ROOT
    return values


CASES = readme_cases()


def _param(case):
    marks = [pytest.mark.slow] if "slow" in case.tags else []
    if case.skip:
        marks.append(pytest.mark.skip(reason=case.skip))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_readme_block_runs(case, tmp_path):
    if case.language == "python":
        code = tiny_python(case.code) if "tiny" in case.tags else case.code
        argv = ["-c", code]
    else:
        argv = argv_of(case.code)
        argv = tiny_command(argv) if "tiny" in case.tags else argv
    done = subprocess.run([sys.executable, *argv], cwd=tmp_path, env=env(),
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, (
        f"README line {case.line} failed ({' '.join(argv)[:200]}):\n{done.stderr[-3000:]}")


def test_every_python_block_compiles_and_tags_are_known():
    for case in CASES:
        if case.language == "python":
            compile(case.code, f"README.md:{case.line}", "exec")
        assert case.tags <= {"tiny", "slow", "pending"}, (case.line, case.tags)


def test_the_quick_start_is_two_commands():
    first = [b for b in readme_blocks() if b[1] == "bash"][:2]
    assert [len(b[2].splitlines()) for b in first] == [1, 1]
    assert project_commands(first[0][2]) == [
        "python -m training train --model vae --dataset mnist --epochs 10 --nll-samples 1000"]
    assert first[1][2].rstrip().endswith("python -m pytest")


def test_tiny_forms():
    assert tiny_command(["-m", "training", "train", "--dataset", "mnist", "--epochs", "700"]) == [
        "-m", "training", "train", "--dataset", "digits", "--epochs", "1", "--nll-samples", "2"]
    assert tiny_python("vae.fit(x, epochs=10); vae.log_prob(x, num_samples=5000)") == (
        "vae.fit(x, epochs=1); vae.log_prob(x, num_samples=10)")
