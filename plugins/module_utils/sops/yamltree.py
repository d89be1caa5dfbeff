"""YAML documents as sops sees them: scalars typed as go-yaml v3 types them, comments kept in place.

PyYAML composes the node graph (untouched by its YAML 1.1 resolver); :mod:`goyaml` types the scalars.
Comments, which PyYAML drops, are found in the text and placed before the mapping key or sequence
item that follows them, as sops' YAML store does.
"""

from __future__ import annotations

import re

from ansible_collections.trident.gitops.plugins.module_utils.sops.cipher import Comment, Timestamp, go_float
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import MissingLibrary, SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.goyaml import (
    BigUnsigned, Unresolved, resolve_plain, resolve_tagged,
)
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import Branch, path_label

try:
    import yaml
    from yaml.resolver import Resolver
except ImportError:  # reported when a YAML document is read or written
    yaml = None
    Resolver = object

_TAG = "tag:yaml.org,2002:"
_PLAIN = "trident:plain"  # an untagged plain scalar: go-yaml resolves it, not PyYAML


class _PlainResolver(Resolver):
    """Leaves every untagged plain scalar unresolved (tag ``_PLAIN``) for :mod:`goyaml` to type."""

    def resolve(self, kind, value, implicit):
        if yaml is not None and kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return super().resolve(kind, value, implicit)


if yaml is not None:
    class _Loader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
                  _PlainResolver):
        def __init__(self, stream):
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            _PlainResolver.__init__(self)


def _scalar(node):
    if node.tag == _PLAIN:
        return resolve_plain(node.value)
    if node.tag.startswith(_TAG):
        return resolve_tagged(node.tag[len(_TAG):], node.value)
    return node.value  # a local tag (!foo): go-yaml keeps the text


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
        # sops first decodes the first document into a map, which refuses what go-yaml cannot decode.
        self.strict = True

    def pending(self, before):
        out = []
        while self.comments and self.comments[0][0] < before:
            out.append(Comment(self.comments.pop(0)[1]))
        return out

    def key(self, node, path):
        key = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(key, bytes):
            key = key.decode("utf-8", errors="surrogateescape")
        if not isinstance(key, str) or isinstance(key, Timestamp):  # a time is no string key to sops
            raise SopsError(f"{path_label(path)}: a mapping key is not a string (sops supports string keys only)")
        return key

    def leaf(self, node, path):
        value = _scalar(node)
        if isinstance(value, Unresolved):
            if self.strict:
                raise SopsError(f"{path_label(path)}: a tagged value does not match its tag (sops refuses it)")
            return None  # sops ignores the decoding error and keeps no value
        if isinstance(value, BigUnsigned):
            raise SopsError(f"{path_label(path)}: an integer beyond the signed 64-bit range (sops refuses it)")
        return value

    def build(self, node, path=()):
        if isinstance(node, yaml.MappingNode):
            branch = Branch()
            if self.strict:
                _refuse_duplicate_keys(node, path)
            for key, value in node.value:
                limit = key.start_mark.index
                if isinstance(value, yaml.ScalarNode) and value.end_mark.line == key.start_mark.line:
                    # A comment after a one-line value belongs to that key, as sops places it.
                    limit = self.text.find("\n", limit) % (len(self.text) + 1)
                branch.extend((comment, None) for comment in self.pending(limit))
                name = self.key(key, path)
                branch.append((name, self.build(value, path + (name,))))
            return branch
        if isinstance(node, yaml.SequenceNode):
            items = []
            for item in node.value:
                items.extend(self.pending(item.start_mark.index))
                items.append(self.build(item, path))
            return items
        return self.leaf(node, path)


def _refuse_duplicate_keys(node, path):
    """go-yaml's check when sops decodes the first document: two keys of one kind with one text."""
    seen = set()
    for key, _value in node.value:
        marker = (type(key).__name__, key.value if isinstance(key, yaml.ScalarNode) else "")
        if marker in seen:
            raise SopsError(f"{path_label(path)}: mapping key {str(marker[1])[:40]!r} is defined twice")
        seen.add(marker)


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
        builder.strict = False
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
