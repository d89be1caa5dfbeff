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
