import base64
import hashlib
import math
import os

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.sops import age, shamir
from ansible_collections.trident.gitops.plugins.module_utils.sops.cipher import (
    Comment, Timestamp, aad_for_path, decrypt_value, go_float, mac_bytes, parse_enc,
)
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.keys import KeyOptions, age_identities
from ansible_collections.trident.gitops.plugins.module_utils.sops.metadata import lastmodified_aad, parse_metadata, \
    unflatten
from ansible_collections.trident.gitops.plugins.module_utils.sops.stores import extract, format_from_path, load, \
    parse_extract, render
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import Rules, from_data, should_be_encrypted, \
    to_data
from ansible_collections.trident.gitops.plugins.module_utils.sops.goyaml import (
    BigUnsigned, parse_timestamp, resolve_plain, resolve_tagged,
)

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY = bytes(range(32))


def enc(plaintext, aad, value_type="str", key=KEY):
    """An ENC[] string built with the AES-GCM primitive directly (the sops wire format)."""
    iv = os.urandom(32)
    sealed = AESGCM(key).encrypt(iv, plaintext, aad.encode())
    parts = [base64.b64encode(p).decode() for p in (sealed[:-16], iv, sealed[-16:])]
    return f"ENC[AES256_GCM,data:{parts[0]},iv:{parts[1]},tag:{parts[2]},type:{value_type}]"


@pytest.mark.parametrize("raw,value_type,expected", [
    (b"hello", "str", "hello"), (b"42", "int", 42), (b"-7", "int64", -7), (b"3.25", "float", 3.25),
    (b"True", "bool", True), (b"false", "bool", False), (b"2024-01-02T03:04:05Z", "time", "2024-01-02T03:04:05Z"),
    (b" note", "comment", Comment(" note")), (b"\x00\xff", "bytes", b"\x00\xff"),
])
def test_every_value_type_decrypts_to_its_python_type(raw, value_type, expected):
    value = decrypt_value(enc(raw, "a:b:", value_type), KEY, "a:b:")
    assert value == expected
    assert type(value) is type(expected) or value_type == "time" and isinstance(value, str)


def test_aad_binds_the_value_to_its_path():
    assert aad_for_path(["a", "b"]) == "a:b:"
    assert aad_for_path([]) == ":"
    with pytest.raises(SopsError, match="authentication failed"):
        decrypt_value(enc(b"secret", "a:b:"), KEY, "a:c:")


def test_empty_values_stay_empty():
    assert decrypt_value("", KEY, "a:") == ""


@pytest.mark.parametrize("bad", [
    "ENC[AES256_GCM,data:abc,iv:!!!,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]",
    "ENC[AES256_GCM,data:abc,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]",
    "ENC[AES256_GCM,data:,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAA,type:str]",
    "ENC[AES256_GCM,data:,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:weird]",
    "plain value",
])
def test_corrupted_enc_fields_are_refused_without_echo(bad):
    with pytest.raises(SopsError) as info:
        parse_enc(bad, "['k']")
    assert bad not in str(info.value) and "['k']" in str(info.value)


@pytest.mark.parametrize("value,expected", [
    (1.0, "1"), (0.1, "0.1"), (1e21, "1000000000000000000000"), (1.5e-7, "0.00000015"), (-2.5, "-2.5"),
    (-0.0, "-0"), (float("inf"), "+Inf"), (float("nan"), "NaN"),
])
def test_go_float_formatting(value, expected):
    assert go_float(value) == expected


def test_mac_bytes_follow_sops_to_bytes():
    assert [mac_bytes(v) for v in ("x", 5, 2.0, True, False, b"\x01")] == [b"x", b"5", b"2", b"True", b"False",
                                                                           b"\x01"]


@pytest.mark.parametrize("text,expected", [
    ("2024-01-02", "2024-01-02T00:00:00Z"), ("2024-1-2 3:04:05", "2024-01-02T03:04:05Z"),
    ("2024-01-02T03:04:05.120Z", "2024-01-02T03:04:05.12Z"), ("2024-01-02T03:04:05+02:00", "2024-01-02T03:04:05+02:00"),
    ("2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05Z"), ("2024-01-02t03:04:05,5Z", "2024-01-02T03:04:05.5Z"),
    ("2024-01-02 03:04:05.1234567891", "2024-01-02T03:04:05.123456789Z"), ("2000-2-29", "2000-02-29T00:00:00Z"),
    ("2024-01-02T03:04:05+05:60", "2024-01-02T03:04:05+06:00"),
])
def test_go_timestamps(text, expected):
    assert parse_timestamp(text) == expected and isinstance(resolve_plain(text), Timestamp)


@pytest.mark.parametrize("text", [
    # YAML 1.1 and PyYAML call these timestamps; Go's time.Parse in go-yaml does not (the class).
    "2001-12-14 21:59:43.10 -5", "2001-12-14 21:59:43 +01:00", "2001-12-14T21:59:43+0100", "2001-12-14T21:59:43",
    "2001-12-14T21:59:43-5", "2001-12-14 21:59:43Z", "2001-02-30", "2001-13-01", "2001-12-14T24:00:00Z",
    "01-12-14", "2001-12-14T21:59:60Z", "2001-12-14  21:59:43",
])
def test_spellings_go_yaml_keeps_as_strings(text):
    assert parse_timestamp(text) is None and resolve_plain(text) == text
    assert not isinstance(resolve_plain(text), Timestamp)


@pytest.mark.parametrize("text,expected", [
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("True", True), ("FALSE", False),
    ("tRUE", "tRUE"), ("~", None), ("", None), ("Null", None), ("0o17", 15), ("0O17", 15), ("017", 15), ("08", 8.0),
    ("0x1F", 31), ("0X1f", 31), ("-0x10", -16), ("+12", 12), ("1_000", 1000), ("_1", "_1"), ("0b101", 5),
    ("1_000.5", 1000.5), (".5", 0.5), (".5_0", ".5_0"), ("1e400", "1e400"), ("1e-400", 0.0), ("1.", 1.0),
    ("9223372036854775807", 9223372036854775807), ("-9223372036854775808", -9223372036854775808),
    ("-9223372036854775809", -9223372036854775809.0), ("18446744073709551616", 18446744073709551616.0),
    ("+18446744073709551615", 18446744073709551615.0), ("0x", "0x"), ("1:20", "1:20"), ("12e3", 12000.0),
    ("<<", "<<"), ("-.inf", float("-inf")), ("+.INF", float("inf")), ("-.nan", "-.nan"), ("inf", "inf"),
    ("0x1p3", "0x1p3"), ("1,5", "1,5"), ("-", "-"), ("+", "+"), (".", "."),
])
def test_plain_scalars_resolve_as_go_yaml_does(text, expected):
    value = resolve_plain(text)
    assert value == expected and type(value) is type(expected)


def test_nan_and_negative_zero():
    assert math.isnan(resolve_plain(".NaN"))
    assert math.copysign(1, resolve_plain("-0.0")) == -1 and resolve_plain("-0") == 0
    assert mac_bytes(resolve_plain("-0.0")) == b"-0"


def test_uint64_range_is_refused_as_sops_cannot_walk_it():
    assert isinstance(resolve_plain("18446744073709551615"), BigUnsigned)
    with pytest.raises(SopsError, match=r"\['big'\]: an integer beyond the signed 64-bit range"):
        load("big: 9223372036854775808\n", "yaml")


@pytest.mark.parametrize("tag,text,expected", [
    ("str", "12", "12"), ("int", "12", 12), ("float", "1", 1.0), ("binary", "aGVsbG8=", b"hello"),
    ("timestamp", "2001-12-14", "2001-12-14T00:00:00Z"), ("bool", "true", True), ("null", "~", None),
])
def test_tagged_scalars(tag, text, expected):
    value = resolve_tagged(tag, text)
    assert value == expected and (tag == "timestamp" or type(value) is type(expected))


def test_tagged_scalar_that_go_yaml_cannot_decode_is_refused_in_the_first_document_only():
    with pytest.raises(SopsError, match=r"\['a'\]: a tagged value does not match its tag"):
        load("a: !!int yes\n", "yaml")
    branches = load_branches("a: 1\n---\na: !!bool yes\nb: !custom 12\nc: !!str 12\nd: !!int '12'\n", "yaml")
    assert [to_data(b) for b in branches] == [{"a": 1}, {"a": None, "b": "12", "c": "12", "d": 12}]


@pytest.mark.parametrize("text", ["1: a\n", "true: a\n", "2020-01-01: a\n", "~: a\n", "a:\n  0x1: b\n"])
def test_non_string_keys_are_refused_like_sops(text):
    with pytest.raises(SopsError, match="a mapping key is not a string"):
        load(text, "yaml")


def test_duplicate_keys_are_refused_in_the_first_document():
    with pytest.raises(SopsError, match="mapping key 'a' is defined twice"):
        load("a: 1\n'a': 2\n", "yaml")
    assert to_data(load("a: 1\n---\nb: 1\nb: 2\n", "yaml")[0][1])["b"] == 2


def test_merge_keys_and_anchors_stay_literal_as_in_sops():
    branches = load_branches("base: &b {x: 1}\nuse:\n  <<: *b\n  y: on\nlist: [*b]\n", "yaml")
    assert to_data(branches[0]) == {"base": {"x": 1}, "use": {"<<": {"x": 1}, "y": "on"}, "list": [{"x": 1}]}


RULE_CASES = [
    (Rules(unencrypted_suffix="_unencrypted"), ["a", "b_unencrypted", "c"], False),
    (Rules(unencrypted_suffix="_unencrypted"), ["a"], True),
    (Rules(encrypted_suffix="_secret"), ["x_secret", "y"], True),
    (Rules(encrypted_suffix="_secret"), ["x"], False),
    (Rules(encrypted_regex="^(data|stringData)$"), ["stringData", "password"], True),
    (Rules(encrypted_regex="^(data|stringData)$"), ["metadata", "name"], False),
    (Rules(unencrypted_regex="^name$"), ["metadata", "name"], False),
    (Rules(unencrypted_regex="name"), ["rename_me"], False),  # Go's regexp.Match searches, like re.search
]


@pytest.mark.parametrize("rules,path,expected", RULE_CASES)
def test_path_rules(rules, path, expected):
    assert should_be_encrypted(rules, path, [[]], False) is expected


def test_comment_rules():
    marker = Rules(encrypted_comment_regex="sops:enc")
    assert should_be_encrypted(marker, ["b"], [[" sops:enc"]], False) is True
    assert should_be_encrypted(marker, ["a"], [[]], False) is False
    # The marker comment itself stays in clear text.
    assert should_be_encrypted(marker, [], [[" sops:enc"]], True) is False
    assert should_be_encrypted(Rules(unencrypted_comment_regex="plain"), ["b"], [[" plain"]], False) is False


def _split(secret, threshold, count):
    """Shares as sops lays them out: the polynomial's values, then the x coordinate."""
    shares = []
    coefficients = [os.urandom(threshold - 1) for unused in secret]
    for x in range(1, count + 1):
        ys = []
        for byte, coefs in zip(secret, coefficients):
            y, power = byte, 1
            for c in coefs:
                power = shamir.gf_mul(power, x)
                y ^= shamir.gf_mul(c, power)
            ys.append(y)
        shares.append(bytes(ys) + bytes([x]))
    return shares


def test_gf256_known_values():
    assert shamir.gf_mul(0x57, 0x83) == 0xC1  # FIPS-197 section 4.2
    assert shamir.gf_inverse(0x53) == 0xCA


def test_shamir_any_threshold_subset_recovers_the_secret():
    secret = os.urandom(32)
    shares = _split(secret, 2, 3)
    for pair in ((0, 1), (0, 2), (1, 2)):
        assert shamir.combine([shares[i] for i in pair]) == secret
    assert shamir.combine(_split(secret, 3, 5)[1:4]) == secret


def test_shamir_rejects_bad_shares():
    with pytest.raises(SopsError):
        shamir.combine([b"ab"])
    with pytest.raises(SopsError):
        shamir.combine([b"ab\x01", b"ab\x01"])


def test_bech32_and_identity_parsing():
    # The identity from the age specification's test vectors (age-encryption.org/v1).
    secret = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
    parsed = age.parse_identities(f"# created: x\n\n{secret}\n")
    assert [i.secret for i in parsed.usable] == [bytes([0x42] * 32)] and not parsed.skipped
    damaged = age.parse_identities(secret[:-1] + "Y", "f")
    assert not damaged.usable and damaged.skipped == ("f, line 1: not an age identity (AGE-SECRET-KEY-1...)",)
    assert secret[:20] not in str(damaged.skipped)


def test_unusable_identity_lines_are_skipped_and_the_rest_is_kept():
    secret = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
    text = f"AGE-SECRET-KEY-PQ-1XXXX\nAGE-PLUGIN-YUBIKEY-1XXXX\n{secret}\n"
    parsed = age.parse_identities(text, "keys.txt")
    assert len(parsed.usable) == 1
    assert [note.split(": ", 1)[0] for note in parsed.skipped] == ["keys.txt, line 1", "keys.txt, line 2"]
    assert "not an age identity" in parsed.skipped[0] and "plugin" in parsed.skipped[1]
    assert len(age.parse_identities(f"{secret} {secret}", words=True).usable) == 2


def test_age_header_parsing_and_armor():
    header = (b"age-encryption.org/v1\n-> X25519 " + base64.b64encode(b"\x01" * 32).rstrip(b"=") + b"\n"
              + base64.b64encode(b"\x02" * 32).rstrip(b"=") + b"\n--- " + base64.b64encode(b"\x03" * 32).rstrip(b"=")
              + b"\n" + b"payload")
    parsed = age.parse_header(header)
    assert [(s.type, s.body) for s in parsed.stanzas] == [("X25519", b"\x02" * 32)]
    assert parsed.mac == b"\x03" * 32 and parsed.payload == b"payload"
    assert parsed.mac_input.endswith(b"\n---")
    armored = age.ARMOR_BEGIN + "\n" + base64.b64encode(header).decode() + "\n" + age.ARMOR_END + "\n"
    assert age.dearmor(armored) == header
    with pytest.raises(SopsError, match="truncated"):
        age.dearmor(armored[:-len(age.ARMOR_END) - 2])
    with pytest.raises(SopsError, match="malformed or truncated"):
        age.parse_header(header[:40])


def test_unflatten_dotenv_and_ini_metadata():
    flat = {"age__list_0__map_enc": "E0", "age__list_0__map_recipient": "R0", "age__list_1__map_enc": "E1",
            "key_groups__list_0__map_pgp__list_0__map_fp": "F", "version": "3.13.3"}
    assert unflatten(flat) == {"age": [{"enc": "E0", "recipient": "R0"}, {"enc": "E1"}],
                               "key_groups": [{"pgp": [{"fp": "F"}]}], "version": "3.13.3"}


LASTMODIFIED = "2024-01-02T03:04:05Z"


@pytest.mark.parametrize("version", ["3.13.3", "3.7.3", "2.0.0", "1.7", "", "9.0.0"])
def test_metadata_any_version_and_default_suffix(version):
    """sops has no version check (rotate/updatekeys keep a file's old version string)."""
    meta = parse_metadata({"version": version, "lastmodified": LASTMODIFIED, "mac": "m",
                           "age": [{"recipient": "r", "enc": "e"}]})
    assert meta.rules.unencrypted_suffix == "_unencrypted" and len(meta.key_groups) == 1
    assert meta.version == version
    with pytest.raises(SopsError, match="no master keys"):
        parse_metadata({"version": version, "lastmodified": LASTMODIFIED, "mac": "m"})


@pytest.mark.parametrize("text,aad", [
    ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z"), ("2024-01-02T03:04:05.123Z", "2024-01-02T03:04:05Z"),
    ("2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05Z"), ("2024-01-02T03:04:05-05:30", "2024-01-02T03:04:05-05:30"),
])
def test_lastmodified_is_formatted_again_as_sops_does(text, aad):
    assert lastmodified_aad(text) == aad


@pytest.mark.parametrize("text", ["x", "2024-1-2T03:04:05Z", "2024-01-02 03:04:05Z", "2024-13-02T03:04:05Z",
                                  "2024-01-02T03:04:05", "2024-01-02T03:04:05+0100"])
def test_lastmodified_that_go_cannot_parse_is_refused(text):
    with pytest.raises(SopsError, match="lastmodified is not an RFC 3339 time"):
        lastmodified_aad(text)


def test_two_encryption_rules_are_refused_like_sops():
    with pytest.raises(SopsError, match="more than one of"):
        parse_metadata({"lastmodified": LASTMODIFIED, "mac": "m", "encrypted_regex": "a", "unencrypted_suffix": "_u",
                        "age": [{"recipient": "r", "enc": "e"}]})


def test_yaml_store_types_and_comments():
    branches, meta = load("# head\na: yes\nb: 0x10\nc: 1.5\nd: ~\nl:\n  # in list\n  - 1\nsops: {version: 3}\n",
                          "yaml")
    assert meta == {"version": 3}
    assert to_data(branches[0]) == {"a": "yes", "b": 16, "c": 1.5, "d": None, "l": [1]}
    assert branches[0][0] == (Comment(" head"), None)
    assert Comment(" in list") in dict((k, v) for k, v in branches[0] if isinstance(k, str))["l"]
    assert render(branches, "yaml").decode().startswith("# head\na: 'yes'\nb: 16\n")


def test_formats_and_extract():
    assert [format_from_path(p) for p in ("a.sops.yaml", "b.yml", "c.json", "d.env", "e.ini", "f.bin")] == \
        ["yaml", "yaml", "json", "dotenv", "ini", "binary"]
    assert parse_extract('["a"]["b"][0]') == ["a", "b", 0]
    assert parse_extract(["a", 1]) == ["a", 1]
    assert extract({"a": {"b": [5]}}, ["a", "b", 0]) == 5
    with pytest.raises(SopsError, match=r"\['a'\]\['x'\] not found"):
        extract({"a": {"b": "secret"}}, ["a", "x"])
    with pytest.raises(SopsError):
        parse_extract('["a"')


def test_mac_only_encrypted_init_is_sha256_of_sops():
    from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import MAC_ONLY_ENCRYPTED_INIT
    assert MAC_ONLY_ENCRYPTED_INIT == hashlib.sha256(b"sops").digest()


def load_branches(text, fmt):
    return load(text, fmt)[0]


def test_ini_values_read_as_go_ini_reads_them():
    text = ('top = 1\n[s]\n; about a\na = """line one\nline two"""\nb = `x;y#z`\nc = " padded "\nd = v ; note\n'
            'e: colon\nf = """one line"""\ng = lit\\n\n[s]\nh = \'q\'\nlong = a\\\n  b\n')
    branches = load_branches(text, "ini")
    assert to_data(branches[0]) == {"DEFAULT": {"top": "1"}, "s": {"h": "q", "long": "ab"}}
    sections = [(key, to_data(value)) for key, value in branches[0]]
    assert sections[1] == ("s", {"a": "line one\nline two", "b": "x;y#z", "c": " padded ", "d": "v", "e": "colon",
                                 "f": "one line", "g": "lit\\n"})
    assert Comment("about a") in [key for key, _value in branches[0][1][1]]


def test_ini_metadata_with_multiline_enc_as_sops_3_13_0_wrote_it():
    text = ('[s]\na = ENC[x]\n\n[sops]\nage__list_0__map_enc = """-----BEGIN AGE ENCRYPTED FILE-----\nYWJj\n'
            '-----END AGE ENCRYPTED FILE-----\n"""\nage__list_0__map_recipient = age1x\n'
            'pgp__list_0__map_enc = -----BEGIN PGP MESSAGE-----\\n\\nabc\\n-----END PGP MESSAGE-----\\n\n')
    meta = load(text, "ini")[1]
    assert meta["age"][0]["enc"].splitlines()[1] == "YWJj"
    assert meta["pgp"][0]["enc"] == "-----BEGIN PGP MESSAGE-----\n\nabc\n-----END PGP MESSAGE-----\n"


@pytest.mark.parametrize("text", ['[s]\na = """never closed\n', "[s\n", "[s]\n= v\n", "[s]\njust words\n"])
def test_ini_that_go_ini_refuses(text):
    with pytest.raises(SopsError, match="INI"):
        load(text, "ini")


def test_ini_values_are_written_so_that_go_ini_reads_them_back():
    data = {"s": {"a": "x\ny", "b": "p;q", "c": " s ", "k=y": "v", "d": "plain"}}
    rendered = render([from_data(data)], "ini").decode()
    assert to_data(load(rendered, "ini")[0][0]) == data


def test_json_numbers_as_sops_json_store_types_them():
    branches = load_branches('{"i": 9223372036854775807, "big": 9223372036854775808, "f": 1.0, "e": 1e2, "z": -0}', "json")
    data = to_data(branches[0])
    assert [type(data[k]) for k in ("i", "big", "f", "e", "z")] == [int, float, float, float, int]
    for bad in ('{"a": NaN}', '{"a": 1e400}'):
        with pytest.raises(SopsError, match="not valid JSON"):
            load(bad, "json")


def test_dotenv_splits_on_newline_only():
    branches = load_branches("A=x\ry\nB=p\u2028q\n#c\nC=a\\nb\n", "dotenv")
    assert to_data(branches[0]) == {"A": "x\ry", "B": "p\u2028q", "C": "a\nb"}


def test_ini_trims_as_go_does_not_as_python():
    """Go's TrimSpace keeps U+001C..U+001F, which Python's str.strip removes (a counterexample of the
    differential test: a clear value starting with U+001F failed its MAC)."""
    branches = load_branches("[s]\na = \x1fx\x1c\nb =\u3000y\u2028\n", "ini")
    assert to_data(branches[0]) == {"s": {"a": "\x1fx\x1c", "b": "y"}}


def test_unreadable_default_ssh_key_is_passed_over_with_a_note(tmp_path):
    (tmp_path / ".ssh" / "id_rsa").mkdir(parents=True)  # a directory: reading it fails
    found = age_identities(KeyOptions(environment={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}))
    assert not found.usable and "cannot read SSH key file" in found.skipped[0]
    with pytest.raises(SopsError, match="SSH key file .* does not exist"):
        age_identities(KeyOptions(age_ssh_private_key_file=str(tmp_path / "missing"), use_environment=False))
