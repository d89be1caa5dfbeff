"""All or nothing per batch, on a real kube-apiserver: every object is checked before the first write.

Objects the server cannot dry-run yet (their namespace or their CRD comes with the batch) are checked
against the served schema or the batch's CRD schema; a namespace that is neither live nor in the batch
is an error naming every object in it; a rejection during the apply lists exactly what was written.
"""

import json

import pytest

from kube_support import config_map, crd, deployment, get, kube_diff, kubectl, namespace, unique
from ansible_collections.trident.gitops.plugins.module_utils.common.errors import TridentError


@pytest.fixture()
def ns():
    return unique("kdb")


def rejected(control_plane, tmp_path, desired, **params):
    with pytest.raises(TridentError) as failure:
        kube_diff(control_plane, tmp_path, desired, apply=True, **params)
    assert "nothing was changed" in failure.value.message
    return failure.value.message


def test_a_namespace_neither_live_nor_in_the_batch_names_every_object_in_it(control_plane, tmp_path, ns):
    typo = f"{ns}-typo"
    # The old planner read the dry-run's 404 as "its namespace comes later" and applied the rest.
    desired = [namespace(ns), config_map("good", {"k": "v"}, namespace=ns),
               config_map("a", {"k": "v"}, namespace=typo), {**deployment("b"), "metadata": {"name": "b", "namespace": typo}}]
    for check_mode in (True, False):
        with pytest.raises(TridentError) as failure:
            kube_diff(control_plane, tmp_path, desired, apply=not check_mode, check_mode=check_mode, namespace=ns)
        text = failure.value.message
        assert f"namespace {typo} is neither live nor in the desired set" in text
        assert f"ConfigMap {typo}/a" in text and f"Deployment.apps {typo}/b" in text
    assert get(control_plane, "namespace", ns) is None, "nothing is applied, not even the good namespace"


def test_objects_in_a_namespace_the_batch_creates_are_checked_against_the_served_schema(control_plane, tmp_path, ns):
    web = deployment("web")
    web["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    desired = [namespace(ns), config_map("settings", {"level": 3}), web, config_map("Bad_Name", {"k": "v"})]
    text = rejected(control_plane, tmp_path, desired, namespace=ns)
    assert f"ConfigMap {ns}/settings" in text and ".data.level: expected string" in text
    assert "imagePullPolicyy: field not declared in the schema" in text
    assert "'Bad_Name' is not a DNS subdomain" in text
    assert get(control_plane, "namespace", ns) is None

    fine = [namespace(ns), config_map("settings", {"level": "3"}), deployment("web")]
    preview = kube_diff(control_plane, tmp_path, fine, check_mode=True, namespace=ns)
    assert preview["summary"]["create"] == 3
    kube_diff(control_plane, tmp_path, fine, apply=True, namespace=ns)
    assert kube_diff(control_plane, tmp_path, fine, check_mode=True, namespace=ns)["changed"] is False


def test_custom_resources_of_a_crd_in_the_batch_are_checked_against_that_crd(control_plane, tmp_path, ns):
    group = f"{ns}.example.com"
    definition = crd(group, "Gadget", "gadgets")
    definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["mode"][
        "enum"] = ["fast", "slow"]
    bad = [{"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g1"},
            "spec": {"size": "three", "mode": "warp", "items": [{"weight": 2}], "colour": "red"}}]
    text = rejected(control_plane, tmp_path, [namespace(ns), definition] + bad, namespace=ns)
    for expected in (".spec.size: expected integer", ".spec.mode: 'warp' is not one of", ".spec.items[0].name: required",
                     ".spec.colour: field not declared"):
        assert expected in text
    assert get(control_plane, "namespace", ns) is None
    assert get(control_plane, "crd", f"gadgets.{group}") is None

    good = [{"apiVersion": f"{group}/v1", "kind": "Gadget", "metadata": {"name": "g1"}, "spec": {"size": 2}}]
    kube_diff(control_plane, tmp_path, [namespace(ns), definition] + good, apply=True, namespace=ns)
    assert get(control_plane, f"gadgets.{group}", "g1", ns)["spec"]["mode"] == "fast"


def test_a_rejection_during_the_apply_lists_exactly_what_was_written(control_plane, tmp_path, ns):
    quota = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
             "spec": {"hard": {"count/configmaps": "1"}}}
    applyset = {"name": "set", "namespace": ns}
    kube_diff(control_plane, tmp_path, [namespace(ns), quota], apply=True, namespace=ns, applyset=applyset)
    # The controller-manager that fills in usage is absent: play it. Each object alone fits the quota,
    # so every dry-run passes; together they do not.
    kubectl(control_plane, "patch", "resourcequota", "q", "-n", ns, "--subresource=status", "--type=merge", "-p",
            json.dumps({"status": {"hard": {"count/configmaps": "1"}, "used": {"count/configmaps": "0"}}}))
    desired = [namespace(ns), quota, config_map("one", {"k": "v"}), config_map("two", {"k": "v"})]
    with pytest.raises(TridentError) as failure:
        kube_diff(control_plane, tmp_path, desired, apply=True, namespace=ns, applyset=applyset)
    applied = failure.value.details["applied"]
    written = [name for name in ("one", "two") if get(control_plane, "configmap", name, ns) is not None]
    assert len(written) == 1 and "exceeded quota" in failure.value.message
    assert sorted(applied) == sorted([f"ApplySet parent Secret {ns}/set", f"ConfigMap {ns}/{written[0]}"])
    assert f"{len(applied)} object(s) were written before the failure" in failure.value.message


def test_an_unquoted_date_is_applied_as_kubectl_applies_it(control_plane, tmp_path, ns):
    manifest = tmp_path / "release.yaml"
    manifest.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: release\n  namespace: {ns}\n"
                        "data:\n  release-date: 2024-05-01\n")
    kubectl(control_plane, "create", "namespace", ns)
    kube_diff(control_plane, tmp_path, None, src=[str(manifest)], apply=True)
    assert get(control_plane, "configmap", "release", ns)["data"] == {"release-date": "2024-05-01"}
    server_side = kubectl(control_plane, "diff", "--server-side", "--force-conflicts",
                          "--field-manager=trident-gitops", "-f", str(manifest), check=False)
    assert server_side.returncode == 0, server_side.stdout  # kubectl sees what we applied as its own
    assert kube_diff(control_plane, tmp_path, None, src=[str(manifest)], check_mode=True)["changed"] is False
