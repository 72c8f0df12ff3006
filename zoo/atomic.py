"""Atomic file writes: the one helper every writer of the zoo goes through.

A file is written to a temporary name in its destination folder and renamed over the target
only when complete, so a crash, a kill or a full disk never leaves half a file where a reader
expects a whole one (the previous version stays until the rename).
"""

import contextlib
import json
import os
import tempfile

TMP_PREFIX = ".tmp-"  # temporary files start with this (manifests skip and clean them)


@contextlib.contextmanager
def atomic_path(path, mode=0o644):
    """Yields a temporary path next to `path`; on success it is renamed to `path`.

        with atomic_path("picture.png") as tmp:
            figure.savefig(tmp, format="png")
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TMP_PREFIX,
                               suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_bytes(path, data):
    """Writes `data` (bytes) to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    return path


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, data):
    """Writes `data` as indented, key-sorted JSON to `path` atomically."""
    return write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
