"""A kubeconfig from the repository runs no command on the controller unless the operator allowed that exact
command line (kube_diff's kubeconfig_exec): exec plugins and auth providers' cmd-path are refused before the
kubernetes client's loader sees them, and the message shows none of the kubeconfig's content."""

import json
import shlex
import sys

import pytest
import yaml

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.client import (ConnectionSettings, connect,
                                                                                 credential_command)

# Writes a marker file (proof that it ran), then prints an ExecCredential holding a token.
PLUGIN = ("import json, pathlib, sys; pathlib.Path(sys.argv[1]).write_text('ran'); "
          "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential', "
          "'status': {'token': 'exec-token-' + sys.argv[2]}}))")


def kubeconfig(user, context_user="deployer"):
    return {"apiVersion": "v1", "kind": "Config", "current-context": "prod",
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": "deployer", "user": user}, {"name": "other", "user": {"token": "t"}}],
            "contexts": [{"name": "prod", "context": {"cluster": "c", "user": context_user}},
                         {"name": "plain", "context": {"cluster": "c", "user": "other"}}]}


def exec_user(marker, env=None):
    entry = {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
             "args": ["-c", PLUGIN, str(marker), "s3cr3t-arg"], "interactiveMode": "Never"}
    if env:
        entry["env"] = env
    return {"exec": entry}


def written(tmp_path, config):
    path = tmp_path / "environments" / "prod" / "kubeconfig.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def test_an_exec_plugin_is_refused_before_it_runs_and_the_message_shows_no_content(tmp_path):
    marker = tmp_path / "ran"
    path = written(tmp_path, kubeconfig(exec_user(marker)))
    with pytest.raises(TridentError) as caught:
        connect(ConnectionSettings(kubeconfig=str(path)))
    assert not marker.exists(), "the command must not run"
    message = caught.value.message
    assert message.startswith(f"{path}: user 'deployer' of context 'prod' gets its credential by running a command")
    assert "an exec plugin" in message and "kubeconfig_exec" in message and "kubernetes_kubeconfig_exec_commands" in message
    assert sys.executable not in message and "s3cr3t-arg" not in message and str(marker) not in message


def test_content_is_named_as_content_and_another_context_without_a_command_is_fine(tmp_path):
    config = kubeconfig(exec_user(tmp_path / "ran"))
    for source in (yaml.safe_dump(config), config):
        with pytest.raises(TridentError, match="^the kubeconfig given as content: user 'deployer'"):
            connect(ConnectionSettings(kubeconfig=source))
    assert connect(ConnectionSettings(kubeconfig=config, context="plain")).identity.startswith("user 'other'")
    assert not (tmp_path / "ran").exists()


def test_the_exact_allowed_command_line_runs_and_gives_the_token(tmp_path):
    marker = tmp_path / "ran"
    config = kubeconfig(exec_user(marker, env=[{"name": "AWS_PROFILE", "value": "prod"}]))
    kind, line = credential_command(config["users"][0]["user"])
    assert kind == "an exec plugin"
    assert shlex.split(line) == ["AWS_PROFILE=prod", sys.executable, "-c", PLUGIN, str(marker), "s3cr3t-arg"]
    # Another argument or environment is another command line: refused.
    for near in (line + " extra", line.replace("AWS_PROFILE=prod ", ""), line.replace("prod", "dev", 1)):
        with pytest.raises(TridentError, match="gets its credential by running a command"):
            connect(ConnectionSettings(kubeconfig=config, exec_commands=(near,)))
        assert not marker.exists()
    client = connect(ConnectionSettings(kubeconfig=config, exec_commands=(line,)))
    assert marker.read_text() == "ran"
    assert client._headers["Authorization"] == "Bearer exec-token-s3cr3t-arg"


@pytest.mark.parametrize("provider, line", [
    ({"name": "gcp", "config": {"cmd-path": "/usr/bin/gcloud config config-helper --format=json"}},
     "/usr/bin/gcloud config config-helper --format=json"),
    ({"name": "gcp", "config": {"cmd-path": "/opt/my tool", "cmd-args": "a  b"}}, "'/opt/my tool' a b"),
    ({"name": "custom", "config": {"cmd-path": "touch"}}, "touch"),
])
def test_an_auth_provider_cmd_path_is_a_command_line_too(tmp_path, provider, line):
    user = {"auth-provider": provider}
    assert credential_command(user) == ("an auth provider's cmd-path", line)
    with pytest.raises(TridentError, match=r"\(an auth provider's cmd-path\)"):
        connect(ConnectionSettings(kubeconfig=kubeconfig(user)))


@pytest.mark.parametrize("user", [{"auth-provider": {"name": "gcp", "config": {}}}, {"auth-provider": {"name": "gcp"}},
                                  {"exec": None}, {"exec": "sh"}, {"exec": {"command": "sh", "args": "-c x"}},
                                  {"auth-provider": "gcp"}])
def test_forms_that_cannot_be_allowed_are_refused_even_with_everything_allowed(user):
    assert credential_command(user)[1] is None
    with pytest.raises(TridentError, match="this form cannot be allowed"):
        connect(ConnectionSettings(kubeconfig=kubeconfig(user), exec_commands=("", "sh", "gcp", "None")))


@pytest.mark.parametrize("user", [{"token": "t"}, {"auth-provider": {"name": "oidc", "config": {}}},
                                  {"username": "u", "password": "p"}, {}])
def test_users_that_run_no_command_are_not_credential_commands(user):
    assert credential_command(user) is None


def test_the_refusal_does_not_depend_on_a_json_or_yaml_spelling(tmp_path):
    marker = tmp_path / "ran"
    text = json.dumps(kubeconfig(exec_user(marker)))
    with pytest.raises(TridentError, match="^the kubeconfig given as content"):
        connect(ConnectionSettings(kubeconfig=text))
    assert not marker.exists()


def test_the_controllers_own_default_kubeconfig_is_the_operators_and_may_run_its_plugin(tmp_path, monkeypatch):
    """No kubeconfig option: KUBECONFIG (an AWX credential, ~/.kube/config) is the controller's, not the repository's."""
    marker = tmp_path / "ran"
    path = written(tmp_path, kubeconfig(exec_user(marker)))
    monkeypatch.setenv("KUBECONFIG", str(path))
    client = connect(ConnectionSettings())
    assert marker.read_text() == "ran" and client._headers["Authorization"] == "Bearer exec-token-s3cr3t-arg"
