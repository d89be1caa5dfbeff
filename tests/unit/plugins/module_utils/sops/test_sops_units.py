import base64
import hashlib
import os

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.sops import age, shamir
from ansible_collections.trident.gitops.plugins.module_utils.sops.cipher import (
    Comment, aad_for_path, decrypt_value, go_float, mac_bytes, parse_enc,
)
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.metadata import check_version, parse_metadata, \
    unflatten
from ansible_collections.trident.gitops.plugins.module_utils.sops.stores import extract, format_from_path, load, \
    parse_extract, render
from ansible_collections.trident.gitops.plugins.module_utils.sops.tree import Rules, should_be_encrypted, to_data
from ansible_collections.trident.gitops.plugins.module_utils.sops.yamltree import go_timestamp

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
    ("2024-01-02T03:04:05+00:00", "2024-01-02T03:04:05Z"),
])
def test_go_timestamps(text, expected):
    assert go_timestamp(text) == expected


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
    assert age.parse_identities(f"# created: x\n\n{secret}\n") == [bytes([0x42] * 32)]
    with pytest.raises(SopsError) as info:
        age.parse_identities(secret[:-1] + "Y")
    assert secret[:20] not in str(info.value)


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


def test_metadata_versions_and_default_suffix():
    check_version("3.7.3")
    with pytest.raises(SopsError, match="unsupported sops version '2.0.0'"):
        check_version("2.0.0")
    meta = parse_metadata({"version": "3.13.3", "lastmodified": "x", "mac": "m", "age": [{"recipient": "r",
                                                                                          "enc": "e"}]})
    assert meta.rules.unencrypted_suffix == "_unencrypted" and len(meta.key_groups) == 1
    with pytest.raises(SopsError, match="no master keys"):
        parse_metadata({"version": "3.13.3", "lastmodified": "x", "mac": "m"})


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
