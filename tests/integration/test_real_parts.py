"""Smoke tests: each real part the collection is tested against works on this machine."""

import json
import os
import subprocess

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from testbed import tool
from testbed.gitserver import git
from testbed.sops import SopsError, sops


@pytest.fixture()
def kube(control_plane):
    return config.new_client_from_config(str(control_plane.kubeconfig))


def test_control_plane_stores_objects_with_rbac(kube, control_plane):
    core = client.CoreV1Api(kube)
    core.create_namespace({"metadata": {"name": "smoke"}})
    core.create_namespaced_config_map("smoke", {"metadata": {"name": "cm"}, "data": {"k": "v"}})
    assert core.read_namespaced_config_map("cm", "smoke").data == {"k": "v"}

    nobody = client.Configuration()
    nobody.host = control_plane.server
    nobody.ssl_ca_cert = str(control_plane.ca_file)
    nobody.api_key = {"authorization": f"Bearer {control_plane.viewer_token}"}
    with pytest.raises(ApiException) as denied:
        client.CoreV1Api(client.ApiClient(nobody)).read_namespaced_config_map("cm", "smoke")
    assert denied.value.status == 403


def test_server_side_apply_dry_run_returns_defaulted_object(kube):
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}},
    }
    response = kube.call_api(
        "/apis/apps/v1/namespaces/default/deployments/web", "PATCH",
        query_params=[("dryRun", "All"), ("fieldManager", "trident-smoke"), ("force", "true")],
        header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
        body=deployment, response_type="object", auth_settings=["BearerToken"], _return_http_data_only=True)
    assert response["spec"]["replicas"] == 1
    assert response["spec"]["strategy"]["type"] == "RollingUpdate"
    assert response["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    with pytest.raises(ApiException) as missing:
        client.AppsV1Api(kube).read_namespaced_deployment("web", "default")
    assert missing.value.status == 404, "a dry run must not create the object"


def test_kubectl_talks_to_the_control_plane(control_plane):
    out = subprocess.run([tool("kubectl"), "--kubeconfig", str(control_plane.kubeconfig), "version", "-o", "json"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["serverVersion"]["gitVersion"].startswith("v1.")


@pytest.mark.parametrize("binary", ["sops", "sops-3.7"])
def test_sops_round_trips_with_pgp_and_age(tmp_path, gnupg_home, age_key, binary):
    plain = {"user": "admin", "password": "s3cr3t", "nested": {"list": [1, 2.5, True]}}
    source = tmp_path / "secret.yaml"
    source.write_text(yaml.safe_dump(plain))
    fingerprint = gnupg_home.keys[0].fingerprint
    encrypted = sops("--encrypt", "--pgp", fingerprint, "--age", age_key.public, str(source),
                     binary=binary, gnupghome=gnupg_home.path)
    assert b"s3cr3t" not in encrypted and b"ENC[AES256_GCM" in encrypted
    target = tmp_path / "secret.sops.yaml"
    target.write_bytes(encrypted)
    via_pgp = sops("--decrypt", str(target), binary=binary, gnupghome=gnupg_home.path)
    assert yaml.safe_load(via_pgp) == plain
    empty_home = tmp_path / "empty-gnupg"
    empty_home.mkdir(mode=0o700)
    via_age = sops("--decrypt", str(target), binary=binary, gnupghome=empty_home, age_key_file=age_key.path)
    assert yaml.safe_load(via_age) == plain
    with pytest.raises(SopsError):
        sops("--decrypt", str(target), binary=binary, gnupghome=empty_home)


@pytest.mark.parametrize("binary", ["terraform", "tofu"])
def test_terraform_applies_offline_with_mirrored_provider(tmp_path, binary):
    project = tmp_path / "project"
    project.mkdir()
    target_file = tmp_path / "managed.txt"
    (project / "main.tf").write_text(
        'terraform {\n  required_providers {\n    local = { source = "hashicorp/local" }\n  }\n}\n'
        f'resource "local_file" "managed" {{\n  filename = "{target_file}"\n  content  = "hello"\n}}\n')
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    assert env.get("TF_CLI_CONFIG_FILE"), "make exports TF_CLI_CONFIG_FILE (the offline provider mirror)"

    def tf(*args):
        return subprocess.run([tool(binary), f"-chdir={project}", *args, "-no-color"], env=env,
                              capture_output=True, text=True, check=False)

    init = tf("init", "-input=false")
    assert init.returncode == 0, init.stdout + init.stderr
    assert tf("plan", "-input=false", "-detailed-exitcode").returncode == 2
    apply = tf("apply", "-input=false", "-auto-approve")
    assert apply.returncode == 0, apply.stderr
    assert target_file.read_text() == "hello"
    assert tf("plan", "-input=false", "-detailed-exitcode").returncode == 0
    target_file.write_text("changed outside terraform")
    assert tf("plan", "-input=false", "-detailed-exitcode").returncode == 2, "drift must show in the plan"


def test_git_clones_over_git_protocol_and_authenticated_http(tmp_path, git_server):
    git_server.create_repo("smoke")
    work = tmp_path / "work"
    git("clone", git_server.git_url("smoke"), str(work))
    (work / "README").write_text("hello\n")
    git("add", "README", cwd=work)
    git("commit", "-m", "first", cwd=work)
    git("push", "origin", "HEAD:main", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work)

    over_http = tmp_path / "over-http"
    git("clone", git_server.http_url("smoke", with_credentials=True), str(over_http))
    assert git("rev-parse", "HEAD", cwd=over_http) == head
    refused = subprocess.run([tool("git"), "ls-remote", git_server.http_url("smoke")], capture_output=True,
                             text=True, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"}, check=False)
    assert refused.returncode != 0
