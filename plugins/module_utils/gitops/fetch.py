"""Fetch a GitOps repository into a cache so the inventory plugin can read it.

This is the one place the inventory plugin gets a remote repository from; it stays behind
:func:`fetch_repository` so the git_source code can take its place without touching the plugin.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from urllib.parse import urlsplit

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.lock import file_lock


@dataclass(frozen=True)
class Checkout:
    path: str
    commit: str


def _secrets_of(repo: str) -> tuple:
    try:
        password = urlsplit(repo).password
    except ValueError:
        return ()
    return (password,) if password else ()


def display_url(repo: str) -> str:
    """``repo`` without credentials, fit for messages and host variables."""
    parts = urlsplit(repo)
    if parts.password is None and parts.username is None:
        return repo
    return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()


def fetch_repository(repo: str, version: str, cache_dir: str, runner: CommandRunner | None = None) -> Checkout:
    """Shallow-fetch ``version`` (branch, tag or commit) of ``repo`` into ``cache_dir``; return the checkout.

    ``git fetch --depth 1 <repo> <version>`` into a fresh ``git init`` rather than ``git clone``: it
    takes a commit SHA as well as a branch or tag, and the URL (which may carry a token) is never
    written to ``.git/config``. The new checkout replaces the previous one only once complete, so a
    failed fetch leaves the last good checkout in place.
    """
    runner = runner or CommandRunner(redact=_secrets_of(repo))
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"}
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    key = hashlib.sha256(f"{display_url(repo)}\0{version}".encode()).hexdigest()[:16]
    target = os.path.join(cache_dir, key)
    with file_lock(os.path.join(cache_dir, f"{key}.lock"), what=f"the cached checkout of {display_url(repo)}"):
        staging = tempfile.mkdtemp(prefix=f".{key}-", dir=cache_dir)
        try:
            runner(["git", "init", "-q", staging], env=env)
            runner(["git", "-C", staging, "fetch", "-q", "--depth", "1", "--no-tags", repo, version], env=env)
            runner(["git", "-C", staging, "checkout", "-q", "--detach", "FETCH_HEAD"], env=env)
            commit = runner(["git", "-C", staging, "rev-parse", "HEAD"], env=env).stdout.strip()
        except TridentError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise TridentError(f"cannot fetch {version} of {display_url(repo)}: {exc.message}") from None
        previous = f"{target}.old"
        shutil.rmtree(previous, ignore_errors=True)  # left over by a run that was killed mid-swap
        if os.path.exists(target):
            os.replace(target, previous)
        os.replace(staging, target)
        shutil.rmtree(previous, ignore_errors=True)
    return Checkout(path=target, commit=commit)
