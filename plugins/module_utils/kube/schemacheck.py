"""Checking an object against an OpenAPI v3 schema when the server cannot dry-run it yet.

Objects in a namespace the batch creates, and custom resources whose CustomResourceDefinition is in
the batch, cannot be dry-run before the first write (the server answers 404). They are checked here
instead, the way a server-side apply's typed conversion and the schema's structural rules would:
no field the schema does not declare, the declared types (int-or-string, quantities), required
fields, enums (custom resources), bounds, patterns and unique list keys. CEL rules, webhooks and
the hand-written validation of built-in kinds can still reject such an object during the apply.
"""

from __future__ import annotations

import re

from ansible_collections.trident.gitops.plugins.module_utils.common.names import is_dns_label, is_dns_subdomain
from ansible_collections.trident.gitops.plugins.module_utils.kube import quantity
from ansible_collections.trident.gitops.plugins.module_utils.kube.schema import Node
from ansible_collections.trident.gitops.plugins.module_utils.kube.validate import CRD_GROUP

LABEL_NAMED_KINDS = ("Namespace", "Service")
_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def crd_schemas(objects):
    """(group, version, kind) -> schema node of every CustomResourceDefinition version in ``objects``."""
    found = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition" or not str(obj.get("apiVersion", "")).startswith(CRD_GROUP):
            continue
        spec = obj.get("spec") or {}
        kind = (spec.get("names") or {}).get("kind")
        for entry in spec.get("versions") or []:
            raw = ((entry or {}).get("schema") or {}).get("openAPIV3Schema")
            if isinstance(raw, dict):
                found[(spec.get("group"), entry.get("name"), kind)] = Node({}, raw)
    return found


def check(obj, root, custom):
    """Problems of ``obj`` against its kind's schema ``root`` (``custom``: a custom resource's schema)."""
    problems = _name_problems(obj)
    if root is None:
        return problems + ["no schema to check it against"]
    body = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind", "metadata")}
    return problems + _value(body, root, "", custom, top=True)


def _name_problems(obj):
    name = (obj.get("metadata") or {}).get("name", "")
    label = obj.get("kind") in LABEL_NAMED_KINDS
    if not (is_dns_label(name) if label else is_dns_subdomain(name)):
        what = "an RFC 1123 label" if label else "a DNS subdomain"
        return [f"metadata.name: {name!r} is not {what} (lower case letters, digits, '-'" +
                ("" if label else ", '.'") + ")"]
    return []


def _value(value, node, path, custom, top=False):
    if value is None:
        return []  # null is "absent" for a typed kind and pruned for a custom resource
    problems = _type(value, node, path)
    if problems:
        return problems
    problems = _bounds(value, node, path, custom)
    if isinstance(value, dict) and not node.preserves_unknown or isinstance(value, dict) and node.get("properties"):
        problems += _object(value, node, path, custom, top)
    elif isinstance(value, list):
        problems += _array(value, node, path, custom)
    return problems


def _type(value, node, path):
    if node.is_quantity:
        return [] if quantity.parse(value) is not None else [f"{path}: {value!r} is not a quantity"]
    if node.get("x-kubernetes-int-or-string"):
        ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
        return [] if ok else [f"{path}: must be an integer or a string"]
    wanted = node.get("type")
    if wanted in ("integer", "number"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
            and (wanted == "number" or float(value).is_integer())
    elif wanted in _TYPES:
        ok = isinstance(value, _TYPES[wanted])
    else:
        ok = True
    return [] if ok else [f"{path or '.'}: expected {wanted}, got {type(value).__name__}"]


def _bounds(value, node, path, custom):
    problems = []
    if custom and "enum" in node.raw and value not in node.get("enum"):
        problems.append(f"{path}: {value!r} is not one of {node.get('enum')}")
    size = len(value) if isinstance(value, (str, list, dict)) else None
    for key, limit, too in (("maxLength", "maximum length", max), ("maxItems", "maximum size", max),
                            ("maxProperties", "maximum size", max), ("minLength", "minimum length", min),
                            ("minItems", "minimum size", min), ("minProperties", "minimum size", min)):
        if size is not None and key in node.raw and too(size, node.get(key)) != node.get(key):
            problems.append(f"{path}: {limit} is {node.get(key)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in node.raw and value < node.get("minimum"):
            problems.append(f"{path}: must be at least {node.get('minimum')}")
        if "maximum" in node.raw and value > node.get("maximum"):
            problems.append(f"{path}: must be at most {node.get('maximum')}")
    if isinstance(value, str) and node.get("pattern") and not re.search(node.get("pattern"), value):
        problems.append(f"{path}: does not match {node.get('pattern')!r}")
    return problems


def _object(value, node, path, custom, top):
    problems = [f"{path}.{name}: required" for name in node.get("required") or []
                if name not in value and not (top and name in ("apiVersion", "kind", "metadata"))]
    for name, item in value.items():
        child = node.child(name)
        if child is None:
            problems.append(f"{path}.{name}: field not declared in the schema")
        else:
            problems += _value(item, child, f"{path}.{name}", custom)
    return problems


def _array(value, node, path, custom):
    items = node.items()
    problems = []
    for index, item in enumerate(value):
        problems += _value(item, items, f"{path}[{index}]", custom) if items is not None else []
    list_type, keys = node.list_type()
    if list_type == "map" and keys:
        seen = set()
        for index, item in enumerate(value):
            ident = tuple(repr(item.get(k)) for k in keys) if isinstance(item, dict) else None
            if ident in seen:
                problems.append(f"{path}[{index}]: duplicate entry for keys {', '.join(keys)}")
            seen.add(ident)
    return problems
