"""Fetch a GitOps repository into a cache so the inventory plugin can read it, with git_source's code.

The checkout is converged by :func:`git.source.sync`, exactly as the ``git_source`` module does it:
a shallow fetch of one revision, signatures verified before the working copy moves, credentials only
in the git processes' environment, a lock next to the checkout, the previous checkout kept on failure.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.git.auth import CREDENTIAL_ENV, GitAuth
from ansible_collections.trident.gitops.plugins.module_utils.git.source import SyncRequest, sync


@dataclass(frozen=True)
class Checkout:
    path: str
    commit: str


def display_url(repo: str) -> str:
    """``repo`` without credentials, fit for messages and host variables."""
    parts = urlsplit(repo)
    if parts.password is None and parts.username is None:
        return repo
    return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()


def split_credentials(repo: str, auth: GitAuth) -> tuple:
    """(URL without user info, auth): credentials written into an http(s) URL move to ``auth``, where
    git_source passes them through the environment instead of the command line and ``.git/config``."""
    parts = urlsplit(repo)
    if parts.scheme not in ("http", "https") or parts.password is None:
        return repo, auth
    return display_url(repo), replace(auth, username=auth.username or unquote(parts.username or ""),
                                      password=auth.password or unquote(parts.password))


def fetch_repository(repo: str, version: str, cache_dir: str, auth: GitAuth | None = None,
                     verify_signature: bool = False, trusted_keys: tuple = (),
                     runner: CommandRunner | None = None) -> Checkout:
    """Converge the cached checkout of ``version`` (branch, tag, commit or HEAD) of ``repo``."""
    url, auth = split_credentials(repo, auth or GitAuth())
    runner = runner or CommandRunner(masked=auth.secrets)
    os.makedirs(cache_dir, mode=0o700, exist_ok=True)
    key = hashlib.sha256(f"{url}\0{version}".encode()).hexdigest()[:16]
    request = SyncRequest(repo=url, dest=os.path.join(cache_dir, key), version=None if version == "HEAD" else version,
                          verify_signature=verify_signature, trusted_keys=tuple(trusted_keys), auth=auth)
    try:
        result = sync(request, runner)
    except TridentError as exc:
        raise TridentError(f"cannot fetch {version} of {url}: {runner.mask_text(exc.message)}") from None
    return Checkout(path=request.dest, commit=result.after)


def share_credentials(auth: GitAuth, environ=None) -> None:
    """Set the credentials the inventory was given as the ``TRIDENT_GIT_*`` variables of this run.

    The modules of the run (git_source in the source role) inherit them and fall back to them: one set
    of credentials, never a host variable. Variables already set are left as they are.
    """
    environ = os.environ if environ is None else environ
    for field, name in CREDENTIAL_ENV.items():
        value = getattr(auth, field)
        if value:
            environ.setdefault(name, value)
