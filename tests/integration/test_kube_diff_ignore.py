"""ignore_differences holds on apply, on a real kube-apiserver: an ignored field keeps its live value
and its owner, at any depth, inside keyed list items (by merge key) and atomic lists (by index)."""

import json

import pytest

from kube_support import MANAGER, actions, deployment, edit, fields, kube_diff, kubectl, namespace, unique


@pytest.fixture()
def ns():
    return unique("kdi")


def live_with_owners(control_plane, ns):
    return json.loads(kubectl(control_plane, "get", "deployment", "web", "-n", ns, "-o", "json",
                              "--show-managed-fields").stdout)


def owners(live):
    return {entry["manager"]: json.dumps(entry.get("fieldsV1")) for entry in live["metadata"]["managedFields"]}


def workload(ns, image="nginx:1.27", team="a"):
    web = deployment("web", image=image, replicas=2)
    web["metadata"]["labels"] = {"team": team}
    spec = web["spec"]["template"]["spec"]
    spec["containers"].append({"name": "sidecar", "image": "busybox:1.36"})
    spec["tolerations"] = [{"key": "k", "operator": "Equal", "value": "v1", "effect": "NoSchedule"}]
    return [namespace(ns), web]


RULES = [{"group": "apps", "kind": "Deployment", "name": "web", "json_pointers": [
    "/spec/template/spec/containers/name=web/image", "/spec/replicas", "/spec/template/spec/tolerations/0/value"]}]


def test_ignored_fields_keep_their_live_value_and_owner_on_apply(control_plane, tmp_path, ns):
    kube_diff(control_plane, tmp_path, workload(ns), apply=True, namespace=ns)
    # An image updater and an autoscaler change what they own; someone edits a toleration.
    edit(control_plane, "deployment", "web", ns, {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "image": "nginx:1.28"}]}}}}, manager="image-updater")
    edit(control_plane, "deployment", "web", ns, {"spec": {"replicas": 5}}, manager="fake-hpa", subresource="scale")
    edit(control_plane, "deployment", "web", ns, {"spec": {"template": {"spec": {"tolerations": [
        {"key": "k", "operator": "Equal", "value": "v2", "effect": "NoSchedule"}]}}}}, manager="kubectl-edit")

    # Git changes a label (real drift) and, unaware, keeps its old image and replicas.
    desired = workload(ns, team="b")
    check = kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns, ignore_differences=RULES)
    assert fields(check, "Deployment", "web") == ["metadata.labels.team"]

    kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns, ignore_differences=RULES)
    live = live_with_owners(control_plane, ns)
    containers = {c["name"]: c for c in live["spec"]["template"]["spec"]["containers"]}
    assert containers["web"]["image"] == "nginx:1.28", "the updater's image is kept"
    assert containers["sidecar"]["image"] == "busybox:1.36"
    assert live["spec"]["replicas"] == 5, "the autoscaler's replicas are kept"
    assert live["spec"]["template"]["spec"]["tolerations"][0]["value"] == "v2", "inside an atomic list too"
    assert live["metadata"]["labels"]["team"] == "b"
    who = owners(live)
    assert "f:image" in who["image-updater"] and "f:replicas" in who["fake-hpa"], "their owners keep them"
    assert '"k:{\\"name\\":\\"web\\"}": {".": {}, "f:image"' not in who[MANAGER]
    assert "f:replicas" not in who[MANAGER]

    again = kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns, ignore_differences=RULES)
    assert again["changed"] is False, again["drift"]
    # Without the rules the same state is drift: the test can fail.
    plain = kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns)
    assert "spec.replicas" in fields(plain, "Deployment", "web")


def test_an_ignored_field_only_we_own_is_kept_not_removed(control_plane, tmp_path, ns):
    kube_diff(control_plane, tmp_path, workload(ns), apply=True, namespace=ns)
    desired = workload(ns, image="nginx:1.29", team="b")
    desired[1]["spec"]["replicas"] = 3
    result = kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns, ignore_differences=RULES)
    assert actions(result)[("Deployment", "web")] == "update"
    live = live_with_owners(control_plane, ns)
    assert live["spec"]["replicas"] == 2, "ignored: neither Git's 3 nor removed (the default would be 1)"
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert kube_diff(control_plane, tmp_path, desired, check_mode=True, namespace=ns,
                     ignore_differences=RULES)["changed"] is False
