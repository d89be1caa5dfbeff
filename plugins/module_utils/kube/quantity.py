"""Kubernetes resource quantities spelled the way the API server stores them.

The server keeps a quantity in canonical form (``0.5`` -> ``500m``, ``1024Mi`` -> ``1Gi``) whose
suffix family depends on how it was written: ``1Gi`` and ``1073741824`` are the same amount but are
stored differently, so an apply of one over the other changes the object. The in-sync proof
therefore compares the canonical spelling with the live string, not the amounts. This mirrors
``k8s.io/apimachinery/pkg/api/resource`` (ParseQuantity, CanonicalizeBytes); the differential test
checks it against the server.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_UP, Decimal, InvalidOperation, localcontext

_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?$")
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_BY_EXPONENT = {exponent: suffix for suffix, exponent in _DECIMAL.items()}
_NANO = Decimal("1e-9")


def parse(value):
    """(amount, format) of a quantity given as a string or a JSON number; None if it is not one.

    ``format`` is ``decimal``, ``binary`` or ``exponent``; the amount is rounded up to nano units
    as the server does.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = value.strip() if isinstance(value, str) else json.dumps(value)
    match = _QUANTITY.match(text)
    if not match:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    with localcontext() as context:
        context.prec = 60
        try:
            if suffix[:1] in ("e", "E"):
                amount, fmt = Decimal(number).scaleb(int(suffix[1:])), "exponent"
            elif suffix and suffix in _BINARY:
                amount, fmt = Decimal(number) * (1024 ** _BINARY.index(suffix)), "binary"
            else:
                amount, fmt = Decimal(number).scaleb(_DECIMAL[suffix]), "decimal"
        except (InvalidOperation, ValueError):
            return None
        return amount.quantize(_NANO, rounding=ROUND_UP) if amount.as_tuple().exponent < -9 else amount, fmt


def canonical(value):
    """The string the server stores for ``value``, or None when it is not a quantity."""
    parsed = parse(value)
    if parsed is None:
        return None
    amount, fmt = parsed
    if amount == 0:
        return "0"
    if fmt == "binary" and (abs(amount) < 1024 or amount != amount.to_integral_value()):
        fmt = "decimal"
    if fmt == "binary":
        return _binary(int(amount))
    sign, digits, exponent = amount.normalize().as_tuple()
    mantissa = int("".join(map(str, digits))) * (-1 if sign else 1)
    shift = exponent % 3  # down to a multiple of three, as the server does
    mantissa, exponent = mantissa * 10 ** shift, exponent - shift
    if fmt == "decimal" and exponent in _BY_EXPONENT:
        return f"{mantissa}{_BY_EXPONENT[exponent]}"
    return f"{mantissa}e{exponent}" if exponent else str(mantissa)


def _binary(number):
    power = 0
    while number % 1024 == 0 and power < len(_BINARY) - 1:
        number //= 1024
        power += 1
    return f"{number}{_BINARY[power]}"
