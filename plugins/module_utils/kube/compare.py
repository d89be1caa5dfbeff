"""Comparing desired and live objects: normalisation, the cheap in-sync proof and field paths.

The cheap proof walks the desired object, the live object and our field manager's managedFields
entry together: every desired field must be live with the same value (quantities compared by value)
and owned by us, and we must own nothing the desired object lacks. When it holds, a server-side
apply would change nothing, so no dry-run is needed. Whenever it cannot decide it says "not proven"
and the caller asks the server (dry-run); it never says "in sync" on a guess.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from decimal import Decimal, InvalidOperation

VOLATILE_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Fields whose values are resource quantities ("0.5" == "500m"), found by their parent map's name.
QUANTITY_PARENTS = frozenset(("limits", "requests", "hard", "capacity", "allocatable", "min", "max", "default",
                              "defaultRequest", "maxLimitRequestRatio", "used"))
QUANTITY_FIELDS = frozenset(("sizeLimit", "storage"))
# How list items are identified when comparing for a diff (merge keys of the common built-in types).
LIST_KEYS = (("name",), ("containerPort", "protocol"), ("port", "protocol"), ("containerPort",), ("port",),
             ("mountPath",), ("devicePath",), ("ip",), ("type",))
_SUFFIXES = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
             "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"),
             "P": Decimal("1e15"), "E": Decimal("1e18"), "Ki": Decimal(2 ** 10), "Mi": Decimal(2 ** 20),
             "Gi": Decimal(2 ** 30), "Ti": Decimal(2 ** 40), "Pi": Decimal(2 ** 50), "Ei": Decimal(2 ** 60)}
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")


def quantity(value):
    """The numeric value of a Kubernetes quantity (``"500m"``, ``0.5``, ``"1Gi"``), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if not match:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    try:
        if suffix[:1] in ("e", "E"):
            return Decimal(number + suffix)
        return Decimal(number) * _SUFFIXES[suffix]
    except InvalidOperation:
        return None


def is_empty(value):
    return value is None or value == {} or value == []


def normalise(obj):
    """A comparable copy: no server bookkeeping, no status, and empty values dropped (empty == absent)."""
    if not obj:
        return obj
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for name in VOLATILE_METADATA:
        meta.pop(name, None)
    annotations = meta.get("annotations") or {}
    annotations.pop(LAST_APPLIED, None)
    return _drop_empty(out)


def _drop_empty(value):
    if isinstance(value, dict):
        cleaned = {key: _drop_empty(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if not is_empty(item)}
    if isinstance(value, list):
        return [_drop_empty(item) for item in value]
    return value


def scalar_equal(desired, live, field_name=None, parent=None):
    if desired == live and type(desired) is type(live):
        return True
    if isinstance(desired, (int, float)) and isinstance(live, (int, float)) \
            and not isinstance(desired, bool) and not isinstance(live, bool):
        return desired == live
    if parent in QUANTITY_PARENTS or field_name in QUANTITY_FIELDS:
        a, b = quantity(desired), quantity(live)
        return a is not None and a == b
    return False


# -- the cheap in-sync proof --------------------------------------------------------------------------
def manager_entry(live, manager):
    """Our Apply entry in the live object's managedFields (None if we never applied it)."""
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply" and not entry.get("subresource"):
            return entry
    return None


def proven_in_sync(desired, live, manager, ignored=()):
    """True only if applying ``desired`` with ``manager`` certainly changes nothing in ``live``.

    ``ignored`` are JSON pointers (without list indices) excluded from the proof.
    """
    entry = manager_entry(live, manager) or {}  # an apply that owns no field leaves no entry
    if entry and entry.get("apiVersion") != desired.get("apiVersion"):
        return False
    body = copy.deepcopy(desired)
    for pointer in ignored:
        pointer_delete(body, pointer)
    live = _with_string_data(live, body)
    body.pop("apiVersion", None)
    body.pop("kind", None)
    meta = body.get("metadata")
    if isinstance(meta, dict):
        # Identity fields are never recorded in managedFields.
        meta.pop("name", None)
        meta.pop("namespace", None)
        if not meta:
            body.pop("metadata")
    return _walk_map(body, live, entry.get("fieldsV1") or {}, (), set(ignored))


def _with_string_data(live, desired):
    """A Secret's ``stringData`` is write-only: the server stores it base64-encoded in ``data``.
    Present the live values as ``stringData`` too, so both spellings compare."""
    wanted = desired.get("stringData")
    if desired.get("kind") != "Secret" or not isinstance(wanted, dict):
        return live
    data = live.get("data") or {}
    decoded = {}
    for name in wanted:
        try:
            decoded[name] = base64.b64decode(data[name], validate=True).decode("utf-8")
        except (KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            continue
    return dict(live, stringData=decoded)


def _walk(desired, live, managed, path, parent, ignored):
    if isinstance(desired, dict):
        if managed == {}:  # an atomic map or struct (a selector): owned and replaced as a whole
            return _same(desired, live, path)
        return isinstance(live, dict) and _walk_map(desired, live, managed, path, ignored)
    if isinstance(desired, list):
        return isinstance(live, list) and _walk_list(desired, live, managed, path, ignored)
    return managed == {} and scalar_equal(desired, live, path[-1] if path else None, parent)


def _walk_map(desired, live, managed, path, ignored):
    for name, value in desired.items():
        if is_empty(value):
            if not is_empty(live.get(name)):
                return False
            continue
        child = managed.get("f:" + name)
        if child is None or not _walk(value, live.get(name), child, path + (name,), path[-1] if path else None,
                                      ignored):
            return False
    for key in managed:
        if key.startswith("f:") and key[2:] not in desired and to_pointer(path + (key[2:],)) not in ignored:
            return False  # we own a field Git no longer has: applying would remove it
        if not key.startswith(("f:", ".")):
            return False
    return True


def _walk_list(desired, live, managed, path, ignored):
    if managed == {}:  # an atomic list: owned as a whole
        return len(desired) == len(live) and all(covers(d, lv, path) for d, lv in zip(desired, live))
    members = [key for key in managed if key != "."]
    if len(members) != len(desired):
        return False
    if all(key.startswith("v:") for key in members):
        values = [json.loads(key[2:]) for key in members]
        return sorted(map(json.dumps, values)) == sorted(map(json.dumps, desired)) \
            and all(value in live for value in values)
    if not all(key.startswith("k:") for key in members):
        return False
    remaining = {key: json.loads(key[2:]) for key in members}
    for item in desired:
        matches = [key for key, fields in remaining.items() if isinstance(item, dict) and _key_matches(fields, item)]
        if len(matches) != 1:
            return False
        fields = remaining.pop(matches[0])
        live_items = [lv for lv in live if isinstance(lv, dict) and all(lv.get(k) == v for k, v in fields.items())]
        if len(live_items) != 1 or not _walk(item, live_items[0], managed[matches[0]], path + ("*",), None, ignored):
            return False
    return True


def _key_matches(fields, item):
    # A key field the desired item leaves out may have been defaulted (a port's protocol).
    return all(name not in item or scalar_equal(item[name], value) for name, value in fields.items()) \
        and any(name in item for name in fields)


def _same(left, right, path):
    return covers(left, right, path) and covers(right, left, path)


def covers(desired, live, path=()):
    """Every field of ``desired`` is in ``live`` with an equal value (``live`` may hold defaults)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return is_empty(desired) and live is None
        return all(is_empty(value) and is_empty(live.get(name)) if is_empty(value)
                   else covers(value, live.get(name), path + (name,)) for name, value in desired.items())
    if isinstance(desired, list):
        return isinstance(live, list) and len(desired) == len(live) and all(
            covers(d, lv, path) for d, lv in zip(desired, live))
    return scalar_equal(desired, live, path[-1] if path else None, path[-2] if len(path) > 1 else None)


# -- field paths -----------------------------------------------------------------------------------------
def changed_paths(before, after, path=""):
    """Dotted paths that differ between two normalised objects; keyed list items as ``[name=web]``."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for name in sorted(set(before) | set(after), key=str):
            out.extend(changed_paths(before.get(name), after.get(name), _join(path, name)))
        return out
    if isinstance(before, list) and isinstance(after, list):
        key = _list_key(before + after)
        if key:
            left, right = _by_key(before, key), _by_key(after, key)
            if left is not None and right is not None:
                out = []
                for ident in sorted(set(left) | set(right)):
                    out.extend(changed_paths(left.get(ident), right.get(ident), f"{path}[{ident}]"))
                return out
        if len(before) == len(after):
            out = []
            for index, (left_item, right_item) in enumerate(zip(before, after)):
                out.extend(changed_paths(left_item, right_item, f"{path}[{index}]"))
            return out
        return [path]
    if before is None and after is None:
        return []
    if before is None or after is None or not scalar_equal(before, after):
        return [path or "."]
    return []


def _join(path, name):
    name = str(name)
    return f"{path}.{name}" if path else name


def _list_key(items):
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for key in LIST_KEYS:
        if all(all(name in item for name in key) for item in items):
            return key
    return None


def _by_key(items, key):
    indexed = {}
    for item in items:
        ident = ",".join(f"{name}={item[name]}" for name in key)
        if ident in indexed:
            return None
        indexed[ident] = item
    return indexed


# -- JSON pointers and managed field sets ---------------------------------------------------------------
def to_pointer(tokens):
    return "/" + "/".join(str(t).replace("~", "~0").replace("/", "~1") for t in tokens) if tokens else ""


def parse_pointer(pointer):
    if pointer in ("", "/"):
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/': {pointer!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _step(node, token):
    if isinstance(node, dict):
        return node.get(token)
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    return None


def pointer_get(obj, pointer):
    node = obj
    for token in parse_pointer(pointer):
        node = _step(node, token)
        if node is None:
            return None
    return node


def pointer_delete(obj, pointer):
    tokens = parse_pointer(pointer)
    if not tokens:
        return
    parent = obj
    for token in tokens[:-1]:
        parent = _step(parent, token)
        if parent is None:
            return
    last = tokens[-1]
    if isinstance(parent, dict):
        parent.pop(last, None)
    elif isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        del parent[int(last)]


def pointer_set(obj, pointer, value):
    tokens = parse_pointer(pointer)
    node = obj
    for token in tokens[:-1]:
        if not isinstance(node, dict):
            return
        node = node.setdefault(token, {})
    if tokens and isinstance(node, dict):
        node[tokens[-1]] = copy.deepcopy(value)


def managed_pointers(live, managers):
    """JSON pointers (into ``live``) of every field owned by one of ``managers``."""
    pointers = []
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") in managers:
            _fields_to_pointers(entry.get("fieldsV1") or {}, live, (), pointers)
    return sorted(set(pointers))


def _fields_to_pointers(fields, node, path, out):
    children = [key for key in fields if key != "."]
    if not children:
        out.append(to_pointer(path))
        return
    for key in children:
        kind, raw = key[:1], key[2:]
        if kind == "f" and isinstance(node, dict):
            _fields_to_pointers(fields[key], node.get(raw), path + (raw,), out)
        elif kind in ("k", "v") and isinstance(node, list):
            wanted = json.loads(raw)
            for index, item in enumerate(node):
                if (kind == "v" and item == wanted) or (kind == "k" and isinstance(item, dict) and all(
                        item.get(k) == v for k, v in wanted.items())):
                    _fields_to_pointers(fields[key], item, path + (index,), out)
                    break
        elif kind == "i" and isinstance(node, list) and raw.isdigit() and int(raw) < len(node):
            _fields_to_pointers(fields[key], node[int(raw)], path + (int(raw),), out)
