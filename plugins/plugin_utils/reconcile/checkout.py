# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Which files an environment is deployed from: committed content only, and the revision that names it.

The source role fetches the repository into a checkout git_source keeps clean (local changes there are discarded
as drift). In the quick start's mode the playbook runs in the user's own checkout instead, which may hold edits
not committed: those are never deployed (the record would name a commit that does not hold what was applied).
When such a checkout has any uncommitted or untracked change, the environment is deployed from a copy of the
repository at HEAD (git/snapshot.py, cached by commit, never inside the checkout) and the changed files of its
folder are reported as drift of the checkout. A folder that is no Git checkout at all is deployed as it is, and no
revision is recorded for it. Git is read through ``git(args) -> (rc, stdout)`` (deployed_revision.run_git).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.plugin_utils.deployed_revision import folder_tree


@dataclass(frozen=True)
class Checkout:
    """The files the steps read (``path``), the Git checkout they come from (``repository``), the commit and the
    tree of the environment's folder at it (None outside Git), and what the report says about the folder:
    ``uncommitted`` (changed in a local checkout, not deployed) and ``fetched`` (files this run's fetch changed)."""

    path: str
    repository: str
    revision: str | None
    tree: str | None
    uncommitted: tuple = ()
    fetched: tuple = field(default=())

    def env_path(self, env_dir: str) -> str:
        return os.path.join(self.path, env_dir)

    def as_dict(self, env_dir: str) -> dict:
        return {"path": self.path, "repository": self.repository, "env_path": self.env_path(env_dir),
                "revision": self.revision, "tree": self.tree, "uncommitted": list(self.uncommitted),
                "fetched": list(self.fetched)}


def uncommitted_files(git, prefix: str = "") -> list | None:
    """Files of the checkout (under ``prefix``) that differ from HEAD: modified, staged, deleted or untracked (not
    ignored). None when the folder is no Git checkout."""
    rc, out = git(["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"])
    if rc != 0:
        return None
    files = [entry[3:] for entry in out.split("\0") if len(entry) > 3]
    prefix = prefix.strip("/") + "/" if prefix else ""
    return sorted(path for path in files if path.startswith(prefix))


def resolve(git, env_dir: str, path: str, revision: str | None, fetched_files: tuple, snapshot) -> Checkout:
    """The checkout an environment is deployed from.

    ``path`` is the folder the source step exposes (git_source's checkout when it fetched, else the local one),
    ``revision`` the commit it fetched (None for a local checkout: HEAD), ``fetched_files`` the files its fetch
    changed, ``snapshot(revision) -> folder`` makes a copy of the repository at a commit.
    """
    commit, tree = folder_tree(git, revision or "", env_dir)
    if commit is None:  # no Git checkout: deployed as it is, nothing recorded
        return Checkout(path=path, repository=path, revision=None, tree=None)
    prefix = env_dir.strip("/") + "/"
    fetched = tuple(f for f in fetched_files if f.startswith(prefix))
    if revision is not None:  # git_source's checkout: local changes were discarded by the fetch
        return Checkout(path=path, repository=path, revision=commit, tree=tree, fetched=fetched)
    changed = uncommitted_files(git)
    if not changed:
        return Checkout(path=path, repository=path, revision=commit, tree=tree)
    return Checkout(path=snapshot(commit), repository=path, revision=commit, tree=tree,
                    uncommitted=tuple(f for f in changed if f.startswith(prefix)))
