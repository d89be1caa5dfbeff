"""Comparing desired and live objects: normalisation, the cheap in-sync proof and field paths.

The cheap proof answers one question: would a server-side apply of the desired object with our
field manager (and force) change nothing in the live object? It walks the desired object, the live
object, our managedFields entry and the served OpenAPI v3 schema together, merging the way the
server's structured merge does:

- a granular field (struct or map) must be owned by us with an equal value, and we must own no
  field the desired object lacks (applying would remove it);
- an atomic value (``x-kubernetes-list-type: atomic`` lists, atomic maps such as selectors) is
  replaced whole, so it must equal the live value in both directions; a live field the desired
  value lacks is accepted only when it equals a default the schema declares;
- keyed (``map``) lists are matched by their merge keys, ``set`` lists by value; the desired order
  must agree with the live order;
- a value is a resource quantity only where the schema says so, and then its canonical spelling
  must equal the live string (``1Gi`` and ``1073741824`` are stored differently).

Anything the walk cannot decide (no schema, a field the schema does not know, a default it cannot
explain) answers "not proven" and the caller asks the server with a dry-run: being incomplete costs
a request, being unsound would hide drift.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json

from ansible_collections.trident.gitops.plugins.module_utils.kube import quantity
from ansible_collections.trident.gitops.plugins.module_utils.kube.objects import LIST_KEYS
from ansible_collections.trident.gitops.plugins.module_utils.kube.pointers import to_pointer

VOLATILE_METADATA = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Schemas of Go-typed (built-in) kinds: their empty maps and lists are not stored (``omitempty``),
# while a custom resource keeps ``{}`` and ``[]`` as given.
TYPED_SCHEMA_PREFIXES = ("io.k8s.api.", "io.k8s.apiextensions-apiserver.pkg.apis.", "io.k8s.kube-aggregator.pkg.apis.")


def normalise(obj):
    """A comparable copy: no server bookkeeping, no status, no null values (null == absent)."""
    if not obj:
        return obj
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for name in VOLATILE_METADATA:
        meta.pop(name, None)
    annotations = meta.get("annotations") or {}
    annotations.pop(LAST_APPLIED, None)
    return _drop_nulls(out)


def _drop_nulls(value):
    if isinstance(value, dict):
        return {key: _drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_nulls(item) for item in value]
    return value


def json_equal(left, right):
    """Equal as JSON values: ``1`` is not ``"1"`` nor ``True``, nor ``1.0`` (the server may store either)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right))
    return type(left) is type(right) and left == right


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# -- the cheap in-sync proof --------------------------------------------------------------------------
def manager_entry(live, manager):
    """Our Apply entry in the live object's managedFields (None if we never applied it)."""
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply" and not entry.get("subresource"):
            return entry
    return None


def proven_in_sync(body, live, manager, root, ignored=()):
    """True only if applying ``body`` with ``manager`` and force certainly changes nothing in ``live``.

    ``root`` is the kind's schema node (None: nothing can be proven). ``ignored`` are concrete
    pointers into ``live`` of fields we may own although ``body`` leaves them out (their other
    owner keeps them).
    """
    if root is None:
        return False
    entry = manager_entry(live, manager) or {}  # an apply that owns no field leaves no entry
    if entry and entry.get("apiVersion") != body.get("apiVersion"):
        return False
    live = _with_string_data(live, body)
    body = copy.deepcopy(body)
    body.pop("apiVersion", None)
    body.pop("kind", None)
    meta = body.get("metadata")
    if isinstance(meta, dict):
        # Identity fields are never recorded in managedFields.
        meta.pop("name", None)
        meta.pop("namespace", None)
        if not meta:
            body.pop("metadata")
    walk = _Proof(root.ref is not None and root.ref.startswith(TYPED_SCHEMA_PREFIXES), frozenset(ignored))
    return walk.granular(body, live, entry.get("fieldsV1") or {}, root, ())


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


class _Proof:
    """One walk of the proof; ``typed``: the kind is Go-typed (empty maps and lists are not stored)."""

    def __init__(self, typed, ignored):
        self.typed = typed
        self.ignored = ignored

    def value(self, desired, live, managed, node, path):
        """Applying ``desired`` at ``path`` (owned per ``managed``) leaves ``live`` unchanged."""
        if node is None or desired is None:
            return False  # a field the schema does not know is pruned or rejected: ask the server
        if isinstance(desired, (dict, list)) and not isinstance(live, type(desired)):
            return self.dropped(desired, live, managed, node)
        if isinstance(desired, dict):
            if node.map_atomic:
                return managed == {} and self.same(desired, live, node)
            return self.granular(desired, live, managed, node, path)
        if isinstance(desired, list):
            list_type, keys = node.list_type()
            if list_type == "map" and keys:
                return self.keyed(desired, live, managed, node, keys, path)
            if list_type == "set":
                return self.set(desired, live, managed)
            return managed == {} and self.same(desired, live, node)
        return managed == {} and self.scalar(desired, live, node)

    def dropped(self, desired, live, managed, node):
        """An empty map or list of a Go-typed kind is not stored: absent live, and we own nothing in it."""
        return desired in ({}, []) and live is None and self.typed \
            and (node.is_map or node.get("type") == "array") and not [k for k in managed or {} if k != "."]

    def granular(self, desired, live, managed, node, path):
        if managed is None:
            if desired:
                return False
            managed = {}  # an empty struct that is live already: applying it changes nothing
        for name, value in desired.items():
            if not self.value(value, live.get(name), managed.get("f:" + name), node.child(name), path + (name,)):
                return False
        for key in managed:
            if key == ".":
                continue
            if not key.startswith("f:"):
                return False
            if key[2:] not in desired and to_pointer(path + (key[2:],)) not in self.ignored:
                return False  # we own a field Git no longer has: applying would remove it
        return True

    def keyed(self, desired, live, managed, node, keys, path):
        items = node.items()
        owned = {canonical_json(json.loads(key[2:])): key for key in managed or {} if key.startswith("k:")}
        if managed is None or items is None or len(owned) != len(desired) \
                or any(key != "." and not key.startswith("k:") for key in managed):
            return False
        positions = []
        for item in desired:
            ident = _identity(item, keys, items)
            key = owned.get(canonical_json(ident)) if ident is not None else None
            found = [i for i, lv in enumerate(live) if isinstance(lv, dict)
                     and all(json_equal(lv.get(name), value) for name, value in (ident or {}).items())]
            if key is None or len(found) != 1 or not self.value(item, live[found[0]], managed[key], items,
                                                                path + (found[0],)):
                return False
            positions.append(found[0])
        return positions == sorted(set(positions))  # the desired order agrees with the live order

    def set(self, desired, live, managed):
        owned = [key for key in managed or {} if key != "."]
        if managed is None or not all(key.startswith("v:") for key in owned):
            return False
        if sorted(canonical_json(json.loads(key[2:])) for key in owned) != sorted(map(canonical_json, desired)):
            return False
        live_text = [canonical_json(value) for value in live]
        positions = [live_text.index(text) if text in live_text else -1 for text in map(canonical_json, desired)]
        return -1 not in positions and positions == sorted(set(positions))

    def same(self, desired, live, node):
        """An atomic value: equal both ways, live extras only where they are the schema's defaults."""
        if isinstance(desired, dict):
            if not isinstance(live, dict):
                return False
            for name in set(desired) | set(live):
                child = node.child(name) if node is not None else None
                if not self._same_field(desired, live, name, child):
                    return False
            return True
        if isinstance(desired, list):
            items = node.items() if node is not None else None
            return isinstance(live, list) and len(desired) == len(live) and all(
                self.same(d, lv, items) for d, lv in zip(desired, live))
        return self.scalar(desired, live, node)

    def _same_field(self, desired, live, name, child):
        if name in desired and desired[name] is not None:
            if name in live and live[name] is not None:
                return self.same(desired[name], live[name], child)
            return child is not None and self.dropped(desired[name], None, None, child)
        if name not in live or live[name] is None:
            return True
        return child is not None and "default" in child.raw and self.same(child.raw["default"], live[name], child)

    @staticmethod
    def scalar(desired, live, node):
        if node is not None and node.is_quantity:
            spelled = quantity.canonical(desired)
            return spelled is not None and spelled == live
        return json_equal(desired, live)


def _identity(item, keys, items):
    """The merge-key values of a desired list item, absent keys filled from the schema's defaults."""
    if not isinstance(item, dict):
        return None
    ident = {}
    for name in keys:
        if name in item:
            ident[name] = item[name]
            continue
        child = items.child(name)
        if child is None or "default" not in child.raw:
            return None
        ident[name] = child.raw["default"]
    return ident


# -- field paths -----------------------------------------------------------------------------------------
def changed_paths(before, after, path=""):
    """Dotted paths that differ between two normalised objects; keyed list items as ``[name=web]``.

    Both objects come from the server, so values are compared exactly.
    """
    return [change[0] for change in changed_values(before, after, path)]


def changed_values(before, after, path=""):
    """``(path, before value, after value)`` for every path :func:`changed_paths` names."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for name in sorted(set(before) | set(after), key=str):
            out.extend(changed_values(before.get(name), after.get(name), _join(path, name)))
        return out
    if isinstance(before, list) and isinstance(after, list):
        return _changed_in_list(before, after, path)
    if before is None and after is None:
        return []
    # A map removed or added whole is named by each of its fields, to the leaf (``data.readme.txt``, not
    # ``data``); an empty one by its own path.
    if before is None and isinstance(after, dict) and after:
        return changed_values({}, after, path)
    if after is None and isinstance(before, dict) and before:
        return changed_values(before, {}, path)
    if before is None or after is None or not json_equal(before, after):
        return [(path or ".", before, after)]
    return []


def _changed_in_list(before, after, path):
    key = _list_key(before + after)
    if key:
        left, right = _by_key(before, key), _by_key(after, key)
        if left is not None and right is not None:
            out = []
            for ident in sorted(set(left) | set(right)):
                out.extend(changed_values(left.get(ident), right.get(ident), f"{path}[{ident}]"))
            common = [ident for ident in left if ident in right]
            if not out and common != [ident for ident in right if ident in left]:
                out.append((path, before, after))  # the same items in another order
            return out
    if len(before) == len(after):
        out = []
        for index, (left_item, right_item) in enumerate(zip(before, after)):
            out.extend(changed_values(left_item, right_item, f"{path}[{index}]"))
        return out
    return [(path, before, after)]


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
