"""connection_key (kube/client.py): kubeconfigs that select one server and one credential get one key wherever
their files lie, anything that changes where or as whom a request goes gets another, and reading it keeps the
repository's confinement."""

import json

import pytest

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import ConnectionSettings, connection_key

TOKEN = "s3cret-bearer-token"


def kubeconfig(server="https://10.0.0.1:6443", token=TOKEN, context="prod", **user):
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "c", "cluster": {"server": server}},
                     {"name": "other", "cluster": {"server": "https://10.0.0.2:6443"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u"}},
                     {"name": "second", "context": {"cluster": "other", "user": "u"}}],
        "users": [{"name": "u", "user": user or {"token": token}}]})


def key_of(root, folder, text, **settings):
    path = root / folder / "kubeconfig.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return connection_key(ConnectionSettings(kubeconfig=str(path), repository_root=str(root), **settings))


def test_one_cluster_and_credential_is_one_key_wherever_the_kubeconfig_lies(tmp_path):
    first = key_of(tmp_path, "environments/a", kubeconfig())
    assert key_of(tmp_path, "environments/b", kubeconfig()) == first
    assert TOKEN not in first


@pytest.mark.parametrize("text, settings", [
    (kubeconfig(server="https://10.0.0.9:6443"), {}),
    (kubeconfig(token="another-token-value"), {}),
    (kubeconfig(), {"context": "second"}),
    (kubeconfig(context="second"), {}),
    (kubeconfig(), {"exec_commands": ("aws eks get-token",)}),
    (kubeconfig(), {"timeout": 5.0}),
    (kubeconfig(), {"validate_certs": False}),
])
def test_another_server_credential_context_or_option_is_another_key(tmp_path, text, settings):
    assert key_of(tmp_path, "environments/b", text, **settings) != key_of(tmp_path, "environments/a", kubeconfig())


def test_the_operators_relative_file_names_resolve_per_folder(tmp_path):
    """Outside a repository a relative tokenFile is the kubeconfig's folder's: two folders, two credentials."""
    keys = set()
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "token").write_text(folder)
        path = tmp_path / folder / "config"
        path.write_text(kubeconfig(tokenFile="token"))
        keys.add(connection_key(ConnectionSettings(kubeconfig=str(path))))
    assert len(keys) == 2


def test_a_repository_kubeconfig_naming_a_file_outside_is_refused(tmp_path):
    outside = tmp_path / "outside-token"
    outside.write_text("x")
    with pytest.raises(TridentError, match="may name only files inside the repository"):
        key_of(tmp_path / "repo", "environments/a", kubeconfig(tokenFile=str(outside)))
