"""The testbed's real Vault: transit and KV v2 over HTTP, AppRole and JWT logins, seal/unseal, TLS."""

import base64
import secrets

import pytest

from testbed.vault import VaultError, VaultServer


def _b64(data):
    return base64.b64encode(data).decode()


def test_transit_encrypts_and_decrypts_over_http(vault_server):
    key = f"sops-{secrets.token_hex(4)}"
    uri = vault_server.create_transit_key(key)
    assert uri == f"{vault_server.address}/v1/transit/keys/{key}"
    plaintext = secrets.token_bytes(32)  # what SOPS sends: a data key
    token = vault_server.login_approle(*vault_server.approle_credentials())

    ciphertext = vault_server.request("POST", f"transit/encrypt/{key}", {"plaintext": _b64(plaintext)},
                                      token=token)["data"]["ciphertext"]
    assert ciphertext.startswith("vault:v1:")
    decrypted = vault_server.request("POST", f"transit/decrypt/{key}", {"ciphertext": ciphertext},
                                     token=token)["data"]["plaintext"]
    assert base64.b64decode(decrypted) == plaintext


def test_kv_v2_keeps_versions(vault_server):
    path = f"apps/{secrets.token_hex(4)}"
    assert vault_server.kv_put(path, {"password": "first"}) == 1
    assert vault_server.kv_put(path, {"password": "second"}) == 2
    token = vault_server.login_jwt(vault_server.jwt_for())
    latest = vault_server.request("GET", f"secret/data/{path}", token=token)["data"]
    assert latest["data"] == {"password": "second"} and latest["metadata"]["version"] == 2
    assert vault_server.kv_get(path, version=1) == {"password": "first"}


def test_logins_get_the_reader_policy_only(vault_server):
    token = vault_server.login_jwt(vault_server.jwt_for(subject="pipeline-42"))
    with pytest.raises(VaultError) as denied:
        vault_server.request("POST", "secret/data/apps/written-by-reader", {"data": {"x": "y"}}, token=token)
    assert denied.value.status == 403
    with pytest.raises(VaultError) as wrong_audience:
        vault_server.login_jwt(vault_server.jwt_for(audience="someone-else"))
    assert wrong_audience.value.status == 400
    with pytest.raises(VaultError) as bad_secret:
        vault_server.login_approle(vault_server.approle_credentials()[0], "not-the-secret-id")
    assert bad_secret.value.status in (400, 403)
    with pytest.raises(VaultError) as no_token:
        vault_server.request("GET", "secret/data/apps/anything", token="hvs.not-a-token")
    assert no_token.value.status == 403


def test_a_sealed_vault_refuses_until_unsealed_over_tls(tmp_path):
    with VaultServer(tmp_path / "vault", tls=True) as vault:
        assert vault.address.startswith("https://") and vault.ca_file.is_file()
        vault.kv_put("apps/sealed", {"k": "v"})
        vault.seal()
        with pytest.raises(VaultError) as sealed:
            vault.kv_get("apps/sealed")
        assert sealed.value.status == 503
        vault.unseal()
        assert vault.kv_get("apps/sealed") == {"k": "v"}
