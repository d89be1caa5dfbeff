"""Reading a kustomization and the local ones it builds on, and refusing what kustomize would fetch.

Why: ``kubectl kustomize`` fetches every ``resources`` / ``components`` / ``bases`` entry that is a URL or a
Git reference and every file path that is an ``http(s)`` URL (patches, openapi, generators...). What it
fetches is not the repository's content: a tag or a branch moves, a web server answers what it likes. So
before kustomize runs, every kustomization it would read is walked here and each remote entry is refused
unless the operator allows remote resources for the environment (``kustomize_remote``) and the entry is a
Git reference pinned to a full commit id (``?ref=<40 hex>``); an ``http(s)`` URL is fetched over plain HTTP
first (kustomize tries a file before a Git clone), so it is refused even then: ``git::https://...`` is the
Git form of the same address.

The classification is an allowlist: an entry is local only when it names a file or folder that exists inside
the repository (resolved by the repository sandbox) and does not read as an address (:func:`reads_as_address`,
because kustomize tries a Git clone before it looks for a folder of that name). Everything else is remote,
whatever form kustomize's own parser accepts today (``git@@host:org/repo``, ``user@relay@host:org/repo``...):
a mistyped local path is refused too, where kustomize would have tried to fetch it or failed.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import literal

try:
    import yaml
except ImportError:  # reported by the module through missing_required_lib
    yaml = None

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Entries that may name another kustomization (a folder or a Git repository) besides a file.
REFERENCES = ("resources", "components", "bases")
FOLDER_FIELDS = REFERENCES + ("generators", "transformers", "validators")
# Lists of strings kustomize reads as file paths (patchesStrategicMerge may hold inline documents too).
PATH_LISTS = ("crds", "configurations", "patchesStrategicMerge")
# Lists of mappings whose ``path`` is a file path.
PATH_ITEMS = ("patches", "patchesJson6902", "replacements")
GENERATORS = ("configMapGenerator", "secretGenerator")
COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# Broader than every address kustomize parses, never narrower: a scheme or any ``word:`` not followed by a space
# (``https://``, ``file://``, ``git::``, ``gh:``, scp-like ``host:path``; a YAML key ``apiVersion: v1`` is not one),
# an ``@`` before the first slash or space followed by a slash or colon on the same line (``user@host:org/repo``,
# ``git@@host:o/r``, ``u@relay@host/o/r``), or GitHub's scheme-less ``github.com/org/repo`` and ``github.com:o/r``.
_ADDRESS = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:(?!\s|$)|[^/\s]*@[^\n]*[/:]|github\.com[:/])", re.IGNORECASE)
# Fields whose entries may be YAML written in place instead of a path (kustomize tries that first).
INLINE_FIELDS = ("generators", "transformers", "validators", "patchesStrategicMerge")


def kustomization_file(folder):
    found = [os.path.join(folder, name) for name in KUSTOMIZATION_FILES if os.path.isfile(os.path.join(folder, name))]
    return found[0] if found else None


def read_kustomization(path):
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raise TridentError(f"{path}: cannot read the kustomization") from None
    if not isinstance(data, dict):
        raise TridentError(f"{path}: a kustomization must be a mapping")
    return data


def reads_as_address(entry):
    """Whether ``entry`` reads as a URL or a Git address, which kustomize may fetch even when a folder of that
    name exists (it tries a Git clone first). Broader than kustomize's parser, never narrower (an integration
    test checks this against kubectl's kustomize)."""
    return bool(_ADDRESS.match(entry.strip()))


def is_local(entry, folder, sandbox=None):
    """Whether kustomize reads ``entry`` (of the kustomization in ``folder``) from the repository: it does not
    read as an address and names a file or folder that exists, resolved inside ``sandbox`` (the repository;
    None: outside any checkout, nothing bounds it). A path that leads out of the repository is a TridentError."""
    if reads_as_address(entry):
        return False
    return os.path.exists(_target(entry, folder, sandbox))


def _target(entry, folder, sandbox):
    return sandbox.resolve(entry, folder) if sandbox else os.path.realpath(os.path.join(folder, literal(entry)))


def pinned_commit(entry):
    """The full commit id a Git reference is pinned to (``?ref=`` or ``?version=``, every value of both), else
    None. ``http(s)://`` without ``git::`` is never pinned: kustomize fetches it as a file over HTTP first."""
    text = entry.strip()
    if text.lower().startswith(("http://", "https://")):
        return None
    _address, _sep, query = text.partition("?")
    values = parse_qs(query, keep_blank_values=True)
    refs = values.get("ref", []) + values.get("version", [])
    return refs[0] if refs and all(COMMIT.match(ref) for ref in refs) else None


def path_entries(data):
    """``[(field, entry)]``: every string of a kustomization that kustomize reads as a path or address."""
    found = [(key, entry) for key in FOLDER_FIELDS + PATH_LISTS for entry in _strings(data.get(key))]
    for key in PATH_ITEMS:
        found += [(f"{key}[].path", item["path"]) for item in _list(data.get(key))
                  if isinstance(item, dict) and isinstance(item.get("path"), str)]
    openapi = data.get("openapi")
    if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
        found.append(("openapi.path", openapi["path"]))
    for key in GENERATORS:
        for item in (i for i in _list(data.get(key)) if isinstance(i, dict)):
            files = _strings(item.get("files")) + _strings(item.get("envs")) + _strings([item.get("env")])
            found += [(f"{key}[].files", entry.partition("=")[2] if _key_prefixed(entry) else entry)
                      for entry in files]
    return [(key, entry) for key, entry in found if not (key in INLINE_FIELDS and is_inline_document(entry))]


def is_inline_document(entry):
    """Whether kustomize reads ``entry`` as YAML written in place (a generator, transformer, validator or patch)
    rather than as a path: it has a line break, reads as no address, and every document in it is a mapping with
    ``apiVersion`` and ``kind``. Anything else is classified like a path, a line break or not: kustomize falls back
    to a path (and to a Git clone) for text it cannot read as objects."""
    if "\n" not in entry or reads_as_address(entry):
        return False
    try:
        documents = [d for d in yaml.safe_load_all(entry) if d is not None]
    except yaml.YAMLError:
        return False
    return bool(documents) and all(isinstance(d, dict) and isinstance(d.get("apiVersion"), str)
                                   and isinstance(d.get("kind"), str) for d in documents)


def _key_prefixed(entry):
    # configMapGenerator files: ``key=path`` names the key; a URL's query has ``=`` after its ``?``.
    key, sep, _rest = entry.partition("=")
    return bool(sep) and "/" not in key and "?" not in key and ":" not in key


def _list(value):
    return value if isinstance(value, list) else []


def _strings(value):
    return [entry for entry in _list(value) if isinstance(entry, str) and entry]


def local_kustomizations(root, sandbox=None):
    """``[(folder, kustomization path, data)]`` of ``root`` and every local folder it builds on (resources,
    components, bases, generators, transformers, validators), each resolved inside ``sandbox`` (the
    repository; None: no bound). Remote entries are not followed (see :func:`remote_problems`)."""
    found, todo, seen = [], [os.path.realpath(root)], set()
    while todo:
        folder = todo.pop()
        path = kustomization_file(folder)
        if folder in seen or path is None:
            continue
        seen.add(folder)
        data = read_kustomization(path)
        found.append((folder, path, data))
        for entry in (e for key, e in path_entries(data) if key in FOLDER_FIELDS):
            if is_local(entry, folder, sandbox) and os.path.isdir(_target(entry, folder, sandbox)):
                todo.append(_target(entry, folder, sandbox))
    return found


def remote_problems(kustomizations, allow_remote, sandbox=None):
    """A problem per entry of the ``kustomizations`` (:func:`local_kustomizations`, read within ``sandbox``) that
    kustomize must not fetch: every remote entry unless ``allow_remote``, then those not pinned to a full commit
    id; and every entry that leads out of the repository. A password in an address is not shown."""
    problems = []
    for folder, path, data in kustomizations:
        shown_file = _shown(path, sandbox)
        for field, entry in path_entries(data):
            try:
                if is_local(entry, folder, sandbox):
                    continue
            except TridentError as exc:
                problems.append(f"{shown_file}: {field} entry: {exc.message}")
                continue
            shown = _without_credentials(entry)
            if not reads_as_address(entry):
                problems.append(f"{shown_file}: {field} entry '{shown}' names no file or folder of the repository "
                                "(a local entry must exist there) and is no Git reference either")
            elif not allow_remote:
                problems.append(f"{shown_file}: {field} entry '{shown}' is a remote reference; kustomize would fetch "
                                "it from outside the repository and the operator does not allow remote resources for "
                                "this environment (kustomize_remote, with references pinned to a full commit id; "
                                "docs/kube_diff.md)")
            elif pinned_commit(entry) is None:
                problems.append(f"{shown_file}: {field} entry '{shown}' is not pinned to a full commit id: a remote "
                                "reference needs ?ref=<40-hex commit> (a tag or a branch moves; an http(s) URL is "
                                "fetched as a file first: use git::https://...)")
    return problems


def _shown(path, sandbox):
    """How messages name a kustomization file: relative to the repository when there is one."""
    return sandbox.display(path) if sandbox is not None and sandbox.contains(os.path.realpath(path)) else path


def _without_credentials(entry):
    """The reference without a ``user:password@`` part of its address."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*:[^/@]*@", r"\1***@", entry.strip())
