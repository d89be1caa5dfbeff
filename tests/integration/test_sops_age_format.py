"""Our age v1 decryptor against files made by the real age binary (armored and binary, multi-chunk)."""

import os
import subprocess

import pytest

from testbed import tool
from testbed.keys import age_identity

from ansible_collections.trident.gitops.plugins.module_utils.sops import age
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError


@pytest.mark.parametrize("size", [0, 32, 64 * 1024, 64 * 1024 * 2 + 17])
@pytest.mark.parametrize("armor", [True, False], ids=["armored", "binary"])
def test_real_age_files(tmp_path, age_key, size, armor):
    other = age_identity(tmp_path / "other")
    plaintext = os.urandom(size)
    argv = [tool("age"), "-r", other.public, "-r", age_key.public] + (["-a"] if armor else [])
    encrypted = subprocess.run(argv, input=plaintext, capture_output=True, check=True).stdout
    identities = age.parse_identities(age_key.path.read_text())
    assert age.decrypt(encrypted, identities) == plaintext
    assert age.decrypt(encrypted, age.parse_identities(age_identity(tmp_path / "x").path.read_text())) is None
    if size:
        tampered = bytearray(age.dearmor(encrypted))
        tampered[-1] ^= 1
        with pytest.raises(SopsError, match="payload authentication failed"):
            age.decrypt(bytes(tampered), identities)


def _ssh_key(directory, kind, pem=False):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"id_{kind}{'_pem' if pem else ''}"
    extra = (["-b", "2048"] if kind == "rsa" else []) + (["-m", "PEM"] if pem else [])
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "test", "-f", str(path), *extra], check=True)
    return path


@pytest.mark.parametrize("kind,pem", [("ed25519", False), ("rsa", False), ("rsa", True)])
def test_ssh_identities_decrypt_files_of_the_real_age(tmp_path, kind, pem):
    key = _ssh_key(tmp_path, kind, pem)
    other = _ssh_key(tmp_path / "other", kind)
    argv = [tool("age"), "-a", "-R", f"{key}.pub", "-R", f"{other}.pub"]
    encrypted = subprocess.run(argv, input=b"the data key", capture_output=True, check=True).stdout
    assert age.decrypt(encrypted, age.parse_ssh_identity(key.read_bytes(), "key")) == b"the data key"
    stranger = _ssh_key(tmp_path / "stranger", kind)
    assert age.decrypt(encrypted, age.parse_ssh_identity(stranger.read_bytes(), "key")) is None


def test_ssh_key_we_cannot_use_is_skipped_with_a_note(tmp_path):
    key = tmp_path / "id_ecdsa"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", str(key)], check=True)
    found = age.parse_ssh_identity(key.read_bytes(), "id_ecdsa")
    assert not found.usable and "not ssh-ed25519 or ssh-rsa" in found.skipped[0]
    protected = tmp_path / "id_protected"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "pass phrase", "-f", str(protected)], check=True)
    assert "not an unencrypted" in age.parse_ssh_identity(protected.read_bytes(), "p").skipped[0]
