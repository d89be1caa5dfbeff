"""Files encrypted by the real sops (3.13 and 3.7) decrypt with our code to what `sops -d` gives."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from sops_helpers import EXTENSIONS, SOPS_BINARIES, comments, encrypt, expected_data, ours, post_quantum_identity, \
    sops_decrypt

from testbed.keys import age_identity

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.sops.api import decrypt_file
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.keys import KeyOptions

YAML_DOC = """\
# a top comment
string: hello world
int: 42
negative: -7
float: 3.25
whole_float: 1.0
bool_true: true
bool_false: false
yes_is_a_string: yes
time: 2024-01-02T03:04:05Z
date: 2024-01-02
null_value: null
empty: ""
unicode: "grüße ✓"
multiline: |
  line one
  line two # not a comment
nested:
  inner_unencrypted: plain text
  # a nested comment
  deep:
    list:
      - one
      # a comment in a list
      - 2
      - {k: v, n: [1, 2.5, false]}
      - - nested list
"""

PLAINTEXTS = {
    "yaml": YAML_DOC,
    "json": '{"a": "x", "b": 1, "c": 1.5, "d": false, "l": [1, "y", null, {"z": true}], "o": {"p": "q"}, '
            '"e": "", "u_unencrypted": "clear"}',
    "dotenv": "# a comment\nA=1\nB=hello world\nC=\"quoted\"\nD=multi\\nline\nE_unencrypted=clear\n",
    "ini": "[section]\nkey = value\nnum = 5\n; a comment\n[other]\nx = y z\n",
    "binary": b"raw \x00\x01 binary\n\xff content",
}


# sops 3.7 cannot encrypt YAML timestamps at all; its YAML is covered by test_legacy_yaml.
STORE_CASES = [(fmt, binary) for fmt in sorted(PLAINTEXTS) for binary in SOPS_BINARIES
               if (fmt, binary) != ("yaml", "sops-3.7")]


@pytest.mark.parametrize("fmt,binary", STORE_CASES)
def test_every_store_age(tmp_path, age_key, fmt, binary):
    path = encrypt(tmp_path, f"secret.{EXTENSIONS[fmt]}", PLAINTEXTS[fmt], "--age", age_key.public, binary=binary)
    document = ours(path, age_key_file=str(age_key.path))
    assert document.fmt == fmt
    assert document.data == expected_data(path, fmt, age_key_file=age_key.path)
    if fmt == "binary":
        assert document.render() == sops_decrypt(path, fmt, age_key_file=age_key.path)
    if fmt in ("yaml", "dotenv", "ini"):
        assert comments(document.render().decode()) == \
            comments(sops_decrypt(path, fmt, age_key_file=age_key.path).decode())


def test_legacy_yaml(tmp_path, age_key, gnupg_home):
    legacy = YAML_DOC.replace("time: 2024-01-02T03:04:05Z\n", "").replace("date: 2024-01-02\n", "")
    path = encrypt(tmp_path, "legacy.yaml", legacy, "--age", age_key.public, "--pgp",
                   gnupg_home.keys[0].fingerprint, binary="sops-3.7", gnupghome=gnupg_home.path)
    assert "version: 3.7.3" in path.read_text()
    expected = expected_data(path, "yaml", age_key_file=age_key.path)
    assert ours(path, age_key_file=str(age_key.path)).data == expected
    assert ours(path, gnupg_home=str(gnupg_home.path)).data == expected


@pytest.mark.parametrize("key_index", [0, 1], ids=["rsa", "ed25519"])
def test_pgp_gnupg_home_and_imported_private_key(tmp_path, gnupg_home, key_index, monkeypatch):
    key = gnupg_home.keys[key_index]
    path = encrypt(tmp_path, "pgp.yaml", YAML_DOC, "--pgp", key.fingerprint, gnupghome=gnupg_home.path)
    expected = expected_data(path, "yaml", gnupghome=gnupg_home.path)
    assert ours(path, gnupg_home=str(gnupg_home.path)).data == expected
    # A temp folder of this test alone (other tests make trident-gpg-* homes meanwhile), with a short path:
    # gpg-agent's socket lives in the GnuPG home, and a socket path has at most 107 characters.
    private_tmp = Path(tempfile.mkdtemp(prefix="tg-"))
    try:
        monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
        assert ours(path, pgp_private_keys=(gnupg_home.export_secret(key.fingerprint),)).data == expected
        assert not list(private_tmp.iterdir()), "the private GnuPG home is removed"
    finally:
        shutil.rmtree(private_tmp, ignore_errors=True)


def test_multi_document_yaml(tmp_path, age_key):
    text = "a: 1\n# c1\nb: [x, y]\n---\nc: {d: e}\n---\nf: 2.5\n"
    path = encrypt(tmp_path, "multi.yaml", text, "--age", age_key.public)
    document = ours(path, age_key_file=str(age_key.path))
    assert document.data == expected_data(path, "yaml", age_key_file=age_key.path)
    assert len(document.documents) == 3


RULES = [
    ("flux_encrypted_regex", ["--encrypted-regex", "^(data|stringData)$"],
     "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  password: hunter2\ndata:\n  k: dmFs\n"),
    ("unencrypted_suffix", ["--unencrypted-suffix", "_plain"], "a_plain: 1\nb: 2\nc:\n  d_plain: {e: f}\n"),
    ("encrypted_suffix", ["--encrypted-suffix", "_secret"], "a_secret: 1\nb: 2\nc_secret: {d: e}\n"),
    ("unencrypted_regex", ["--unencrypted-regex", "^(name|kind)$"], "name: n\nkind: k\nvalue: v\n"),
    ("mac_only_encrypted", ["--encrypted-regex", "^pass", "--mac-only-encrypted"], "user: u\npassword: p\n"),
    ("encrypted_comment_regex", ["--encrypted-comment-regex", "sops:enc"],
     "a: clear\n# sops:enc\nb: secret\nc: clear too\n"),
    ("unencrypted_comment_regex", ["--unencrypted-comment-regex", "sops:plain"],
     "a: secret\n# sops:plain\nb: clear\nc: secret too\n"),
]


@pytest.mark.parametrize("name,args,text", RULES, ids=[r[0] for r in RULES])
def test_rules(tmp_path, age_key, name, args, text):
    path = encrypt(tmp_path, f"{name}.yaml", text, "--age", age_key.public, *args)
    assert "ENC[" in path.read_text()
    assert ours(path, age_key_file=str(age_key.path)).data == expected_data(path, "yaml", age_key_file=age_key.path)


@pytest.mark.parametrize("binary", SOPS_BINARIES)
def test_key_groups_two_of_three(tmp_path, gnupg_home, binary):
    identities = [age_identity(tmp_path / f"id{i}") for i in range(3)]
    groups = "".join(f"      - age: [{identity.public}]\n" for identity in identities[:2])
    groups += f"      - pgp: [{gnupg_home.keys[0].fingerprint}]\n"
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n{groups}")
    path = encrypt(tmp_path, "groups.yaml", "a: secret\nb: [1, 2]\n", binary=binary, gnupghome=gnupg_home.path)
    assert "shamir_threshold: 2" in path.read_text()
    expected = {"a": "secret", "b": [1, 2]}
    # Any two groups suffice: age + age, age + pgp.
    both_age = "\n".join(i.path.read_text() for i in identities[:2])
    assert ours(path, age_keys=both_age).data == expected
    assert ours(path, age_key_file=str(identities[1].path), gnupg_home=str(gnupg_home.path)).data == expected
    with pytest.raises(Exception, match=r"1 of 2 key groups"):
        ours(path, age_key_file=str(identities[0].path))


def test_foreign_key_types_fall_back_to_the_sops_binary(tmp_path, age_key):
    """A file whose only usable key is one we do not implement natively goes to the sops binary.

    Our side is given no key at all; the sops binary finds the age key in its environment (sops
    tries age before KMS, so no cloud is contacted). The fake KMS entry is metadata, outside the MAC.
    """
    path = encrypt(tmp_path, "cloud.yaml", "a: secret\nb: [1, 2]\n", "--age", age_key.public)
    fake_kms = ("sops:\n    kms:\n        - arn: arn:aws:kms:eu-west-1:1:key/x\n"
                "          enc: AAAA\n          created_at: '2024-01-01T00:00:00Z'\n")
    path.write_text(path.read_text().replace("sops:\n", fake_kms, 1))
    runner = CommandRunner(env={**os.environ, "SOPS_AGE_KEY_FILE": str(age_key.path)})
    document = decrypt_file(str(path), keys=KeyOptions(use_environment=False), runner=runner)
    assert document.decrypted_by == "sops-binary"
    assert document.data == {"a": "secret", "b": [1, 2]}


@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_ssh_key_as_age_identity_like_sops(tmp_path, kind):
    """sops encrypts to an SSH public key as an age recipient; the private key decrypts (issue #12)."""
    key = tmp_path / f"id_{kind}"
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "t", "-f", str(key)] +
                   (["-b", "2048"] if kind == "rsa" else []), check=True)
    public = (tmp_path / f"id_{kind}.pub").read_text().strip()
    path = encrypt(tmp_path, "ssh.yaml", "secret: value\nport: 0o17\n", "--age", public)
    assert ours(path, age_ssh_private_key_file=str(key)).data == {"secret": "value", "port": 15}
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / f"id_{kind}").write_bytes(key.read_bytes())
    found = decrypt_file(str(path), keys=KeyOptions(environment={"HOME": str(home)}))
    assert found.data["secret"] == "value"


def test_age_key_file_with_lines_we_cannot_use(tmp_path, age_key):
    """A post-quantum or plugin line is skipped when another identity decrypts, named when none does."""
    path = encrypt(tmp_path, "pq.yaml", "a: b\n", "--age", age_key.public)
    keys = tmp_path / "keys.txt"
    keys.write_text("AGE-PLUGIN-YUBIKEY-1QQQQQQ\n" + post_quantum_identity(bytes(32))[0] + "\n" +
                    age_key.path.read_text())
    assert ours(path, age_key_file=str(keys)).data == {"a": "b"}
    keys.write_text("AGE-PLUGIN-YUBIKEY-1QQQQQQ\n")
    with pytest.raises(SopsError, match=r"no matching identity \(skipped: age key file .*line 1: age plugin"):
        ours(path, age_key_file=str(keys))


def test_post_quantum_age_identity_like_sops(tmp_path, age_key):
    """sops 3.13 encrypts to an age1pq1 recipient; our hybrid (ML-KEM-768 + X25519) identity decrypts."""
    identity, recipient = post_quantum_identity(os.urandom(32))
    path = encrypt(tmp_path, "pq.yaml", "secret: value\n", "--age", recipient)
    keys = tmp_path / "pq.txt"
    keys.write_text(f"# post-quantum\n{identity}\n")
    assert ours(path, age_key_file=str(keys)).data == {"secret": "value"}
    assert sops_decrypt(path, "yaml", age_key_file=keys) == b"secret: value\n"
    other = post_quantum_identity(os.urandom(32))[0]
    keys.write_text(f"{other}\n{age_key.path.read_text()}")
    with pytest.raises(SopsError, match="no matching identity"):
        ours(path, age_key_file=str(keys))
