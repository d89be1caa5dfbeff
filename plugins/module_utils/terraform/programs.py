"""Configuration constructs that run programs, found in every module before ``plan`` and refused unless allowed.

Why: ``data "external"`` runs its program while Terraform plans (a merge-request preview plans a branch), a
``provisioner "local-exec"`` at apply, and a provider's ``exec`` block (the credential plugins of the kubernetes
and helm providers) whenever the provider is configured. A repository is hostile data, so unless the operator
allows programs for an environment (``allow_programs``) a configuration with any of them is refused before
anything is planned. This is the second line, not the boundary: every command runs in the sandbox
(``bubblewrap``), which holds a program that runs all the same (one from a provider of the operator's locations
that runs programs under another name). The refusal keeps the usual ways out of reach altogether.

The scanner reads HCL's native syntax as tokens, not with patterns: comments, quoted templates with nested
interpolations, heredocs, and block labels written as identifiers or as quoted strings with escapes
(``"ext\\u0065rnal"`` is ``external``). Terraform's JSON syntax is read with every duplicate key kept. A file
the scanner cannot follow is searched word by word instead (escapes decoded), which can only find more.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

# Resource, data source, ephemeral resource and action types that run a program named by the configuration.
PROGRAM_TYPES = ("external", "local_command")
_TYPED_BLOCKS = ("data", "resource", "ephemeral", "action")
_IDENTIFIER = re.compile(r"[^\W\d][\w-]*")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
# The words every refused construct contains, for files the scanner cannot follow.
_WORDS = re.compile(r"(?<![\w-])(external|local-exec|local_command|exec)(?![\w-])")


@dataclass(frozen=True)
class Construct:
    """One construct that runs a program: where it stands and what it is."""

    file: str
    line: int | None
    what: str

    def describe(self):
        where = f"{self.file} line {self.line}" if self.line else self.file
        return f"{where}: {self.what}"


class _Unreadable(Exception):
    """The scanner cannot follow the file (Terraform would most likely reject it too)."""


def find_programs(text, file):
    """Every construct of one configuration file (``file`` is the name shown) that runs a program."""
    try:
        if file.endswith(".json"):
            return _json_programs(text, file)
        return [Construct(file, line, what) for line, what in _hcl_programs(text)]
    except _Unreadable as err:
        words = sorted(set(_WORDS.findall(_decode_all(text))))
        if not words:
            return []
        return [Construct(file, None, f"cannot be read by the check for programs ({err}), and it names "
                                      f"{', '.join(repr(word) for word in words)}")]


def _rule(ancestors, kind, name, labels):
    """What the construct is, if it runs a program; ``ancestors`` are the enclosing (type, labels) blocks."""
    first = labels[0] if labels else None
    if kind == "block" and name in _TYPED_BLOCKS and first in PROGRAM_TYPES:
        return f'{name} "{first}" runs a program'
    if kind == "block" and name == "provisioner" and first == "local-exec":
        return 'provisioner "local-exec" runs a program'
    providers = [labels for block, labels in ancestors if block == "provider"]
    if providers and (name == "exec" or (kind == "block" and name == "dynamic" and first == "exec")):
        provider = providers[0][0] if providers[0] else "?"
        return f'an exec {kind} in provider "{provider}" runs a program'
    return None


def _hcl_programs(text):
    parser = _Parser(text)
    parser.body([], closing=False)
    found = []
    for start, ancestors, kind, name, labels in parser.found:
        what = _rule(ancestors, kind, name, labels)
        if what:
            found.append((text.count("\n", 0, start) + 1, what))
    return found


class _Parser:
    """HCL native syntax, as far as block structure goes: attribute values are skipped, not evaluated."""

    def __init__(self, text):
        self.text = text
        self.pos = 0
        # (offset, ancestors, "block" | "attribute", name, labels)
        self.found = []

    def peek(self, offset=0):
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else None

    def at(self, token):
        return self.text.startswith(token, self.pos)

    def body(self, ancestors, closing):
        while True:
            self.skip(newlines=True)
            char = self.peek()
            if char is None:
                if closing:
                    raise _Unreadable("a block is not closed")
                return
            if char == "}":
                if not closing:
                    raise _Unreadable("a '}' closes no block")
                self.pos += 1
                return
            start = self.pos
            name = self.identifier()
            self.skip(newlines=False)
            if self.peek() == "=":
                self.pos += 1
                self.found.append((start, ancestors, "attribute", name, ()))
                self.expression(closing)
                continue
            labels = []
            while self.peek() == '"' or (self.peek() is not None and _IDENTIFIER.match(self.text, self.pos)):
                labels.append(self.label() if self.peek() == '"' else self.identifier())
                self.skip(newlines=False)
            if self.peek() != "{":
                raise _Unreadable(f"'{name}' is neither an argument nor a block")
            self.pos += 1
            self.found.append((start, ancestors, "block", name, tuple(labels)))
            self.body([*ancestors, (name, tuple(labels))], closing=True)

    def identifier(self):
        match = _IDENTIFIER.match(self.text, self.pos)
        if not match:
            raise _Unreadable("an identifier was expected")
        self.pos = match.end()
        return match.group(0)

    def skip(self, newlines):
        """Spaces and comments; newlines too when ``newlines`` (they end an argument otherwise)."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self.pos += 1
            elif char == "#" or self.at("//"):
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif self.at("/*"):
                end = self.text.find("*/", self.pos + 2)
                if end < 0:
                    raise _Unreadable("a /* comment is not closed")
                self.pos = end + 2
            else:
                return

    def expression(self, closing, template=False):
        """Skip an argument's value: to the end of its line outside brackets, or to the ``}`` that closes a
        template interpolation (``template``) or a one-line block (``closing``)."""
        depth = 0
        while True:
            char = self.peek()
            if char is None:
                if depth or template:
                    raise _Unreadable("an expression is not closed")
                return
            if char == "\n" and depth == 0 and not template:
                return
            if char in "([{":
                depth += 1
                self.pos += 1
            elif char in ")]}":
                if depth == 0:
                    if char == "}" and template:
                        self.pos += 1
                        return
                    if char == "}" and closing:
                        return
                    raise _Unreadable(f"a '{char}' closes nothing")
                depth -= 1
                self.pos += 1
            elif char == '"':
                self.template()
            elif self.at("<<"):
                self.heredoc()
            elif char == "#" or self.at("//") or self.at("/*"):
                self.skip(newlines=False)
            else:
                self.pos += 1

    def template(self):
        """A quoted template, with its interpolations and directives."""
        self.pos += 1
        while True:
            char = self.peek()
            if char is None or char == "\n":
                raise _Unreadable("a quoted string is not closed on its line")
            if char == "\\":
                self.pos += 2
            elif char == '"':
                self.pos += 1
                return
            elif self.at("$${") or self.at("%%{"):
                self.pos += 3
            elif self.at("${") or self.at("%{"):
                self.pos += 2
                self.expression(closing=False, template=True)
            else:
                self.pos += 1

    def heredoc(self):
        """``<<EOT`` / ``<<-EOT``: to the first line that is the marker alone.

        Terraform may end it later (a marker line inside an interpolation); ending at the first such line
        can only make more of the file code, never less.
        """
        self.pos += 2
        if self.peek() == "-":
            self.pos += 1
        marker = self.identifier()
        end = self.text.find("\n", self.pos)
        if end < 0 or self.text[self.pos:end].strip():
            raise _Unreadable("a heredoc marker must end its line")
        start = end + 1
        while start < len(self.text):
            end = self.text.find("\n", start)
            end = len(self.text) if end < 0 else end
            if self.text[start:end].strip() == marker:
                self.pos = end
                return
            start = end + 1
        raise _Unreadable(f"heredoc {marker} is not closed")

    def label(self):
        """A quoted block label, escapes decoded (a label cannot interpolate)."""
        end = self.pos + 1
        while True:
            if end >= len(self.text) or self.text[end] == "\n":
                raise _Unreadable("a block label is not closed on its line")
            if self.text[end] == "\\":
                end += 2
                continue
            if self.text[end] == '"':
                break
            end += 1
        raw = self.text[self.pos + 1:end]
        self.pos = end + 1
        unescaped = raw.replace("$${", "").replace("%%{", "")
        if "${" in unescaped or "%{" in unescaped:
            raise _Unreadable("a block label interpolates")
        return _decode(raw).replace("$${", "${").replace("%%{", "%{")


def _decode(raw):
    def replace(match):
        escape = match.group(1)
        if escape[0] in "uU" and len(escape) > 1:
            return chr(int(escape[1:], 16))
        return _SIMPLE_ESCAPES.get(escape, match.group(0))
    return _ESCAPE.sub(replace, raw)


def _decode_all(text):
    """``text`` with every \\u / \\U escape decoded (for the word search of an unreadable file)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})",
                  lambda m: chr(int(m.group(1) or m.group(2), 16)) if int(m.group(1) or m.group(2), 16) < 0x110000
                  else m.group(0), text)


class _Pairs(list):
    """A JSON object as its list of (key, value) pairs: Terraform's JSON syntax keeps duplicate keys."""


def _json_programs(text, file):
    try:
        document = json.loads(text, object_pairs_hook=_Pairs)
    except ValueError as err:
        raise _Unreadable(f"not valid JSON: {err.msg}") from None
    found = []
    stack = [(document, ())]
    while stack:
        value, keys = stack.pop()
        if isinstance(value, _Pairs):
            for key, item in value:
                path = (*keys, key)
                what = _json_rule(path)
                if what:
                    found.append(Construct(file, None, what))
                stack.append((item, path))
        elif isinstance(value, list):
            stack.extend((item, keys) for item in value)
    return sorted(set(found), key=lambda construct: construct.what)


def _json_rule(keys):
    """The rules of :func:`_rule` on the key path of a JSON document (labels are keys there)."""
    if len(keys) >= 2 and keys[-2] in _TYPED_BLOCKS and keys[-1] in PROGRAM_TYPES:
        return f'{keys[-2]} "{keys[-1]}" runs a program'
    if len(keys) >= 2 and keys[-2:] == ("provisioner", "local-exec"):
        return 'provisioner "local-exec" runs a program'
    if keys[-1] == "exec" and "provider" in keys[:-1]:
        provider = keys[keys.index("provider") + 1] if keys.index("provider") + 1 < len(keys) else "?"
        return f'an exec block in provider "{provider}" runs a program'
    return None
