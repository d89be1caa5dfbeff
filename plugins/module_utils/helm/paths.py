"""Paths a release names (chart folders, values files, keyrings) resolve inside the repository.

env.yml is repository content, and nothing the repository says may reach outside the checkout
(docs/design.md): a path is refused when it is absolute, when it resolves (``..`` or a symlink)
outside the repository, or, for a chart folder, when any symlink inside it does, because helm
follows symlinks when it loads a chart from a folder.
"""

from __future__ import annotations

import os

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError


def inside_repository(repo_path, base, relative, what):
    """The real path of ``relative`` (to the folder ``base``); ``what`` names it in errors."""
    if os.path.isabs(relative):
        raise TridentError(f"{what}: '{relative}' must be relative to the environment folder")
    root = os.path.realpath(repo_path)
    target = os.path.realpath(os.path.join(base, relative))
    if not _within(target, root):
        raise TridentError(f"{what}: '{relative}' resolves outside the repository")
    if not os.path.exists(target):
        raise TridentError(f"{what}: '{relative}' does not exist")
    return target


def check_tree(repo_path, folder, what):
    """Refuse a folder holding a symlink that resolves outside the repository (or nowhere)."""
    root = os.path.realpath(repo_path)
    for current, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(current, name)
            if os.path.islink(path) and not _within(os.path.realpath(path), root):
                rel = os.path.relpath(path, folder)
                raise TridentError(f"{what}: the symlink '{rel}' resolves outside the repository")


def _within(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
