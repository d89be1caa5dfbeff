"""trident.gitops.kube_diff run the way users run it: ansible-playbook against the real apiserver."""

import base64
import json

import yaml

from kube_support import config_map, deployment, dump, edit, get, namespace, resource_versions, unique
from testbed.ansible import run_playbook
from testbed.process import free_port
from testbed.sops import sops


def task(**args):
    return {"name": "kube_diff", "trident.gitops.kube_diff": args}


def only_result(run):
    results = run.task_results()
    assert results, run.stdout + run.stderr
    return results[-1]


def test_check_mode_and_diff_from_files_with_kubeconfig_content(control_plane, tmp_path):
    ns = unique("kdm")
    manifests = tmp_path / "repo" / "yaml"
    (manifests / "apps").mkdir(parents=True)
    (manifests / "00-namespace.json").write_text(json.dumps(namespace(ns)))
    (manifests / "apps" / "app.yaml").write_text(dump([config_map("settings", {"mode": "blue"}),
                                                       deployment("web")]))
    (manifests / "apps" / "secret.yml").write_text(yaml.safe_dump(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
         "stringData": {"password": "Sup3r-Secret-Value"}}))
    args = {"src": [str(manifests)], "namespace": ns, "kubeconfig": "{{ kubeconfig_text }}",
            "discovery_cache": str(tmp_path / "cache")}

    def tasks(**args):
        # The kubeconfig arrives as content (as if decrypted from kubeconfig.sops.yaml), never as a path.
        read = {"name": "read kubeconfig", "no_log": True, "ansible.builtin.set_fact": {
            "kubeconfig_text": f"{{{{ lookup('file', '{control_plane.kubeconfig}') }}}}"}}
        return [read, {"name": "kube_diff", "trident.gitops.kube_diff": args}]

    check = run_playbook(tmp_path / "check", tasks(**args, apply=True), check=True, diff=True,
                         )
    result = only_result(check)
    assert check.rc == 0 and result["changed"] is True, check.stdout[-3000:]
    # The three objects in the namespace the batch creates are checked by their schema only (check mode writes
    # nothing, so no namespace is created for their dry-runs): pending.
    assert result["summary"] == {"create": 4, "update": 0, "replace": 0, "delete": 0, "keep": 0, "none": 0, "total": 4, "pending": 3}
    assert get(control_plane, "namespace", ns) is None, "check mode changes nothing"

    applied = run_playbook(tmp_path / "apply", tasks(**args, apply=True), diff=True,
                           )
    assert applied.rc == 0 and only_result(applied)["changed"] is True
    versions = resource_versions(control_plane, ns)

    # Someone changes the Secret live; check mode shows it changed, never its value.
    live_value = base64.b64encode(b"Changed-Live-Value").decode()
    edit(control_plane, "secret", "db", ns, {"data": {"password": live_value}})
    drift = run_playbook(tmp_path / "drift", tasks(**args), check=True, diff=True,
                         )
    entry = next(d for d in only_result(drift)["drift"] if d["kind"] == "Secret")
    assert entry["action"] == "update" and entry["fields"] == ["data.password"]
    # What a user sees at -vvvv with the default output: the diff is there, masked.
    verbose = run_playbook(tmp_path / "verbose", tasks(**args), check=True, diff=True, verbosity=4,
                           env={"ANSIBLE_STDOUT_CALLBACK": "default"})
    assert verbose.rc == 0 and "<masked:" in verbose.stdout and "password:" in verbose.stdout
    # Environment-shaped host (local, the controller's Python): the in-process path is what leaked nothing.
    assert "trident.gitops.kube_diff: running in the worker, no module process" in verbose.stdout
    for run in (check, applied, drift, verbose):
        output = run.stdout + run.stderr
        for secret in ("Sup3r-Secret-Value", base64.b64encode(b"Sup3r-Secret-Value").decode(),
                       "Changed-Live-Value", live_value, control_plane.admin_token):
            assert secret not in output
    assert resource_versions(control_plane, ns)[("Deployment", "web")] == versions[("Deployment", "web")]


def test_environment_auth_and_kustomize(control_plane, tmp_path):
    ns = unique("kdk")
    base = tmp_path / "kustomize"
    base.mkdir()
    (base / "resources.yaml").write_text(dump([namespace(ns), config_map("settings", {"mode": "blue"})]))
    (base / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": ["resources.yaml"], "namespace": ns, "commonLabels": {"env": "test"}}))
    env = {"K8S_AUTH_HOST": control_plane.server, "K8S_AUTH_API_KEY": control_plane.admin_token,
           "K8S_AUTH_SSL_CA_CERT": str(control_plane.ca_file), "K8S_AUTH_VERIFY_SSL": "true",
           "KUBECONFIG": "/nonexistent"}
    args = {"kustomize": str(base), "apply": True, "discovery_cache": str(tmp_path / "cache")}
    first = run_playbook(tmp_path / "one", [task(**args)], env=env)
    assert first.rc == 0, first.stdout[-3000:]
    assert get(control_plane, "configmap", "settings", ns)["metadata"]["labels"] == {"env": "test"}
    second = run_playbook(tmp_path / "two", [task(**args)], env=env)
    assert only_result(second)["changed"] is False
    assert only_result(second)["stats"]["dry_runs"] == 0


def test_failures_are_clear_module_errors(control_plane, tmp_path):
    bad = run_playbook(tmp_path / "bad", [task(definition=[{"apiVersion": "v1", "kind": "ConfigMap",
                                                            "metadata": {"namespace": "x"}}],
                                               kubeconfig=str(control_plane.kubeconfig),
                                               discovery_cache=str(tmp_path / "cache"))])
    result = only_result(bad)
    assert bad.rc != 0 and result["failed"] is True
    assert "definition[0]: missing metadata.name" in result["msg"] and "nothing was sent" in result["msg"]

    down = run_playbook(tmp_path / "down", [task(definition=[config_map("x", {})], validate_certs=False,
                                                 host=f"https://127.0.0.1:{free_port()}", api_key="not-a-real-token")])
    result = only_result(down)
    assert down.rc != 0 and "cannot reach the Kubernetes API server" in result["msg"]
    assert "not-a-real-token" not in down.stdout + down.stderr


def test_sops_encrypted_secret_is_decrypted_in_memory_and_applied(control_plane, tmp_path, age_key):
    """The seed's secret.yaml flow: a Flux-style SOPS Secret in Git, decrypted by kube_diff itself."""
    ns = unique("kds")
    manifests = tmp_path / "yaml"
    manifests.mkdir()
    (manifests / "namespace.yaml").write_text(yaml.safe_dump(namespace(ns)))
    plain = tmp_path / "secret.yaml"
    plain.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                     "metadata": {"name": "sops-demo", "labels": {"app": "demo"}},
                                     "stringData": {"username": "Plain-User-Value", "company": "Plain-Co-Value"}}))
    encrypted = sops("--encrypt", "--age", age_key.public, "--encrypted-regex", "^(data|stringData)$", str(plain))
    plain.unlink()
    (manifests / "secret.yaml").write_text(encrypted.decode())
    args = {"src": [str(manifests)], "namespace": ns, "kubeconfig": str(control_plane.kubeconfig),
            "discovery_cache": str(tmp_path / "cache"), "apply": True, "use_environment": False}

    refused = run_playbook(tmp_path / "nokey", [task(**args)])
    failure = only_result(refused)
    assert refused.rc != 0 and "secret.yaml: cannot decrypt" in failure["msg"]
    assert get(control_plane, "namespace", ns) is None, "a document that cannot be decrypted stops the whole run"

    applied = run_playbook(tmp_path / "apply", [task(**args, age_key_file=str(age_key.path))], diff=True,
                           verbosity=4, env={"ANSIBLE_STDOUT_CALLBACK": "default"})
    assert applied.rc == 0, applied.stdout[-3000:]
    live = get(control_plane, "secret", "sops-demo", ns)
    assert base64.b64decode(live["data"]["username"]) == b"Plain-User-Value"
    again = run_playbook(tmp_path / "again", [task(**args, age_key_file=str(age_key.path))], check=True)
    assert only_result(again)["changed"] is False, "a decrypted Secret is in sync right after the apply"
    for run in (refused, applied, again):
        output = run.stdout + run.stderr
        for secret in ("Plain-User-Value", "Plain-Co-Value", base64.b64encode(b"Plain-User-Value").decode()):
            assert secret not in output
    assert list(tmp_path.glob("**/*.dec*")) == [] and not plain.exists(), "no plaintext file is written"


def test_kubeconfig_mapping_hides_only_its_credentials(control_plane, tmp_path):
    ns = unique("kdc")
    kubeconfig = yaml.safe_load(control_plane.kubeconfig.read_text())
    args = {"definition": [namespace(ns), config_map("settings", {"mode": "blue"})], "namespace": ns,
            "kubeconfig": kubeconfig, "discovery_cache": str(tmp_path / "cache")}
    run = run_playbook(tmp_path / "check", [task(**args)], check=True, verbosity=3)
    result = only_result(run)
    assert run.rc == 0, run.stdout[-3000:]
    assert {(d["apiVersion"], d["kind"]) for d in result["drift"]} == {("v1", "Namespace"), ("v1", "ConfigMap")}
    assert control_plane.admin_token not in run.stdout + run.stderr


def test_inline_client_certificate_authenticates(control_plane, tmp_path):
    """A kubeconfig with client-certificate-data/client-key-data, which kube/client.py loads from memory
    files (/proc/self/fd/N, test_client_credentials.py), authenticates a real TLS handshake."""
    cert, key = control_plane.ca.issue("trident-cert-user", organization="system:masters", client=True)
    kubeconfig = yaml.safe_load(control_plane.kubeconfig.read_text())
    kubeconfig["users"] = [{"name": user["name"], "user": {
        "client-certificate-data": base64.b64encode(cert).decode(),
        "client-key-data": base64.b64encode(key).decode()}} for user in kubeconfig["users"]]
    ns = unique("kdcert")
    args = {"definition": [namespace(ns), config_map("settings", {"mode": "blue"})], "namespace": ns,
            "kubeconfig": kubeconfig, "discovery_cache": str(tmp_path / "cache"), "apply": True}
    run = run_playbook(tmp_path / "apply", [task(**args)])
    assert run.rc == 0, run.stdout[-3000:]
    assert get(control_plane, "configmap", "settings", ns)["data"] == {"mode": "blue"}
