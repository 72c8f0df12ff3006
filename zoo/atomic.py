"""Atomic file writes: the one helper every writer of the zoo goes through.

A file is written to a temporary name in its destination folder and renamed over the target
only when complete, so a crash, a kill or a full disk never leaves half a file where a reader
expects a whole one (the previous version stays until the rename).
"""

import contextlib
import json
import os
import socket
import sys
import tempfile
import time

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


def exchange(a, b):
    """Swaps the paths `a` and `b` in one atomic step (Linux renameat2 RENAME_EXCHANGE), so a
    reader sees the old or the new entry and never neither; False where the system cannot."""
    import ctypes
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # an old kernel or a file system without it: the caller falls back
    raise OSError(code, os.strerror(code), b)


LOCK_FILE = "zoo.lock"  # in a training work folder (<out>.partial) and an export base folder
STALE_UNREADABLE_SECONDS = 60  # a lock without a readable pid this old is taken as stale


class FolderLockedError(RuntimeError):
    """Another process is writing into the same folder (its lock file is present)."""


def _lock_owner(path):
    """(pid, host) recorded in a lock file; (None, None) when unreadable."""
    try:
        with open(path) as f:
            pid, _, host = f.read().strip().partition(" ")
        return int(pid), host
    except (OSError, ValueError):
        return None, None


def _running(pid, host):
    """Whether the lock's owner may still run (a process of another host cannot be checked)."""
    if host and host != socket.gethostname():
        return True
    if pid is None or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def folder_lock(folder):
    """Holds `folder`/zoo.lock for the block: created with O_EXCL and holding the pid, so a
    second writer of the same folder refuses at once; a lock left by a dead process is taken
    over with a note."""
    path = os.path.join(folder, LOCK_FILE)
    for attempt in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            pid, host = _lock_owner(path)
            if pid is None:  # being written this very moment, or garbled long ago
                try:
                    stale = time.time() - os.path.getmtime(path) > STALE_UNREADABLE_SECONDS
                except OSError:
                    stale = True
            else:
                stale = not _running(pid, host)
            if attempt or not stale:
                owner = (f"process {pid}" + (f" on {host}" if host else "")) if pid else \
                    "another process"
                raise FolderLockedError(
                    f"{folder} is in use by {owner} (lock file {path}); wait for it to finish, "
                    "or delete the lock file if no such process is running.") from None
            print(f"Note: taking over the stale lock {path}"
                  + (f" of process {pid}, which is no longer running." if pid else "."),
                  file=sys.stderr)
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
    with os.fdopen(fd, "w") as f:
        f.write(f"{os.getpid()} {socket.gethostname()}\n")
    try:
        yield path
    finally:
        if _lock_owner(path)[0] == os.getpid():
            with contextlib.suppress(OSError):
                os.remove(path)
