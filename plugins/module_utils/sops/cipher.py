"""The SOPS value cipher: ``ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`` strings.

Each value is AES-256-GCM encrypted with the document's data key; the additional authenticated
data is the path of mapping keys leading to it, joined and terminated by ``:``, so a value moved
to another key no longer decrypts.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass
from decimal import Decimal

from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import MissingLibrary, SopsError

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:  # reported when a value is decrypted
    AESGCM = None
    InvalidTag = None

_ENC_RE = re.compile(r"^ENC\[AES256_GCM,data:(.*),iv:(.+),tag:(.+),type:(.+)\]$")
VALUE_TYPES = ("str", "int", "int64", "float", "bool", "time", "comment", "bytes")


@dataclass(frozen=True)
class Comment:
    """A comment of the document (YAML, INI, dotenv); encrypted like a value but never in the MAC."""

    value: str


class Timestamp(str):
    """A YAML timestamp, kept as the RFC 3339 text sops writes for it."""


@dataclass(frozen=True)
class EncryptedValue:
    data: bytes
    iv: bytes
    tag: bytes
    value_type: str


def parse_enc(text, where="value"):
    """Parse an ``ENC[...]`` string; a malformed one raises without echoing it."""
    match = _ENC_RE.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise SopsError(f"{where}: not a valid SOPS encrypted value (corrupted ENC[] field)")
    try:
        data, iv, tag = (base64.b64decode(part, validate=True) for part in match.group(1, 2, 3))
    except (binascii.Error, ValueError):
        raise SopsError(f"{where}: corrupted ENC[] field (bad base64)") from None
    if match.group(4) not in VALUE_TYPES:
        raise SopsError(f"{where}: unknown SOPS value type {match.group(4)!r}")
    if len(tag) != 16 or not 8 <= len(iv) <= 128:
        raise SopsError(f"{where}: corrupted ENC[] field (bad iv or tag length)")
    return EncryptedValue(data, iv, tag, match.group(4))


def aad_for_path(path):
    """The additional data sops binds to a value: its mapping keys joined by ':' plus a final ':'."""
    return ":".join(path) + ":"


def decrypt_enc(enc, key, aad, where="value"):
    """Decrypt a parsed value and convert it to its Python type."""
    if AESGCM is None:
        raise MissingLibrary("cryptography")
    try:
        raw = AESGCM(key).decrypt(enc.iv, enc.data + enc.tag, aad.encode("utf-8"))
    except InvalidTag:
        raise SopsError(f"{where}: authentication failed (the value was tampered with or the data key is wrong)") \
            from None
    return convert(raw, enc.value_type, where)


def decrypt_value(text, key, aad, where="value"):
    """Decrypt one ``ENC[...]`` string; an empty string stays empty, as sops never encrypts it."""
    if text == "":
        return ""
    return decrypt_enc(parse_enc(text, where), key, aad, where)


def convert(raw, value_type, where="value"):
    if value_type == "bytes":
        return raw
    try:
        # Binary files are str values holding arbitrary bytes: keep them recoverable.
        text = raw.decode("utf-8", errors="surrogateescape")
        if value_type == "str":
            return text
        if value_type in ("int", "int64"):
            return int(text)
        if value_type == "float":
            return float(text)
        if value_type == "bool":
            return parse_go_bool(text)
        if value_type == "time":
            return Timestamp(text)
        return Comment(text)
    except ValueError:
        raise SopsError(f"{where}: decrypted value does not match its declared type {value_type}") from None


def parse_go_bool(text):
    """Go's strconv.ParseBool, which sops uses for bool values."""
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ValueError("not a bool")


def go_float(value):
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent."""
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)).normalize(), "f")
    return "-0" if text == "0" and str(value).startswith("-") else text


def mac_bytes(value):
    """The bytes sops feeds into the MAC for one plaintext value (sops.ToBytes)."""
    if isinstance(value, bool):
        return b"True" if value else b"False"
    if isinstance(value, bytes):
        return value
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, float):
        return go_float(value).encode()
    return str(value).encode("utf-8", errors="surrogateescape")
