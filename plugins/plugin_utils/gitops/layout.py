"""What one environment folder of a GitOps repository contains (docs/design.md, section 2).

Everything here only reads the checkout: it validates ``env.yml`` and finds the kubeconfig, the
Terraform root module, the manifests and the SOPS files, so the inventory plugin (and anything
else) can describe an environment before a single command runs. Paths in the result are relative
to the environment folder, because the checkout that reconciles (git_source's ``dest``, an AWX job's
project copy) is not the one that was read.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import replace

from ansible_collections.trident.gitops.plugins.module_utils.common.constants import MANIFEST_SUFFIXES
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox
from ansible_collections.trident.gitops.plugins.module_utils.git.signature import split_trusted_keys
from ansible_collections.trident.gitops.plugins.plugin_utils.gitops.order import assign_waves, check_dependencies
from ansible_collections.trident.gitops.plugins.module_utils.helm.spec import parse_releases
from ansible_collections.trident.gitops.plugins.plugin_utils.reconcile.environment import (  # noqa: F401 (re-exported)
    ENV_FILE, ENV_NAME, BrokenEnvironment, Environment, SecretFile)

try:
    import yaml
except ImportError:  # reported by load_settings, so importing this module never fails
    yaml = None

ENVIRONMENTS_DIR = "environments"
KUBECONFIG_NAMES = ("kubeconfig.yaml", "kubeconfig.yml", "kubeconfig.sops.yaml", "kubeconfig.sops.yml")
MANIFEST_DIRS = ("yaml", "manifests")
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SECRETS_DIR = "secrets"
POLICY_DIR = "policy"
SECRET_FORMATS = {"yaml": "yaml", "yml": "yaml", "json": "json", "env": "dotenv", "ini": "ini"}
_SECRET_NAME = re.compile(r"^(?P<name>.+)\.sops\.(?P<ext>yaml|yml|json|env|ini)$")
# A Vault reference file (docs/vault.md): names KV v2 secrets, holds no value; format "vault".
_REFERENCE_NAME = re.compile(r"^(?P<name>.+)\.vault\.ya?ml$")
# Tags become inventory groups: the names Ansible accepts without transforming them.
_GROUP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# The known keys of env.yml: type and, where the set is closed, the allowed values (docs/inventory.md). Everything here
# is repository data: what and how to deploy. Where from or with what (controller paths, programs, fetches, gates)
# is the operator's (docs/security.md): the keys that once said so are refused, naming where they went.
SETTINGS = {
    "tags": (list, ()),  # inventory groups the environment joins
    "namespace": (str, ()),  # namespace for manifests that name none
    "prune": (bool, ()),
    "kube_context": (str, ()),
    "kubeconfig": (str, ()),  # relative path, instead of discovery
    "manifests": (str, ()),  # relative path, instead of yaml/ or manifests/
    "terraform_binary": (str, ("terraform", "tofu")),
    "terraform_workspace": (str, ()),
    "terraform_vars": (dict, ()),
    "terraform_var_files": (list, ()),
    "terraform_backend_config": (dict, ()),
    "allow_destroy": (bool, ()),
    "helm_releases": (list, ()),  # Helm releases rendered with the manifests (docs/helm.md)
    "vars": (dict, ()),  # defaults for the step roles' settings of REPOSITORY_ROLE_VARS
    "depends_on": (list, ()),  # environments that reconcile before this one in a run (docs/promotion.md)
    "promote_from": (str, ()),  # the environment whose Healthy revision this one moves to (docs/promotion.md)
    "trusted_keys": (list, ()),  # who may sign commits that change this environment's folder (docs/promotion.md)
}
# Keys that decide what runs or is fetched on the controller: the operator sets them now (host_vars of the operator's
# inventory, group_vars, extra vars), never a commit.
OPERATOR_KEYS = {
    "kustomize_remote": "kubernetes_kustomize_remote",
    "terraform_cli_config": "terraform_cli_config_file",
    "terraform_plugin_dirs": "terraform_plugin_dirs",
}
# The role settings an environment's env.yml `vars` may give defaults for: what and how to deploy, never where from,
# with what, or what is checked. The operator's variables override them; they never become host variables.
# How many concurrent requests an environment may ask for (kubernetes_workers).
MAX_WORKERS = 64
REPOSITORY_ROLE_VARS = {
    # name: (whether a value is acceptable, what it must be: said in the refusal)
    "kubernetes_secrets": (lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v), "a list of mappings"),
    "kubernetes_ignore_differences": (lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v),
                                      "a list of mappings"),
    "kubernetes_wait": (lambda v: isinstance(v, bool), "a boolean"),
    "kubernetes_wait_timeout": (lambda v: _number(v) and 0 < v <= 86400, "a number of seconds from 1 to 86400"),
    "kubernetes_workers": (lambda v: _integer(v) and 1 <= v <= MAX_WORKERS, f"a number from 1 to {MAX_WORKERS}"),
    "terraform_parallelism": (lambda v: _integer(v) and 0 <= v <= 256, "a number from 0 to 256"),
    "terraform_lock_timeout": (lambda v: isinstance(v, str) and re.fullmatch(r"[0-9]{1,5}[smh]?", v) is not None,
                               "a duration such as 5m, 30s or 1h"),
    "terraform_secret_vars": (lambda v: isinstance(v, bool), "a boolean"),
}


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _type_name(kind: type) -> str:
    return {str: "a string", bool: "a boolean", list: "a list", dict: "a mapping"}[kind]


def validate_settings(data: object, source: str) -> dict:
    """Check env.yml content against SETTINGS; ``source`` names the file in every error."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TridentError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    settings = {}
    for key, value in data.items():
        if key in OPERATOR_KEYS:
            raise TridentError(f"{source}: key '{key}' is the operator's to set, not the repository's: set "
                               f"'{OPERATOR_KEYS[key]}' for this environment in the operator's inventory (host_vars) "
                               "or extra vars (docs/security.md)")
        if key not in SETTINGS:
            raise TridentError(f"{source}: unknown key '{key}' (known keys: {', '.join(sorted(SETTINGS))})")
        kind, choices = SETTINGS[key]
        if not isinstance(value, kind):
            raise TridentError(f"{source}: key '{key}' must be {_type_name(kind)}, got {type(value).__name__}")
        if choices and value not in choices:
            raise TridentError(f"{source}: key '{key}' must be one of {', '.join(choices)}, got '{value}'")
        settings[key] = value
    _check_items(settings, source)
    return settings


def _check_items(settings: dict, source: str) -> None:
    for tag in settings.get("tags", []):
        if not isinstance(tag, str) or not _GROUP_NAME.match(tag) or tag in ("all", "ungrouped"):
            raise TridentError(f"{source}: key 'tags': {tag!r} is not a valid group name "
                               "(letters, digits and underscores, not starting with a digit; not all or ungrouped)")
    for path in settings.get("terraform_var_files", []):
        if not isinstance(path, str):
            raise TridentError(f"{source}: key 'terraform_var_files': {path!r} is not a path")
    parse_releases(settings.get("helm_releases"), source, settings.get("namespace", ""))
    if not all(isinstance(key, str) for key in settings.get("trusted_keys", [])):
        raise TridentError(f"{source}: key 'trusted_keys': every entry is a fingerprint or an armored public key")
    try:
        split_trusted_keys(settings.get("trusted_keys", []))
    except TridentError as exc:
        raise TridentError(f"{source}: key 'trusted_keys': {exc.message}") from None
    for name in settings.get("vars", {}):
        if not isinstance(name, str) or not _GROUP_NAME.match(name):
            raise TridentError(f"{source}: key 'vars': {name!r} is not a valid variable name")
        if name not in REPOSITORY_ROLE_VARS:
            raise TridentError(f"{source}: key 'vars': {name!r} cannot be set by the repository (the repository may "
                               "give defaults for what and how to deploy: "
                               f"{', '.join(sorted(REPOSITORY_ROLE_VARS))}; everything else, gates included, is the "
                               "operator's, docs/security.md)")
        acceptable, expected = REPOSITORY_ROLE_VARS[name]
        if not acceptable(settings["vars"][name]):
            # The value is not shown: it is the repository's text, and the key says what is wrong.
            raise TridentError(f"{source}: key 'vars': {name!r} must be {expected}")


def load_settings(env_path: str, sandbox: Sandbox | None = None) -> dict:
    """Read and validate ``<env_path>/env.yml`` (absent = no settings)."""
    sandbox = sandbox or Sandbox(env_path)
    source = os.path.join(env_path, ENV_FILE)
    if not os.path.lexists(source):
        return {}
    shown = sandbox.display(source)
    sandbox.resolve(source)
    if yaml is None:
        raise TridentError("PyYAML is required to read env.yml")
    try:
        with open(source, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError) as exc:
        raise TridentError(f"{shown}: cannot be read: {exc.__class__.__name__}") from None
    except yaml.YAMLError as exc:
        raise TridentError(f"{shown}: not valid YAML: {_yaml_problem(exc)}") from None
    settings = validate_settings(data, shown)
    # Paths the repository names for Terraform: inside the repository, like every other path it names.
    for path in settings.get("terraform_var_files", []):
        _inside(env_path, sandbox, path, shown, "terraform_var_files")
    return settings


def _yaml_problem(exc) -> str:
    """Where and what, without the offending text (it could be anything the file holds)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{getattr(exc, 'problem', None) or 'cannot be parsed'}{where}"


def _inside(env_path: str, sandbox: Sandbox, relative: str, source: str, key: str) -> str:
    """Resolve a settings path; it must stay inside the repository and exist."""
    if os.path.isabs(relative):
        raise TridentError(f"{source}: key '{key}' must be relative to the environment folder, got '{relative}'")
    try:
        target = sandbox.resolve(relative, env_path)
    except TridentError as exc:
        raise TridentError(f"{source}: key '{key}': {exc.message}") from None
    if not os.path.exists(target):
        raise TridentError(f"{source}: key '{key}': '{relative}' does not exist")
    return os.path.normpath(os.path.join(env_path, relative))


def _rel(path: str, env_path: str) -> str:
    return os.path.relpath(path, env_path).replace(os.sep, "/")


def _is_sops_document(path: str) -> bool:
    """A kubeconfig.yaml may be SOPS-encrypted without saying so in its name: look for the metadata."""
    if yaml is None:
        return False
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and isinstance(data.get("sops"), dict) and "mac" in data["sops"]


def find_kubeconfig(env_path: str, manifests_dir: str | None, settings: dict,
                    sandbox: Sandbox) -> tuple[str | None, bool]:
    """Return (path relative to the env, encrypted?) or (None, False)."""
    source = sandbox.display(os.path.join(env_path, ENV_FILE))
    if "kubeconfig" in settings:
        found = _inside(env_path, sandbox, settings["kubeconfig"], source, "kubeconfig")
    else:
        folders = [env_path] + ([os.path.join(env_path, manifests_dir)] if manifests_dir else [])
        candidates = [os.path.join(folder, name) for folder in folders for name in KUBECONFIG_NAMES
                      if os.path.lexists(os.path.join(folder, name))]
        for candidate in candidates:
            sandbox.resolve(candidate)
        if not candidates:
            return None, False
        if len(candidates) > 1:
            raise TridentError(f"{sandbox.display(env_path)}: more than one kubeconfig: "
                               f"{', '.join(_rel(c, env_path) for c in candidates)}; keep one or set 'kubeconfig' "
                               f"in {ENV_FILE}")
        found = candidates[0]
    encrypted = ".sops." in os.path.basename(found) or _is_sops_document(found)
    return _rel(found, env_path), encrypted


def find_manifests(env_path: str, settings: dict, sandbox: Sandbox) -> tuple[str | None, str | None]:
    """Return (manifests dir relative to the env or None, 'kustomize' | 'files' | None)."""
    if "manifests" in settings:
        found = _inside(env_path, sandbox, settings["manifests"], sandbox.display(os.path.join(env_path, ENV_FILE)),
                        "manifests")
    else:
        present = [name for name in MANIFEST_DIRS if os.path.lexists(os.path.join(env_path, name))]
        for name in present:
            sandbox.resolve(os.path.join(env_path, name))
        present = [name for name in present if os.path.isdir(os.path.join(env_path, name))]
        if len(present) > 1:
            raise TridentError(f"{sandbox.display(env_path)}: both {' and '.join(p + '/' for p in present)} hold "
                               "manifests; keep one or set "
                               f"'manifests' in {ENV_FILE}")
        if not present:
            return None, None
        found = os.path.join(env_path, present[0])
    if any(os.path.lexists(os.path.join(found, name)) for name in KUSTOMIZATION_NAMES):
        # kustomize itself reads the folder, with its load restrictor (kube_diff); the folder is ours to check.
        sandbox.walk(found)
        return _rel(found, env_path), "kustomize"
    return _rel(found, env_path), "files"


def list_manifest_files(env_path: str, manifests_dir: str, kubeconfig: str | None,
                        sandbox: Sandbox | None = None) -> tuple:
    """Manifest files under the manifests dir (sorted, recursive), without the kubeconfig or hidden files."""
    sandbox = sandbox or Sandbox(env_path)
    found = (_rel(path, env_path) for path in sandbox.walk(os.path.join(env_path, manifests_dir), MANIFEST_SUFFIXES))
    return tuple(sorted(rel for rel in found if rel != kubeconfig))


def find_secrets(env_path: str, sandbox: Sandbox | None = None) -> tuple[tuple, tuple]:
    """SOPS files and Vault reference files in secrets/, and a warning for every other file there (a plaintext
    secret is a mistake)."""
    sandbox = sandbox or Sandbox(env_path)
    folder = os.path.join(env_path, SECRETS_DIR)
    if not os.path.lexists(folder):
        return (), ()
    sandbox.resolve(folder)
    secrets, warnings = [], []
    for name in sorted(os.listdir(folder)):
        if name.startswith(".") or not os.path.isfile(sandbox.resolve(os.path.join(folder, name))):
            continue
        match = _SECRET_NAME.match(name)
        reference = _REFERENCE_NAME.match(name)
        if match:
            secrets.append(SecretFile(f"{SECRETS_DIR}/{name}", match["name"], SECRET_FORMATS[match["ext"]]))
        elif reference:
            secrets.append(SecretFile(f"{SECRETS_DIR}/{name}", reference["name"], "vault"))
        else:
            warnings.append(f"{SECRETS_DIR}/{name} is not named *.sops.{{yaml,json,env,ini}}; ignored")
    return tuple(secrets), tuple(warnings)


def find_policy_dirs(env_path: str, sandbox: Sandbox) -> tuple:
    """The repository's policy folders for the environment (relative to the repository): the shared ``policy/`` at
    its root and the environment's own ``policy/`` (docs/policy.md); a symlink out of the checkout is an error."""
    found = []
    for folder in (sandbox.root, env_path):
        candidate = os.path.join(folder, POLICY_DIR)
        if os.path.lexists(candidate) and os.path.isdir(sandbox.resolve(candidate)):
            found.append(os.path.relpath(candidate, sandbox.root).replace(os.sep, "/"))
    return tuple(found)


def describe_environment(env_path: str, repo_path: str | None = None) -> Environment:
    """Describe the environment folder ``env_path`` of the repository at ``repo_path``.

    Every file is resolved through the repository's :class:`Sandbox`: a symlink or ``..`` leading
    outside the checkout is an error naming it.
    """
    name = os.path.basename(os.path.normpath(env_path))
    sandbox = Sandbox(repo_path or os.path.dirname(os.path.dirname(os.path.abspath(env_path))))
    repo_path = sandbox.root
    env_path = sandbox.resolve(env_path)
    if not os.path.isdir(env_path):
        raise TridentError(f"{sandbox.display(env_path)}: not an environment folder")
    if not ENV_NAME.match(name):
        raise TridentError(f"the folder {name!r} of {sandbox.display(os.path.dirname(env_path))} cannot be an "
                           "environment: its name cannot be an inventory host name (use letters, digits, '.', '_' and "
                           "'-', starting with a letter or digit)")
    settings = load_settings(env_path, sandbox)
    manifests_dir, manifests_kind = find_manifests(env_path, settings, sandbox)
    kubeconfig, encrypted = find_kubeconfig(env_path, manifests_dir, settings, sandbox)
    manifest_files = ()
    if manifests_kind == "files":
        manifest_files = list_manifest_files(env_path, manifests_dir, kubeconfig, sandbox)
    terraform_files = tuple(sorted(n for n in os.listdir(env_path) if n.endswith((".tf", ".tf.json"))
                                   and os.path.isfile(sandbox.resolve(os.path.join(env_path, n)))))
    secrets, warnings = find_secrets(env_path, sandbox)
    policy_dirs = find_policy_dirs(env_path, sandbox)
    return Environment(name=name, path=env_path, repo_path=repo_path, settings=settings, kubeconfig=kubeconfig,
                       kubeconfig_encrypted=encrypted, terraform_files=terraform_files, manifests_dir=manifests_dir,
                       manifests_kind=manifests_kind, manifest_files=manifest_files, secrets=secrets,
                       policy_dirs=policy_dirs, warnings=warnings)


def list_environments(repo_path: str, environments_dir: str = ENVIRONMENTS_DIR) -> list[str]:
    """Names of the environment folders of a repository, sorted; hidden folders are not environments."""
    folder = os.path.join(repo_path, environments_dir)
    Sandbox(repo_path).resolve(folder)
    if not os.path.isdir(folder):
        raise TridentError(f"{repo_path}: no '{environments_dir}' folder; is this a GitOps repository?")
    names = sorted(name for name in os.listdir(folder)
                   if not name.startswith(".") and os.path.isdir(os.path.join(folder, name)))
    if not names:
        raise TridentError(f"{folder}: no environment folder found")
    return names


def host_name(folder: str) -> str:
    """The inventory host of an environment folder: its name, or for a name that cannot be one a stable stand-in
    (the folder's name never reaches Ansible as a host name or pattern)."""
    if ENV_NAME.match(folder):
        return folder
    return f"invalid-environment-{hashlib.sha256(folder.encode('utf-8', 'surrogateescape')).hexdigest()[:12]}"


def describe_repository(repo_path: str, environments_dir: str = ENVIRONMENTS_DIR) -> list:
    """Describe every environment of a repository, in name order.

    One environment's error does not hide the others: it is returned as a :class:`BrokenEnvironment`
    (the error names the environment, the file and the problem).
    """
    repo_path = os.path.realpath(repo_path)
    described = []
    for name in list_environments(repo_path, environments_dir):
        try:
            described.append(describe_environment(os.path.join(repo_path, environments_dir, name), repo_path))
        except TridentError as exc:
            described.append(BrokenEnvironment(host_name(name), f"{environments_dir}/{name}",
                                               f"environment {host_name(name)}: {exc.message}", repo_path))
    return order_environments(described)


def order_environments(described: list) -> list:
    """Give each environment its wave; one that cannot be ordered becomes a :class:`BrokenEnvironment`."""
    known = {env.name for env in described}
    readable = [env for env in described if isinstance(env, Environment)]
    sources = {env.name: f"{env.relpath}/{ENV_FILE}" for env in readable}
    errors = {env.name: check_dependencies(env.name, env.settings, known, sources[env.name]) for env in readable}
    graph = {env.name: env.depends_on for env in readable if not errors[env.name]}
    waves, cycles = assign_waves(graph, sources)
    errors.update(cycles)
    result = []
    for env in described:
        if isinstance(env, Environment) and errors.get(env.name):
            env = BrokenEnvironment(env.name, env.relpath, f"environment {env.name}: {errors[env.name]}", env.repo_path)
        elif isinstance(env, Environment):
            env = replace(env, wave=waves[env.name])
        result.append(env)
    return result
