"""The ``sops`` metadata section: versions, rules, MAC and the master keys of each key group."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import Rules

DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"
SUPPORTED_MAJOR_VERSIONS = (3,)
# Metadata key -> field holding the key's identity (recipient, fingerprint, ARN...), for messages.
KEY_TYPES = {
    "age": "recipient",
    "pgp": "fp",
    "kms": "arn",
    "gcp_kms": "resource_id",
    "azure_kv": "vault_url",
    "hc_vault": "vault_address",
}
_RULE_FIELDS = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex",
                "unencrypted_comment_regex", "encrypted_comment_regex")


@dataclass(frozen=True)
class MasterKey:
    type: str
    identity: str
    enc: str


@dataclass(frozen=True)
class Metadata:
    version: str
    lastmodified: str
    mac: str
    rules: Rules
    key_groups: tuple = field(default_factory=tuple)
    shamir_threshold: int = 0


def unflatten(flat):
    """Rebuild the nested metadata dotenv and INI stores flatten (``a__list_0__map_b``)."""
    root = {}
    for name, value in flat.items():
        parts = re.split(r"__(list|map)_", name)
        steps = [parts[0]] + [int(seg) if kind == "list" else seg for kind, seg in zip(parts[1::2], parts[2::2])]
        node = root
        for step, following in zip(steps, steps[1:]):
            empty = [] if isinstance(following, int) else {}
            if isinstance(step, int):
                while len(node) <= step:
                    node.append(None)
                if node[step] is None:
                    node[step] = empty
                node = node[step]
            else:
                node = node.setdefault(step, empty)
        last = steps[-1]
        if isinstance(last, int):
            while len(node) <= last:
                node.append(None)
        node[last] = value
    return root


def _as_bool(value):
    return value is True or str(value).lower() == "true"


def _keys_of(group):
    keys = []
    for key_type, id_field in KEY_TYPES.items():
        for entry in (group or {}).get(key_type) or []:
            if not isinstance(entry, dict):
                raise SopsError(f"sops metadata: malformed {key_type} key entry")
            keys.append(MasterKey(key_type, str(entry.get(id_field) or entry.get("key_name") or "?"),
                                  str(entry.get("enc") or "")))
    return tuple(keys)


def check_version(version):
    match = re.match(r"^(\d+)\.(\d+)", str(version or ""))
    if not match or int(match.group(1)) not in SUPPORTED_MAJOR_VERSIONS:
        raise SopsError(f"unsupported sops version {str(version)[:32]!r} in the file's metadata "
                        f"(supported: {', '.join(f'{v}.x' for v in SUPPORTED_MAJOR_VERSIONS)})")


def parse_metadata(raw):
    """Validate the metadata mapping of a file and return it typed."""
    if not isinstance(raw, dict):
        raise SopsError("sops metadata is not a mapping")
    check_version(raw.get("version"))
    for required in ("lastmodified", "mac"):
        if not raw.get(required):
            raise SopsError(f"sops metadata has no {required} (truncated or damaged file)")
    rules = {name: str(raw.get(name) or "") for name in _RULE_FIELDS}
    if not any(rules.values()):
        rules["unencrypted_suffix"] = DEFAULT_UNENCRYPTED_SUFFIX
    if raw.get("key_groups"):
        groups = tuple(_keys_of(group) for group in raw["key_groups"])
    else:
        groups = (_keys_of(raw),)
    if not any(groups):
        raise SopsError("sops metadata lists no master keys")
    try:
        threshold = int(raw.get("shamir_threshold") or 0)
    except (TypeError, ValueError):
        raise SopsError("sops metadata: shamir_threshold is not a number") from None
    return Metadata(version=str(raw["version"]), lastmodified=str(raw["lastmodified"]), mac=str(raw["mac"]),
                    rules=Rules(mac_only_encrypted=_as_bool(raw.get("mac_only_encrypted")), **rules),
                    key_groups=groups, shamir_threshold=threshold)
