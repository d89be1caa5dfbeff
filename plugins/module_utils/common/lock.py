"""An advisory file lock so two runs on the same path cannot interleave."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError


@contextlib.contextmanager
def file_lock(path, timeout=300.0, what="resource"):
    """Hold an exclusive ``flock`` on ``path`` (created if missing); wait at most ``timeout`` seconds."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TridentError(f"timed out after {timeout:g}s waiting for the lock on {what} ({path}): "
                                       "another run is in progress") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
