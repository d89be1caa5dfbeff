"""SOPS files whose data key is kept by a real Vault's transit engine, decrypted natively.

The oracle is the real sops: files are encrypted by ``sops --hc-vault-transit`` against the testbed Vault and what we
decrypt must equal ``sops -d``, for generated contents. A spy server stands where a hostile file points its
``vault_address``: it must never see a request, and no message may hold the token or a value.
"""

import json
import random
import secrets
import string

import pytest
import yaml

from sops_helpers import encrypt
from testbed.sops import sops
from testbed.spyserver import SpyServer

from ansible_collections.trident.gitops.plugins.module_utils.sops.api import decrypt_file
from ansible_collections.trident.gitops.plugins.module_utils.sops.errors import SopsError
from ansible_collections.trident.gitops.plugins.module_utils.sops.keys import KeyOptions
from ansible_collections.trident.gitops.plugins.module_utils.vault.settings import VaultSettings

FORMATS = {"yaml": "yaml", "json": "json", "dotenv": "env"}


def _word(rng, size=12):
    return "".join(rng.choices(string.ascii_letters + string.digits, k=size))


def _generated(rng, fmt):
    """A document of random keys and values (nested for YAML and JSON)."""
    flat = {f"k_{_word(rng, 6)}": _word(rng, rng.randint(1, 40)) for _number in range(rng.randint(1, 8))}
    if fmt == "dotenv":
        return flat, "".join(f"{k}={v}\n" for k, v in flat.items())
    data = dict(flat, nested={"list": [_word(rng) for _number in range(3)], "number": rng.randint(0, 10 ** 6)})
    return data, json.dumps(data) if fmt == "json" else yaml.safe_dump(data)


def _reader(vault_server):
    """A token of the reader policy (transit decrypt, KV read), as an operator's would be."""
    return vault_server.login_approle(*vault_server.approle_credentials())


def _keys(vault_server, token, **extra):
    return KeyOptions(use_environment=False, vault=VaultSettings(address=vault_server.address, token=token), **extra)


def _sops_d(path, fmt, vault_server):
    out = sops("--decrypt", "--input-type", fmt, "--output-type", "json", path.name, cwd=path.parent,
               vault=(vault_server.address, vault_server.root_token))
    return json.loads(out)


def test_transit_files_equal_sops_d(vault_server, tmp_path):
    rng = random.Random(27)
    uri = vault_server.create_transit_key(f"sops-{secrets.token_hex(4)}")
    token = _reader(vault_server)
    keys = _keys(vault_server, token)
    for number in range(12):
        fmt = rng.choice(sorted(FORMATS))
        data, text = _generated(rng, fmt)
        path = encrypt(tmp_path, f"f{number}.{FORMATS[fmt]}", text, "--hc-vault-transit", uri,
                       vault=(vault_server.address, vault_server.root_token))
        assert "hc_vault" in path.read_text()
        before = keys.vault_client().requests
        document = decrypt_file(str(path), keys=keys)
        assert document.decrypted_by == "native"
        assert document.data == _sops_d(path, fmt, vault_server) == data
        assert keys.vault_client().requests - before == 1, "one transit call per file"


def test_mixed_groups_transit_and_age_with_threshold(vault_server, age_key, tmp_path):
    first = vault_server.create_transit_key(f"g1-{secrets.token_hex(4)}")
    second = vault_server.create_transit_key(f"g3-{secrets.token_hex(4)}")
    (tmp_path / ".sops.yaml").write_text(yaml.safe_dump({"creation_rules": [{
        "shamir_threshold": 2,
        "key_groups": [{"hc_vault": [first]}, {"age": [age_key.public]}, {"hc_vault": [second]}]}]}))
    path = encrypt(tmp_path, "mixed.yaml", "password: s3cr3t-mixed\n",
                   vault=(vault_server.address, vault_server.root_token))
    token = _reader(vault_server)
    both = decrypt_file(str(path), keys=_keys(vault_server, token, age_key_file=str(age_key.path)))
    assert both.data == {"password": "s3cr3t-mixed"} == _sops_d(path, "yaml", vault_server)
    # Two transit groups alone reach the threshold; age alone does not.
    assert decrypt_file(str(path), keys=_keys(vault_server, token)).data == {"password": "s3cr3t-mixed"}
    with pytest.raises(SopsError, match=r"1 of 2 key groups") as failed:
        decrypt_file(str(path), keys=KeyOptions(use_environment=False, age_key_file=str(age_key.path)))
    assert "no Vault is configured" in failed.value.message and "s3cr3t" not in failed.value.message
    # A wrong token: the transit groups fail, age's one part is not enough.
    wrong = "hvs.wrong-" + secrets.token_hex(8)
    with pytest.raises(SopsError, match=r"1 of 2 key groups") as denied:
        decrypt_file(str(path), keys=_keys(vault_server, wrong, age_key_file=str(age_key.path)))
    assert "403" in denied.value.message and wrong not in denied.value.message


@pytest.fixture
def transit_file(vault_server, tmp_path):
    key = f"one-{secrets.token_hex(4)}"
    uri = vault_server.create_transit_key(key)
    path = encrypt(tmp_path, "app.sops.yaml", "password: v4lue-never-shown\n", "--hc-vault-transit", uri,
                   vault=(vault_server.address, vault_server.root_token))
    return path, key


def _failure(path, keys):
    with pytest.raises(SopsError) as failed:
        decrypt_file(str(path), keys=keys)
    message = failed.value.message
    assert str(path) in message and "v4lue-never-shown" not in message
    return message


def test_failures_name_the_file_never_the_token(vault_server, transit_file, tmp_path):
    path, key = transit_file
    token = _reader(vault_server)
    wrong = "hvs.wrong-" + secrets.token_hex(8)
    assert "permission denied" in _failure(path, _keys(vault_server, wrong))
    # The key is gone from Vault (a missing key), and a key name that is no plain name.
    missing = path.parent / "missing.sops.yaml"
    missing.write_text(path.read_text().replace(key, "no-such-key"))
    message = _failure(missing, _keys(vault_server, token))
    assert "no-such-key" in message and token not in message
    dotted = path.parent / "dotted.sops.yaml"
    dotted.write_text(path.read_text().replace("engine_path: transit", "engine_path: ../sys"))
    assert "not a Vault path" in _failure(dotted, _keys(vault_server, token))
    # Nothing listens: unreachable.
    closed = KeyOptions(use_environment=False, vault=VaultSettings(address="http://127.0.0.1:9", token=token))
    unreachable = path.parent / "unreachable.sops.yaml"
    unreachable.write_text(path.read_text().replace(vault_server.address, "http://127.0.0.1:9"))
    message = _failure(unreachable, closed)
    assert "unreachable" in message and token not in message


def test_sealed_vault_fails_then_works_unsealed(tmp_path):
    from testbed.vault import VaultServer
    with VaultServer(tmp_path / "vault") as vault:
        uri = vault.create_transit_key("sealed")
        path = encrypt(tmp_path, "s.sops.yaml", "password: v4lue-never-shown\n", "--hc-vault-transit", uri,
                       vault=(vault.address, vault.root_token))
        keys = _keys(vault, vault.root_token)
        vault.seal()
        message = _failure(path, keys)
        assert "503" in message and vault.root_token not in message
        vault.unseal()
        assert decrypt_file(str(path), keys=_keys(vault, vault.root_token)).data == {"password": "v4lue-never-shown"}


def test_a_file_naming_another_vault_is_refused_and_nothing_is_sent(vault_server, transit_file, monkeypatch):
    """The file chooses a transit key, never where the token goes: natively or through the sops binary."""
    path, _key = transit_file
    token = _reader(vault_server)
    with SpyServer() as spy:
        hostile = path.parent / "hostile.sops.yaml"
        hostile.write_text(path.read_text().replace(vault_server.address, spy.url))
        message = _failure(hostile, _keys(vault_server, token))
        assert "refused" in message and spy.url in message and token not in message
        # The sops binary (used for key types we do not decrypt) gets the operator's Vault as its only allowed
        # address: with VAULT_ADDR/VAULT_TOKEN in the environment it still sends nothing to the spy.
        foreign = path.parent / "foreign.sops.yaml"
        foreign.write_text(hostile.read_text().replace("    hc_vault:", "    azure_kv:\n"
                                                       "        - vault_url: http://127.0.0.1:9\n"
                                                       "          name: k\n          version: v\n"
                                                       "          created_at: \"2024-01-01T00:00:00Z\"\n"
                                                       "          enc: AAAA\n    hc_vault:"))
        monkeypatch.setenv("VAULT_ADDR", spy.url)
        monkeypatch.setenv("VAULT_TOKEN", token)
        message = _failure(foreign, KeyOptions(vault=VaultSettings(address=vault_server.address, token=token)))
        assert "sops binary could not decrypt" in message and token not in message
        assert spy.requests == [], "the spy must see no request"


def test_playbook_approle_module_and_jwt_lookup_leak_nothing(vault_server, tmp_path):
    """Through ansible-playbook at -vvvv: the module logs in with AppRole, the lookup with a JWT from a file, the
    same kube_diff option is accepted; neither the secret id, the JWT, the token nor a value shows anywhere."""
    from testbed.ansible import run_playbook
    uri = vault_server.create_transit_key(f"pb-{secrets.token_hex(4)}")
    value = "pl4ybook-v4lue-" + secrets.token_hex(4)
    path = encrypt(tmp_path, "app.sops.yaml", f"password: {value}\n", "--hc-vault-transit", uri,
                   vault=(vault_server.address, vault_server.root_token))
    role_id, secret_id = vault_server.approle_credentials()
    jwt = vault_server.jwt_for(subject="ci-job-27")
    jwt_file = tmp_path / "id_token"
    jwt_file.write_text(jwt)
    approle = {"address": vault_server.address, "auth_method": "approle", "role_id": role_id, "secret_id": secret_id}
    by_jwt = {"address": vault_server.address, "auth_method": "jwt", "jwt_role": "trident", "jwt_file": str(jwt_file)}
    tasks = [
        {"name": "module", "register": "decrypted", "no_log": True,
         "trident.gitops.sops_decrypt": {"path": str(path), "use_environment": False, "vault": approle}},
        {"name": "lookup", "ansible.builtin.set_fact": {
            "looked_up": "{{ lookup('trident.gitops.sops', '%s', vault=by_jwt, use_environment=false) }}" % path},
         "no_log": True},
        {"name": "compare", "ansible.builtin.assert": {"that": [
            f"decrypted.data.password == '{value}'", f"looked_up.password == '{value}'"], "quiet": True}},
    ]
    # The token the run gets must not show either: Vault's token accessor list is not reachable by the reader, so
    # the check is on every secret we know (role id, secret id, JWT) and the value.
    result = run_playbook(tmp_path / "run", tasks, extra_vars={"by_jwt": by_jwt}, verbosity=4,
                          env={"VAULT_ADDR": "", "VAULT_TOKEN": ""})
    output = result.stdout + result.stderr
    assert result.rc == 0, output[-4000:]
    for secret in (secret_id, jwt, value, vault_server.root_token):
        assert secret not in output
    # The same option on kube_diff validates (no cluster needed to reject a missing source).
    failing = run_playbook(tmp_path / "kube", [{"name": "kube", "trident.gitops.kube_diff": {
        "src": [str(tmp_path / "absent.yaml")], "vault": approle}}], verbosity=4)
    assert "Unsupported parameters" not in failing.stdout + failing.stderr and secret_id not in failing.stdout
