"""Every path a GitOps repository names resolves inside its checkout, or the run fails naming the link.

Why: a repository is written by whoever gets a merge request merged. A symlink or a ``..`` that leads
out of the checkout would let it read the controller's files (Argo CD's CVE-2022-24348 class): apply
them into a cluster, pass them to Terraform, show them in an error. Every reader of repository paths
resolves them here first. The error names the path as the repository wrote it and the link that leaves;
it never names the target or shows anything of the outside file. Symlinks that stay inside are fine.

A repository path is taken literally: ``$VAR``, ``${VAR}``, ``~`` and ``~user`` are characters of a file
name, never expanded (an expansion would put the controller's environment, a token or a key, into the
path and from there into every message and report that names it). So the modules declare the options
that carry repository paths ``type: str``, not ``type: path`` (which expands both), and nothing here calls
``expanduser`` or ``expandvars``; docs/developing.md lists which options are repository paths and which are
the operator's controller paths.
"""

from __future__ import annotations

import os

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError


def literal(path) -> str:
    """``path`` as the file name it is (never expanded); a NUL, which no file name holds, is refused."""
    path = os.fspath(path)
    if "\0" in path:
        raise TridentError(f"{path!r}: a path cannot hold a NUL character")
    return path


class Sandbox:
    """The real path of a checkout; :meth:`resolve` refuses every path that leaves it."""

    def __init__(self, root: str):
        self.root = os.path.realpath(literal(root))

    def contains(self, real_path: str) -> bool:
        return real_path == self.root or real_path.startswith(self.root + os.sep)

    def display(self, path: str) -> str:
        """``path`` relative to the checkout when it lies lexically inside, for messages."""
        absolute = os.path.normpath(os.path.join(self.root, path))
        return os.path.relpath(absolute, self.root) if self.contains(absolute) else absolute

    def resolve(self, path: str, base: str | None = None) -> str:
        """The real path of ``path`` (relative to ``base``, default the root); TridentError if it leaves the checkout."""
        candidate = os.path.join(base or self.root, literal(path))
        real = os.path.realpath(candidate)
        if self.contains(real):
            return real
        link = self.escaping_link(candidate)
        if link:
            raise TridentError(f"{self.display(link)} is a symlink that leads outside the repository; "
                               f"nothing outside the checkout is read (path '{self.display(candidate)}')")
        # Named as the repository wrote it: where it leads is the controller's, not the repository's.
        shown = self.display(candidate) if self.contains(os.path.normpath(candidate)) else path
        raise TridentError(f"'{shown}' leads outside the repository (through '..' or an "
                           "absolute path); nothing outside the checkout is read")

    def escaping_link(self, path: str) -> str | None:
        """The first symlink on ``path`` whose target lies outside the checkout (None: no link escapes)."""
        parts = os.path.normpath(os.path.join(self.root, path)).split(os.sep)
        for end in range(2, len(parts) + 1):
            prefix = os.sep.join(parts[:end]) or os.sep
            if os.path.islink(prefix) and not self.contains(os.path.realpath(prefix)):
                return prefix
        return None

    def walk(self, directory: str, suffixes: tuple = ()) -> list:
        """Files under ``directory`` (sorted, recursive, hidden ones skipped) ending in ``suffixes``.

        A symlinked file that stays inside is listed, a symlinked folder that stays inside is not walked
        (no loops), and either one that leaves the checkout is an error.
        """
        self.resolve(directory)
        found = []
        for folder, dirs, files in os.walk(directory):
            for name in [d for d in dirs if not d.startswith(".")]:
                self.resolve(os.path.join(folder, name))
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith(".") or not name.endswith(suffixes or ("",)):
                    continue
                found.append(os.path.join(folder, name))
                self.resolve(found[-1])
        return found


def enclosing_checkout(path: str) -> Sandbox | None:
    """The sandbox of the Git checkout (a folder holding ``.git``) that lexically holds ``path``, if any."""
    folder = os.path.abspath(literal(path))
    while True:
        if os.path.lexists(os.path.join(folder, ".git")):
            return Sandbox(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def confine(path: str, anchor: str | None = None) -> str:
    """``path`` unchanged, once checked to stay inside the Git checkout that holds ``anchor`` (default:
    ``path`` itself); a path in no checkout is not the repository's and is returned as it is.

    Modules use this for the paths they are given (a manifest, a kubeconfig and the files it names,
    a var file): those that come from a checkout cannot lead out of it.
    """
    sandbox = enclosing_checkout(anchor or path)
    if sandbox is not None:
        sandbox.resolve(path, anchor if anchor and os.path.isdir(anchor) else None)
    return path
