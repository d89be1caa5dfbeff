"""INI text read exactly as sops' INI store reads it: a port of go-ini v1's parser with sops' options.

Why: sops writes values go-ini's way (``\"\"\"`` around multi-line values, backquotes around values
holding ``;`` or ``#``, double quotes around values with outer spaces), and reads them back with
go-ini's rules (inline comments, continuation lines, ``=`` or ``:`` as delimiter); sops 3.13.0/3.13.1
even wrote the multi-line ``enc`` of PGP/age keys as triple-quoted values. Any other INI reader
gets such values, and thus the MAC, wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError

DEFAULT_SECTION = "DEFAULT"
_DELIMITERS = "=:"
# Go's unicode.IsSpace (strings.TrimSpace): unlike Python's str.strip, not U+001C..U+001F.
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
           "\u2028\u2029\u202f\u205f\u3000"


@dataclass
class IniKey:
    name: str
    value: str
    comment: str = ""


@dataclass
class IniSection:
    name: str
    comment: str = ""
    keys: list = field(default_factory=list)

    def set(self, name, value, comment):
        """go-ini's NewKey: a repeated key keeps its place and takes the new value."""
        for key in self.keys:
            if key.name == name:
                key.value, key.comment = value, comment
                return
        self.keys.append(IniKey(name, value, comment))


def _key_name(line, number):
    """go-ini's readKeyName: (name, offset of the value)."""
    quote = '"""' if line.startswith('"""') and len(line) > 6 else line[:1] if line[:1] in '"`' else ""
    if quote:
        end = line.find(quote, len(quote))
        if end == -1:
            raise SopsError(f"INI line {number}: missing closing key quote")
        rest = line[end + len(quote):]
        delimiter = min((i for i in (rest.find(d) for d in _DELIMITERS) if i >= 0), default=-1)
        if delimiter < 0:
            raise SopsError(f"INI line {number}: no '=' or ':' after the key")
        return line[len(quote):end].strip(GO_SPACE), end + len(quote) + delimiter + 1
    delimiter = min((i for i in (line.find(d) for d in _DELIMITERS) if i >= 0), default=-1)
    if delimiter < 0:
        raise SopsError(f"INI line {number} is neither a section, a key = value nor a comment")
    if delimiter == 0:
        raise SopsError(f"INI line {number}: empty key name")
    return line[:delimiter].strip(GO_SPACE), delimiter + 1


def _surrounded(text, quote):
    return len(text) >= 2 and text[0] == quote and text[-1] == quote and text[1:].find(quote) == len(text) - 2


class _Parser:
    def __init__(self, text):
        if text.startswith("\ufeff"):
            text = text[1:]
        self.lines = text.split("\n")
        self.lines = [line + "\n" for line in self.lines[:-1]] + ([self.lines[-1]] if self.lines[-1] else [])
        self.index = 0
        self.comment = ""

    def next_line(self):
        line = self.lines[self.index] if self.index < len(self.lines) else ""
        self.index += 1
        return line

    def multiline(self, first, quote):
        value = first
        while True:
            if self.index >= len(self.lines):
                raise SopsError(f"INI: a {quote} value is not closed (truncated file?)")
            following = self.next_line()
            end = following.rfind(quote)
            if end > -1:
                rest = following[end + len(quote):].rstrip("\r\n")
                if rest.strip(GO_SPACE).endswith("\\"):
                    value += following
                    continue
                tail = following[end:]
                cut = min((i for i in (tail.find("#"), tail.find(";")) if i >= 0), default=-1)
                if cut >= 0:
                    self.comment += tail[cut:].strip(GO_SPACE)
                return value + following[:end]
            value += following

    def continuation(self, value):
        while self.index < len(self.lines):
            following = self.next_line().strip(GO_SPACE)
            if not following:
                break
            value += following
            if not value.endswith("\\"):
                break
            value = value[:-1]
        return value

    def value(self, raw):
        """go-ini's readValue with sops' options (inline comments and continuations on)."""
        line = raw.lstrip(GO_SPACE)
        if not line:
            return ""
        quote = '"""' if len(line) > 3 and line.startswith('"""') else "`" if line[0] == "`" else ""
        if quote:
            end = line[len(quote):].rfind(quote)
            if end == -1:
                return self.multiline(line[len(quote):], quote)
            return line[len(quote):len(quote) + end]
        line = line.strip(GO_SPACE)
        if line.endswith("\\"):
            return self.continuation(line[:-1])
        cut = min((i for i in (line.find("#"), line.find(";")) if i >= 0), default=-1)
        if cut > -1:
            self.comment += line[cut:]
            line = line[:cut].strip(GO_SPACE)
        if _surrounded(line, "'") or _surrounded(line, '"'):
            line = line[1:-1]
        return line


def parse_ini(text):
    """Sections of an INI text in order, go-ini's implicit DEFAULT section first."""
    parser = _Parser(text)
    sections = [IniSection(DEFAULT_SECTION)]
    counter = 1
    while parser.index < len(parser.lines):
        number = parser.index + 1
        line = parser.next_line().lstrip(GO_SPACE)
        if not line:
            continue
        if line[0] in "#;":
            parser.comment += line
            continue
        if line[0] == "[":
            close = line.rfind("]")
            if close == -1:
                raise SopsError(f"INI line {number}: unclosed section")
            if close == 1:
                raise SopsError(f"INI line {number}: empty section name")
            rest = line[close + 1:]
            cut = min((i for i in (rest.find("#"), rest.find(";")) if i >= 0), default=-1)
            if cut >= 0:
                parser.comment += rest[cut:]
            sections.append(IniSection(line[1:close], parser.comment.strip(GO_SPACE)))
            parser.comment, counter = "", 1
            continue
        name, offset = _key_name(line, number)
        if name == "-":  # go-ini's auto-increment keys
            name, counter = f"#{counter}", counter + 1
        value = parser.value(line[offset:])
        sections[-1].set(name, value, parser.comment.strip(GO_SPACE))
        parser.comment = ""
    return sections


def strip_comment_char(comment):
    """sops' stripCommentChar."""
    if comment.startswith(";"):
        return comment.lstrip("; ")
    if comment.startswith("#"):
        return comment.lstrip("# ")
    return comment


def quote_key(name):
    """go-ini's writer: how a key is quoted so that it reads back unchanged."""
    if '"' in name or any(d in name for d in _DELIMITERS):
        return f"`{name}`"
    return f'"""{name}"""' if "`" in name else name


def quote_value(value):
    """go-ini's writer (as sops writes INI values)."""
    if "\n" in value or "`" in value:
        return f'"""{value}"""'
    if "#" in value or ";" in value:
        return f"`{value}`"
    return f'"{value}"' if value.strip(GO_SPACE) != value else value
