"""Private files: atomic writes with a fixed mode, temp dirs that are always removed."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile


def atomic_write(path, data, mode=0o600):
    """Write ``data`` (bytes) to ``path`` atomically with ``mode``; return True if the content changed.

    The temporary file is created next to the target with ``mode`` from the start, so a secret is
    never readable by others, not even for an instant, and a crash leaves the old file intact.
    """
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                if (os.stat(path).st_mode & 0o777) != mode:
                    os.chmod(path, mode)
                return False
    except FileNotFoundError:
        pass
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".trident-", dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return True


@contextlib.contextmanager
def private_tempdir(prefix="trident-", parent=None):
    """A 0700 temporary directory (in ``parent`` if given) removed on exit, whatever happens inside."""
    path = tempfile.mkdtemp(prefix=prefix, dir=parent)
    try:
        os.chmod(path, 0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
