"""Masking: one mechanism that keeps secret values out of everything the collection shows.

A secret is masked where it stands. A field that holds a secret value, or a value derived from one (a
Kubernetes object's field, a Terraform output or attribute, a module argument), is replaced whole by a
mask, in its old value as in its new one, so the reader learns neither; the decision which fields are
masked is taken from where the values come from, never by searching for the secret in them. A mask is a
keyed digest with a key drawn once per process: equal values mask equally within one task (a before/after
diff shows that a secret changed), while the digest cannot be looked up or brute-forced from a log, since
the key is never stored. Work run inside the Ansible worker (the in-process action plugins) draws a new key
per task with :func:`new_key`, as a module process would: the worker inherits the controller's key, which
would make equal secrets of two environments mask equally.

Free text (a program's error message) is not searched for secret values of a few characters: replacing
``app`` inside ``apps/v1`` gives ``********s/v1``, which tells every reader the secret. Where a program's
text may quote a secret, its callers get text without one by construction: helm and the API server are
asked again with placeholders (:func:`placeholder`) in place of the secret values, and their answer is
shown with the placeholders masked. Only values of at least :data:`MIN_TEXT_MASK` characters are also
masked in free text (:func:`mask_text`, and the values modules register with Ansible as ``no_log``
values, :func:`text_secrets`), as a second line: a value that long does not stand in unrelated text.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import re
import secrets

_RUN_KEY = os.urandom(32)
MASK_PREFIX = "<masked:"
_MASK = re.compile(r"<masked:[0-9a-f]{12}>")
# The shortest secret value searched for in free text (see the module docstring).
MIN_TEXT_MASK = 8
# A module argument given as no_log, in the ``invocation`` a result echoes (Ansible's own word for it).
MASKED_ARGUMENT = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
# Placeholders: lower-case letters and digits, valid wherever a Kubernetes name, label or image tag is.
_PLACEHOLDER = re.compile(r"trdntmask[0-9a-f]{20}")


class _Any:
    """A path step that stands for every key of a mapping and every item of a list."""

    def __repr__(self):
        return "ANY"


ANY = _Any()


def new_key():
    """Draw a new key for this process's masks."""
    global _RUN_KEY
    _RUN_KEY = os.urandom(32)


def mask(value):
    """The mask of one secret value (a scalar, or a whole mapping or list: masked as one)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str):
        raw = value.encode("utf-8")
    else:
        raw = json.dumps(value, sort_keys=True, default=str).encode("utf-8")
    digest = hmac.new(_RUN_KEY, raw, hashlib.sha256).hexdigest()[:12]
    return f"{MASK_PREFIX}{digest}>"


def is_mask(value):
    """Whether ``value`` is a mask made by :func:`mask`."""
    return isinstance(value, str) and _MASK.fullmatch(value) is not None


def mask_tree(data):
    """Mask every leaf of a nested dict/list structure, keeping its shape (keys are not secret)."""
    if isinstance(data, dict):
        return {key: mask_tree(value) for key, value in data.items()}
    if isinstance(data, list):
        return [mask_tree(value) for value in data]
    return mask(data)


# -- fields --------------------------------------------------------------------------------------------
class Item:
    """A path step naming the list item whose ``fields`` (``((key, value), ...)``) are these values: a keyed
    list (containers, env) is matched by identity, not by position, in the object's other versions."""

    __slots__ = ("fields",)

    def __init__(self, fields):
        self.fields = tuple(fields)

    def matches(self, item):
        return isinstance(item, dict) and all(item.get(key) == value for key, value in self.fields)

    def __eq__(self, other):
        return isinstance(other, Item) and other.fields == self.fields

    def __hash__(self):
        return hash(self.fields)

    def __repr__(self):
        return "[" + ",".join(f"{key}={value}" for key, value in self.fields) + "]"


def _children(node, step):
    """``[(key or index, child)]`` that ``step`` selects in ``node``."""
    if isinstance(node, dict):
        if step is ANY:
            return list(node.items())
        return [(step, node[step])] if isinstance(step, str) and step in node else []
    if isinstance(node, list):
        if step is ANY:
            return list(enumerate(node))
        if isinstance(step, Item):
            return [(index, item) for index, item in enumerate(node) if step.matches(item)]
        if isinstance(step, int) and 0 <= step < len(node):
            return [(step, node[step])]
    return []


def replace_at(obj, paths, replace):
    """A copy of ``obj`` in which the value at each of ``paths`` (tuples of steps: keys, indices, :class:`Item`,
    :data:`ANY`) is ``replace(value, concrete path)``; paths that lead nowhere in ``obj`` are skipped."""
    out = copy.deepcopy(obj)
    for path in sorted(paths, key=len):  # outer fields first: their mask covers the inner ones whole
        _replace(out, tuple(path), (), replace)
    return out


def _replace(node, path, where, replace):
    step, rest = path[0], path[1:]
    for key, child in _children(node, step):
        if rest:
            _replace(child, rest, (*where, key), replace)
        elif not is_mask(child):
            node[key] = replace(child, (*where, key))


def mask_fields(obj, paths):
    """A copy of ``obj`` with the value at each of ``paths`` masked whole (:func:`replace_at`)."""
    if obj is None or not paths:
        return obj
    return replace_at(obj, paths, lambda value, _where: mask(value))


def placeholder():
    """A fresh stand-in for one secret value: unique, random, and a valid name, label and image tag."""
    return "trdntmask" + secrets.token_hex(10)


def placeholder_like(value, make=placeholder):
    """A stand-in of the same JSON type as ``value`` (strings and numbers replaced, the shape of a mapping
    or list kept, booleans and null as they are)."""
    if isinstance(value, dict):
        return {key: placeholder_like(item, make) for key, item in value.items()}
    if isinstance(value, list):
        return [placeholder_like(item, make) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value ^ 1
    if isinstance(value, float):
        return value + 1.5
    return make()


def mask_placeholders(text):
    """``text`` (an answer to a request made with placeholders) with every placeholder masked."""
    return _PLACEHOLDER.sub("<masked>", text)


def has_placeholder(value):
    """Whether a placeholder stands anywhere in ``value`` (a string, or the keys and leaves of a structure)."""
    if isinstance(value, dict):
        return any(has_placeholder(key) or has_placeholder(item) for key, item in value.items())
    if isinstance(value, list):
        return any(has_placeholder(item) for item in value)
    return isinstance(value, str) and _PLACEHOLDER.search(value) is not None


# -- free text -----------------------------------------------------------------------------------------
def text_secrets(values):
    """The string forms of ``values`` (nested structures walked) long enough to be masked in free text, with
    their JSON-escaped forms (diagnostics quote values), longest first."""
    found = set()
    stack = [values]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple, set, frozenset)):
            stack.extend(value)
        elif value is not None and not isinstance(value, bool):
            text = str(value)
            found.update(form for form in (text, json.dumps(text, ensure_ascii=False)[1:-1])
                         if len(form) >= MIN_TEXT_MASK)
    return sorted(found, key=len, reverse=True)


def mask_text(text, values):
    """``text`` with each of ``values`` (from :func:`text_secrets`) masked where it stands."""
    for value in values:
        if value in text:
            text = text.replace(value, mask(value))
    return text


# -- module arguments ----------------------------------------------------------------------------------
def masked_arguments(argument_spec, params):
    """The module arguments a result echoes (``invocation.module_args``) with every ``no_log`` option, suboptions
    included, masked whole: Ansible's own echo would search every string of the result for every leaf of
    those options and rewrite what it finds (``app`` in ``apps/v1``)."""
    out = {}
    for name, value in (params or {}).items():
        spec = argument_spec.get(name) or {}
        if spec.get("no_log") and value not in (None, "", [], {}):
            out[name] = MASKED_ARGUMENT
        elif spec.get("options") and isinstance(value, dict):
            out[name] = masked_arguments(spec["options"], value)
        elif spec.get("options") and isinstance(value, list):
            out[name] = [masked_arguments(spec["options"], item) if isinstance(item, dict) else item
                         for item in value]
        else:
            out[name] = value
    return out


def no_log_leaves(argument_spec, params):
    """The values of ``no_log`` options, suboptions included (``helm.repositories[].password``)."""
    values = []
    for name, spec in argument_spec.items():
        value = params.get(name) if isinstance(params, dict) else None
        if spec.get("no_log"):
            values.append(value)
        elif spec.get("options"):
            for item in value if isinstance(value, list) else [value]:
                values += no_log_leaves(spec["options"], item)
    return values
