"""Reading a kustomization and the local ones it builds on, and refusing what kustomize would fetch.

Why: ``kubectl kustomize`` fetches every ``resources`` / ``components`` / ``bases`` entry that is a URL or a
Git reference (``https://``, ``git@host:``, ``ssh://``, ``file://``, ``github.com/org/repo``) and every file
path that is an ``http(s)`` URL (patches, openapi, generators...). What it fetches is not the repository's
content: a tag or a branch moves, a web server answers what it likes. So before kustomize runs, every
kustomization it would read is walked here and each remote reference is refused unless the environment
allows remote resources (``kustomize_remote``) and the reference is a Git reference pinned to a full commit
id (``?ref=<40 hex>``); an ``http(s)`` URL is fetched over plain HTTP first (kustomize tries a file before a
Git clone), so it is refused even then: ``git::https://...`` is the Git form of the same address.
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qs

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError

try:
    import yaml
except ImportError:  # reported by the module through missing_required_lib
    yaml = None

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Entries that may name another kustomization (a folder or a Git repository) besides a file.
REFERENCES = ("resources", "components", "bases")
FOLDER_FIELDS = REFERENCES + ("generators", "transformers", "validators")
# Lists of strings kustomize reads as file paths (an inline YAML document has a newline and is no path).
PATH_LISTS = ("crds", "configurations", "patchesStrategicMerge")
# Lists of mappings whose ``path`` is a file path.
PATH_ITEMS = ("patches", "patchesJson6902", "replacements")
GENERATORS = ("configMapGenerator", "secretGenerator")
COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# ``user@host:path`` (scp-like) and ``user@host/org/repo``: kustomize takes either for a Git address.
_USER_AT_HOST = re.compile(r"^[^/:@\s]+@[^/:@\s]+[/:]")


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


def is_remote(entry):
    """Whether kustomize fetches ``entry`` rather than reading it from the folder: a URL of any scheme, a
    forced Git reference (``git::``), ``user@host:path`` or ``user@host/path``, or a GitHub address without
    scheme. Stricter than kustomize where it is cheap to be (``gh:``); never looser (an integration test checks
    this against kubectl's kustomize)."""
    text = entry.strip()
    lowered = text.lower()
    return bool(_SCHEME.match(text) or _USER_AT_HOST.match(text)
                or lowered.startswith(("git::", "gh:", "github.com/", "github.com:")))


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
    return [(key, entry) for key, entry in found if "\n" not in entry]


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
    repository; None: no bound). Remote references are not followed (see :func:`remote_problems`)."""
    found, todo, seen = [], [os.path.realpath(root)], set()
    while todo:
        folder = todo.pop()
        path = kustomization_file(folder)
        if folder in seen or path is None:
            continue
        seen.add(folder)
        data = read_kustomization(path)
        found.append((folder, path, data))
        for entry in (e for key in FOLDER_FIELDS for e in _strings(data.get(key)) if not is_remote(e)):
            target = sandbox.resolve(entry, folder) if sandbox else os.path.realpath(os.path.join(folder, entry))
            if os.path.isdir(target):
                todo.append(target)
    return found


def remote_problems(kustomizations, allow_remote):
    """A problem per remote reference of the ``kustomizations`` (:func:`local_kustomizations`) that kustomize
    must not fetch: every one unless ``allow_remote``, then those not pinned to a full commit id. A password in
    the reference's address is not shown."""
    problems = []
    for _folder, path, data in kustomizations:
        for field, entry in path_entries(data):
            if not is_remote(entry):
                continue
            shown = _without_credentials(entry)
            if not allow_remote:
                problems.append(f"{path}: {field} entry '{shown}' is a remote reference; kustomize would fetch it "
                                f"from outside the repository and the environment does not allow remote "
                                "resources (env.yml kustomize_remote: true, with references pinned to a full commit "
                                "id; docs/kube_diff.md)")
            elif pinned_commit(entry) is None:
                problems.append(f"{path}: {field} entry '{shown}' is not pinned to a full commit id: a remote "
                                "reference needs ?ref=<40-hex commit> (a tag or a branch moves; an http(s) URL "
                                "is fetched as a file first: use git::https://...)")
    return problems


def _without_credentials(entry):
    """The reference without a ``user:password@`` part of its address."""
    return re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*:[^/@]*@", r"\1***@", entry.strip())
