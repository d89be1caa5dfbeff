"""Identities of Kubernetes objects, and which of their fields every output masks.

A field is masked (common/masking.py) when it holds a secret value or one derived from one: the values of a
Secret, the fields that were encrypted in a SOPS manifest, the fields of a Helm release's objects that its
secret values reach (helm/render.py). The same fields are masked in every version of the object shown (the
desired one, the live one, the server's dry-run result), so a rotated secret shows as changed and neither its
old nor its new value shows.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from ansible_collections.trident.gitops.plugins.module_utils.common.masking import (
    ANY, Item, mask_fields, placeholder, placeholder_like, replace_at)

try:
    import yaml
except ImportError:  # reported by the module through missing_required_lib
    yaml = None

SECRET_FIELDS = ("data", "stringData")
# How list items are named (compare.py names changed paths by them too).
LIST_KEYS = (("name",), ("containerPort", "protocol"), ("port", "protocol"), ("containerPort",), ("port",),
             ("mountPath",), ("devicePath",), ("ip",), ("type",))


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


def masked_fields(obj, fields=()):
    """The field paths of ``obj`` to mask: those given (``fields``, found where the object was made) and,
    for a Secret, every value of ``data`` and ``stringData`` (keys stay visible)."""
    found = set(fields)
    if obj and is_secret(obj):
        found.update((field, ANY) for field in SECRET_FIELDS)
    return tuple(sorted(found, key=repr))


def masked(obj, fields=()):
    """A copy of ``obj`` with its :func:`masked_fields` masked (a change stays visible)."""
    return mask_fields(obj, masked_fields(obj, fields)) if obj else obj


def with_placeholders(obj, fields=()):
    """A copy of ``obj`` with placeholders in place of the values of its :func:`masked_fields` (a Secret's
    ``data`` as base64): what is sent to the server to learn what it says about the object without its
    secret values, since its message about the object itself may quote them."""
    secret = is_secret(obj)

    def stand_in(value, where):
        if secret and where[0] == "data":
            return placeholder_like(value, lambda: base64.b64encode(placeholder().encode()).decode())
        return placeholder_like(value)
    return replace_at(obj, masked_fields(obj, fields), stand_in)


def field_paths(obj, paths):
    """Concrete paths (keys and list indices) into ``obj`` as mask paths that hold in the object's other
    versions: an item of a keyed list (containers, env, ports) is named by its keys, an item of any other list
    stands for every item of that list (the live list may be in another order)."""
    out = set()
    for path in paths:
        node, steps = obj, []
        for step in path:
            if isinstance(step, int) and isinstance(node, list):
                key = list_key(node)
                item = node[step] if 0 <= step < len(node) else None
                steps.append(Item((name, item[name]) for name in key) if key and isinstance(item, dict) else ANY)
                node = item
            else:
                steps.append(step)
                node = node.get(step) if isinstance(node, dict) else None
        out.add(tuple(steps))
    return tuple(sorted(out, key=repr))


def list_key(items):
    """The fields that name each item of ``items`` (``name``, ``containerPort``+``protocol``, ...), or None."""
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in LIST_KEYS:
        if all(all(name in item for name in key) for item in items):
            idents = [tuple(item[name] for name in key) for item in items]
            if len(set(map(repr, idents))) == len(idents):
                return key
    return None


def secret_object(spec, data, default_namespace):
    """The Secret ``spec`` (name, namespace, type) holding ``data`` (a decrypted mapping) base64-encoded,
    each value as its string form; built here so no encoded secret is ever a template result or a host variable."""
    encoded = {str(key): base64.b64encode(str(value).encode("utf-8")).decode("ascii") for key, value in data.items()}
    return {"apiVersion": "v1", "kind": "Secret", "type": spec.get("type") or "Opaque",
            "metadata": {"name": spec["name"], "namespace": spec.get("namespace") or default_namespace},
            "data": encoded}


# The first keys of an object in a diff, as manifests are written; every other key in sorted order.
_LEADING_KEYS = ("apiVersion", "kind", "metadata")


def to_yaml(obj):
    """Readable text for a diff, in one key order whatever order the live object (the server's) or the manifest (the
    author's) has: a diff of the two shows what changed, never keys that only moved."""
    return yaml.safe_dump(_in_diff_order(obj, top=True), default_flow_style=False, sort_keys=False)


def _in_diff_order(value, top=False):
    if isinstance(value, dict):
        keys = sorted(value, key=str)
        if top:
            keys = [k for k in _LEADING_KEYS if k in value] + [k for k in keys if k not in _LEADING_KEYS]
        return {key: _in_diff_order(value[key]) for key in keys}
    if isinstance(value, list):
        return [_in_diff_order(item) for item in value]
    return value
