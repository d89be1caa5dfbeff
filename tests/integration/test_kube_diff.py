"""kube_diff against a real kube-apiserver: detection, must-not-report cases, ignore rules, apply order."""

import json
import shlex
import time

import pytest
import yaml

from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError
from kube_support import (actions, client, config_map, crd, deployment, edit, fields, get, kube_diff, namespace,
                          resource_versions, service, unique)


@pytest.fixture()
def ns():
    return unique("kd")


def workload(ns):
    return [namespace(ns), config_map("settings", {"mode": "blue", "level": "3"}, labels={"team": "a"},
                                      annotations={"note": "one"}),
            deployment("web"), service("web")]


def test_missing_objects_are_created_and_check_mode_changes_nothing(control_plane, tmp_path, ns):
    desired = workload(ns)
    check = kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns)
    assert check["changed"] is True
    assert set(actions(check).values()) == {"create"} and check["summary"]["create"] == 4
    assert get(control_plane, "namespace", ns) is None, "check mode must not create anything"

    applied = kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns)
    assert applied["changed"] is True
    assert get(control_plane, "configmap", "settings", ns)["data"] == {"mode": "blue", "level": "3"}

    versions = resource_versions(control_plane, ns)
    again = kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns)
    assert again["changed"] is False and set(actions(again).values()) == {"none"}
    assert resource_versions(control_plane, ns) == versions, "an in-sync apply must not write"


def wait_for_schema(control_plane, group):
    """The server publishes a new CRD's OpenAPI schema a moment after it is established; until then
    its objects cannot be proven in sync and cost a dry-run (the check stays correct)."""
    api = client(control_plane)
    deadline = time.monotonic() + 30
    while f"apis/{group}/v1" not in api.request("GET", "/openapi/v3").get("paths", {}):
        assert time.monotonic() < deadline, f"the schema of {group} was never published"
        time.sleep(0.2)


def test_no_drift_right_after_apply_despite_defaults_and_quantities(control_plane, tmp_path, ns):
    group = f"{ns}.example.com"
    desired = [namespace(ns), crd(group, "Widget", "widgets"),
               {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"},
                "spec": {"limits": {"cpu": "2"}, "items": [{"name": "b"}, {"name": "a", "weight": 5}]}},
               deployment("web", cpu="0.5"), service("web", target_port=8080),
               {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"token": "abc"}},
               config_map("empty", {}, labels={})]
    kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns)
    live = get(control_plane, "deployment", "web", ns)
    assert live["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "500m"
    assert get(control_plane, f"widgets.{group}", "w", ns)["spec"]["size"] == 3, "the CRD default is set live"

    wait_for_schema(control_plane, group)
    check = kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns)
    assert check["changed"] is False, check["drift"]
    assert check["stats"]["dry_runs"] == 0, ("the cheap comparison proves every object in sync", check["drift"])

    # The same objects spelled differently: other quantity units, explicit defaults: still in sync (the
    # server is asked where the spelling differs).
    respelled = [dict(o) for o in desired]
    respelled[2] = {**desired[2], "spec": {"limits": {"cpu": "2"}, "size": 3, "mode": "fast",
                                           "items": [{"name": "b", "weight": 1}, {"name": "a", "weight": 5}]}}
    web = deployment("web", cpu="500m")
    container = web["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["limits"]["memory"] = "128Mi"
    container["imagePullPolicy"] = "IfNotPresent"
    web["spec"]["replicas"] = 1
    respelled[3] = web
    check = kube_diff(control_plane, tmp_path, respelled, check_mode=True, namespace=ns)
    assert check["changed"] is False, check["drift"]

    # Reordering a keyed list in Git reorders it live (a server-side apply keeps the applied order):
    # a change, reported on the list.
    container["env"].reverse()
    check = kube_diff(control_plane, tmp_path, respelled, check_mode=True, namespace=ns)
    assert fields(check, "Deployment", "web") == ["spec.template.spec.containers[name=web].env"]


def test_live_edit_by_another_manager_is_drift(control_plane, tmp_path, ns):
    desired = workload(ns)
    kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns)
    edit(control_plane, "configmap", "settings", ns, {"data": {"mode": "green"}})
    edit(control_plane, "deployment", "web", ns, {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.28"}]}}}})
    check = kube_diff(control_plane, tmp_path, desired, check_mode=True, diff=True, namespace=ns)
    assert actions(check)[("ConfigMap", "settings")] == "update"
    assert fields(check, "ConfigMap", "settings") == ["data.mode"]
    assert fields(check, "Deployment", "web") == ["spec.template.spec.containers[name=web].image"]
    assert actions(check)[("Service", "web")] == "none"
    diff = next(d for d in check["diff"] if "ConfigMap" in d["before_header"])
    assert "mode: green" in diff["before"] and "mode: blue" in diff["after"]
    assert get(control_plane, "configmap", "settings", ns)["data"]["mode"] == "green"

    kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns)
    assert get(control_plane, "configmap", "settings", ns)["data"]["mode"] == "blue", "Git wins"
    assert kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns)["changed"] is False


def test_fields_removed_from_git_and_metadata_changes_are_drift(control_plane, tmp_path, ns):
    desired = workload(ns)
    kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns)
    edit(control_plane, "configmap", "settings", ns, {"metadata": {"labels": {"added-by-someone": "x"}}})
    smaller = workload(ns)
    smaller[1] = config_map("settings", {"mode": "blue"}, labels={"team": "b"}, annotations={"note": "two"})
    check = kube_diff(control_plane, tmp_path, smaller, check_mode=True, namespace=ns)
    assert fields(check, "ConfigMap", "settings") == ["data.level", "metadata.annotations.note",
                                                      "metadata.labels.team"]
    kube_diff(control_plane, tmp_path, smaller, apply=True, namespace=ns)
    live = get(control_plane, "configmap", "settings", ns)
    assert live["data"] == {"mode": "blue"}, "a field we owned and Git dropped is removed"
    assert live["metadata"]["labels"] == {"team": "b", "added-by-someone": "x"}, "others' fields stay"


def test_ignore_differences_by_pointer_and_by_field_manager(control_plane, tmp_path, ns):
    desired = [namespace(ns), deployment("web", replicas=2), config_map("settings", {"mode": "blue"})]
    kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns)
    edit(control_plane, "deployment", "web", ns, {"spec": {"replicas": 5}}, manager="fake-hpa", subresource="scale")
    edit(control_plane, "configmap", "settings", ns, {"metadata": {"annotations": {"owner": "x"}},
                                                      "data": {"mode": "red"}})

    plain = kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns)
    assert fields(plain, "Deployment", "web") == ["spec.replicas"]

    by_manager = [{"group": "apps", "kind": "Deployment", "managed_fields_managers": ["fake-hpa"]},
                  {"kind": "ConfigMap", "name": "settings", "json_pointers": ["/data/mode"]}]
    ignored = kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns,
                        ignore_differences=by_manager)
    assert ignored["changed"] is False, ignored["drift"]

    by_pointer = [{"kind": "Deployment", "namespace": ns, "json_pointers": ["/spec/replicas"]}]
    result = kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns, ignore_differences=by_pointer)
    assert actions(result)[("Deployment", "web")] == "none"
    assert actions(result)[("ConfigMap", "settings")] == "update", "a rule for another object does not apply"
    assert get(control_plane, "deployment", "web", ns)["spec"]["replicas"] == 5, "the autoscaler keeps its value"


def test_crds_and_namespaces_are_applied_first_and_custom_resources_wait_for_them(control_plane, tmp_path, ns):
    group = f"{ns}.example.com"
    widget = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}}
    cluster_widget = {"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": f"{ns}-g"}, "spec": {}}
    # Listed in the worst order on purpose: custom resources before their CRDs and namespace.
    desired = [widget, cluster_widget, config_map("c", {"k": "v"}), crd(group, "Gadget", "gadgets", scope="Cluster"),
               crd(group, "Widget", "widgets"), namespace(ns)]
    check = kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns)
    assert set(actions(check).values()) == {"create"}
    result = kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns)
    assert result["summary"]["create"] == 6
    assert get(control_plane, f"widgets.{group}", "w", ns)["spec"] == {"size": 1, "mode": "fast", "limits": {"cpu": 1}}
    assert get(control_plane, f"gadgets.{group}", f"{ns}-g") is not None
    assert kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns)["changed"] is False


def test_kubeconfig_forms_token_content_and_exec_plugin(control_plane, tmp_path, ns):
    desired = [namespace(ns), config_map("c", {"k": "v"})]
    config = yaml.safe_load(control_plane.kubeconfig.read_text())  # self-contained: the CA inline
    assert "certificate-authority" not in config["clusters"][0]["cluster"]
    as_text = kube_diff(control_plane, tmp_path, desired, check_mode=True, kubeconfig=yaml.safe_dump(config))
    assert as_text["summary"]["create"] == 2

    credential = {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {"token": control_plane.admin_token}}
    config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "sh",
                                           "args": ["-c", f"echo '{json.dumps(credential)}'"],
                                           "interactiveMode": "Never"}}
    # A kubeconfig's credential command runs only when the operator allows its exact line (docs/kube_diff.md).
    with pytest.raises(TridentError, match="may not run commands unless the operator allows them"):
        kube_diff(control_plane, tmp_path, desired, check_mode=True, kubeconfig=config)
    allowed = shlex.join(["sh", "-c", f"echo '{json.dumps(credential)}'"])
    via_exec = kube_diff(control_plane, tmp_path, desired, check_mode=True, kubeconfig=config,
                         kubeconfig_exec=[allowed])
    assert via_exec["summary"]["create"] == 2

    config["users"][0]["user"] = {"token": "wrong"}
    with pytest.raises(TridentError, match="Unauthorized") as denied:
        kube_diff(control_plane, tmp_path, desired, check_mode=True, kubeconfig=config)
    assert control_plane.admin_token not in str(denied.value.details) + denied.value.message
