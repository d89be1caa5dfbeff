"""Reading the kubeconfig kube_diff is given, and keeping every file it names inside the repository.

Why: a kubeconfig given to kube_diff is repository data (a committed ``kubeconfig.yaml``, or the text decrypted
from ``kubeconfig.sops.yaml``), and whatever loads it reads the files it names: ``tokenFile: /home/ops/.token``
next to ``username`` and ``password`` made the kubernetes client's loader read a controller file and send it to
the server the kubeconfig names. So every field that names a file (:data:`FILE_FIELDS`), in every cluster and
user entry, is checked here once, before anything is read, run or sent, and replaced by the real path it resolves
to: the readers (kube/client.py and the kubernetes client's loader behind it) only ever see checked paths.

The folder they must stay inside is given by the operator's side (kube_diff's ``repository_root``: the checkout,
or the copy of a held revision, which has no ``.git`` to find), never discovered. Relative paths resolve against
the kubeconfig's folder (kubectl's rule), for content against the folder of the file it was decrypted from,
never the process's working folder. ``~``, ``$``, absolute paths, and ``..`` or a symlink that leads out are
refused; the message names the kubeconfig (relative to the repository), the entry and the field, never a value.
Inline data (``token``, ``*-data``) is not a file and stays as it is. A credential program (``exec``
``command``, an auth provider's ``cmd-path``) must be one the operator allows by its exact command line
(client.py); here it is only refused when it is a relative path, which would run a file of the repository.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox, enclosing_checkout

try:
    import yaml
except ImportError:  # reported by the module through missing_required_lib
    yaml = None

# The fields whose value is a file some loader reads (kubectl, client-go, the kubernetes Python client).
CLUSTER_FILES = ("certificate-authority",)
USER_FILES = ("tokenFile", "client-certificate", "client-key")
AUTH_PROVIDER_FILES = ("idp-certificate-authority",)  # oidc: the CA of the identity provider
FILE_FIELDS = CLUSTER_FILES + USER_FILES + tuple(f"auth-provider.config.{name}" for name in AUTH_PROVIDER_FILES)
CONTENT = "the kubeconfig given as content"


@dataclass(frozen=True)
class NamedFile:
    """One field of a kubeconfig that names a file (or, ``program``, a credential program)."""

    section: str  # "cluster" or "user"
    entry: str  # the entry's name
    field: str  # "tokenFile", "auth-provider.config.idp-certificate-authority", "exec.command", ...
    value: object
    keys: tuple  # where the value sits in the kubeconfig mapping: ("users", 0, "user", "tokenFile")
    program: bool = False

    def describe(self) -> str:
        return f"{self.section} '{self.entry}' field '{self.field}'"


@dataclass(frozen=True)
class Kubeconfig:
    """A parsed kubeconfig; ``repository``: it was confined to the repository (every file it names has been
    replaced by its checked real path). ``base_dir``: where the operator's own kubeconfig resolves relative paths
    (None: nowhere, content outside a repository). ``shown``: how messages name it."""

    config: dict
    base_dir: str | None
    shown: str
    repository: bool


def named_files(config: dict) -> list:
    """Every field of every cluster and user entry that names a file or a credential program.

    Entries that are not mappings are skipped here and refused by the readers, which never read them.
    """
    found = []
    for index, item in _entries(config, "clusters", "cluster"):
        found += _files(item, ("clusters", index, "cluster"), "cluster", _name(config, "clusters", index),
                        CLUSTER_FILES)
    for index, user in _entries(config, "users", "user"):
        name, keys = _name(config, "users", index), ("users", index, "user")
        found += _files(user, keys, "user", name, USER_FILES)
        provider = user.get("auth-provider")
        settings = provider.get("config") if isinstance(provider, dict) else None
        if isinstance(settings, dict):
            found += _files(settings, keys + ("auth-provider", "config"), "user", name, AUTH_PROVIDER_FILES,
                            prefix="auth-provider.config.")
            if settings.get("cmd-path"):
                path = settings["cmd-path"]
                # The kubernetes client's own split: cmd-path whole with cmd-args, else its first word.
                program = path if "cmd-args" in settings or not isinstance(path, str) else (path.split() or [""])[0]
                found.append(NamedFile("user", name, "auth-provider.config.cmd-path", program,
                                       keys + ("auth-provider", "config", "cmd-path"), program=True))
        entry = user.get("exec")
        if isinstance(entry, dict) and entry.get("command"):
            found.append(NamedFile("user", name, "exec.command", entry["command"], keys + ("exec", "command"),
                                   program=True))
    return found


def _entries(config, section, field):
    items = config.get(section)
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and isinstance(item.get(field), dict):
            yield index, item[field]


def _name(config, section, index):
    return str(config[section][index].get("name"))


def _files(entry, keys, section, name, fields, prefix=""):
    return [NamedFile(section, name, prefix + field, entry[field], keys + (field,))
            for field in fields if field in entry and entry[field] not in (None, "")]


def lexical_refusal(value) -> str | None:
    """Why ``value`` cannot name a file of the repository, by its spelling alone (None: it may)."""
    if not isinstance(value, str):
        return "is not a file name"
    if "\0" in value:
        return "holds a NUL character"
    if value.startswith("~"):
        return "starts with '~' (a home folder on the controller; it is never expanded)"
    if "$" in value:
        return "holds '$' (an environment variable; it is never expanded)"
    if os.path.isabs(value):
        return "is an absolute path (a file on the controller)"
    return None


def program_refusal(value) -> str | None:
    """Why ``value`` cannot name a credential program (None: it may). A name without '/' is looked up in the
    controller's PATH and an absolute path is the controller's: the operator allows either by its exact command
    line (client.py). A relative path would run a file of the repository."""
    if not isinstance(value, str) or ("/" in value and not os.path.isabs(value)):
        return "is not a program name or an absolute path (a relative path would run a file of the repository)"
    return None


def resolve_named_file(named: NamedFile, sandbox: Sandbox, base_dir: str) -> tuple:
    """``(real path, None)`` of the file ``named`` names, relative to ``base_dir`` (a credential program: its name,
    unchanged), or ``(None, why not)`` when it does not name a file inside ``sandbox``. Reads only links."""
    if named.program:
        reason = program_refusal(named.value)
        return (None, reason) if reason else (named.value, None)
    reason = lexical_refusal(named.value)
    if reason:
        return None, reason
    candidate = os.path.normpath(os.path.join(base_dir, named.value))
    real = os.path.realpath(candidate)
    if not sandbox.contains(real):
        link = sandbox.escaping_link(candidate)
        return None, (f"goes through {sandbox.display(link)}, a symlink that leads outside the repository" if link
                      else "leads outside the repository through '..'")
    if not os.path.isfile(real):
        return None, "names no file of the repository"
    return real, None


def confine(config: dict, sandbox: Sandbox, base_dir: str, shown: str) -> dict:
    """A copy of ``config`` whose file fields hold the real paths they resolve to inside ``sandbox``; TridentError
    naming the kubeconfig, entry and field (never a value) for the first one that does not."""
    confined = copy.deepcopy(config)
    for named in named_files(config):
        resolved, reason = resolve_named_file(named, sandbox, base_dir)
        if reason:
            rule = ("a credential program is a name found in the controller's PATH or an absolute path, run only when "
                    "the operator allows its exact command line" if named.program else "a kubeconfig from the "
                    "repository may name only files inside the repository, by a relative path without '~' or '$'")
            raise TridentError(f"{shown}: {named.describe()} {reason}; {rule}, so nothing was read, run or sent "
                               "(docs/kube_diff.md)")
        if not named.program:
            _set(confined, named.keys, resolved)
    return confined


def _set(data, keys, value):
    for key in keys[:-1]:
        data = data[key]
    data[keys[-1]] = value


def read_kubeconfig(source, repository_root: str | None = None, kubeconfig_file: str | None = None) -> Kubeconfig:
    """The kubeconfig ``source`` (a path, YAML/JSON text, a mapping, or None for the controller's own default).

    With ``repository_root`` a kubeconfig given as content or as a path inside the root is the repository's and is
    confined (:func:`confine`); a path outside the root is judged as without it; content resolves relative paths
    against the folder of ``kubeconfig_file`` (the repository file it was decrypted from, absolute or relative to
    the root), else the root. Without it, a kubeconfig inside a Git checkout, or content that names a file, is
    refused: that would be read unconfined. The controller's own default (None: ``KUBECONFIG``,
    ``~/.kube/config``) and a file outside any checkout are the operator's.
    """
    if source is None or source == "":
        path = os.path.expanduser(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0])
        return Kubeconfig(_parse(_read(path, path)), os.path.dirname(os.path.abspath(path)), path, False)
    is_content = isinstance(source, dict) or "\n" in source or source.lstrip().startswith("{")
    if kubeconfig_file and not repository_root:
        raise TridentError("kubeconfig_file needs repository_root, the folder it lies in")
    if kubeconfig_file and not is_content:
        raise TridentError("kubeconfig_file names the repository file a kubeconfig given as content was decrypted "
                           "from; here the kubeconfig option is a path, which is that file: leave kubeconfig_file out")
    if repository_root and (is_content or _names_inside(source, repository_root)):
        return _repository_kubeconfig(source, is_content, repository_root, kubeconfig_file)
    if is_content:
        config = source if isinstance(source, dict) else _parse(source)
        for named in named_files(config):
            if named.program and program_refusal(named.value):
                raise TridentError(f"{CONTENT}: {named.describe()} {program_refusal(named.value)}, so nothing was "
                                   "run or sent")
            if not named.program:
                raise TridentError(f"{CONTENT}: {named.describe()} names a file, but kube_diff was not given the "
                                   "repository folder to resolve it in (repository_root), so nothing was read or "
                                   "sent: give repository_root, or inline the file (the '-data' fields)")
        return Kubeconfig(config, None, CONTENT, False)
    path = os.path.expanduser(source)
    checkout = enclosing_checkout(path)
    if checkout is not None:
        raise TridentError(f"{checkout.display(path)}: this kubeconfig lies in a Git checkout, so it is the "
                           "repository's: kube_diff reads it only with repository_root, the folder every file it "
                           "names must stay inside (the kubernetes role passes the checkout); nothing was read or "
                           "sent")
    return Kubeconfig(_parse(_read(path, path)), os.path.dirname(os.path.abspath(path)), path, False)


def _names_inside(path, repository_root):
    """Whether the path ``path`` (absolute, or relative to the root) lies lexically inside ``repository_root``: a
    kubeconfig file there is the repository's (confined, symlinks included); one elsewhere is the operator's own
    unless it lies in a Git checkout (then refused below)."""
    absolute = os.path.normpath(os.path.join(os.path.abspath(repository_root), path))
    roots = {os.path.abspath(repository_root), os.path.realpath(repository_root)}
    return any(absolute == root or absolute.startswith(root + os.sep) for root in roots)


def _repository_kubeconfig(source, is_content, repository_root, kubeconfig_file):
    """The repository's kubeconfig, confined to ``repository_root`` (paths spelled from its real path)."""
    if not os.path.isdir(repository_root):
        raise TridentError(f"repository_root {repository_root} is not a folder")
    sandbox = Sandbox(repository_root)
    given = os.path.abspath(repository_root)
    if is_content:
        config = source if isinstance(source, dict) else _parse(source)
        shown = _inside(sandbox, given, kubeconfig_file, "kubeconfig_file") if kubeconfig_file else None
    else:
        shown = _inside(sandbox, given, source, "the kubeconfig")
        config = _parse(_read(os.path.join(sandbox.root, shown), shown))
    base_dir = os.path.dirname(os.path.join(sandbox.root, shown)) if shown else sandbox.root
    return Kubeconfig(confine(config, sandbox, base_dir, shown or CONTENT), base_dir, shown or CONTENT, True)


def _inside(sandbox, given, path, what):
    """``path`` (absolute, or relative to the root) relative to the repository root, once its real path is inside
    (a file that does not exist yet may be named); else TridentError."""
    absolute = os.path.normpath(os.path.join(given, path))
    shown = next((relative for relative in (os.path.relpath(absolute, root) for root in (given, sandbox.root))
                  if relative != ".." and not relative.startswith(".." + os.sep)), None)
    if shown is None:
        raise TridentError(f"{what} {path} is not inside repository_root {given}; nothing was read or sent")
    candidate = os.path.join(sandbox.root, shown)
    if not sandbox.contains(os.path.realpath(candidate)):
        link = sandbox.escaping_link(candidate)
        raise TridentError(f"{shown}: " + (f"{sandbox.display(link)} is a symlink that leads outside the repository"
                                           if link else "leads outside the repository") + "; nothing was read or sent")
    return shown


def _read(path, shown):
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        raise TridentError(f"kubeconfig not found or unreadable: {shown}") from None


def _parse(text):
    try:
        # libyaml's safe loader when PyYAML has it: the same documents, parsed ten times faster (status reads many)
        config = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader)  # nosec B506
    except yaml.YAMLError:
        raise TridentError("kubeconfig is not valid YAML") from None
    if not isinstance(config, dict):
        raise TridentError("kubeconfig is not a mapping")
    return config
