"""YAML documents as sops sees them: YAML 1.2 core types (plus timestamps), comments kept in place.

PyYAML composes the node graph; comments, which PyYAML drops, are found in the text and placed
before the mapping key or sequence item that follows them, as sops' YAML store does.
"""

from __future__ import annotations

import base64
import re

from ansible_collections.trident.gitops.plugins.module_utils.sops.cipher import Comment, Timestamp, go_float
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import MissingLibrary, SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import Branch

try:
    import yaml
    from yaml.resolver import Resolver
except ImportError:  # reported when a YAML document is read or written
    yaml = None
    Resolver = object

_TAG = "tag:yaml.org,2002:"
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d*))?"
                        r"[ \t]*(Z|[-+]\d{1,2}(?::?\d{2})?)?)?$")


class _CoreResolver(Resolver):
    """YAML 1.2 core schema, as Go's yaml.v3 (sops) resolves plain scalars: `yes` is a string."""

    yaml_implicit_resolvers = {}


if yaml is not None:
    for _tag, _regexp, _first in (
        ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
        ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)"
                  r"|\.(?:nan|NaN|NAN))$", "-+0123456789."),
        ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
        ("timestamp", _TIMESTAMP.pattern, "0123456789"),
    ):
        _CoreResolver.add_implicit_resolver(_TAG + _tag, re.compile(_regexp), list(_first))

    class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
                  _CoreResolver):
        def __init__(self, stream):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _CoreResolver.__init__(self)


def go_timestamp(text):
    """A YAML timestamp as Go's RFC 3339 text (what sops encrypts and prints)."""
    match = _TIMESTAMP.match(text.strip())
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    out = f"{int(year):04d}-{int(month):02d}-{int(day):02d}T{int(hour or 0):02d}:{int(minute or 0):02d}:" \
          f"{int(second or 0):02d}"
    fraction = (fraction or "")[:9].rstrip("0")
    if fraction:
        out += "." + fraction
    if not zone or zone == "Z":
        return out + "Z"
    sign, digits = zone[0], zone[1:].replace(":", "")
    hours, minutes = int(digits[:-2] if len(digits) > 2 else digits), int(digits[-2:]) if len(digits) > 2 else 0
    return out + ("Z" if hours == minutes == 0 else f"{sign}{hours:02d}:{minutes:02d}")


def _scalar(node):
    tag, value = node.tag[len(_TAG):] if node.tag.startswith(_TAG) else node.tag, node.value
    if tag == "null":
        return None
    if tag == "bool":
        return value.lower() == "true"
    if tag == "int":
        return int(value, 0) if value[:2] in ("0o", "0x") else int(value)
    if tag == "float":
        lowered = value.lower()
        return float(lowered.replace(".inf", "inf").replace(".nan", "nan"))
    if tag == "timestamp":
        return Timestamp(go_timestamp(value))
    if tag == "binary":
        return base64.b64decode(value)
    return value


def _comments(text, scalar_spans):
    """(offset, text) of every comment outside scalars."""
    found = []
    for match in re.finditer(r"(?:^|(?<=[ \t]))#([^\n]*)", text, re.MULTILINE):
        start = match.start()
        if not any(begin <= start < end for begin, end in scalar_spans):
            found.append((start, match.group(1)))
    return found


def _scalar_spans(node, spans, seen):
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        if node.style:  # quoted or block scalars may contain '#'
            spans.append((node.start_mark.index, node.end_mark.index))
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _scalar_spans(key, spans, seen)
            _scalar_spans(value, spans, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _scalar_spans(item, spans, seen)


class _Builder:
    def __init__(self, text, comments):
        self.text = text
        self.comments = comments

    def pending(self, before):
        out = []
        while self.comments and self.comments[0][0] < before:
            out.append(Comment(self.comments.pop(0)[1]))
        return out

    def build(self, node):
        if isinstance(node, yaml.MappingNode):
            branch = Branch()
            for key, value in node.value:
                limit = key.start_mark.index
                if isinstance(value, yaml.ScalarNode) and value.end_mark.line == key.start_mark.line:
                    # A comment after a one-line value belongs to that key, as sops places it.
                    limit = self.text.find("\n", limit) % (len(self.text) + 1)
                branch.extend((comment, None) for comment in self.pending(limit))
                if not isinstance(key, yaml.ScalarNode):
                    raise SopsError("YAML mapping keys must be scalars")
                branch.append((str(key.value), self.build(value)))
            return branch
        if isinstance(node, yaml.SequenceNode):
            items = []
            for item in node.value:
                items.extend(self.pending(item.start_mark.index))
                items.append(self.build(item))
            return items
        return _scalar(node)


def load_yaml(text):
    """Every document of a YAML stream as a Branch (comments included)."""
    if yaml is None:
        raise MissingLibrary("PyYAML")
    try:
        roots = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise SopsError(f"not valid YAML{where} (truncated or damaged file?)") from None
    spans = []
    for root in roots:
        if root is not None:
            _scalar_spans(root, spans, set())
    builder = _Builder(text, _comments(text, spans))
    documents = []
    for index, root in enumerate(roots):
        if root is None:
            continue
        document = builder.build(root)
        if not isinstance(document, Branch):
            raise SopsError("a SOPS YAML document must be a mapping")
        following = roots[index + 1].start_mark.index if index + 1 < len(roots) and roots[index + 1] else len(text)
        document.extend((comment, None) for comment in builder.pending(following))
        documents.append(document)
    return documents


def _yaml_scalar(value):
    if isinstance(value, Timestamp):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"NaN": ".nan", "+Inf": ".inf", "-Inf": "-.inf"}.get(go_float(value), go_float(value))
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1 << 30)
    return text[:-5] if text.endswith("\n...\n") else text.rstrip("\n")


def _entries(value):
    """(key, value) pairs of a mapping or (None, item) of a sequence; nothing for a scalar."""
    if isinstance(value, Branch):
        return list(value)
    return [(None, item) for item in value] if isinstance(value, list) else []


def _has_content(value):
    return any(not isinstance(k, Comment) and not isinstance(v, Comment) for k, v in _entries(value))


def _emit(value, indent, lines, prefix):
    """Append the lines of ``value``; ``prefix`` (if any) starts its first line."""
    pad = " " * indent
    is_map = isinstance(value, Branch)
    if not _has_content(value):
        text = ("{}" if is_map else "[]") if isinstance(value, list) else "null" if value is None \
            else _yaml_scalar(value)
        lines.append(f"{pad if prefix is None else prefix}{text}")
        return
    lead = prefix
    for key, child in _entries(value):
        if isinstance(key, Comment) or isinstance(child, Comment):
            lines.append(f"{pad}#{(key if isinstance(key, Comment) else child).value}")
            continue
        start = pad if lead is None else lead
        lead = None
        if not is_map:
            _emit(child, indent + 2, lines, start + "- ")
        elif _has_content(child):
            lines.append(f"{start}{_yaml_scalar(key)}:")
            _emit(child, indent + 4, lines, None)
        else:
            _emit(child, indent + 4, lines, f"{start}{_yaml_scalar(key)}: ")


def dump_yaml(documents):
    """YAML text of the documents, comments included, in sops' layout (4-space indent)."""
    if yaml is None:
        raise MissingLibrary("PyYAML")
    out = []
    for document in documents:
        lines = []
        _emit(document, 0, lines, None)
        out.append("\n".join(lines) + "\n")
    return "---\n".join(out)
