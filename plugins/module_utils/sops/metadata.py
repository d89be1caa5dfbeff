"""The ``sops`` metadata section: versions, rules, MAC and the master keys of each key group."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import Rules

DEFAULT_UNENCRYPTED_SUFFIX = "_unencrypted"
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


# Fields kept for the key types decrypted natively beyond age and PGP (where a transit key lives).
_KEPT_FIELDS = {"hc_vault": ("vault_address", "engine_path", "key_name")}


@dataclass(frozen=True)
class MasterKey:
    type: str
    identity: str
    enc: str
    # (name, value) pairs of _KEPT_FIELDS, as the file holds them (repository data: compared, never trusted).
    fields: tuple = ()

    def field(self, name):
        return dict(self.fields).get(name, "")


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
            kept = tuple((name, str(entry.get(name) or "")) for name in _KEPT_FIELDS.get(key_type, ()))
            keys.append(MasterKey(key_type, _identity(key_type, entry, id_field), str(entry.get("enc") or ""),
                                  kept))
    return tuple(keys)


def _identity(key_type, entry, id_field):
    """How messages name a key: its recipient, fingerprint, ARN; a transit key as sops names it (its URI)."""
    if key_type == "hc_vault":
        return "{}/v1/{}/keys/{}".format(str(entry.get("vault_address") or "?").rstrip("/"),
                                         str(entry.get("engine_path") or "?").strip("/"), entry.get("key_name") or "?")
    return str(entry.get(id_field) or entry.get("key_name") or "?")


# Go's time.RFC3339 as time.Parse reads it (fractional seconds allowed, two-digit fields).
_RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?(Z|[-+]\d{2}:\d{2})$")


def lastmodified_aad(text):
    """The MAC's additional data: sops parses ``lastmodified`` as RFC 3339 and formats it again
    (no fractional seconds, a zero offset as ``Z``); a value it cannot parse makes it refuse the file."""
    match = _RFC3339.match(str(text))
    if not match or not _valid_clock(match.groups()):
        raise SopsError("sops metadata: lastmodified is not an RFC 3339 time (damaged file?)")
    zone = match.group(7)
    if zone != "Z" and zone[1:] == "00:00":
        zone = "Z"
    return "{}-{}-{}T{}:{}:{}{}".format(*match.groups()[:6], zone)


def _valid_clock(groups):
    month, day, hour, minute, second = (int(g) for g in groups[1:6])
    zone = groups[6]
    zone_ok = zone == "Z" or (int(zone[1:3]) <= 24 and int(zone[4:6]) <= 60)
    return 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 60 and zone_ok


def parse_metadata(raw):
    """Validate the metadata mapping of a file and return it typed."""
    if not isinstance(raw, dict):
        raise SopsError("sops metadata is not a mapping")
    # No check of ``version``: sops has none, and rotate/updatekeys keep a file's old version string.
    if not raw.get("lastmodified"):
        raise SopsError("sops metadata has no lastmodified (truncated or damaged file)")
    aad = lastmodified_aad(raw["lastmodified"])
    rules = {name: str(raw.get(name) or "") for name in _RULE_FIELDS}
    if sum(1 for value in rules.values() if value) > 1:
        raise SopsError("sops metadata names more than one of " + ", ".join(_RULE_FIELDS) + " (sops refuses that)")
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
    return Metadata(version=str(raw.get("version") or ""), lastmodified=aad, mac=str(raw.get("mac") or ""),
                    rules=Rules(mac_only_encrypted=_as_bool(raw.get("mac_only_encrypted")), **rules),
                    key_groups=groups, shamir_threshold=threshold)
