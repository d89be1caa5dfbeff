"""What the vault_kv module does with its options (one call): read an environment's reference file inside its
checkout, resolve every reference against the operator's Vault, return the values (secret) and their versions."""

from __future__ import annotations

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.common.sandbox import Sandbox, literal
from ansible_collections.trident.gitops.plugins.module_utils.vault.client import VaultClient
from ansible_collections.trident.gitops.plugins.module_utils.vault.references import parse_references, resolve
from ansible_collections.trident.gitops.plugins.module_utils.vault.settings import VAULT_ARGUMENT_SPEC, vault_settings

try:
    import yaml
except ImportError:  # reported by the module
    yaml = None

# path is a repository path (type str, never expanded); repository_root the operator's checkout folder.
ARGUMENT_SPEC = dict(
    path=dict(type="str", required=True),
    repository_root=dict(type="path"),
    use_environment=dict(type="bool", default=True),
    **VAULT_ARGUMENT_SPEC,
)


def _load(real, source):
    try:
        with open(real, encoding="utf-8") as handle:
            text = handle.read(1 << 20)
    except (OSError, UnicodeDecodeError) as exc:
        raise TridentError(f"{source}: cannot read ({getattr(exc, 'strerror', None) or 'not UTF-8 text'})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise TridentError(f"{source}: not valid YAML") from None


def run_references(params, client=None):
    """``{"changed": False, "data": {name: value}, "versions": {name: version}, "reads": n}`` for a reference file."""
    if yaml is None:
        raise TridentError("the Python library PyYAML is required to read Vault reference files")
    path = literal(params["path"])
    root = params.get("repository_root")
    sandbox = Sandbox(root) if root else None
    real = sandbox.resolve(path) if sandbox else path
    source = sandbox.display(real) if sandbox else path
    references = parse_references(_load(real, source), source)
    client = client or VaultClient(vault_settings(params.get("vault"), params.get("use_environment", True)))
    values, versions = resolve(references, client, source)
    return {"changed": False, "data": values, "versions": versions, "reads": client.requests}
