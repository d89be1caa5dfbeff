"""Judging an object by its OpenAPI v3 schema alone, before anything is sent: what the server would refuse
that the schema already says.

Every object the in-sync proof does not settle is checked here first, in check mode too and whether or not
the server could dry-run it, so that a value the schema rules out (a Secret value that is not base64, a
timestamp that is not RFC 3339, a value outside a custom resource's enum) stops the batch before its first
write, namespaces included. For objects the server cannot dry-run before the batch writes (their namespace or
their CustomResourceDefinition comes with the batch), and in check mode for objects in a namespace still to
be created, this is all that is judged before the apply.

The rules are the server's own, and only those that hold for every object of a kind:
- every kind, as a server-side apply's typed conversion reads it: no field the schema does not declare (where it
  declares fields or a map's values: an object schema without either takes anything, as a RawExtension or a
  custom resource's bare ``type: object``, whose fields the server prunes), the declared types (an integral
  float is an integer), int-or-string, quantities, unique keys of keyed lists;
- built-in kinds, as their Go types decode: ``format: byte`` (padded standard base64), ``date-time``
  (``metav1.Time``, ``metav1.MicroTime``) by formats.py, ``int32``/``int64`` ranges (the server would wrap a larger
  number silently: refused here although the server takes it); the ``enum`` of a field (the empty string aside,
  which defaulting fills in), lengths and bounds. ``required`` is left to the server: a built-in field the schema
  calls required may decode to its zero value, which only the hand-written validation judges;
- custom resources, as the structural schema's validation does: required fields (unless the schema defaults
  them), ``enum``, ``pattern`` (RE2 syntax; formats.py's limits), ``format`` (formats.py), lengths and bounds.
For an object that exists the apply merges our fields with other managers', so neither required fields nor
minimum sizes of maps and lists are judged. CEL rules (``x-kubernetes-validations``), webhooks and the
hand-written validation of built-in kinds are the server's alone.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.common.names import is_dns_label, is_dns_subdomain
from ansible_collections.trident.gitops.plugins.module_utils.kube import formats, quantity
from ansible_collections.trident.gitops.plugins.module_utils.kube.schema import Node
from ansible_collections.trident.gitops.plugins.module_utils.kube.validate import CRD_GROUP

# The name rule of each built-in kind whose rule is known (k8s.io/kubernetes pkg/apis/*/validation): an RFC 1123
# label, else a DNS subdomain. Kinds not listed (RBAC's path segment names, ...) leave the name to the server;
# custom resources' names are DNS subdomains.
LABEL_NAMED_KINDS = ("Namespace", "Service")
SUBDOMAIN_NAMED_KINDS = ("ConfigMap", "Secret", "ServiceAccount", "Pod", "Deployment", "StatefulSet", "DaemonSet",
                         "ReplicaSet", "Job", "CronJob", "PersistentVolumeClaim", "PersistentVolume", "NetworkPolicy",
                         "Ingress", "IngressClass", "PodDisruptionBudget", "HorizontalPodAutoscaler", "LimitRange",
                         "ResourceQuota", "PriorityClass", "StorageClass", "Lease")
# A built-in kind's integer field is a Go int32 or int64: the server converts a larger number without a word,
# wrapping it (a port of 4294967377 is stored as 81), so such a number is refused here. A custom resource keeps
# the number as written (its schema's int32 format is not enforced).
_INT_BITS = {"int32": 32, "int64": 64}
_CASE_FOLDED = re.compile(r"\(\?[a-zA-Z]*i")
_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}
# Seconds all patterns of one batch may take: Python's backtracking engine can be made to run for ever by a
# hostile pattern or value, RE2 (the server's) cannot. Past it the patterns are left to the server.
PATTERN_SECONDS = 5.0


@dataclass(frozen=True)
class _Rules:
    custom: bool  # a custom resource: the structural schema's validation
    update: bool  # the object exists: the apply merges it with other managers' fields


@dataclass
class Checked:
    """Problems found, and the ``pattern`` checks left for :func:`match_patterns` (all of a batch at once)."""

    problems: list = field(default_factory=list)
    patterns: list = field(default_factory=list)  # (path, pattern, value)


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


def check(obj, root, custom, update=False):
    """Problems of ``obj`` against its kind's schema ``root`` (``custom``: a custom resource's schema;
    ``update``: the object exists), patterns included."""
    checked = examine(obj, root, custom, update)
    failed = match_patterns([(p, v) for _path, p, v in checked.patterns])
    return checked.problems + [f"{path}: does not match {pattern!r}"
                               for (path, pattern, _value), ok in zip(checked.patterns, failed) if ok is False]


def examine(obj, root, custom, update=False):
    """:class:`Checked` of ``obj`` against ``root``; a ``None`` root judges the name only."""
    checked = Checked(_name_problems(obj, custom))
    if root is None:
        return checked
    rules = _Rules(custom, update)
    body = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind", "metadata")}
    _value(body, root, "", rules, checked, top=True)
    meta = root.child("metadata") if not custom else None
    if meta is not None and isinstance(obj.get("metadata"), dict):
        _value(obj["metadata"], meta, ".metadata", rules, checked)
    return checked


def match_patterns(pairs, timeout=PATTERN_SECONDS):
    """For each (pattern, value): True (matches), False (does not) or None (not judged here: a pattern whose
    meaning differs between Python and RE2, one Python cannot compile, or out of time). Searched in a child
    Python with a time limit, so that no pattern can stall the run."""
    todo = [(index, pattern, value) for index, (pattern, value) in enumerate(pairs) if _comparable(pattern, value)]
    verdicts = [None] * len(pairs)
    if not todo:
        return verdicts
    try:
        found = subprocess.run([sys.executable, "-I", "-c", _MATCHER], input=json.dumps([t[1:] for t in todo]),
                               capture_output=True, text=True, timeout=timeout, check=True)
        answers = json.loads(found.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return verdicts
    for (index, _pattern, _value), answer in zip(todo, answers):
        verdicts[index] = answer
    return verdicts


# A pattern per (pattern, value) pair: True, False, or None when Python cannot compile it. ASCII classes, as RE2's.
_MATCHER = """
import json, re, sys
out = []
for pattern, value in json.load(sys.stdin):
    try:
        out.append(re.search(pattern, value, re.ASCII) is not None)
    except (re.error, RecursionError):
        out.append(None)
json.dump(out, sys.stdout)
"""


def _comparable(pattern, value):
    """Whether Python's ``re`` (with ASCII classes) reads ``pattern`` as RE2 does for ``value``: not POSIX
    classes, Unicode classes or ``{,n}`` (RE2 reads it literally), not ``\\s`` against a vertical tab (outside
    RE2's ``\\s``), not a case-insensitive pattern against non-ASCII text (RE2 folds Unicode)."""
    if not isinstance(pattern, str) or any(mark in pattern for mark in ("[:", "{,", "\\p", "\\P", "\\z", "\\Q")):
        return False
    if ("\\s" in pattern or "\\S" in pattern) and "\v" in value:
        return False
    return not (_CASE_FOLDED.search(pattern) and not value.isascii())


def _name_problems(obj, custom):
    name = (obj.get("metadata") or {}).get("name", "")
    label = obj.get("kind") in LABEL_NAMED_KINDS and not custom
    if not (label or custom or obj.get("kind") in SUBDOMAIN_NAMED_KINDS):
        return []
    if not (is_dns_label(name) if label else is_dns_subdomain(name)):
        what = "an RFC 1123 label" if label else "a DNS subdomain"
        return [f"metadata.name: {name!r} is not {what} (lower case letters, digits, '-'" +
                ("" if label else ", '.'") + ")"]
    return []


def _value(value, node, path, rules, checked, top=False):
    if value is None:
        return  # null is "absent" for a typed kind and pruned for a custom resource
    problem = _type(value, node, path)
    if problem:
        checked.problems.append(problem)
        return
    _bounds(value, node, path, rules, checked)
    if isinstance(value, dict) and (node.get("properties") or isinstance(node.get("additionalProperties"), dict)):
        _object(value, node, path, rules, checked, top)
    elif isinstance(value, list):
        _array(value, node, path, rules, checked)


def _type(value, node, path):
    if node.is_quantity:
        return None if quantity.parse(value) is not None else f"{path}: {value!r} is not a quantity"
    if node.get("x-kubernetes-int-or-string"):
        ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
        return None if ok else f"{path}: must be an integer or a string"
    wanted = node.get("type")
    if wanted in ("integer", "number"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
            and (wanted == "number" or float(value).is_integer())
    elif wanted in _TYPES:
        ok = isinstance(value, _TYPES[wanted])
    else:
        ok = True
    return None if ok else f"{path or '.'}: expected {wanted}, got {type(value).__name__}"


def _bounds(value, node, path, rules, checked):
    problems = checked.problems
    if "enum" in node.raw and value not in node.get("enum") and (rules.custom or value != ""):
        problems.append(f"{path}: {_shown(value)} is not one of {node.get('enum')}")
    size = len(value) if isinstance(value, (str, list, dict)) else None
    limits = [("maxLength", "maximum length", max), ("maxItems", "maximum size", max),
              ("maxProperties", "maximum size", max), ("minLength", "minimum length", min)]
    if not rules.update:
        limits += [("minItems", "minimum size", min), ("minProperties", "minimum size", min)]
    for key, limit, too in limits:
        if size is not None and key in node.raw and too(size, node.get(key)) != node.get(key):
            problems.append(f"{path}: {limit} is {node.get(key)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        bits = _INT_BITS.get(node.get("format")) if not rules.custom and node.get("type") == "integer" else None
        if bits and not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            problems.append(f"{path}: {value} does not fit in a {bits}-bit integer (the API server would not store "
                            "it as written)")
        if "minimum" in node.raw and value < node.get("minimum"):
            problems.append(f"{path}: must be at least {node.get('minimum')}")
        if "maximum" in node.raw and value > node.get("maximum"):
            problems.append(f"{path}: must be at most {node.get('maximum')}")
    if isinstance(value, str):
        _string(value, node, path, rules, checked)


def _string(value, node, path, rules, checked):
    fmt = node.get("format")
    if fmt and node.get("type") in (None, "string"):
        why = formats.custom_problem(value, fmt) if rules.custom else formats.typed_problem(value, fmt, node.ref)
        if why:
            checked.problems.append(f"{path}: {why}")
    if node.get("pattern"):
        checked.patterns.append((path, node.get("pattern"), value))


def _shown(value):
    """A value in a message: short ones as they are (enum values are words), long ones by their length."""
    return repr(value) if not isinstance(value, str) or len(value) <= 64 else f"a {len(value)}-character string"


def _object(value, node, path, rules, checked, top):
    if rules.custom and not rules.update:
        properties = node.get("properties") or {}
        checked.problems.extend(
            f"{path}.{name}: required" for name in node.get("required") or []
            if name not in value and not (top and name in ("apiVersion", "kind", "metadata"))
            and "default" not in (properties.get(name) or {}))
    for name, item in value.items():
        child = node.child(name)
        if child is None:
            checked.problems.append(f"{path}.{name}: field not declared in the schema")
        else:
            _value(item, child, f"{path}.{name}", rules, checked)


def _array(value, node, path, rules, checked):
    items = node.items()
    if items is not None:
        for index, item in enumerate(value):
            _value(item, items, f"{path}[{index}]", rules, checked)
    list_type, keys = node.list_type()
    if list_type == "map" and keys:
        seen = set()
        for index, item in enumerate(value):
            ident = tuple(repr(item.get(k)) for k in keys) if isinstance(item, dict) else None
            if ident in seen:
                checked.problems.append(f"{path}[{index}]: duplicate entry for keys {', '.join(keys)}")
            seen.add(ident)
