"""Identities of Kubernetes objects and the Secret masking shared by every output."""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.masking import mask_tree

try:
    import yaml
except ImportError:  # reported by the module through missing_required_lib
    yaml = None

SECRET_FIELDS = ("data", "stringData")


@dataclass(frozen=True, order=True)
class ObjectKey:
    """Who an object is: group, kind, namespace ("" when cluster-scoped) and name."""

    group: str
    kind: str
    namespace: str
    name: str

    def describe(self):
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{kind} {where}{self.name}"


def split_api_version(api_version):
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> (``""``, ``v1``)."""
    parts = api_version.rpartition("/")
    return parts[0], parts[2]


def key_of(obj):
    group = split_api_version(obj.get("apiVersion", ""))[0]
    meta = obj.get("metadata") or {}
    return ObjectKey(group, obj.get("kind", ""), meta.get("namespace") or "", meta.get("name", ""))


def is_secret(obj):
    return obj.get("kind") == "Secret" and split_api_version(obj.get("apiVersion", ""))[0] == ""


def masked(obj):
    """A copy of ``obj`` in which Secret values are keyed digests (a change stays visible)."""
    if not obj or not is_secret(obj):
        return obj
    out = copy.copy(obj)
    for field in SECRET_FIELDS:
        if isinstance(obj.get(field), dict):
            out[field] = mask_tree(obj[field])
    return out


def secret_values(obj):
    """Every plaintext and encoded value of a Secret, to be scrubbed from anything shown."""
    values = []
    if not obj or not is_secret(obj):
        return values
    for field in SECRET_FIELDS:
        for value in (obj.get(field) or {}).values():
            if not isinstance(value, str):
                continue
            values.append(value)
            if field == "data":
                try:
                    values.append(base64.b64decode(value, validate=True).decode("utf-8"))
                except (binascii.Error, UnicodeDecodeError):
                    pass
            else:
                values.append(base64.b64encode(value.encode("utf-8")).decode("ascii"))
    return values


def secret_object(spec, data, default_namespace):
    """The Secret ``spec`` (name, namespace, type) holding ``data`` (a decrypted mapping) base64-encoded,
    each value as its string form; built here so no encoded secret is ever a template result or a host variable."""
    encoded = {str(key): base64.b64encode(str(value).encode("utf-8")).decode("ascii") for key, value in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "type": spec.get("type") or "Opaque",
            "metadata": {"name": spec["name"], "namespace": spec.get("namespace") or default_namespace},
            "data": encoded}


def to_yaml(obj):
    """Readable text for a diff (key order kept, as the server returns it)."""
    return yaml.safe_dump(obj, default_flow_style=False, sort_keys=False)
