"""Masking secret values so that a changed secret is visible as changed but its value is not.

A masked value is a keyed digest with a key drawn once per process: equal values mask equally
within one run (before/after diffs show what changed), while the digest cannot be looked up or
brute-forced from a log, since the key is never stored. Work run inside the Ansible worker (the
in-process action plugins) draws a new key per task with :func:`new_key`, as a module process would:
the worker inherits the controller's key, which would make equal secrets of two environments mask
equally.
"""

from __future__ import annotations

import hashlib
import hmac
import os

_RUN_KEY = os.urandom(32)
MASK_PREFIX = "<masked:"


def new_key():
    """Draw a new key for this process's masks."""
    global _RUN_KEY
    _RUN_KEY = os.urandom(32)


def mask(value):
    """Return a placeholder for one secret value (str, bytes or any JSON scalar)."""
    if value is None:
        return None
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
    digest = hmac.new(_RUN_KEY, raw, hashlib.sha256).hexdigest()[:12]
    return f"{MASK_PREFIX}{digest}>"


def mask_tree(data):
    """Mask every leaf of a nested dict/list structure, keeping its shape (keys are not secret)."""
    if isinstance(data, dict):
        return {key: mask_tree(value) for key, value in data.items()}
    if isinstance(data, list):
        return [mask_tree(value) for value in data]
    return mask(data)
