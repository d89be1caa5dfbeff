"""JSON pointers into Kubernetes objects, with list items addressed by index or by merge key.

``ignore_differences`` names fields as RFC 6901 pointers. Inside a list a token is either an index
(``/spec/tolerations/0``) or a selector ``key=value[,key=value]`` matching one item by its merge key
(``/spec/template/spec/containers/name=app/image``), which stays true when items are reordered.
A pointer is resolved against one object into concrete tokens (indices), then read or deleted.
"""

from __future__ import annotations

import copy
import json


def to_pointer(tokens):
    return "/" + "/".join(str(t).replace("~", "~0").replace("/", "~1") for t in tokens) if tokens else ""


def parse_pointer(pointer):
    if pointer in ("", "/"):
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer starts with '/': {pointer!r}")
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _selector(token):
    """``name=app,port=80`` -> {"name": "app", "port": "80"}; None if the token is no selector."""
    pairs = [part.partition("=") for part in token.split(",")]
    if not all(sep and name for name, sep, value in pairs):
        return None
    return {name: value for name, sep, value in pairs}


def _matches(item, selector):
    # A key field the item leaves out may be defaulted by the server (a port's protocol).
    return isinstance(item, dict) and any(name in item for name in selector) and all(
        (item[name] if isinstance(item[name], str) else json.dumps(item[name])) == value
        for name, value in selector.items() if name in item)


def _index(node, token):
    """The index ``token`` designates in list ``node``, or None."""
    if token.isdigit():
        return int(token) if int(token) < len(node) else None
    selector = _selector(token)
    found = [i for i, item in enumerate(node) if selector and _matches(item, selector)]
    return found[0] if len(found) == 1 else None


def resolve(obj, pointer):
    """Concrete tokens (list indices as ints) of ``pointer`` in ``obj``; None if it is not there."""
    node, out = obj, []
    for token in parse_pointer(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
            out.append(token)
        elif isinstance(node, list) and _index(node, token) is not None:
            index = _index(node, token)
            node = node[index]
            out.append(index)
        else:
            return None
    return out


def get(obj, pointer):
    tokens = resolve(obj, pointer)
    return None if tokens is None else value_at(obj, tokens)


def value_at(obj, tokens):
    node = obj
    for token in tokens:
        node = node[token]
    return node


def delete(obj, pointer):
    """Remove the field ``pointer`` designates (a no-op when it is not there)."""
    tokens = resolve(obj, pointer)
    if tokens:
        delete_at(obj, tokens)


def delete_at(obj, tokens):
    del value_at(obj, tokens[:-1])[tokens[-1]]


def put(obj, tokens, value):
    """Set ``value`` at concrete ``tokens`` whose parents exist in ``obj``."""
    value_at(obj, tokens[:-1])[tokens[-1]] = copy.deepcopy(value)


def selector_token(fields):
    """The selector token of a keyed list item (``name=app``), from its merge-key values."""
    return ",".join(f"{name}={value if isinstance(value, str) else json.dumps(value)}"
                    for name, value in sorted(fields.items()))


def fields_to_pointers(fields, node, path=()):
    """Concrete pointers (into ``node``) of the leaves of a managedFields ``fieldsV1`` set."""
    out = []
    children = [key for key in fields if key != "."]
    if not children:
        return [to_pointer(path)]
    for key in children:
        kind, raw = key[:1], key[2:]
        if kind == "f" and isinstance(node, dict):
            out.extend(fields_to_pointers(fields[key], node.get(raw), path + (raw,)))
        elif kind in ("k", "v") and isinstance(node, list):
            wanted = json.loads(raw)
            for index, item in enumerate(node):
                if (kind == "v" and item == wanted) or (kind == "k" and isinstance(item, dict) and all(
                        item.get(k) == v for k, v in wanted.items())):
                    # Keyed items by their key, so the pointer finds the same item in Git's order too.
                    token = selector_token(wanted) if kind == "k" else index
                    out.extend(fields_to_pointers(fields[key], item, path + (token,)))
                    break
        elif kind == "i" and isinstance(node, list) and raw.isdigit() and int(raw) < len(node):
            out.extend(fields_to_pointers(fields[key], node[int(raw)], path + (int(raw),)))
    return out


def managed_pointers(live, managers, exclude=None):
    """Concrete pointers of every field owned by one of ``managers`` (or, with ``exclude``, by any
    entry other than ``exclude``'s own Apply entry). Subresource entries count: an autoscaler owns
    ``spec.replicas`` through the ``scale`` subresource."""
    out = set()
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if exclude is not None:
            if entry.get("manager") == exclude and entry.get("operation") == "Apply" \
                    and not entry.get("subresource"):
                continue
        elif entry.get("manager") not in managers:
            continue
        out.update(fields_to_pointers(entry.get("fieldsV1") or {}, live))
    return sorted(out)
