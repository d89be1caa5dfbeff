"""connect() reads a repository kubeconfig's credentials only from the files confinement resolved, in the kubernetes
Python client's order, and never takes inline data for a path."""

import base64

import pytest
import yaml

from testbed.pki import CertificateAuthority
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ConnectionSettings, connect


def config(user, cluster=None):
    return {"apiVersion": "v1", "kind": "Config", "current-context": "c",
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1", **(cluster or {})}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}


@pytest.fixture
def repo(tmp_path):
    env = tmp_path / "repo" / "environments" / "prod"
    env.mkdir(parents=True)
    (env / "token").write_text("repository-token\n")
    return tmp_path / "repo"


def connected(repo, user, cluster=None):
    path = repo / "environments" / "prod" / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump(config(user, cluster)))
    return connect(ConnectionSettings(kubeconfig=str(path), repository_root=str(repo)))


def test_a_token_file_in_the_repository_wins_over_user_name_and_password(repo):
    client = connected(repo, {"tokenFile": "token", "username": "u", "password": "p"})
    assert client._headers["Authorization"] == "Bearer repository-token"
    assert client.identity == "user 'u' of context 'c' (a token file)"


def test_user_name_and_password_alone_are_basic_auth(repo):
    client = connected(repo, {"username": "deployer", "password": "hunter2"})
    assert client._headers["Authorization"] == "Basic " + base64.b64encode(b"deployer:hunter2").decode()


def test_certificate_authority_data_is_never_taken_for_a_path(repo, tmp_path):
    """Inline CA data that decodes to a file name is data: a valid CA in that controller file is not loaded."""
    canary = tmp_path / "controller-ca.crt"
    canary.write_bytes(CertificateAuthority().cert_pem)
    with pytest.raises(TridentError, match="cannot load the CA certificate") as caught:
        connected(repo, {"token": "t"}, {"certificate-authority-data": base64.b64encode(str(canary).encode()).decode()})
    assert str(canary) not in caught.value.message


def test_inline_data_that_is_not_base64_is_an_error_naming_the_field(repo):
    with pytest.raises(TridentError, match="'client-certificate-data' is not base64"):
        connected(repo, {"client-certificate-data": "not base64!", "client-key-data": "eA=="})
