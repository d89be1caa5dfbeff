"""The operator's Vault over TLS, and the Vault namespace (issue 27: "address, namespace, CA ... from options or the
usual VAULT_* variables").

A real Vault serves HTTPS with a certificate its own dev-mode authority signed (testbed.vault, ``tls=True``). The
``vault`` option's ``ca_cert`` and ``VAULT_CACERT`` must be what the client verifies it with: without them, or with
another authority (testbed.pki), the read fails loudly, naming the reference file (its environment) and the
reference, and no token or value appears in any output (-vvvv).

Vault OSS has no namespaces: the real server answers a request with any ``X-Vault-Namespace`` as the root namespace
(checked here, so a change of that is noticed). So the header is checked on a recorder standing in for Vault: the
``namespace`` option and ``VAULT_NAMESPACE`` are sent as ``X-Vault-Namespace`` on every request, the login included.
"""

import base64
import secrets

import pytest
import yaml

from testbed.ansible import run_playbook
from testbed.pki import CertificateAuthority
from testbed.recorder import RequestRecorder
from testbed.vault import VaultServer

from ansible_collections.trident.gitops.plugins.module_utils.vault.client import VaultClient, VaultError
from ansible_collections.trident.gitops.plugins.module_utils.vault.settings import VaultSettings, vault_settings

VALUE = "tls-value-" + secrets.token_hex(6)
REFERENCE = "environments/prod/secrets/app.vault.yaml"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("vault_tls")]


@pytest.fixture(scope="module")
def tls_vault(tmp_path_factory):
    server = VaultServer(tmp_path_factory.mktemp("vault-tls"), tls=True)
    try:
        server.start()
        base = f"tls/{secrets.token_hex(4)}"
        server.kv_put(f"{base}/db", {"password": VALUE})
        token = server.login_approle(*server.approle_credentials())
        yield {"server": server, "base": base, "token": token}
    finally:
        server.stop()


@pytest.fixture()
def repository(tmp_path, tls_vault):
    root = tmp_path / "repo"
    (root / "environments/prod/secrets").mkdir(parents=True)
    (root / REFERENCE).write_text(yaml.safe_dump({"db": {"path": f"{tls_vault['base']}/db", "key": "password"}}))
    return root


def _read(tmp_path, root, vault=None, env=None, no_log=True):
    """vault_kv through ansible-playbook at -vvvv, with only the given VAULT_* variables (``no_log=False`` where it
    fails: its message is then shown, as the secrets role shows it)."""
    task = {"name": "Read the references", "trident.gitops.vault_kv": {
        "path": REFERENCE, "repository_root": str(root), **({"vault": vault} if vault else {})},
        "register": "read", "no_log": no_log}
    check = {"name": "Compare", "ansible.builtin.assert": {"that": ["read.data.db == expected"], "quiet": True},
             "no_log": True}
    clean = {k: "" for k in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_CACERT", "VAULT_NAMESPACE", "VAULT_CAPATH",
                             "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")}
    return run_playbook(tmp_path / "play", [task, check], extra_vars={"expected": VALUE}, verbosity=4,
                        env={**clean, **(env or {})})


def _output(result):
    return result.stdout + result.stderr


def _failure(result):
    failed = [r for r in result.task_results() if r.get("failed")]
    assert result.rc != 0 and len(failed) == 1, _output(result)[-3000:]
    return failed[0]


def test_the_ca_cert_option_verifies_the_server(tmp_path, repository, tls_vault):
    server = tls_vault["server"]
    result = _read(tmp_path, repository, vault={"address": server.address, "token": tls_vault["token"],
                                                "ca_cert": str(server.ca_file)})
    assert result.rc == 0, _output(result)[-3000:]
    assert tls_vault["token"] not in _output(result) and VALUE not in _output(result)


def test_vault_cacert_verifies_the_server(tmp_path, repository, tls_vault):
    server = tls_vault["server"]
    result = _read(tmp_path, repository, env={"VAULT_ADDR": server.address, "VAULT_TOKEN": tls_vault["token"],
                                              "VAULT_CACERT": str(server.ca_file)})
    assert result.rc == 0, _output(result)[-3000:]
    assert tls_vault["token"] not in _output(result) and VALUE not in _output(result)


@pytest.mark.parametrize("trust", ["none", "other-authority", "other-authority-in-VAULT_CACERT"])
def test_without_the_servers_authority_the_read_fails_loudly(tmp_path, repository, tls_vault, trust):
    server = tls_vault["server"]
    vault, env = {"address": server.address, "token": tls_vault["token"]}, {}
    if trust != "none":
        other = tmp_path / "other-ca.pem"
        other.write_bytes(CertificateAuthority("not-vaults-ca").cert_pem)
        if trust == "other-authority":
            vault["ca_cert"] = str(other)
        else:
            env = {"VAULT_CACERT": str(other)}
    result = _read(tmp_path, repository, vault=vault, env=env, no_log=False)
    failure = _failure(result)
    message = failure["msg"]
    assert message.startswith(f"{REFERENCE}: reference db (KV {tls_vault['base']}/db key password): "
                              f"Vault {server.address} GET /v1/secret/data/{tls_vault['base']}/db: "
                              "TLS verification failed ("), message
    assert "CERTIFICATE_VERIFY_FAILED" in message or "certificate verify failed" in message, message
    assert message.endswith("the authority that signed Vault's certificate is the vault.ca_cert option or "
                            "VAULT_CACERT"), message
    assert tls_vault["token"] not in _output(result) and VALUE not in _output(result)
    assert failure["name"] == "Read the references"


def test_transit_over_tls_uses_the_ca_cert(tls_vault):
    server = tls_vault["server"]
    key = f"tls-{secrets.token_hex(4)}"
    server.create_transit_key(key)
    plaintext = b"data key " + secrets.token_bytes(8)
    ciphertext = server.request("POST", f"transit/encrypt/{key}",
                                {"plaintext": base64.b64encode(plaintext).decode()})["data"]["ciphertext"]
    trusted = VaultClient(VaultSettings(address=server.address, token=tls_vault["token"],
                                        ca_cert=str(server.ca_file)))
    assert trusted.transit_decrypt("transit", key, ciphertext) == plaintext
    untrusted = VaultClient(VaultSettings(address=server.address, token=tls_vault["token"]))
    with pytest.raises(VaultError, match=rf"POST /v1/transit/decrypt/{key}: TLS verification failed") as raised:
        untrusted.transit_decrypt("transit", key, ciphertext)
    assert tls_vault["token"] not in str(raised.value)


# -- the namespace ---------------------------------------------------------------------------------------------------

def test_vault_oss_answers_any_namespace_header_as_the_root_namespace(vault_server):
    """What the real (OSS) server does with the header: nothing. Tests of the header therefore use a recorder."""
    path = f"ns/{secrets.token_hex(4)}"
    vault_server.kv_put(path, {"k": "v"})
    token = vault_server.login_approle(*vault_server.approle_credentials())
    for namespace in ("team-a", "team-a/child", "root"):
        client = VaultClient(VaultSettings(address=vault_server.address, token=token, namespace=namespace))
        assert client.kv_read("secret", path) == ({"k": "v"}, 1), namespace


def _vault_answers(request):
    """Just enough of Vault for an AppRole login, a KV v2 read and a transit decrypt."""
    if request.path.endswith("/login"):
        return 200, {"auth": {"client_token": "hvs.recorded-token"}}
    if "/decrypt/" in request.path:
        return 200, {"data": {"plaintext": base64.b64encode(b"key").decode()}}
    return 200, {"data": {"data": {"password": VALUE}, "metadata": {"version": 3}}}


@pytest.mark.parametrize("origin", ["option", "VAULT_NAMESPACE"])
def test_the_namespace_is_sent_on_every_request(origin):
    with RequestRecorder(respond=_vault_answers) as recorder:
        option = {"address": recorder.url, "auth_method": "approle", "role_id": "r", "secret_id": "s"}
        environment = {}
        if origin == "option":
            option["namespace"] = "team-a/child"
        else:
            environment = {"VAULT_NAMESPACE": "team-a/child"}
        client = VaultClient(vault_settings(option, environment=environment))
        assert client.kv_read("secret", "apps/db") == ({"password": VALUE}, 3)
        assert client.transit_decrypt("transit", "gitops", "vault:v1:abc") == b"key"
        assert [(r.method, r.path) for r in recorder.requests] == [
            ("POST", "/v1/auth/approle/login"), ("GET", "/v1/secret/data/apps/db"),
            ("POST", "/v1/transit/decrypt/gitops")]
        assert [r.headers.get("x-vault-namespace") for r in recorder.requests] == ["team-a/child"] * 3


def test_no_namespace_sends_no_header():
    with RequestRecorder(respond=_vault_answers) as recorder:
        client = VaultClient(vault_settings({"address": recorder.url, "token": "t"}, environment={}))
        client.kv_read("secret", "apps/db")
        assert [r.headers.get("x-vault-namespace") for r in recorder.requests] == [None]


def test_the_module_sends_the_namespace(tmp_path, repository, tls_vault):
    with RequestRecorder(respond=_vault_answers) as recorder:
        # (Ansible masks a no_log option's value wherever it appears in a result: ids that no value contains.)
        result = _read(tmp_path, repository, vault={"address": recorder.url, "namespace": "team-a",
                                                    "auth_method": "approle", "role_id": "role-" + secrets.token_hex(8),
                                                    "secret_id": "secret-" + secrets.token_hex(8)})
        assert result.rc == 0, _output(result)[-3000:]
        assert [(r.path, r.headers.get("x-vault-namespace")) for r in recorder.requests] == [
            ("/v1/auth/approle/login", "team-a"), (f"/v1/secret/data/{tls_vault['base']}/db", "team-a")]
