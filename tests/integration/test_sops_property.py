"""Differential property tests against the real sops binaries (3.13.3 and 3.7.3).

Generated documents mix clear-text and encrypted values of every scalar type and spelling sops' stores
know (YAML 1.1 vs go-yaml's YAML 1.2: timestamps, yes/no/on/off, octal, 0x, underscores, .inf/.nan,
-0.0, big integers, merge keys, anchors; JSON numbers; dotenv and INI strings with newlines, quotes,
comment characters), in every store, encrypted with age, PGP or Shamir key groups under every rule,
then modified by `sops set`, `sops rotate`, `sops updatekeys`, an old metadata version, a removed MAC
(read with verify_mac off / --ignore-mac) or an age key file with a post-quantum line. The property:
our decryption equals `sops -d` (data and value kinds), and we refuse exactly when sops refuses; a
tampered file is refused by both, and our message holds no plaintext.

Seeded and bounded: TRIDENT_FUZZ_SOPS_EXAMPLES (per test; `make fuzz-sops` raises it) and
TRIDENT_FUZZ_SOPS_SEED choose how many examples and which.
"""

import base64
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, seed, settings
from hypothesis import strategies as st

from sops_helpers import encrypt, expected_data, ours, post_quantum_identity

from testbed.keys import age_identity
from testbed.sops import SopsError as SopsBinaryError
from testbed.sops import sops as sops_run

from ansible_collections.trident.gitops.plugins.module_utils.sops.cipher import Timestamp
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.goyaml import resolve_plain
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import Branch
from ansible_collections.trident.gitops.plugins.module_utils.sops.yamltree import load_yaml

EXAMPLES = int(os.environ.get("TRIDENT_FUZZ_SOPS_EXAMPLES", "0"))
SEED = int(os.environ.get("TRIDENT_FUZZ_SOPS_SEED", "20261202"))


def fuzz(default):
    """Seeded, bounded hypothesis settings (no example database: CI runs the same examples)."""
    def wrap(test):
        return seed(SEED)(settings(max_examples=EXAMPLES or default, deadline=None, database=None,
                                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                          HealthCheck.filter_too_much])(test))
    return wrap


# ---------------------------------------------------------------- scalar spellings (YAML plain scalars)

def _timestamp(year, month, day, time, sep, frac, zone):
    text = f"{year:04d}-{month}-{day}"
    if time is not None:
        text += f"{sep}{time[0]}:{time[1]:02d}:{time[2]:02d}{frac}{zone}"
    return text


TIMESTAMPS = st.builds(
    _timestamp, st.integers(1, 2099), st.sampled_from([1, "01", 2, "02", 12, 13]),
    st.sampled_from([1, "01", 28, 29, 30, 31]),
    st.none() | st.tuples(st.sampled_from(["3", "03", "23", "24"]), st.integers(0, 59), st.integers(0, 59)),
    st.sampled_from(["T", "t", " ", "  "]), st.sampled_from(["", ".5", ".120", ",25", ".1234567891"]),
    st.sampled_from(["", "Z", "+01:00", "-05:30", "+00:00", "+0100", " +01:00", "-5", " Z", "+05:60"]))


def _int_spelling(value, style, sign, underscore):
    digits = {"dec": f"{abs(value)}", "hex": f"0x{abs(value):x}", "HEX": f"0X{abs(value):X}",
              "oct": f"0o{abs(value):o}", "legacy_oct": f"0{abs(value):o}", "bin": f"0b{abs(value):b}"}[style]
    if underscore and len(digits) > 3:
        digits = digits[:3] + "_" + digits[3:]
    return ("-" if value < 0 else sign) + digits


INTS = st.builds(_int_spelling, st.integers(-(2 ** 66), 2 ** 66) | st.integers(-300, 300),
                 st.sampled_from(["dec", "dec", "hex", "HEX", "oct", "legacy_oct", "bin"]),
                 st.sampled_from(["", "+"]), st.booleans())
FLOATS = (st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr)
          | st.sampled_from([".5", "1.", "1e3", "1E-3", "-0.0", "0.0", "1_000.5", "08", "09.5", "1e400", "1e-400",
                             ".inf", "-.Inf", "+.INF", ".nan", ".NaN", "-.nan", "6.02e+23", "1.7976931348623157e308"]))
WORDS = st.sampled_from(["yes", "no", "on", "off", "y", "n", "Y", "N", "True", "TRUE", "tRUE", "false", "FALSE", "~",
                         "null", "Null", "NULL", "<<", "0x", "1:20", "1,5", "inf", "nan", "-", "+", "."])
PLAIN_TEXT = st.from_regex(r"\A[a-zA-Z][a-zA-Z0-9 _./-]{0,15}[a-zA-Z0-9]\Z")
QUOTED = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20).map(
    lambda text: json.dumps(text, ensure_ascii=False))
YAML_SCALARS = TIMESTAMPS | INTS | FLOATS | WORDS | PLAIN_TEXT | QUOTED | st.just("")
# sops 3.7 cannot walk a YAML time at all (it refuses to encrypt one): its documents hold none.
YAML_SCALARS_37 = INTS | FLOATS | WORDS | PLAIN_TEXT | QUOTED | st.just("")

# Key names that the rules below match or miss.
KEYS = st.sampled_from(["data", "stringData", "meta", "u_x", "k_enc", "k_plain", "k_unencrypted", "name",
                        "password", "spec", "n1_unencrypted", "port"]) | st.from_regex(r"\A[a-z][a-z0-9_]{0,8}\Z")
COMMENTS = st.sampled_from(["", "", "# note", "# sops:enc", "# sops:clear"])


# ---------------------------------------------------------------- documents per store

@dataclass
class Rule:
    name: str
    flags: tuple
    versions: tuple = ("sops", "sops-3.7")


RULES = [
    Rule("default", ()),
    Rule("flux", ("--encrypted-regex", "^(data|stringData)$")),
    Rule("unencrypted_regex", ("--unencrypted-regex", "^(u_|meta|port)")),
    Rule("encrypted_suffix", ("--encrypted-suffix", "_enc")),
    Rule("unencrypted_suffix", ("--unencrypted-suffix", "_plain")),
    Rule("encrypted_comment", ("--encrypted-comment-regex", "sops:enc"), ("sops",)),
    Rule("unencrypted_comment", ("--unencrypted-comment-regex", "sops:clear"), ("sops",)),
    Rule("mac_only_encrypted", ("--mac-only-encrypted",), ("sops",)),
    Rule("mac_only_flux", ("--mac-only-encrypted", "--encrypted-regex", "^(data|stringData)$"), ("sops",)),
]


@st.composite
def yaml_documents(draw, scalars):
    """YAML text built line by line, so that every spelling reaches sops as written."""
    lines = []

    def scalar():
        return draw(scalars)

    for key in draw(st.lists(KEYS, min_size=1, max_size=7, unique=True)):
        comment = draw(COMMENTS)
        if comment:
            lines.append(comment)
        shape = draw(st.sampled_from(["scalar", "scalar", "map", "list"]))
        if shape == "scalar":
            lines.append(f"{key}: {scalar()}".rstrip())
        elif shape == "map":
            lines.append(f"{key}:")
            for inner in draw(st.lists(KEYS, min_size=1, max_size=3, unique=True)):
                lines.append(f"    {inner}: {scalar()}".rstrip())
        else:
            lines.append(f"{key}:")
            lines.extend(f"    - {scalar()}".rstrip() for _item in range(draw(st.integers(1, 3))))
    if draw(st.booleans()):  # an anchor, an alias and a merge key (sops keeps "<<" as a plain key)
        lines += ["base_plain: &anchor", f"    a: {scalar()}".rstrip(), f"    b: {scalar()}".rstrip(),
                  "merged_plain:", "    <<: *anchor", f"    c: {scalar()}".rstrip(), "alias_plain: *anchor"]
    return "\n".join(lines) + "\n"


# Leaves as JSON text: numbers spelled as generated (big integers, exponents, -0), other values encoded.
JSON_LEAVES = (st.text(max_size=12).map(json.dumps) | st.sampled_from(["true", "false", "null"])
               | st.integers(-(2 ** 70), 2 ** 70).map(str)
               | st.floats(allow_nan=False, allow_infinity=False).map(repr).filter(lambda t: "e" not in t or "." in t)
               | st.sampled_from(["1.0", "1e2", "-0", "-0.0", "9223372036854775808", "-9223372036854775809",
                                  "1E+400", "0.1e-5"]))


@st.composite
def json_documents(draw):
    def encode(value):
        if isinstance(value, dict):
            return "{" + ", ".join(f"{json.dumps(k)}: {encode(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list):
            return "[" + ", ".join(encode(v) for v in value) + "]"
        return value

    nested = st.recursive(JSON_LEAVES, lambda c: st.lists(c, max_size=3) | st.dictionaries(KEYS, c, max_size=3),
                          max_leaves=8)
    tree = draw(st.dictionaries(KEYS, nested, min_size=1, max_size=6))
    return encode(tree)


FLAT_VALUES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=16) | \
    st.sampled_from(["a;b", "x # y", " padded ", "`tick`", '"quoted"', "'single'", "line\nbreak", "a\\nb",
                     "trailing\\", "p\u2028q", "r\rn", "ENC[x]", "=eq", "k: v"])
ENV_KEYS = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,8}\Z") | st.sampled_from(["data", "K_unencrypted", "K_enc"])


@st.composite
def dotenv_documents(draw):
    entries = draw(st.dictionaries(ENV_KEYS, FLAT_VALUES.filter(lambda v: "\n" not in v or "\\n" not in v),
                                   min_size=1, max_size=6))
    lines = []
    for key, value in entries.items():
        comment = draw(COMMENTS)
        if comment:
            lines.append(comment)
        lines.append(f"{key}={value.replace(chr(10), chr(92) + 'n')}")
    return "\n".join(lines) + "\n"


INI_KEYS = st.from_regex(r"\A[a-z][a-z0-9_.]{0,8}\Z") | st.sampled_from(["data", "k_unencrypted", "k_enc"])


@st.composite
def ini_documents(draw):
    """INI written the way go-ini writes values (sops reads and writes them with go-ini)."""
    from ansible_collections.trident.gitops.plugins.module_utils.sops.goini import quote_value
    sections = draw(st.dictionaries(st.from_regex(r"\A[a-z][a-z0-9 _-]{0,8}[a-z0-9]\Z"),
                                    st.dictionaries(INI_KEYS, FLAT_VALUES.filter(
                                        lambda v: not ('"""' in v or v.endswith('"') and "\n" in v
                                                       or "\r" in v)), min_size=1, max_size=4),
                                    min_size=1, max_size=3))
    lines = []
    for name, entries in sections.items():
        lines.append(f"[{name}]")
        for key, value in entries.items():
            comment = draw(COMMENTS).replace("#", ";")
            if comment:
                lines.append(comment)
            lines.append(f"{key} = {quote_value(value)}")
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- keys, encryption, modifications

@dataclass
class Keys:
    directory: Path
    age1: object
    age2: object
    pgp: str
    gnupghome: Path
    pq_line: str


@pytest.fixture(scope="module")
def keys(tmp_path_factory, age_key, gnupg_home):
    directory = tmp_path_factory.mktemp("sops-property-keys")
    return Keys(directory, age_key, age_identity(directory / "age2"), gnupg_home.keys[0].fingerprint,
                gnupg_home.path, _post_quantum_identity_line())


def _post_quantum_identity_line():
    """A well-formed AGE-SECRET-KEY-PQ-1 line (any 32-byte seed is a valid hybrid identity)."""
    return post_quantum_identity(bytes(range(7, 39)))[0]


KEY_SETUPS = ["age", "pgp", "shamir"]


def _key_flags(setup, keys, directory, binary):
    if setup == "age":
        return ["--age", keys.age1.public]
    if setup == "pgp":
        return ["--pgp", keys.pgp]
    # Three groups, any two of which recover the data key; we hold the keys of groups 1 and 2.
    (Path(directory) / ".sops.yaml").write_text(yaml.safe_dump({"creation_rules": [{
        "shamir_threshold": 2,
        "key_groups": [{"age": [keys.age1.public]}, {"pgp": [keys.pgp]}, {"age": [keys.age2.public]}]}]}))
    return []


MODIFICATIONS = ["none", "set", "rotate", "updatekeys", "old_version", "no_mac", "pq_key_line"]


def _modify(how, path, fmt, keys, env_key_file, set_value):
    """Apply one modification; returns (verify, age key file to decrypt with)."""
    def run(*args):
        sops_run(*args, gnupghome=keys.gnupghome, age_key_file=env_key_file, cwd=path.parent)

    if how == "set":
        index = {"ini": '["extra"]["k_set"]', "dotenv": '["K_SET"]'}.get(fmt, '["k_set"]')
        run("set", "--input-type", fmt, "--output-type", fmt, path.name, index, json.dumps(set_value))
    elif how == "rotate":
        run("rotate", "-i", "--input-type", fmt, "--output-type", fmt, "--add-age", keys.age2.public, path.name)
    elif how == "updatekeys":
        (path.parent / ".sops.yaml").write_text(yaml.safe_dump({"creation_rules": [{
            "age": f"{keys.age1.public},{keys.age2.public}", "pgp": keys.pgp}]}))
        run("updatekeys", "-y", "--input-type", fmt, path.name)
    elif how == "old_version":
        path.write_text(re.sub(r"(version[\"']?\s*[:=]\s*)[\"']?3\.[0-9.]+[\"']?", r"\g<1>1.7", path.read_text()))
    elif how == "no_mac":
        path.write_text(_without_mac(path.read_text(), fmt))
        return False, env_key_file
    elif how == "pq_key_line":
        key_file = path.parent / "keys-with-pq.txt"
        key_file.write_text(f"# a post-quantum identity first\n{keys.pq_line}\n{Path(env_key_file).read_text()}")
        return True, key_file
    return True, env_key_file


def _without_mac(text, fmt):
    patterns = {"yaml": r"\n\s*mac: [^\n]*", "json": r',?\s*"mac": "[^"]*"', "dotenv": r"\nsops_mac=[^\n]*",
                "ini": r"\nmac\s*=[^\n]*"}
    return re.sub(patterns[fmt], "", text, count=1)


# ---------------------------------------------------------------- comparing with sops -d

def kinds(value):
    """Data with every leaf as (kind, value): numbers compare by value (sops prints 1.0 as 1), NaN equals NaN."""
    if isinstance(value, Branch):
        return {key: kinds(child) for key, child in value if isinstance(key, str)}
    if isinstance(value, dict):
        return {key: kinds(child) for key, child in value.items()}
    if isinstance(value, list):
        return [kinds(child) for child in value if not type(child).__name__ == "Comment"]
    if isinstance(value, bool) or value is None:
        return ("const", value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return ("number", "nan")
        # Go's JSON prints a float64 below 1e21 without exponent (5e16 as 50000000000000000): by value.
        # Exact typing is the MAC's business (clear values) and the ENC type's (encrypted ones).
        return ("number", float(value))
    if isinstance(value, Timestamp):
        return ("time", str(value))
    if isinstance(value, bytes):
        return ("str", value.decode("utf-8", errors="replace"))
    return ("str", str(value))


def sops_view(path, fmt, verify, key_file, keys, binary="sops"):
    """What `sops -d` returns, typed: YAML through its own YAML output (it keeps kinds: go-yaml quotes a
    string that would read as another type), the others through its JSON output."""
    extra = () if verify else ("--ignore-mac",)
    if fmt == "yaml":
        out = sops_run("decrypt", *extra, "--input-type", "yaml", "--output-type", "yaml", path.name, binary=binary,
                       gnupghome=keys.gnupghome, age_key_file=key_file, cwd=path.parent)
        documents = load_yaml(out.decode())
        return kinds(documents[0] if documents else Branch())
    out = sops_run("decrypt", *extra, "--input-type", fmt, "--output-type", "json", path.name, binary=binary,
                   gnupghome=keys.gnupghome, age_key_file=key_file, cwd=path.parent)
    data = json.loads(out)
    if fmt == "ini" and data.get("DEFAULT") == {}:
        del data["DEFAULT"]
    return kinds(data)


def check_same_as_sops(path, fmt, verify, key_file, keys):
    try:
        expected = sops_view(path, fmt, verify, key_file, keys)
    except SopsBinaryError:
        expected = None
    try:
        document = ours(path, fmt, verify=verify, age_key_file=str(key_file), gnupg_home=str(keys.gnupghome))
    except SopsError as exc:
        assert expected is None, f"sops decrypts {path.name} but we refuse it: {exc.message}\n{path.read_text()}"
        return
    assert expected is not None, f"sops refuses {path.name} but we decrypt it\n{path.read_text()}"
    got = kinds(document.branches[0]) if document.branches else {}
    assert got == expected, path.read_text()


def _encrypt_or_none(directory, name, text, flags, binary, keys):
    """The file sops encrypted; None when sops refuses the document (e.g. an unencrypted comment that
    matches its own rule): nothing to compare then."""
    try:
        return encrypt(directory, name, text, *flags, binary=binary, gnupghome=keys.gnupghome)
    except SopsBinaryError:
        return None


SET_VALUES = st.text(max_size=8) | st.integers(-5, 5) | st.booleans() | st.floats(-10, 10)


def run_case(keys, fmt, text, rule, setup, modification, binary, set_value):
    """Encrypt, modify, compare; False when sops itself refuses to make the file (nothing to compare)."""
    # sops 3.7 panics writing a Shamir threshold into dotenv or INI metadata: it never wrote such files.
    if binary == "sops-3.7" and fmt in ("dotenv", "ini") and setup == "shamir":
        return False
    with tempfile.TemporaryDirectory(dir=keys.directory) as directory:
        flags = [*_key_flags(setup, keys, directory, binary), *rule.flags]
        path = _encrypt_or_none(directory, f"doc.{ {'dotenv': 'env'}.get(fmt, fmt)}", text, flags, binary, keys)
        if path is None:
            return False
        try:
            verify, key_file = _modify(modification, path, fmt, keys, keys.age1.path, set_value)
        except SopsBinaryError:
            # sops cannot decrypt the file it just wrote (e.g. a clear -0.0 it writes as -0, an int):
            # then the unmodified file is what we must refuse as well.
            verify, key_file = True, keys.age1.path
        check_same_as_sops(path, fmt, verify, key_file, keys)
    return True


CASES = st.tuples(st.sampled_from(RULES), st.sampled_from(KEY_SETUPS), st.sampled_from(MODIFICATIONS), SET_VALUES)


@pytest.mark.slow
@fuzz(default=40)
@given(text=yaml_documents(YAML_SCALARS), case=CASES)
def test_yaml_like_sops_3_13(keys, text, case):
    rule, setup, modification, set_value = case
    assume(run_case(keys, "yaml", text, rule, setup, modification, "sops", set_value))


@pytest.mark.slow
@fuzz(default=15)
@given(text=yaml_documents(YAML_SCALARS_37), case=CASES.filter(lambda c: "sops-3.7" in c[0].versions))
def test_yaml_written_by_sops_3_7(keys, text, case):
    rule, setup, modification, set_value = case
    assume(run_case(keys, "yaml", text, rule, setup, modification, "sops-3.7", set_value))


@pytest.mark.slow
@fuzz(default=20)
@given(text=json_documents(), case=CASES, binary=st.sampled_from(["sops", "sops-3.7"]))
def test_json_like_sops(keys, text, case, binary):
    rule, setup, modification, set_value = case
    assume(binary in rule.versions)
    assume(run_case(keys, "json", text, rule, setup, modification, binary, set_value))


@pytest.mark.slow
@fuzz(default=20)
@given(text=dotenv_documents(), case=CASES, binary=st.sampled_from(["sops", "sops-3.7"]))
def test_dotenv_like_sops(keys, text, case, binary):
    rule, setup, modification, set_value = case
    assume(binary in rule.versions)
    assume(run_case(keys, "dotenv", text, rule, setup, modification, binary, set_value))


@pytest.mark.slow
@fuzz(default=20)
@given(text=ini_documents(), case=CASES, binary=st.sampled_from(["sops", "sops-3.7"]))
def test_ini_like_sops(keys, text, case, binary):
    rule, setup, modification, set_value = case
    assume(binary in rule.versions)
    assume(run_case(keys, "ini", text, rule, setup, modification, binary, set_value))


TAMPER_TARGETS = ["value", "mac", "lastmodified", "clear"]


@pytest.mark.slow
@fuzz(default=15)
@given(text=yaml_documents(PLAIN_TEXT), target=st.sampled_from(TAMPER_TARGETS), where=st.integers(0, 10 ** 6),
       fmt=st.sampled_from(["yaml", "json"]))
def test_tampered_files_are_refused_like_sops_without_plaintext(keys, text, target, where, fmt):
    data = yaml.safe_load(text)
    plain = json.dumps(data) if fmt == "json" else text
    with tempfile.TemporaryDirectory(dir=keys.directory) as directory:
        flags = ["--age", keys.age1.public, "--unencrypted-regex", "^(meta|u_)"]
        path = _encrypt_or_none(directory, f"doc.{fmt}", plain, flags, "sops", keys)
        assume(path is not None)
        tampered = _tamper(path.read_text(), target, where)
        assume(tampered is not None)
        path.write_text(tampered)
        with pytest.raises(SopsBinaryError):
            sops_view(path, fmt, True, keys.age1.path, keys)
        with pytest.raises(SopsError) as info:
            ours(path, fmt, age_key_file=str(keys.age1.path))
    secrets = re.findall(r": (\S{4,})$", text, re.MULTILINE)
    assert not any(secret in str(info.value) for secret in secrets), info.value


def _tamper(text, target, where):
    """Flip one character of an encrypted value, of the MAC, of lastmodified or of a clear value."""
    # A tampered encrypted comment is no error to sops (it keeps it as clear text): values only.
    patterns = {"value": r":\s\"?ENC\[AES256_GCM,data:([A-Za-z0-9+/]{2,})", "mac": r"mac\"?: \"?ENC\[AES256_GCM,data:([^,]+)",
                "lastmodified": r"lastmodified\"?: [\"']?\d{4}-\d\d-\d\dT\d\d:(\d\d)", "clear": r"(?:meta|u_\w*)\"?: \"?(\w+)"}
    spans = [m.span(1) for m in re.finditer(patterns[target], text)]
    if not spans:
        return None
    start, end = spans[where % len(spans)]
    position = start + where % (end - start)
    old = text[position]
    new = {"0": "1"}.get(old, "0") if old.isdigit() else ("B" if old != "B" else "C")
    if target in ("value", "mac") and _base64_bytes(text[start:end]) == _base64_bytes(
            text[start:position] + new + text[position + 1:end]):
        return None  # only the unused low bits of the last character changed: the same bytes, no tampering
    return text[:position] + new + text[position + 1:]


def _base64_bytes(data):
    """The bytes Go's (and Python's) lenient base64 decoding gives; None when it is no base64."""
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4))
    except ValueError:
        return None


# ---------------------------------------------------------------- arbitrary Unicode keys and values (PyYAML dump)

# sops refuses to encrypt a YAML key go-yaml reads as no string (e.g. 0E0, a float in YAML 1.2, which PyYAML's
# YAML 1.1 dump leaves unquoted): such a file cannot exist, so it is no example.
UNICODE_KEYS = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda key: key != "sops" and isinstance(resolve_plain(key), str))
UNICODE_SCALARS = (st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
                   | st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1)
                   | st.floats(allow_nan=False, allow_infinity=False) | st.booleans() | st.none())
UNICODE_VALUES = st.recursive(UNICODE_SCALARS, lambda children: st.lists(children, max_size=4)
                              | st.dictionaries(UNICODE_KEYS, children, max_size=4), max_leaves=12)
UNICODE_DOCUMENTS = st.dictionaries(UNICODE_KEYS, UNICODE_VALUES, min_size=1, max_size=6)


def numbers_as_floats(value):
    """sops prints floats without exponent (Go 'f' format), so 6.3e16 comes back as an integer
    literal; compare numbers by value, everything else exactly."""
    if isinstance(value, dict):
        return {key: numbers_as_floats(child) for key, child in value.items()}
    if isinstance(value, list):
        return [numbers_as_floats(child) for child in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


@pytest.mark.slow
@fuzz(default=15)
@given(document=UNICODE_DOCUMENTS, fmt=st.sampled_from(["json", "yaml"]))
def test_random_documents_decrypt_like_sops(age_key, document, fmt):
    text = json.dumps(document) if fmt == "json" else yaml.safe_dump(document, allow_unicode=True)
    with tempfile.TemporaryDirectory() as directory:
        path = encrypt(directory, f"doc.{fmt}", text, "--age", age_key.public)
        expected = expected_data(path, fmt, age_key_file=age_key.path)
        assert numbers_as_floats(ours(path, age_key_file=str(age_key.path)).data) == numbers_as_floats(expected)


# ---------------------------------------------------------------- named regression cases (the classes)

RULE = {rule.name: rule for rule in RULES}
REGRESSIONS = {
    # Class 2: clear-text YAML timestamps go-yaml keeps as strings (PyYAML's YAML 1.1 made times of them).
    "yaml_timestamp_spellings_kept_as_strings": (
        "yaml", "a_unencrypted: 2001-12-14 21:59:43.10 -5\nb_unencrypted: 2001-12-14T21:59:43+0100\n"
                "c_unencrypted: 2001-12-14 21:59:43 +01:00\nd_unencrypted: 2001-12-14T21:59:43\n"
                "e_unencrypted: 2001-12-14 21:59:43.10\nf_unencrypted: 2001-12-14t21:59:43,5Z\nsecret: x\n",
        "default", "age", "none", "sops"),
    "yaml_yaml11_words_and_numbers_in_clear": (
        "yaml", "a_unencrypted: yes\nb_unencrypted: off\nc_unencrypted: 0o17\nd_unencrypted: +0x80\n"
                "e_unencrypted: 1_000\nf_unencrypted: 08\ng_unencrypted: 1e400\nh_unencrypted: -0.0\n"
                "i_unencrypted: .inf\nj_unencrypted: -.nan\nk_unencrypted: 99999999999999999999\n"
                "l_unencrypted: 017\nm_unencrypted: 0b101\nsecret: 0X1F\n",
        "default", "pgp", "none", "sops"),
    "yaml_flux_rule_with_merge_keys_and_anchors": (
        "yaml", "metadata:\n    labels: &l\n        on: off\n        at: 2024-1-2\nspec:\n    <<: *l\n"
                "    extra: *l\ndata:\n    token: 0x10\n",
        "flux", "shamir", "rotate", "sops"),
    # Class 1: files kept up to date since sops 1.x/2.x carry the old version string.
    "old_metadata_version": ("json", '{"a": 1, "b": "x"}', "default", "age", "old_version", "sops"),
    # Class 3: INI values sops writes as go-ini triple-quoted, back-quoted and double-quoted values.
    "ini_triple_quoted_and_quoted_values": (
        "ini", '[s]\nmulti = """one\ntwo"""\nsemi = `a;b#c`\npad = " x "\nk_unencrypted = """clear\nlines"""\n',
        "default", "age", "set", "sops"),
    # Class 4: a file without a MAC, read with verify_mac off like sops --ignore-mac.
    "no_mac_read_with_verify_mac_off": ("yaml", "a: 1\nb_unencrypted: yes\n", "default", "age", "no_mac", "sops"),
    # Class 5: a post-quantum identity line before the identity that decrypts.
    "post_quantum_line_in_the_key_file": ("dotenv", "A=1\nB=two\n", "default", "age", "pq_key_line", "sops"),
    # Found by the generators: dotenv values holding a carriage return or U+2028 (old code split lines on them).
    "dotenv_line_separators_stay_in_values": ("dotenv", "A=x\ry\nB=p\u2028q\nC=a\\nb\n", "default", "age", "none",
                                              "sops"),
    # Found by the generators: Go's TrimSpace keeps U+001F (Python's strip removed it: MAC mismatch).
    "ini_value_with_a_unit_separator": ("ini", '[s]\nk_unencrypted = "\x1fx"\ndata = "\x1cy"\n', "flux", "age", "none",
                                        "sops-3.7"),
    # Found by the generators: sops writes a clear -0.0 as -0, which reads back as the int 0: sops cannot
    # decrypt its own file (MAC mismatch), and neither do we.
    "yaml_clear_negative_zero_refused_like_sops": ("yaml", "a_enc: 1\nb: -0.0\n", "encrypted_suffix", "pgp", "rotate",
                                                   "sops"),
    "ini_written_by_sops_3_7": ("ini", '[s]\nmulti = """one\ntwo"""\nsemi = `a;b`\n', "default", "pgp", "updatekeys",
                                "sops-3.7"),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regression_case_like_sops(keys, name):
    fmt, text, rule, setup, modification, binary = REGRESSIONS[name]
    assert run_case(keys, fmt, text, RULE[rule], setup, modification, binary, "set value"), "sops refused it"


def test_ini_multiline_enc_as_sops_3_13_0_wrote_it(keys):
    """sops 3.13.0/3.13.1 wrote the multi-line enc of age/PGP keys as go-ini triple-quoted values; 3.13.3
    escapes the newlines. Both read the same; so do we."""
    with tempfile.TemporaryDirectory(dir=keys.directory) as directory:
        path = encrypt(directory, "old.ini", "[s]\na = 1\n", "--age", keys.age1.public, "--pgp", keys.pgp,
                       gnupghome=keys.gnupghome)
        text = path.read_text()
        assert "\\n" in text
        path.write_text(re.sub(r"^(\S*enc\s*=\s*)(.*)$",
                               lambda m: m.group(1) + '"""' + m.group(2).replace("\\n", "\n") + '"""',
                               text, flags=re.MULTILINE))
        assert '"""-----BEGIN' in path.read_text()
        check_same_as_sops(path, "ini", True, keys.age1.path, keys)
        assert ours(path, "ini", age_key_file=str(keys.age1.path)).data == {"s": {"a": "1"}}
