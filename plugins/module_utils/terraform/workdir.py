"""The copy of the configuration Terraform runs in: the root module and the repository folders it reaches.

Why a copy: ``init`` writes ``.terraform.lock.hcl`` into the root module's folder, and a non-default workspace
of the implicit local backend makes ``terraform.tfstate.d/`` there; in a Git checkout both are untracked files
that git_source then sees as drift, and a preview must write nothing into the checkout. Terraform cannot be told
to write them elsewhere, so it never runs in the checkout: the root module's folder and every repository folder
its local module sources (``source = "../modules/x"``) reach are copied, at the same place relative to the
repository root, into ``<state_dir>/work``. The copy is all of the repository the sandbox shows.

Every folder, file and symlink copied resolves inside the repository (``common.sandbox``), or the run fails
naming it. A lock file committed next to the configuration is the truth (``init -lockfile=readonly``); without
one, the lock file ``init`` writes is kept in the state dir and put back into the copy on the next run.
"""

from __future__ import annotations

import json
import os
import re
import shutil

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox, enclosing_checkout

LOCK_FILE = ".terraform.lock.hcl"
# Files Terraform and OpenTofu read as a module's configuration (OpenTofu also reads *.tofu).
CONFIG_SUFFIXES = (".tf", ".tf.json", ".tofu", ".tofu.json")
# A local module source in HCL: a quoted string starting with ./ or ../ (Terraform requires the literal).
_LOCAL_SOURCE = re.compile(r'\bsource\s*=\s*"(\.\.?/[^"]*)"')
# Never copied: Git's own folder, and a committed Terraform data dir (TF_DATA_DIR is in the state dir).
_SKIPPED = {".git", ".terraform"}


def repository_of(project_path, repo_path=None):
    """The repository sandbox: ``repo_path`` if given, else the Git checkout holding the project, else the project."""
    if repo_path:
        return Sandbox(repo_path)
    return enclosing_checkout(project_path) or Sandbox(project_path)


def config_files(folder):
    """A module folder's configuration files (Terraform reads only the top level of the folder)."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    return [os.path.join(folder, name) for name in names
            if name.endswith(CONFIG_SUFFIXES) and os.path.isfile(os.path.join(folder, name))]


def local_sources(path):
    """The local module sources (``./x``, ``../x``) a configuration file names.

    Any ``source`` of that form counts, wherever it stands: a folder copied needlessly is a folder of the
    repository; one missed makes ``init`` fail naming it.
    """
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    if not path.endswith(".json"):
        return _LOCAL_SOURCE.findall(text)
    try:
        document = json.loads(text)
    except ValueError:
        raise TridentError(f"{os.path.basename(path)} is not valid JSON") from None
    found, stack = [], [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            source = value.get("source")
            if isinstance(source, str) and source.startswith(("./", "../")):
                found.append(source)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def reached_folders(project_path, repository):
    """The real paths of the root module's folder and of every local module folder it reaches, in order.

    A source that leaves the repository (``..`` past its root, a symlink out) is refused naming the file.
    """
    root = repository.resolve(project_path)
    found, queue = [root], [root]
    while queue:
        folder = queue.pop(0)
        for path in config_files(folder):
            for source in local_sources(path):
                try:
                    target = repository.resolve(source, folder)
                except TridentError:
                    # Named as written: the message never shows where on the controller it leads.
                    raise TridentError(f"{repository.display(path)}: module source '{source}' leads outside the "
                                       "repository (through '..' or a symlink); nothing outside it is read") \
                        from None
                if not os.path.isdir(target):
                    raise TridentError(f"{repository.display(path)}: module source '{source}' is not a folder of "
                                       "the repository")
                if target not in found:
                    found.append(target)
                    queue.append(target)
    return found


def stage(project_path, repository, work_root):
    """Copy the folders the configuration reaches into ``work_root``; return the copy of the root module.

    Files that did not change (same size and modification time) are not copied again; whatever the copy
    holds that the repository no longer has is removed (links the caller made included). The lock file
    Terraform wrote is left alone.
    """
    work_root = os.path.normpath(os.path.abspath(work_root))
    folders = reached_folders(project_path, repository)
    wanted = {}
    for folder in _outermost(folders):
        target = os.path.normpath(os.path.join(work_root, os.path.relpath(folder, repository.root)))
        _collect(folder, repository, target, wanted, set())
        while os.path.dirname(target) != work_root and target != work_root:
            target = os.path.dirname(target)
            wanted[target] = None  # the folders between the work root and a copied one
    project_copy = os.path.normpath(os.path.join(work_root, os.path.relpath(folders[0], repository.root)))
    os.makedirs(project_copy, mode=0o700, exist_ok=True)
    keep = {os.path.join(project_copy, LOCK_FILE)}
    _remove_unwanted(work_root, wanted, keep)
    for target, source in wanted.items():
        if source is None:
            os.makedirs(target, mode=0o700, exist_ok=True)
        elif not _same(source, target):
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target)
            shutil.copy2(source, target)
    return project_copy


def _outermost(folders):
    """Folders not inside another of ``folders`` (copying those copies the rest)."""
    ordered = sorted(set(folders), key=len)
    kept = []
    for folder in ordered:
        if not any(folder == outer or folder.startswith(outer + os.sep) for outer in kept):
            kept.append(folder)
    return kept


def _collect(folder, repository, target, wanted, seen):
    """``wanted[target path] = source file`` (None for a folder) for everything under ``folder``."""
    if folder in seen:
        return
    seen = seen | {folder}
    wanted[target] = None
    for name in sorted(os.listdir(folder)):
        if name in _SKIPPED:
            continue
        source = os.path.join(folder, name)
        real = repository.resolve(source)  # a symlink that leads out of the repository is refused here
        if os.path.isdir(real):
            _collect(real, repository, os.path.join(target, name), wanted, seen)
        elif os.path.isfile(real):
            wanted[os.path.join(target, name)] = real


def _remove_unwanted(work_root, wanted, keep):
    """Remove what the copy holds that ``wanted`` does not (a file where a folder is wanted, and the reverse)."""
    if not os.path.isdir(work_root):
        os.makedirs(work_root, mode=0o700)
        return
    for folder, dirs, files in os.walk(work_root, topdown=False):
        for name in files + dirs:
            path = os.path.join(folder, name)
            is_folder = os.path.isdir(path) and not os.path.islink(path)
            if path in keep or (path in wanted and (wanted[path] is None) == is_folder):
                continue
            if is_folder:
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)


def _same(source, target):
    try:
        theirs, ours = os.stat(source), os.lstat(target)
    except FileNotFoundError:
        return False
    return ours.st_size == theirs.st_size and ours.st_mtime_ns == theirs.st_mtime_ns and not os.path.islink(target) \
        and (ours.st_mode & 0o777) == (theirs.st_mode & 0o777)
