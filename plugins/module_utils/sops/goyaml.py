"""Scalars typed exactly as sops' YAML library (go-yaml v3) types them when decoding into interface{}.

Why: the MAC covers clear-text values as sops types them (``yes`` is a string, ``0o17`` an int,
``2001-12-14 21:59:43`` a time, ``2001-12-14 21:59:43 +1`` a string), so any other YAML resolver
(PyYAML's YAML 1.1 one included) makes valid files fail their MAC or alters their data. This is a
port of go-yaml v3's ``resolve`` and of the parts of Go's ``strconv`` and ``time.Parse`` it uses.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import re

from ansible_collections.trident.gitops.plugins.module_utils.sops.cipher import Timestamp
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError

_SPECIAL = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), float("nan")),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), float("inf")),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), float("-inf")),
}
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_GO_DOT_FLOAT = re.compile(r"^\.[0-9]+([eE][-+]?[0-9]+)?$")
_INT64 = (-(1 << 63), (1 << 63) - 1)
_BASES = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class BigUnsigned(int):
    """An integer go-yaml decodes as uint64: sops cannot walk it and refuses the file."""


class Unresolved:
    """A value go-yaml fails to decode (``!!int foo``): sops drops it, or refuses the first document."""


def go_parse_uint(text, base=0):
    """strconv.ParseUint (no sign); base 0 takes a 0x/0o/0b/0 prefix. Returns int or None."""
    if base == 0:
        base = 10
        if text[:2] in _BASES and len(text) > 2:
            base, text = _BASES[text[:2]], text[2:]
        elif text[:1] == "0" and len(text) > 1:
            base, text = 8, text[1:]
    if not text or any(_DIGITS.find(c.lower()) not in range(base) or not c.isascii() for c in text):
        return None
    value = int(text, base)
    return value if value < (1 << 64) else None


def go_parse_int(text, base=0):
    """strconv.ParseInt(text, base, 64): an optional sign, then ParseUint's syntax; None if invalid."""
    sign = -1 if text[:1] == "-" else 1
    body = text[1:] if text[:1] in "+-" and text else text
    value = go_parse_uint(body, base) if body else None
    if value is None:
        return None
    value *= sign
    return value if _INT64[0] <= value <= _INT64[1] else None


def _go_float(text):
    value = float(text)
    return None if value in (float("inf"), float("-inf")) else value  # Go: ErrRange, not a float


def _resolve_number(text):
    """go-yaml's branch for scalars starting with a digit or a sign."""
    timestamp = parse_timestamp(text)
    if timestamp is not None:
        return timestamp
    plain = text.replace("_", "")
    value = go_parse_int(plain)
    if value is not None:
        return value
    value = go_parse_uint(plain)
    if value is not None:
        return BigUnsigned(value)
    if _YAML_FLOAT.match(plain):
        value = _go_float(plain)
        if value is not None:
            return value
    return text


def resolve_plain(text):
    """The value of an untagged plain scalar."""
    if text in _SPECIAL:
        return _SPECIAL[text]
    first = text[:1]
    if first == ".":
        return _go_float(text) if _GO_DOT_FLOAT.match(text) and _go_float(text) is not None else text
    if first and (first.isdigit() and first.isascii() or first in "+-"):
        return _resolve_number(text)
    return text


def resolve_tagged(tag, text):
    """The value of a scalar with an explicit tag (``!!int "12"``, ``!!binary ...``, ``!custom x``)."""
    if tag == "str":
        return text
    if tag == "binary":
        try:
            return base64.b64decode(text.replace("\n", "").replace("\r", ""), validate=True)
        except (binascii.Error, ValueError):
            return Unresolved()
    if tag not in ("bool", "int", "float", "null", "timestamp"):
        return text  # a tag go-yaml does not resolve keeps the text
    value = resolve_plain(text)
    if tag == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = {"bool": bool, "int": int, "float": float, "null": type(None), "timestamp": Timestamp}[tag]
    if isinstance(value, expected) and (tag != "int" or not isinstance(value, (bool, BigUnsigned))):
        return value
    return Unresolved()


def _take(text, pos, most=2):
    """Go's getnum: one or two digits at ``pos``; (value, new pos) or None."""
    end = pos
    while end < len(text) and end - pos < most and "0" <= text[end] <= "9":
        end += 1
    return (int(text[pos:end]), end) if end > pos else None


def _date(text):
    """``YYYY-M-D`` (Go layout 2006-1-2): (year, month, day, rest) or None."""
    if len(text) < 5 or not text[:4].isdigit() or not text[:4].isascii() or text[4] != "-":
        return None
    year = int(text[:4])
    month = _take(text, 5)
    if not month or month[1] >= len(text) or text[month[1]] != "-":
        return None
    day = _take(text, month[1] + 1)
    # Year 0 is a leap year in Go's proleptic calendar, as 2000 is (Python's calendar starts at year 1).
    if not day or not 1 <= month[0] <= 12 or not 1 <= day[0] <= calendar.monthrange(year or 2000, month[0])[1]:
        return None
    return year, month[0], day[0], text[day[1]:]


def _clock(text):
    """``15:4:5.999999999`` (Go): (hour, minute, second, nanoseconds, rest) or None."""
    parts, pos = [], 0
    for index, limit in enumerate((24, 60, 60)):
        if index and (pos >= len(text) or text[pos] != ":"):
            return None
        got = _take(text, pos + (1 if index else 0))
        if not got or got[0] >= limit:
            return None
        parts.append(got[0])
        pos = got[1]
    nanos = 0
    if pos + 1 < len(text) and text[pos] in ".," and text[pos + 1].isdigit():
        end = pos + 1
        while end < len(text) and "0" <= text[end] <= "9":
            end += 1
        nanos = int((text[pos + 1:end] + "000000000")[:9])
        pos = end
    return parts[0], parts[1], parts[2], nanos, text[pos:]


def _zone(text):
    """Go's Z07:00: ``Z`` or ``±hh:mm`` (offset minutes), or None."""
    if text == "Z":
        return 0
    if len(text) != 6 or text[0] not in "+-" or text[3] != ":" or not (text[1:3] + text[4:]).isdigit():
        return None
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 24 or minutes > 60:
        return None
    return (hours * 60 + minutes) * (-1 if text[0] == "-" else 1)


def parse_timestamp(text):
    """go-yaml's timestamp formats through Go's time.Parse; a :class:`Timestamp` in Go's RFC 3339
    (nano) text, which is what sops encrypts, MACs and prints; None when it is not a timestamp."""
    date = _date(text)
    if date is None:
        return None
    year, month, day, rest = date
    if not rest:
        return Timestamp(f"{year:04d}-{month:02d}-{day:02d}T00:00:00Z")
    if rest[0] not in "Tt ":
        return None
    clock = _clock(rest[1:])
    if clock is None:
        return None
    hour, minute, second, nanos, zone_text = clock
    offset = 0 if rest[0] == " " and not zone_text else _zone(zone_text) if rest[0] in "Tt" else None
    if offset is None:
        return None
    return Timestamp(_rfc3339(year, month, day, hour, minute, second, nanos, offset))


def _rfc3339(year, month, day, hour, minute, second, nanos, offset):
    out = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    fraction = f"{nanos:09d}".rstrip("0")
    if fraction:
        out += "." + fraction
    if offset == 0:
        return out + "Z"
    if abs(offset) >= 24 * 60:
        # Go's MarshalText refuses such an offset, so sops cannot hash or encrypt the value.
        raise SopsError("a YAML timestamp has a time zone offset of 24 hours or more (sops refuses it)")
    sign = "-" if offset < 0 else "+"
    return out + f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
