"""Reading desired objects: files, directories, globs, a kustomization or inline definitions.

Nothing here talks to a cluster. Every problem is collected (with the document it came from) so
that one run reports all of them at once.
"""

from __future__ import annotations

import glob
import json
import os
import traceback
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.constants import MANIFEST_SUFFIXES
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import (Sandbox, confine, enclosing_checkout,
                                                                                    literal)
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import field_paths
from ansible_collections.trident.gitops.plugins.module_utils.kube.kustomization import (KUSTOMIZATION_FILES,
                                                                                        local_kustomizations,
                                                                                        remote_problems)

from ansible_collections.trident.gitops.plugins.module_utils.kube.yamljson import KubectlLoader as _YAML_LOADER
from ansible_collections.trident.gitops.plugins.module_utils.kube.yamljson import jsonable

try:
    import yaml

    YAML_IMPORT_ERROR = None
except ImportError:  # reported by the module (common.deps.require)
    yaml = None
    YAML_IMPORT_ERROR = traceback.format_exc()

SOPS_HINT = "SOPS-encrypted manifest: give decryption keys"


@dataclass
class Document:
    """One desired object, where it came from (``file#index`` or ``definition[i]``), and the paths of its
    fields that hold secret values (kube/objects.py masks them in every output)."""

    source: str
    obj: dict
    masked: tuple = ()


@dataclass
class Loaded:
    documents: list = field(default_factory=list)
    problems: list = field(default_factory=list)


def load_desired(src=None, kustomize=None, definition=None, runner=None, kubectl="kubectl", decrypt=None,
                 kustomize_remote=False, repository=None):
    """Load every desired document.

    ``decrypt(content, fmt, source) -> [dict, ...]`` opens a SOPS-encrypted file in memory (``content``
    is the file's text, ``fmt`` ``yaml`` or ``json``: the MAC covers the text as encrypted); without
    it an encrypted document is a problem. ``kustomize_remote``: whether the kustomization may build on
    remote references pinned to a commit (kube/kustomization.py); kustomize runs only once they are checked.
    ``repository``: the repository root the kustomization's entries resolve in (default: the Git checkout
    holding ``kustomize``).
    """
    loaded = Loaded()
    for path in _expand_sources(src or [], loaded.problems):
        _load_file(path, loaded, decrypt)
    if kustomize:
        if runner is None:
            raise TridentError("kustomize needs a command runner")
        if not os.path.isdir(kustomize):
            loaded.problems.append(f"{kustomize}: kustomize directory not found")
        elif _confined(kustomize, loaded) and _fetches_nothing_unpinned(kustomize, kustomize_remote, repository,
                                                                        loaded):
            # The load restrictor keeps kustomize from reading files outside the kustomization folder.
            result = runner([kubectl, "kustomize", "--load-restrictor=LoadRestrictionsRootOnly", kustomize],
                            check=False)
            if result.rc != 0:
                loaded.problems.append(f"{kustomize}: kubectl kustomize failed: {result.stderr.strip()}")
            else:
                add_kustomize_output(result.stdout, kustomize, loaded, decrypt)
    if definition is not None:
        if isinstance(definition, str):
            _add_text(definition, "definition", loaded, decrypt)
        else:
            items = definition if isinstance(definition, list) else [definition]
            for index, item in enumerate(items):
                _add_parsed([item], json.dumps(item), "json", f"definition[{index}]", loaded, decrypt)
    return loaded


def add_kustomize_output(text, kustomize, loaded, decrypt=None):
    """Add the objects ``kubectl kustomize`` built from the folder ``kustomize`` to ``loaded``."""
    _add_text(text, f"kustomize:{shown_path(kustomize)}", loaded, decrypt)


def _expand_sources(sources, problems):
    """The files of ``sources``: each entry is a repository path taken literally (never ``~`` or ``$VAR``
    expanded); one that names no existing file or folder and holds ``*``, ``?`` or ``[`` is a glob pattern."""
    paths = []
    for entry in [sources] if isinstance(sources, str) else sources:
        entry = literal(str(entry))
        if os.path.isdir(entry):
            found = _walk(entry)
            if not found:
                problems.append(f"{entry}: no .yaml, .yml or .json file in this directory")
            paths.extend(found)
        elif os.path.isfile(entry):
            paths.append(entry)
        elif any(char in entry for char in "*?["):
            matches = sorted(glob.glob(entry, recursive=True))
            if not matches:
                problems.append(f"{entry}: the pattern matches no file")
            for match in matches:
                paths.extend(_walk(match) if os.path.isdir(match) else [match])
        else:
            problems.append(f"{entry}: no such file or directory")
    return paths


def _walk(directory):
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, name) for name in sorted(files)
                     if name.endswith(MANIFEST_SUFFIXES) and not name.startswith("."))
    return found


def _confined(path, loaded):
    """False (with the problem recorded) when ``path`` leads out of the Git checkout holding it."""
    try:
        confine(path)
    except TridentError as exc:
        loaded.problems.append(exc.message)
        return False
    return True


def _fetches_nothing_unpinned(kustomize, allow_remote, repository, loaded):
    """False (with the problems recorded) when building ``kustomize`` would fetch a remote reference it may not,
    or a local base leads out of the repository (``repository``, else the Git checkout holding it)."""
    sandbox = Sandbox(repository) if repository else enclosing_checkout(kustomize)
    try:
        if sandbox is not None:
            sandbox.resolve(kustomize)
        problems = remote_problems(local_kustomizations(kustomize, sandbox), allow_remote, sandbox)
    except TridentError as exc:
        problems = [exc.message]
    loaded.problems.extend(problems)
    return not problems


def shown_path(path):
    """How messages and results name ``path``: relative to the repository when it lies in a Git checkout
    (``environments/web/yaml/app.yaml``, never the controller's cache folder), else as given."""
    checkout = enclosing_checkout(path)
    return checkout.display(os.path.abspath(os.path.expanduser(path))) if checkout else path


def _load_file(path, loaded, decrypt):
    if not _confined(path, loaded):
        return
    shown = shown_path(path)
    if os.path.basename(path) in KUSTOMIZATION_FILES:
        loaded.problems.append(f"{shown}: a kustomization, not a manifest: use the kustomize option for "
                               f"{os.path.dirname(shown) or '.'}")
        return
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        loaded.problems.append(f"{shown}: cannot read: {exc.strerror or type(exc).__name__}")
        return
    except UnicodeDecodeError:
        loaded.problems.append(f"{shown}: cannot read: not UTF-8 text")
        return
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            loaded.problems.append(f"{shown}: invalid JSON: {exc.msg} (line {exc.lineno})")
            return
        _add_parsed([data], text, "json", shown, loaded, decrypt)
    else:
        _add_text(text, shown, loaded, decrypt)


def _add_text(text, source, loaded, decrypt):
    try:
        documents = list(yaml.load_all(text, Loader=_YAML_LOADER))
    except yaml.YAMLError as exc:
        loaded.problems.append(f"{source}: invalid YAML: {_yaml_reason(exc)}")
        return
    _add_parsed(documents, text, "yaml", source, loaded, decrypt)


def _add_parsed(documents, text, fmt, source, loaded, decrypt):
    masks = [()] * len(documents)
    if any(isinstance(data, dict) and isinstance(data.get("sops"), dict) for data in documents):
        if decrypt is None:
            loaded.problems.append(f"{source}: {SOPS_HINT}")
            return
        encrypted = documents
        try:
            documents = decrypt(text, fmt, source)
        except TridentError as exc:
            loaded.problems.append(f"{source}: cannot decrypt: {exc.message}")
            return
        masks = encrypted_paths(encrypted, documents)
    for index, data in enumerate(documents):
        _add_document(data, f"{source}#{index}" if len(documents) > 1 else source, loaded, masks[index])


def encrypted_paths(encrypted, decrypted):
    """Per decrypted document, the paths of the values SOPS had encrypted (``ENC[...]``): they are secret. When
    the documents do not pair up, every value of every document is."""
    if len(encrypted) != len(decrypted):
        return [tuple(_leaf_paths(data)) for data in decrypted]
    return [tuple(path for path, value in _leaves(data) if isinstance(value, str) and value.startswith("ENC["))
            for data in encrypted]


def _leaves(data, path=()):
    if isinstance(data, dict):
        for key, value in data.items():
            if path or key != "sops":
                yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaves(value, (*path, index))
    else:
        yield path, data


def _leaf_paths(data):
    return (path for path, _value in _leaves(data) if path)


def _yaml_reason(exc):
    # The problem and its position only: YAML errors may quote a line, which could hold a secret.
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{getattr(exc, 'problem', None) or type(exc).__name__}{where}"


def _add_document(data, source, loaded, masked=()):
    if data is None:
        return
    if not isinstance(data, dict):
        loaded.problems.append(f"{source}: a manifest must be a mapping, got {type(data).__name__}")
        return
    data, problems = jsonable(data)
    if problems:
        loaded.problems.extend(f"{source}: {problem}" for problem in problems)
        return
    if data.get("kind") == "List" and isinstance(data.get("items"), list):
        for index, item in enumerate(data["items"]):
            inside = tuple(path[2:] for path in masked if path[:2] == ("items", index) and len(path) > 2)
            _add_document(item, f"{source}.items[{index}]", loaded, inside)
        return
    loaded.documents.append(Document(source, data, field_paths(data, masked)))
