"""The string formats of an OpenAPI schema, judged exactly as the API server judges them.

The served schemas say ``format: byte`` for a Secret's values and ``format: date-time`` for timestamps, and a
CustomResourceDefinition may ask for ``byte``, ``date``, ``date-time`` or a UUID. Two different pieces of the
server read them: a built-in kind's value is decoded into its Go type (``[]byte`` with Go's padded standard
base64, ``metav1.Time`` with ``time.Parse(time.RFC3339)``, ``metav1.MicroTime`` with six fractional digits),
while a custom resource's value is matched by the schema validator of kube-openapi (the govalidator base64
pattern, its own date-time rule). Each function here mirrors one of them, including what they tolerate (line
breaks inside base64, a one-digit hour or a comma before the fraction in Go's parser, a lower-case ``t``/``z``
in kube-openapi's date-time), so that a value the server takes is never refused here. Formats not listed are
not judged locally (the dry-run does).
"""

from __future__ import annotations

import re

_B64 = "[A-Za-z0-9+/]"
# Go's base64.StdEncoding (padded, trailing bits not checked); '\r' and '\n' are skipped anywhere.
_GO_BASE64 = re.compile(rf"(?:{_B64}{{4}})*(?:{_B64}{{2}}==|{_B64}{{3}}=)?")
# kube-openapi's govalidator.IsBase64: at least one quantum, no line breaks.
_OPENAPI_BASE64 = re.compile(rf"(?:{_B64}{{4}})*(?:{_B64}{{2}}==|{_B64}{{3}}=|{_B64}{{4}})")
# (Every pattern here is used with fullmatch: Go's '$' is the end of the text, Python's also matches before a
# final newline.)
# kube-openapi's DateTimePattern, matched against what follows the first 't' of the lower-cased value.
_OPENAPI_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))")
_UUID = {
    "uuid": r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}",
    "uuid3": r"[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}",
    "uuid4": r"[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}",
    "uuid5": r"[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}",
}
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
MICRO_TIME_REF = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"


def typed_problem(value, fmt, ref):
    """Why a built-in kind's string ``value`` of format ``fmt`` (schema reference ``ref``) cannot be decoded
    into its Go type, or None."""
    if fmt == "byte" and not _GO_BASE64.fullmatch(value.replace("\r", "").replace("\n", "")):
        return "is not valid base64 (the standard alphabet, padded with '=')"
    if fmt == "date-time":
        micro = ref == MICRO_TIME_REF
        if not go_rfc3339(value, micro):
            return ("is not an RFC 3339 time with exactly six fractional digits (2006-01-02T15:04:05.000000Z07:00)"
                    if micro else "is not an RFC 3339 time (2006-01-02T15:04:05Z07:00)")
    return None


def custom_problem(value, fmt):
    """Why a custom resource's string ``value`` fails the schema ``format`` ``fmt`` as kube-openapi checks
    it, or None (also for formats not judged here)."""
    name = (fmt or "").replace("-", "")
    if name == "byte" and not _OPENAPI_BASE64.fullmatch(value):
        return "is not valid base64"
    if name == "datetime" and not openapi_date_time(value):
        return "is not a date-time (RFC 3339)"
    if name == "date" and not go_date(value):
        return "is not a date (2006-01-02)"
    if name in _UUID and not re.fullmatch(_UUID[name], value, re.IGNORECASE):
        return f"is not a {fmt.upper()}"
    return None


def openapi_date_time(value):
    """kube-openapi's strfmt.IsDateTime."""
    if len(value) < 4:
        return False
    parts = value.lower().split("t")
    if len(parts) < 2 or not go_date(parts[0]):
        return False
    match = _OPENAPI_TIME.fullmatch(parts[1])
    return bool(match) and match.group(1) <= "23" and match.group(2) <= "59" and match.group(3) <= "59"


def go_date(value):
    """Go's ``time.Parse("2006-01-02", value)``."""
    if not value.isascii():
        return False
    fields = _GoFields(value)
    year = fields.year()
    month = fields.literal("-") and fields.fixed2()
    day = fields.literal("-") and fields.fixed2()
    return fields.ok and not fields.rest and _valid_day(year, month, day)


def go_rfc3339(value, micro=False):
    """Whether Go's ``time.Parse`` takes ``value`` with layout ``time.RFC3339`` (or, with ``micro``,
    ``2006-01-02T15:04:05.000000Z07:00``, metav1.MicroTime's layout): the general parser, which is more
    lenient than its RFC 3339 fast path (a one-digit hour, ',' before the fraction, a zone offset of 24:00)."""
    if not value.isascii():
        return False
    fields = _GoFields(value)
    year = fields.year()
    month = fields.literal("-") and fields.fixed2()
    day = fields.literal("-") and fields.fixed2()
    hour = fields.literal("T") and fields.hour()
    minute = fields.literal(":") and fields.fixed2()
    second = fields.literal(":") and fields.fixed2()
    if not fields.ok or not (1 <= month <= 12 and hour < 24 and minute < 60 and second < 60):
        return False
    if micro:
        if not fields.fraction(6):
            return False
    elif fields.rest[:1] in (".", ",") and fields.rest[1:2].isdigit():
        fields.fraction(None)
    return fields.zone() and not fields.rest and _valid_day(year, month, day)


def _valid_day(year, month, day):
    """Go's daysIn: the proleptic Gregorian calendar, year 0 included (Python's calendar starts at year 1)."""
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 and leap else _DAYS[month - 1])


class _GoFields:
    """Reads Go's layout elements off the front of an ASCII value; ``ok`` turns False at the first misfit."""

    def __init__(self, value):
        self.rest, self.ok = value, True

    def _fail(self):
        self.ok = False
        return 0

    def literal(self, text):
        if self.ok and self.rest.startswith(text):
            self.rest = self.rest[len(text):]
            return True
        return self._fail()

    def year(self):
        head = self.rest[:4]
        if not (self.ok and len(head) == 4 and head.isdigit()):
            return self._fail()
        self.rest = self.rest[4:]
        return int(head)

    def fixed2(self):
        head = self.rest[:2]
        if not (self.ok and len(head) == 2 and head.isdigit()):
            return self._fail()
        self.rest = self.rest[2:]
        return int(head)

    def hour(self):
        """Go's stdHour: one or two digits."""
        width = 2 if self.rest[1:2].isdigit() else 1
        head = self.rest[:width]
        if not (self.ok and head.isdigit()):
            return self._fail()
        self.rest = self.rest[width:]
        return int(head)

    def fraction(self, digits):
        """A '.' or ',' and ``digits`` characters Go's atoi takes (None: every digit that follows)."""
        if not (self.ok and self.rest[:1] in (".", ",")):
            return self._fail()
        if digits is None:
            width = 1
            while self.rest[width:width + 1].isdigit():
                width += 1
            self.rest = self.rest[width:]
            return True
        text = self.rest[1:1 + digits]
        sign, number = (text[:1], text[1:]) if text[:1] in ("+", "-") else ("", text)
        if len(text) != digits or not number.isdigit() or (sign == "-" and int(number) != 0):
            return self._fail()
        self.rest = self.rest[1 + digits:]
        return True

    def zone(self):
        """Go's Z07:00: 'Z', or a sign, two-digit hours (up to 24), ':' and two-digit minutes (up to 60)."""
        if not self.ok:
            return False
        if self.rest[:1] == "Z":
            self.rest = self.rest[1:]
            return True
        text = self.rest[:6]
        if len(text) < 6 or text[0] not in "+-" or text[3] != ":" or not (text[1:3] + text[4:6]).isdigit():
            return bool(self._fail())
        if int(text[1:3]) > 24 or int(text[4:6]) > 60:
            return bool(self._fail())
        self.rest = self.rest[6:]
        return True
