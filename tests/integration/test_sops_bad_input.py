"""Bad input is refused with a clear error that never contains the plaintext."""

import json
import re

import pytest

from sops_helpers import encrypt, ours

from testbed.keys import age_identity

from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError

SECRET = "s3cr3t-Pl41ntext-value"


@pytest.fixture
def encrypted(tmp_path, age_key):
    return encrypt(tmp_path, "bad.yaml", f"password: {SECRET}\nother: {SECRET}-2\n", "--age", age_key.public)


def refuse(path, pattern, **keys):
    with pytest.raises(SopsError) as info:
        ours(path, **keys)
    message = str(info.value)
    assert re.search(pattern, message), message
    assert SECRET not in message and SECRET not in repr(info.value.details)
    return message


def _replace_enc_data(text, key, new_data):
    return re.sub(rf"({key}: ENC\[AES256_GCM,data:)([^,]*)", lambda m: m.group(1) + new_data, text, count=1)


def test_tampered_value(encrypted, age_key):
    text = encrypted.read_text()
    data = re.search(r"password: ENC\[AES256_GCM,data:([^,]*)", text).group(1)
    flipped = ("A" if data[0] != "A" else "B") + data[1:]
    encrypted.write_text(_replace_enc_data(text, "password", flipped))
    refuse(encrypted, r"\['password'\]: authentication failed", age_key_file=str(age_key.path))


def test_swapped_values_fail_authentication(encrypted, age_key):
    text = encrypted.read_text()
    first = re.search(r"password: (ENC\[[^\]]*\])", text).group(1)
    second = re.search(r"other: (ENC\[[^\]]*\])", text).group(1)
    encrypted.write_text(text.replace(first, "@@SWAP@@").replace(second, first).replace("@@SWAP@@", second))
    refuse(encrypted, r"authentication failed", age_key_file=str(age_key.path))


def test_tampered_mac(encrypted, age_key):
    text = encrypted.read_text()
    mac = re.search(r"mac: ENC\[AES256_GCM,data:([^,]*)", text).group(1)
    encrypted.write_text(text.replace(mac, ("A" if mac[0] != "A" else "B") + mac[1:]))
    refuse(encrypted, r"MAC verification failed", age_key_file=str(age_key.path))


def test_value_removed_is_a_mac_mismatch(encrypted, age_key):
    text = encrypted.read_text()
    encrypted.write_text(re.sub(r"^other: .*\n", "", text, flags=re.MULTILINE))
    refuse(encrypted, r"MAC mismatch", age_key_file=str(age_key.path))


def test_wrong_key(encrypted, tmp_path):
    other = age_identity(tmp_path / "other")
    refuse(encrypted, r"no usable key.*age .*no matching identity", age_key_file=str(other.path))


def test_no_key_at_all(encrypted):
    refuse(encrypted, r"no usable key.*\(0 of 1 key groups")


def test_corrupted_enc_field(encrypted, age_key):
    text = encrypted.read_text()
    encrypted.write_text(re.sub(r"(password: ENC\[AES256_GCM,data:[^,]*,)iv:", r"\1ivx:", text, count=1))
    refuse(encrypted, r"\['password'\]: not a valid SOPS encrypted value", age_key_file=str(age_key.path))


def test_not_a_sops_file(tmp_path, age_key):
    path = tmp_path / "plain.yaml"
    path.write_text(f"password: {SECRET}\n")
    refuse(path, r"not a SOPS-encrypted yaml file", age_key_file=str(age_key.path))


def test_truncated_file(encrypted, age_key):
    text = encrypted.read_text()
    encrypted.write_text(text[: text.index("lastmodified")])
    refuse(encrypted, r"truncated|no lastmodified|not valid", age_key_file=str(age_key.path))


def test_truncated_json(tmp_path, age_key):
    path = encrypt(tmp_path, "bad.json", json.dumps({"password": SECRET}), "--age", age_key.public)
    path.write_text(path.read_text()[:-40])
    refuse(path, r"not valid JSON", age_key_file=str(age_key.path))


def test_damaged_lastmodified(encrypted, age_key):
    encrypted.write_text(re.sub(r"lastmodified: .*", "lastmodified: '2024-02-30 10:00'", encrypted.read_text()))
    refuse(encrypted, r"lastmodified is not an RFC 3339 time", age_key_file=str(age_key.path))


def test_other_lastmodified_is_a_mac_failure(encrypted, age_key):
    encrypted.write_text(re.sub(r"lastmodified: .*", "lastmodified: '2020-01-01T00:00:00Z'", encrypted.read_text()))
    refuse(encrypted, r"MAC verification failed", age_key_file=str(age_key.path))


def test_removed_mac_is_refused_unless_verify_mac_is_off(encrypted, age_key):
    encrypted.write_text(re.sub(r"\n\s*mac: .*", "", encrypted.read_text()))
    refuse(encrypted, r"the file has no MAC", age_key_file=str(age_key.path))
    assert ours(encrypted, verify=False, age_key_file=str(age_key.path)).data["password"] == SECRET


def test_foreign_key_type_without_binary_names_it(tmp_path):
    path = tmp_path / "kms.yaml"
    path.write_text("a: ENC[AES256_GCM,data:AAAA,iv:AAAAAAAAAAAAAAAAAAAAAA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n"
                    "sops:\n  kms:\n    - arn: arn:aws:kms:us-east-1:1:key/x\n      enc: AAAA\n"
                    "  lastmodified: '2024-01-01T00:00:00Z'\n  mac: ENC[AES256_GCM,data:AA,iv:AAAAAAAAAAAAAAAAAAAAAA==,"
                    "tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n  version: 3.13.3\n")
    refuse(path, r"kms.*need the sops binary", sops_binary="no-such-sops-binary")
