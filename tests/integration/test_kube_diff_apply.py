"""kube_diff against a real kube-apiserver: prune with ApplySet, secrets, bad input, failures, health."""

import json
import os
import threading
import time

import pytest

from kube_support import (actions, client, config_map, crd, deployment, fields, get, kube_diff, kubectl, namespace,
                          resource_versions, unique)
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from ansible_collections.trident.gitops.plugins.module_utils.kube.applyset import ID_LABEL, PART_OF, applyset_id


@pytest.fixture()
def ns():
    return unique("kda")


def test_prune_deletes_only_members_of_our_applyset(control_plane, tmp_path, ns):
    applyset = {"name": "applyset-env", "namespace": ns}
    other = f"{ns}-other"
    desired = [namespace(ns), namespace(other), config_map("keep", {"k": "v"}), config_map("gone", {"k": "v"}),
               {**config_map("elsewhere", {"k": "v"}), "metadata": {"name": "elsewhere", "namespace": other}},
               deployment("web")]
    kube_diff(control_plane, tmp_path, desired, apply=True, prune=True, applyset=applyset, namespace=ns)
    set_id = applyset_id("applyset-env", ns, "Secret", "")
    # Look-alikes: same kind and namespace, unlabelled or labelled for another set.
    kubectl(control_plane, "create", "configmap", "lookalike", "-n", ns, "--from-literal=k=v")
    kubectl(control_plane, "create", "configmap", "foreign", "-n", ns, "--from-literal=k=v")
    kubectl(control_plane, "label", "configmap", "foreign", "-n", ns, f"{PART_OF}=applyset-someone-else-v1")

    remaining = [desired[0], desired[1], desired[2]]
    check = kube_diff(control_plane, tmp_path, remaining, check_mode=True, prune=True, applyset=applyset,
                      namespace=ns)
    assert {k: v for k, v in actions(check).items() if v != "none"} == {
        ("ConfigMap", "gone"): "delete", ("ConfigMap", "elsewhere"): "delete", ("Deployment", "web"): "delete"}
    assert get(control_plane, "configmap", "gone", ns) is not None, "check mode deletes nothing"

    result = kube_diff(control_plane, tmp_path, remaining, apply=True, prune=True, applyset=applyset, namespace=ns)
    assert result["summary"]["delete"] == 3
    for kind, name, where in (("configmap", "gone", ns), ("configmap", "elsewhere", other), ("deployment", "web", ns)):
        assert get(control_plane, kind, name, where) is None
    for name in ("keep", "lookalike", "foreign"):
        assert get(control_plane, "configmap", name, ns) is not None, f"{name} must survive"
    parent = get(control_plane, "secret", "applyset-env", ns)
    assert parent["metadata"]["labels"][ID_LABEL] == set_id
    assert parent["metadata"]["annotations"]["applyset.kubernetes.io/contains-group-kinds"] == "ConfigMap,Namespace"
    assert "applyset.kubernetes.io/additional-namespaces" not in parent["metadata"]["annotations"]
    again = kube_diff(control_plane, tmp_path, remaining, apply=True, prune=True, applyset=applyset, namespace=ns)
    assert again["changed"] is False


def test_kubectl_reads_our_applyset(control_plane, tmp_path, ns):
    """kubectl computes the same ApplySet id and finds our members; it refuses to take over our set."""
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(json.dumps(config_map("by-kubectl", {"k": "v"}, namespace=ns)))
    kubectl(control_plane, "create", "namespace", ns)
    env = {**os.environ, "KUBECTL_APPLYSET": "true"}
    kubectl(control_plane, "apply", "--server-side", "--prune", "--applyset=kubectl-set", "-n", ns, "-f", manifest,
            env=env)
    kubectl_parent = get(control_plane, "secret", "kubectl-set", ns)
    assert kubectl_parent["metadata"]["labels"][ID_LABEL] == applyset_id("kubectl-set", ns, "Secret", "")

    applyset = {"name": "applyset-ours", "namespace": ns}
    kube_diff(control_plane, tmp_path, [config_map("mine", {"k": "v"})], apply=True, prune=True, applyset=applyset,
              namespace=ns)
    our_id = applyset_id("applyset-ours", ns, "Secret", "")
    members = kubectl(control_plane, "get", "configmaps", "-n", ns, "-l", f"{PART_OF}={our_id}", "-o", "name").stdout
    assert members.split() == ["configmap/mine"]
    refused = kubectl(control_plane, "apply", "--server-side", "--prune", "--applyset=applyset-ours", "-n", ns,
                      "-f", manifest, env=env, check=False)
    assert refused.returncode != 0 and "trident.gitops" in refused.stderr, refused.stderr
    with pytest.raises(TridentError, match="managed by kubectl"):
        kube_diff(control_plane, tmp_path, [config_map("mine", {"k": "v"})], apply=True, prune=True,
                  applyset={"name": "kubectl-set", "namespace": ns}, namespace=ns)


def secret(name, **values):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": values}


def test_secret_values_are_masked_yet_changes_show(control_plane, tmp_path, ns):
    kube_diff(control_plane, tmp_path, [namespace(ns), secret("db", password="first-Pa55word", user="admin")],
              apply=True, namespace=ns)
    changed = [namespace(ns), secret("db", password="second-Pa55word", user="admin")]
    result = kube_diff(control_plane, tmp_path, changed, check_mode=True, diff=True, namespace=ns)
    assert fields(result, "Secret", "db") == ["data.password"]
    text = json.dumps(result)
    for plain in ("first-Pa55word", "second-Pa55word", "admin"):
        assert plain not in text
        assert __import__("base64").b64encode(plain.encode()).decode() not in text
    diff = result["diff"][0]
    assert "<masked:" in diff["before"] and diff["before"] != diff["after"]
    before_user = [line for line in diff["before"].splitlines() if "user:" in line]
    after_user = [line for line in diff["after"].splitlines() if "user:" in line]
    assert before_user == after_user, "an unchanged value masks the same on both sides"


def test_bad_input_lists_every_problem_and_changes_nothing(control_plane, tmp_path, ns):
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n")
    (tmp_path / "fine.yaml").write_text(json.dumps(config_map("fine", {"k": "v"})))
    desired = [namespace(ns), {"apiVersion": "v1", "metadata": {"name": "nokind"}},
               {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}},
               {"apiVersion": "example.com/v1", "kind": "Nonesuch", "metadata": {"name": "x"}},
               {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scoped", "namespace": ns}},
               config_map("twice", {"a": "1"}), config_map("twice", {"a": "2"}),
               {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "enc"}, "data": {"k": "ENC[x]"},
                "sops": {"mac": "ENC[y]", "version": "3.9.0"}}]
    with pytest.raises(TridentError) as failure:
        kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns, src=[str(tmp_path / "*.yaml")])
    text = "\n".join(failure.value.details["problems"])
    for expected in ("broken.yaml: invalid YAML", "definition[1]: missing kind",
                     "definition[2]: missing metadata.name", "unknown kind Nonesuch", "Namespace is cluster-scoped",
                     "ConfigMap twice: duplicate of", "SOPS-encrypted manifest: give decryption keys"):
        assert expected in text
    assert len(failure.value.details["problems"]) == 7
    assert "nothing was sent" in failure.value.message
    assert get(control_plane, "namespace", ns) is None, "nothing was sent"


def test_rejections_name_the_object_and_change_nothing(control_plane, tmp_path, ns):
    kubectl(control_plane, "create", "namespace", ns)
    policy = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": f"{ns}-no-forbidden"},
              "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [
                  {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                   "resources": ["configmaps"]}]},
                  "validations": [{"expression": "!has(object.data) || !('forbidden' in object.data)",
                                   "message": "forbidden key"}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": {"name": f"{ns}-no-forbidden"},
               "spec": {"policyName": f"{ns}-no-forbidden", "validationActions": ["Deny"],
                        "matchResources": {"namespaceSelector": {"matchLabels": {
                            "kubernetes.io/metadata.name": ns}}}}}
    kube_diff(control_plane, tmp_path, [policy, binding], apply=True, wait=True, wait_timeout=30)
    desired = [config_map("ok", {"k": "v"}), config_map("bad", {"forbidden": "x"}),
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc"},
                "spec": {"ports": [{"port": 70000}]}}]
    deadline = time.monotonic() + 30
    text = ""
    # The invalid Service fails every attempt, so nothing is ever applied; the policy takes effect
    # once the apiserver's policy informer has seen it.
    while "forbidden key" not in text and time.monotonic() < deadline:
        with pytest.raises(TridentError) as failure:
            kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns)
        text = failure.value.message
    assert "ConfigMap " + ns + "/bad" in text and "forbidden key" in text
    assert f"Service {ns}/svc" in text and "70000" in text
    assert "nothing was changed" in text
    assert get(control_plane, "configmap", "ok", ns) is None


def test_quota_rejection_during_apply_names_the_object(control_plane, tmp_path, ns):
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
             "spec": {"hard": {"count/configmaps": "2"}}}
    kube_diff(control_plane, tmp_path, [namespace(ns), quota], apply=True, namespace=ns)
    # The quota's usage is normally filled in by the controller-manager, which this plane lacks: write it.
    kubectl(control_plane, "patch", "resourcequota", "q", "-n", ns, "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"hard": {"count/configmaps": "2"}, "used": {"count/configmaps": "2"}}}))
    with pytest.raises(TridentError) as failure:
        kube_diff(control_plane, tmp_path, [config_map("over", {"k": "v"})], apply=True, namespace=ns)
    assert f"ConfigMap {ns}/over" in failure.value.message and "exceeded quota" in failure.value.message


def test_unreachable_apiserver_is_a_clear_error(control_plane, tmp_path):
    from testbed.process import free_port

    with pytest.raises(TridentError, match=r"cannot reach the Kubernetes API server at https://127.0.0.1:\d+"):
        kube_diff(control_plane, tmp_path, [config_map("x", {})], kubeconfig=None,
                  host=f"https://127.0.0.1:{free_port()}", api_key=control_plane.admin_token,
                  ca_cert=str(control_plane.ca_file))


def test_apiserver_killed_during_apply_then_a_rerun_converges(control_plane, tmp_path, ns):
    desired = [namespace(ns)] + [config_map(f"cm-{i:04d}", {"i": str(i)}) for i in range(400)]
    errors = []

    def apply():
        try:
            kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns, workers=2)
        except TridentError as exc:
            errors.append(exc)

    worker = threading.Thread(target=apply)
    worker.start()
    deadline = time.monotonic() + 60
    while get(control_plane, "configmap", "cm-0000", ns) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    control_plane.kill_apiserver()
    worker.join(120)
    control_plane.restart_apiserver()
    assert errors and ("cannot reach" in errors[0].message or "apply failed" in errors[0].message), errors
    result = kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns)
    assert result["summary"]["create"] > 0, "the first run was cut short"
    assert kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns)["changed"] is False
    assert set(resource_versions(control_plane, ns)) == {("ConfigMap", f"cm-{i:04d}") for i in range(400)}
    assert get(control_plane, "configmap", "cm-0399", ns)["data"] == {"i": "399"}


def test_wait_for_health_uses_status_and_times_out_clearly(control_plane, tmp_path, ns):
    """No controllers run here: the test plays the controller by writing the status subresource."""
    group = f"{ns}.example.com"
    kube_diff(control_plane, tmp_path, [namespace(ns), crd(group, "Widget", "widgets", status=True)], apply=True,
              wait=True, wait_timeout=30)

    def widget(size):
        return {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": size}}

    def report(generation, ready):
        client(control_plane).request(
            "PATCH", f"/apis/{group}/v1/namespaces/{ns}/widgets/w/status", body={"status": {
                "observedGeneration": generation, "conditions": [{"type": "Ready", "status": ready}]}},
            content_type="application/merge-patch+json")

    kube_diff(control_plane, tmp_path, [widget(1)], apply=True, namespace=ns)
    report(1, "True")
    with pytest.raises(TridentError, match=rf"waiting for 1 object\(s\) to be Healthy; the changes stay applied.*"
                                           rf"Widget.{group} {ns}/w: Progressing \(generation 2 not observed"):
        kube_diff(control_plane, tmp_path, [widget(2)], apply=True, namespace=ns, wait=True, wait_timeout=1)
    report(2, "False")
    with pytest.raises(TridentError, match=rf"{ns}/w: Degraded \(Ready=False\)"):  # in sync, yet not healthy
        kube_diff(control_plane, tmp_path, [widget(2)], apply=True, namespace=ns, wait=True, wait_timeout=1)

    timer = threading.Timer(1.5, report, (3, "True"))
    timer.start()
    started = time.monotonic()
    result = kube_diff(control_plane, tmp_path, [widget(3)], apply=True, namespace=ns, wait=True, wait_timeout=30)
    timer.join()
    assert result["changed"] is True and time.monotonic() - started >= 1.5
