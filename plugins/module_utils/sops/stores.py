"""SOPS stores: reading encrypted YAML, JSON, dotenv, INI and binary files into a tree plus the raw
metadata, and writing decrypted trees back out in any of those formats."""

from __future__ import annotations

import json
import os
import re

from ansible_collections.trident.gitops.plugins.module_utils.sops.cipher import Comment
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.goini import (
    DEFAULT_SECTION, parse_ini, quote_key, quote_value, strip_comment_char,
)
from ansible_collections.trident.gitops.plugins.module_utils.sops.metadata import unflatten
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import Branch, to_data
from ansible_collections.trident.gitops.plugins.module_utils.sops.yamltree import dump_yaml, load_yaml

FORMATS = ("yaml", "json", "dotenv", "ini", "binary")
_EXTENSIONS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".env": "dotenv", ".ini": "ini"}
METADATA_KEY = "sops"


def format_from_path(path):
    """sops' rule: the store follows the file extension (after a ``.sops`` infix), else binary."""
    return _EXTENSIONS.get(os.path.splitext(path)[1].lower(), "binary")


def _split_metadata(branch):
    metadata = None
    kept = Branch()
    for key, value in branch:
        if key == METADATA_KEY:
            metadata = value
        else:
            kept.append((key, value))
    return kept, metadata


def _json_int(text):
    """sops' JSON store: a number is an int when Go's ParseInt reads it (int64), else a float64."""
    value = int(text)
    return value if -(1 << 63) <= value < (1 << 63) else _json_float(text)


def _json_float(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def _json_constant(name):
    raise ValueError(f"{name} is not JSON")  # Python accepts NaN/Infinity; Go's decoder does not


def _load_json(text):
    try:
        document = json.loads(text, object_pairs_hook=Branch, parse_int=_json_int, parse_float=_json_float,
                              parse_constant=_json_constant)
    except ValueError as exc:
        line = f" at line {exc.lineno}" if hasattr(exc, "lineno") else ""
        raise SopsError(f"not valid JSON{line} (truncated or damaged file?)") from None
    if not isinstance(document, Branch):
        raise SopsError("a SOPS JSON document must be an object")
    return [document]


def _load_dotenv(text):
    branch = Branch()
    # sops splits on "\n" only: a "\r" or a Unicode line separator stays in the value.
    for number, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        if line.startswith("#"):
            branch.append((Comment(line[1:]), None))
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise SopsError(f"dotenv line {number} is not KEY=VALUE")
        branch.append((key, value.replace("\\n", "\n")))
    return [branch]


def _load_ini(text):
    """sops' INI tree: one branch per section, each key's comment after it (go-ini keeps it there)."""
    root = Branch()
    for section in parse_ini(text):
        if section.name == DEFAULT_SECTION and not section.keys and not section.comment:
            continue  # go-ini's implicit section, empty: sops' output drops it too
        items = Branch()
        if section.comment:
            items.append((Comment(strip_comment_char(section.comment)), None))
        for key in section.keys:
            items.append((key.name, key.value))
            if key.comment:
                items.append((Comment(strip_comment_char(key.comment)), None))
        root.append((section.name, items))
    return [root]


def _ini_metadata(flat):
    """INI metadata values: sops escapes newlines in them (3.13.2+) or wrote them triple-quoted."""
    return unflatten({key: value.replace("\\n", "\n") if isinstance(value, str) else value
                      for key, value in flat if isinstance(key, str)})


def load(text, fmt):
    """Parse a (plain or encrypted) document: (branches, raw metadata mapping or None)."""
    if fmt not in FORMATS:
        raise SopsError(f"unknown SOPS format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt == "yaml":
        branches = load_yaml(text)
    elif fmt in ("json", "binary"):
        branches = _load_json(text)
    elif fmt == "dotenv":
        branches = _load_dotenv(text)
        flat = {key[len("sops_"):]: value for key, value in branches[0] if isinstance(key, str)
                and key.startswith("sops_")}
        rest = Branch((k, v) for k, v in branches[0] if not (isinstance(k, str) and k.startswith("sops_")))
        return [rest], (unflatten(flat) if flat else None)
    else:
        branches = _load_ini(text)
        rest, flat = _split_metadata(branches[0])
        return [rest], (_ini_metadata(flat) if flat else None)
    metadata = None
    kept = []
    for branch in branches:
        rest, found = _split_metadata(branch)
        metadata = metadata if metadata is not None else found
        kept.append(rest)
    return kept, _plain(metadata)


def _plain(value):
    """Metadata as plain dicts/lists (it holds no comments worth keeping)."""
    return None if value is None else to_data(value)


def _flat_scalar(value, fmt, where):
    if isinstance(value, (Branch, list, dict)):
        raise SopsError(f"{where}: {fmt} output cannot hold nested data")
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="surrogateescape")
    return str(value)


def render(branches, fmt, binary_data=None):
    """Emit decrypted branches as ``fmt``; returns bytes."""
    if fmt == "binary":
        if binary_data is None:
            raise SopsError("binary output needs a document with a single 'data' key")
        return binary_data
    if fmt == "yaml":
        return dump_yaml(branches).encode("utf-8")
    if fmt == "json":
        data = [to_data(branch) for branch in branches]
        return (json.dumps(data[0] if len(data) == 1 else data, indent=4, ensure_ascii=False) + "\n").encode()
    if len(branches) != 1:
        raise SopsError(f"{fmt} output cannot hold several documents")
    lines = []
    if fmt == "dotenv":
        for key, value in branches[0]:
            if isinstance(key, Comment):
                lines.append("#" + key.value)
            else:
                lines.append(f"{key}={_flat_scalar(value, fmt, key).replace(chr(10), chr(92) + 'n')}")
    elif fmt == "ini":
        for section, entries in branches[0]:
            if isinstance(section, Comment):
                lines.append(";" + section.value)
                continue
            if not isinstance(entries, Branch):
                raise SopsError(f"INI output needs sections; [{section!r}] is not a mapping")
            lines.append(f"[{section}]")
            for key, value in entries:
                lines.append(";" + key.value if isinstance(key, Comment)
                             else f"{quote_key(key)} = {quote_value(_flat_scalar(value, fmt, key))}")
            lines.append("")
    else:
        raise SopsError(f"unknown output format {fmt!r} (one of {', '.join(FORMATS)})")
    return ("\n".join(lines).rstrip("\n") + "\n").encode("utf-8")


_EXTRACT_RE = re.compile(r"""\[\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(-?\d+))\s*\]""")


def parse_extract(spec):
    """sops' ``--extract`` syntax (``["a"]["b"][0]``) or a list of keys, into a list of keys/indexes."""
    if isinstance(spec, (list, tuple)):
        return list(spec)
    spec = spec.strip()
    steps, position = [], 0
    for match in _EXTRACT_RE.finditer(spec):
        if match.start() != position:
            break
        position = match.end()
        double, single, index = match.groups()
        steps.append(int(index) if index is not None else
                     json.loads(f'"{double}"') if double is not None else single)
    if position != len(spec) or not steps:
        raise SopsError(f"extract: {spec!r} is not a path like [\"key\"][0]")
    return steps


def extract(data, steps):
    """The value at ``steps`` in decrypted data; a missing key names the path, never a value."""
    current = data
    for depth, step in enumerate(steps):
        where = "".join(f"[{s!r}]" for s in steps[:depth + 1])
        if isinstance(step, int) and isinstance(current, list):
            if not -len(current) <= step < len(current):
                raise SopsError(f"extract: index {where} is out of range")
            current = current[step]
        elif isinstance(current, dict) and str(step) in current:
            current = current[str(step)]
        else:
            raise SopsError(f"extract: {where} not found")
    return current
