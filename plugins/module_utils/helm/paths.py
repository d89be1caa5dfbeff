"""Paths a release names (chart folders, values files, keyrings) resolve inside the repository.

env.yml is repository content, and nothing the repository says may reach outside the checkout: the
repository sandbox (common/sandbox.py) resolves every path, and an absolute path is refused outright
because env.yml paths are relative to the environment folder. A chart folder is checked whole,
hidden files included, because helm follows symlinks when it loads a chart folder and a template can
read any of its files (``.Files.Get``).
"""

from __future__ import annotations

import os

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox


def inside_repository(repo_path, base, relative, what):
    """The real path of ``relative`` (to the folder ``base``); ``what`` names it in errors."""
    if os.path.isabs(relative):
        raise TridentError(f"{what}: '{relative}' must be relative to the environment folder")
    try:
        target = Sandbox(repo_path).resolve(relative, base)
    except TridentError as exc:
        raise TridentError(f"{what}: {exc.message}") from None
    if not os.path.exists(target):
        raise TridentError(f"{what}: '{relative}' does not exist")
    return target


def check_tree(repo_path, folder, what):
    """Refuse a folder holding a symlink that resolves outside the repository (or nowhere)."""
    sandbox = Sandbox(repo_path)
    for current, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(current, name)
            if os.path.islink(path) and not sandbox.contains(os.path.realpath(path)):
                rel = os.path.relpath(path, folder)
                raise TridentError(f"{what}: the symlink '{rel}' leads outside the repository")
