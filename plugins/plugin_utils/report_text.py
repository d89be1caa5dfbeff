# Copyright: trident.gitops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Repository text in the reports, shown as text and nothing else (controller-only).

Commit subjects, branch, file and environment names, object kinds and names, field paths, Terraform addresses,
error messages and health reasons come from the repository, or from what it deploys: an author chooses them. A
merge-request comment renders Markdown, then GitLab and GitHub turn parts of the rendered text into live elements
(links, images, bare-URL autolinks, ``@all`` and ``@group`` mentions that notify, ``#1``/``!1`` references, emoji
shortcodes, GitLab's math), and raw HTML passes through. None of that applies inside a code element, on either
forge, and a code span's content is never Markdown or HTML. So every piece of such text is shown by one of the
functions below: a Markdown code span (``markdown_code``), an HTML ``<code>`` element (``html_code``) or
HTML-escaped text (``html_text``), or XML character data (``xml_text``, ElementTree escapes the markup).
The reports never put such text anywhere else.

All of them first make the text visible (``visible``), and one line but for ``xml_text``: a reader sees every
character, nothing ends a line, a table row or an HTML block, and no character makes the file invalid (XML 1.0 forbids most control characters,
UTF-8 cannot encode a lone surrogate).
"""

from __future__ import annotations

import html
import re
import unicodedata

# Line breaks: a space in one-line text (CR LF counts once).
_LINE_BREAK = re.compile(r"\r\n|[\r\n]")
# Format characters that joined scripts and emoji need, shown as they are. Every other format character
# (bidirectional overrides and isolates, zero-width spaces, the byte-order mark, tag characters) is invisible
# or reorders what a reader sees, so it is shown as an escape.
_KEPT_FORMAT = {"\u200c", "\u200d"}


def visible(text: object, lines: bool = False) -> str:
    """``text`` with every character a reader could not see, or that changes how the text around it reads, as a
    Python-style escape (``\\x00``, ``\\u202e``, ``\\U000e0041``): control characters, format characters (bidi
    controls, zero-width characters), line and paragraph separators, surrogates and noncharacters. Line breaks
    become a space, or with ``lines`` stay line feeds (CR LF and CR become LF); tabs stay."""
    text = _LINE_BREAK.sub("\n" if lines else " ", str(text))
    return "".join(_escape(char) if _hidden(char, lines) else char for char in text)


def _hidden(char: str, lines: bool) -> bool:
    if char == "\t" or (lines and char == "\n"):
        return False
    code = ord(char)
    if 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE:  # noncharacters, U+FFFE and U+FFFF among them
        return True
    category = unicodedata.category(char)
    return category in ("Cc", "Cs", "Zl", "Zp") or (category == "Cf" and char not in _KEPT_FORMAT)


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def markdown_code(text: object, table: bool = False) -> str:
    """``text`` as a Markdown code span, shown verbatim whatever it holds: the fence is one backtick longer than
    the longest run of backticks in it, and padded by a space where the text starts or ends with a backtick or
    with spaces (a code span drops one space at each end). In a table cell (``table``) each ``|`` is written
    ``\\|``: GitHub, GitLab and markdown-it split the row at every other pipe, code spans included, and drop that
    backslash. (GitLab shows one backslash more where an odd number of them precede a ``|``; the row stays whole
    everywhere.)"""
    text = visible(text) or " "
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = text.startswith("`") or text.endswith("`") or (
        text.startswith(" ") and text.endswith(" ") and text.strip(" "))
    if padded:
        text = f" {text} "
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{text}{fence}"


def html_text(text: object) -> str:
    """``text`` as HTML character data or an attribute value: one visible line, ``& < > " '`` escaped."""
    return html.escape(visible(text), quote=True)


def html_code(text: object) -> str:
    """``text`` as an HTML ``<code>`` element (no forge links, mentions or references inside one)."""
    return f"<code>{html_text(text)}</code>"


def xml_text(text: object) -> str:
    """``text`` for XML 1.0 character data or an attribute (ElementTree escapes the markup): its lines kept, every
    character XML cannot hold or a reader cannot see as an escape (``visible``)."""
    return visible(text, lines=True)
