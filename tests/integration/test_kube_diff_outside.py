"""Nothing the repository says reaches outside it, with the real apiserver, kubectl kustomize and git:

- a kubeconfig whose user runs an exec plugin is refused before the plugin runs (its marker file stays absent)
  and nothing is applied; once the operator allows its exact command line, the plugin's ExecCredential token
  authenticates to the testbed apiserver and the objects are applied;
- a kustomization with a remote reference is refused before kustomize runs (the git server sees no request),
  a tag is refused even when the environment allows remote resources, and a reference pinned to a commit builds.

The classifier over many reference forms and the message contents are unit-tested
(tests/unit/plugins/module_utils/kube/test_kustomization_remote.py, test_client_exec.py), and checked against
kubectl's kustomize in tests/integration/test_kustomize_fetches.py."""

import base64
import shlex
import sys

import pytest
import yaml

from kube_support import get, kube_diff, unique

from ansible_collections.trident.gitops.plugins.module_utils.common.command import CommandRunner
from ansible_collections.trident.gitops.plugins.module_utils.kube.request import validated_request
from ansible_collections.trident.gitops.plugins.module_utils.kube.run import run

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from testbed import tool
from testbed.ansible import run_playbook
from testbed.gitserver import git

# Proof that it ran (a marker file), then an ExecCredential with the token read from a file.
PLUGIN = ("import json, pathlib, sys; pathlib.Path(sys.argv[1]).write_text('ran'); "
          "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential', "
          "'status': {'token': pathlib.Path(sys.argv[2]).read_text()}}))")


def exec_kubeconfig(control_plane, folder):
    """An environment folder's kubeconfig.yaml whose user is an exec plugin; returns (path, marker, command line)."""
    folder.mkdir(parents=True, exist_ok=True)
    marker, token = folder.parent / "plugin-ran", folder.parent / "token"
    token.write_text(control_plane.admin_token)
    argv = [sys.executable, "-c", PLUGIN, str(marker), str(token)]
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "prod",
              "clusters": [{"name": "testbed", "cluster": {
                  "server": control_plane.server,
                  "certificate-authority-data": base64.b64encode(control_plane.ca_file.read_bytes()).decode()}}],
              "users": [{"name": "deployer", "user": {"exec": {
                  "apiVersion": "client.authentication.k8s.io/v1", "command": argv[0], "args": argv[1:],
                  "interactiveMode": "Never"}}}],
              "contexts": [{"name": "prod", "context": {"cluster": "testbed", "user": "deployer"}}]}
    path = folder / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, marker, shlex.join(argv)


def config_map(name, ns):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
            "data": {"from": "repository"}}


def test_an_exec_kubeconfig_runs_nothing_until_the_operator_allows_its_command(control_plane, tmp_path):
    path, marker, line = exec_kubeconfig(control_plane, tmp_path / "environments" / "prod")
    name = unique("exec")
    params = {"kubeconfig": str(path), "apply": True}
    with pytest.raises(TridentError) as refused:
        kube_diff(control_plane, tmp_path, [config_map(name, "default")], **params)
    assert f"{path}: user 'deployer' of context 'prod' gets its credential by running a command" in refused.value.message
    assert not marker.exists(), "the exec plugin must not run"
    assert get(control_plane, "configmap", name, "default") is None, "nothing applied"
    with pytest.raises(TridentError):  # a near miss (another argument) is another command
        kube_diff(control_plane, tmp_path, [config_map(name, "default")], kubeconfig_exec=[line + " x"], **params)
    assert not marker.exists()

    applied = kube_diff(control_plane, tmp_path, [config_map(name, "default")], kubeconfig_exec=[line], **params)
    assert marker.read_text() == "ran"
    assert applied["changed"] is True
    assert get(control_plane, "configmap", name, "default")["data"] == {"from": "repository"}


@pytest.fixture(scope="module")
def remote_base(tmp_path_factory):
    """A bare Git repository with a kustomization in app/ (one ConfigMap) at a commit tagged v1."""
    work = tmp_path_factory.mktemp("remote-base")
    source = work / "source"
    (source / "app").mkdir(parents=True)
    (source / "app" / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    name = unique("remote")
    (source / "app" / "cm.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                                            "metadata": {"name": name}, "data": {"from": "git"}}))
    git("init", "-q", "--initial-branch=main", str(source))
    git("add", "-A", cwd=source)
    git("commit", "-qm", "base", cwd=source)
    git("tag", "v1", cwd=source)
    git("clone", "-q", "--bare", str(source), str(work / "base.git"))
    return {"bare": work / "base.git", "sha": git("rev-parse", "HEAD", cwd=source), "name": name}


def kustomize_diff(control_plane, tmp_path, folder, allowed, definition=None, **params):
    request = validated_request({"kubeconfig": str(control_plane.kubeconfig), "kustomize": str(folder),
                                 "kustomize_remote": allowed, "definition": definition, "apply": True,
                                 "discovery_cache": str(tmp_path / "discovery"), "kubectl": tool("kubectl"), **params})
    return run(request, runner=CommandRunner())


def overlay(folder, *resources):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({"resources": list(resources)}))
    return folder


def test_remote_kustomize_references_are_refused_unless_allowed_and_pinned(control_plane, git_server, tmp_path,
                                                                           remote_base):
    ns, name, sha = unique("kzremote"), remote_base["name"], remote_base["sha"]
    served = git_server.create_repo(unique("served"))
    git("push", "-q", str(served), "HEAD:main", cwd=remote_base["bare"])
    http_url = git_server.http_url(served.name[:-len(".git")], with_credentials=True)
    file_url = f"file://{remote_base['bare']}//app"

    refused_cases = [
        ("not allowed", False, [f"{file_url}?ref={sha}", f"{http_url}//app?ref={sha}"], "is a remote reference"),
        ("a tag", True, [f"{file_url}?ref=v1"], "not pinned to a full commit id"),
        ("http, even pinned", True, [f"{http_url}//app?ref={sha}"], "not pinned to a full commit id"),
    ]
    for case, allowed, resources, expected in refused_cases:
        folder = overlay(tmp_path / case.replace(" ", "-").replace(",", ""), *resources)
        with pytest.raises(TridentError, match="nothing was sent to the cluster") as refused:
            kustomize_diff(control_plane, tmp_path, folder, allowed, namespace=ns)
        assert expected in refused.value.message, case
        assert git_server.password not in refused.value.message, "the address's password is not shown"
    assert all(served.name not in path for _m, path, _a in git_server.requests), \
        "kustomize never ran, so the git server was never asked"
    assert get(control_plane, "configmap", name, ns) is None, "nothing applied"

    pinned = overlay(tmp_path / "pinned", f"{file_url}?ref={sha}")
    applied = kustomize_diff(control_plane, tmp_path, pinned, True, namespace=ns,
                             definition=[{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}])
    assert applied["changed"] is True
    assert get(control_plane, "configmap", name, ns)["data"] == {"from": "git"}


def test_the_kubernetes_role_passes_both_allowances(control_plane, tmp_path, remote_base):
    """The role's variables reach kube_diff: refused by default; allowed by the operator's
    kubernetes_kubeconfig_exec_commands and kubernetes_kustomize_remote (both the operator's, never env.yml's)."""
    env = tmp_path / "repo" / "environments" / "prod"
    _path, marker, line = exec_kubeconfig(control_plane, env)
    ns = unique("kzrole")
    (env / "manifests").mkdir()
    (env / "manifests" / "ns.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Namespace",
                                                               "metadata": {"name": ns}}))
    overlay(env / "manifests", "ns.yaml", f"file://{remote_base['bare']}//app?ref={remote_base['sha']}")
    role_vars = {"trident_environment": {
        "name": "prod", "dir": "environments/prod", "repository": {"path": str(tmp_path / "repo")}, "error": None,
        "steps": ["source", "kubernetes"], "manifests_kind": "kustomize", "manifests_dir": "manifests",
        "manifest_files": [], "kubeconfig": "kubeconfig.yaml", "kubeconfig_encrypted": False, "secrets": [],
        "terraform_files": [], "depends_on": [], "wave": 0, "tags": [], "settings": {"namespace": ns}}}
    task = {"name": "Reconcile", "ansible.builtin.include_role": {"name": "trident.gitops.kubernetes"},
            "vars": role_vars}
    refused = run_playbook(tmp_path / "refused", [task])
    assert refused.rc != 0
    message = refused.task_results()[-1]["msg"]
    assert "is a remote reference" in message and "gets its credential by running a command" in message
    assert not marker.exists() and get(control_plane, "namespace", ns) is None

    allowed = run_playbook(tmp_path / "allowed", [task], extra_vars={
        "kubernetes_kubeconfig_exec_commands": [line], "kubernetes_kustomize_remote": True})
    assert allowed.rc == 0, allowed.stdout[-3000:] + allowed.stderr[-2000:]
    assert marker.read_text() == "ran"
    assert get(control_plane, "configmap", remote_base["name"], ns)["data"] == {"from": "git"}
