"""Secret references: an environment's ``secrets/<name>.vault.yaml`` names KV v2 secrets, Vault holds the values.

A reference file is data only, a mapping of variable names to references::

    db_password: {path: apps/db, key: password}
    api_token: {path: apps/api, key: token, version: 3}   # pinned: a new version in Vault is not drift

No address, no auth, no mount: those are the operator's (:mod:`.settings`); a file that tries to say them is
refused. The resolved mapping takes the place a decrypted SOPS file's data takes (``secrets_data[<name>]``), so
Terraform variables and Kubernetes Secret data read it the same way. Each KV path and version is read once.
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.vault.client import VaultError, checked_path

FIELDS = ("path", "key", "version")


@dataclass(frozen=True)
class Reference:
    name: str
    path: str
    key: str
    version: int | None = None

    def describe(self):
        pinned = f" version {self.version}" if self.version is not None else ""
        return f"reference {self.name} (KV {self.path} key {self.key}{pinned})"


def parse_references(data, source):
    """The references of a reference file's parsed YAML; ``source`` names the file in messages."""
    if not isinstance(data, dict) or not data:
        raise TridentError(f"{source}: a reference file is a mapping of names to {{path, key, version}}")
    references = []
    for name, spec in data.items():
        if not isinstance(name, str) or not name:
            raise TridentError(f"{source}: reference names are strings")
        if not isinstance(spec, dict):
            raise TridentError(f"{source}: reference {name} is not a mapping of path, key and version")
        unknown = sorted(str(k) for k in spec if k not in FIELDS)
        if unknown:
            raise TridentError(f"{source}: reference {name} has {', '.join(unknown)}; a reference holds only "
                               "path, key and version (the Vault address, mount and auth are the operator's)")
        path, key, version = spec.get("path"), spec.get("key"), spec.get("version")
        if not isinstance(path, str) or not isinstance(key, str) or not key:
            raise TridentError(f"{source}: reference {name} needs a path and a key (strings)")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
            raise TridentError(f"{source}: reference {name}: version is a positive integer")
        try:
            path = checked_path(path, "path")
        except VaultError as exc:
            raise TridentError(f"{source}: reference {name}: {exc.message}") from None
        references.append(Reference(name, path, key, version))
    return references


def resolve(references, client, source):
    """``(values, versions)``: each reference's value and the KV version it was read at. Every reference is
    checked before any value is returned; a failure names ``source`` and the reference, never a value."""
    read = {}
    values, versions = {}, {}
    for ref in references:
        where = (ref.path, ref.version)
        if where not in read:
            try:
                read[where] = client.kv_read(client.settings.kv_mount, ref.path, ref.version)
            except VaultError as exc:
                raise TridentError(f"{source}: {ref.describe()}: {exc.message}") from None
        data, version = read[where]
        if ref.key not in data:
            raise TridentError(f"{source}: {ref.describe()}: the secret has no key {ref.key}")
        values[ref.name] = data[ref.key]
        versions[ref.name] = version
    return values, versions
