"""YAML values JSON cannot carry, turned into what kubectl sends.

kubectl converts YAML to JSON with sigs.k8s.io/yaml (go-yaml v2): an unquoted date or timestamp
stays the text it was written as (``release-date: 2024-05-01`` is the string ``"2024-05-01"``),
map keys become strings (``1`` -> ``"1"``, ``true`` -> ``"true"``, ``2.50`` -> ``"2.5"``) and a
``!!binary`` value becomes its decoded text. Anything else JSON cannot hold (NaN, sets, binary that is
not text) is a problem naming the path, never a crash later when the object is serialised.
"""

from __future__ import annotations

import math
from decimal import Decimal

try:
    import yaml

    _BASE = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

    class KubectlLoader(_BASE):  # pylint: disable=too-many-ancestors
        """The safe loader, with timestamps kept as the text they were written as."""

    KubectlLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
except ImportError:  # reported by the module through missing_required_lib
    KubectlLoader = None


def jsonable(value, path="", problems=None):
    """(value as kubectl would send it, problems as ``path: reason`` texts)."""
    problems = [] if problems is None else problems
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = _key(key)
            if name is None:
                problems.append(f"{path or '.'}: a {type(key).__name__} map key ({key!r}) has no JSON form; quote it")
                continue
            out[name] = jsonable(item, f"{path}.{name}", problems)[0]
        return out, problems
    if isinstance(value, list):
        return [jsonable(item, f"{path}[{index}]", problems)[0] for index, item in enumerate(value)], problems
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8"), problems
        except UnicodeDecodeError:
            problems.append(f"{path}: a !!binary value that is not UTF-8 text; write its base64 text as a string")
    elif isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{path}: {value!r} has no JSON form")
    elif value is None or isinstance(value, (str, bool, int, float)):
        return value, problems
    else:
        problems.append(f"{path}: a {type(value).__name__} value has no JSON form")
    return None, problems


def _key(key):
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float) and math.isfinite(key):
        return go_float(key)
    return None


def go_float(number):
    """Go's ``strconv.FormatFloat(number, 'g', -1, 64)``: the shortest text, exponent form from 1e+06."""
    if number == 0:
        return "-0" if math.copysign(1, number) < 0 else "0"
    sign, digits, exponent = Decimal(repr(number)).normalize().as_tuple()
    text = "".join(map(str, digits))
    point = len(text) + exponent  # position of the decimal point in ``text``
    minus = "-" if sign else ""
    if not -4 <= point - 1 < 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if point - 1 < 0 else '+'}{abs(point - 1):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"
