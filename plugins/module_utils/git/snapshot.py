"""A GitOps repository at another revision than its checkout's, for an environment that stays behind.

``promote_from`` holds an environment at the revision it runs until the environment it promotes from
runs the new one Healthy, and ``trident_pin`` pins one to a revision (docs/promotion.md): the steps then
need the repository as it was at that revision. It is materialised from the checkout's object store
into a cache folder keyed by the commit (``git archive`` of the whole tree, so a file the environment
names elsewhere in the repository is there too), never inside the checkout (that would be drift).
Extraction uses tarfile's ``data`` filter: no absolute paths, no ``..``, no link leading outside the
folder; the layout code then applies the usual sandbox to it. A shallow checkout lacks old commits:
the commit is fetched from the checkout's origin first (depth 1, credentials as for git_source).
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.files import private_tempdir
from ansible_collections.trident.gitops.plugins.module_utils.git.refs import is_sha
from ansible_collections.trident.gitops.plugins.module_utils.git.signature import TrustedKeys


def _git(runner, checkout, *args, binary_output=False, check=False):
    return runner(["git", "-C", checkout, *args], check=check, binary_output=binary_output)


def check_revision(revision: str) -> str:
    """Only a full commit SHA names a revision here: it is a cache key and a git argument."""
    if not isinstance(revision, str) or not is_sha(revision, full=True):
        raise TridentError(f"revision {revision!r} is not a full commit SHA")
    return revision.lower()


def ensure_commit(runner, checkout: str, revision: str) -> None:
    """Make ``revision`` present in the checkout's object store, fetching it from origin if needed."""
    if _git(runner, checkout, "cat-file", "-e", f"{revision}^{{commit}}").rc == 0:
        return
    result = _git(runner, checkout, "fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--depth", "1",
                  "origin", revision)
    if result.rc != 0 or _git(runner, checkout, "cat-file", "-e", f"{revision}^{{commit}}").rc != 0:
        raise TridentError(f"commit {revision} is not in the checkout {checkout} and cannot be fetched from its "
                           f"origin: {runner.mask_text(result.stderr.strip()) or 'not found'}")


def folder_tree(runner, checkout: str, revision: str, folder: str) -> str | None:
    """The tree SHA of ``folder`` at ``revision`` (None when the folder does not exist there)."""
    revision = check_revision(revision)
    ensure_commit(runner, checkout, revision)
    result = _git(runner, checkout, "rev-parse", "--verify", "--quiet", f"{revision}:{folder.strip('/')}")
    return (result.stdout.strip() or None) if result.rc == 0 else None


def materialise(runner, checkout: str, revision: str, cache_dir: str) -> str:
    """The folder holding the repository's tree at ``revision`` (made once, then reused)."""
    revision = check_revision(revision)
    target = os.path.join(os.path.abspath(os.path.expanduser(cache_dir)), revision)
    if os.path.isdir(target):
        return target
    ensure_commit(runner, checkout, revision)
    archive = _git(runner, checkout, "archive", "--format=tar", revision, binary_output=True, check=True).stdout
    os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{revision}.", dir=os.path.dirname(target))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            try:
                tar.extractall(staging, filter="data")
            except tarfile.FilterError as exc:
                raise TridentError(f"revision {revision}: {exc.tarinfo.name} leads outside the repository (a link "
                                   "or path the sandbox refuses); nothing outside the checkout is read") from None
        try:
            os.rename(staging, target)  # whole or not at all; a concurrent run may have won the race
        except OSError:
            if not os.path.isdir(target):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def folder_commits(runner, checkout: str, since: str | None, until: str, folder: str) -> list:
    """Commits that change ``folder`` from ``since`` (excluded) to ``until``; without ``since``, ``until`` alone.

    A shallow checkout lacks the range: its history is fetched from origin first (``--unshallow``).
    """
    until = check_revision(until)
    ensure_commit(runner, checkout, until)
    if since is None:
        return [until]
    since = check_revision(since)
    if os.path.exists(os.path.join(checkout, ".git", "shallow")):
        result = _git(runner, checkout, "fetch", "--quiet", "--no-tags", "--unshallow", "origin")
        if result.rc != 0:
            raise TridentError(f"cannot fetch the history of {checkout} from its origin: "
                               f"{runner.mask_text(result.stderr.strip())}")
    ensure_commit(runner, checkout, since)
    listed = _git(runner, checkout, "rev-list", f"{since}..{until}", "--", folder.strip("/") + "/", check=True)
    return listed.stdout.split()


def verify_folder_signers(runner, checkout: str, since: str | None, until: str, folder: str,
                          trusted_keys: tuple) -> list:
    """Signers of every commit of :func:`folder_commits`; the first one not signed by ``trusted_keys`` is refused.

    A folder whose content does not change (the same tree at both ends: a change and its revert) needs no signer.
    """
    if since and folder_tree(runner, checkout, since, folder) == folder_tree(runner, checkout, until, folder):
        return []
    commits = folder_commits(runner, checkout, since, until, folder)
    if not commits:
        return []
    with private_tempdir(prefix="trident-gpg-") as home:
        keys = TrustedKeys(runner, home, trusted_keys)
        return [keys.verify(runner, checkout, "commit", sha, f"commit {sha} (it changes {folder})").as_dict()
                for sha in commits]
